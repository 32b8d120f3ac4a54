"""LoRA fine-tuning saves an adapter-only folder that reloads and encodes like the trained model."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer

from plume_st.modules.plume_prompt import PLUME_TOKENS
from plume_st.training.run import train_from_config


def test_lora_run_saves_adapter_only_folder_that_reloads(tmp_path):
    config = {
        "model": {"backbone": "tiny", "num_frames": 4, "dtype": "float32"},
        "data": {"synthetic": {"num_records": 32, "seed": 0}},
        "finetune": {"mode": "lora", "lora": {"r": 4, "alpha": 8}},
        "training": {
            "output_dir": str(tmp_path),
            "max_steps": 3,
            "per_device_train_batch_size": 4,
            "learning_rate": 1e-2,
            "save_strategy": "no",
            "seed": 0,
            "disable_tqdm": True,
        },
    }
    result = train_from_config(config)
    model = result.model
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(
        "lora_" in name or name.startswith("1.adapter") or "trainable_tokens_delta" in name for name in trainable
    )
    lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
    assert lora_b and max(p.abs().max().item() for p in lora_b) > 0  # the adapters did train
    # The PLUME token rows (copies of existing rows until trained) train as a delta of those 5 rows only.
    token_ids = [model[0].token_id(token) for token in PLUME_TOKENS]
    (delta,) = [p for name, p in model.named_parameters() if "trainable_tokens_delta" in name]
    assert delta.shape[0] == 5 and delta.abs().max() > 0
    adapter_config = json.loads((result.output_dir / "adapter_config.json").read_text())
    assert adapter_config["trainable_token_indices"] == {"embed_tokens": token_ids}
    assert adapter_config["base_model_name_or_path"] == str((tmp_path / "plume-base").resolve())
    saved = load_file(result.output_dir / "adapter_model.safetensors")
    assert any("trainable_tokens_delta" in key for key in saved)

    files = {path.name for path in result.output_dir.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "modules.json"} <= files
    assert not any(name.startswith("model") and name.endswith(".safetensors") for name in files)

    inputs = ["a red circle", {"text": "Find an image of a blue square."}]
    model.eval()
    expected = model.encode(inputs, convert_to_tensor=True)
    reloaded = SentenceTransformer(str(result.output_dir), trust_remote_code=True)
    torch.testing.assert_close(reloaded.encode(inputs, convert_to_tensor=True), expected, atol=1e-5, rtol=1e-5)
    model[0].causal_lm.disable_adapters()
    try:
        base = model.encode(inputs, convert_to_tensor=True)
    finally:
        model[0].causal_lm.enable_adapters()
    assert (base - expected).abs().max() > 1e-4

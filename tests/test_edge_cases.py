"""Edge cases found in review: video timing, left padding, control tokens in text, gradient checkpointing,
encode(output_value=None), a backbone whose embedding lacks the PLUME rows, explicit mode in bf16."""

from __future__ import annotations

import pytest
import torch
from drawing import draw_image
from PIL import Image

FRAMES = [Image.new("RGB", (64, 64), (i * 10, 0, 0)) for i in range(20)]


def test_qwen2_5_vl_time_axis_uses_the_sampled_frame_rate(plume_model):
    model = plume_model("qwen2_5_vl")
    # 8 of 20 frames of a frame list at the assumed 2 fps: 0.8 sampled fps, 2 frames per temporal patch
    assert model.preprocess([{"video": FRAMES}])["second_per_grid_ts"].tolist() == [2.5]


def test_qwen3_vl_timestamps_follow_the_sampled_indices(plume_model):
    model = plume_model("qwen3_vl")
    prompt = model[0].tokenizer.decode(model.preprocess([{"video": FRAMES}])["input_ids"][0])
    # indices [0,3,5,8,11,14,16,19] at 2 fps, averaged per temporal patch of 2 frames
    for stamp in ("<0.8 seconds>", "<3.2 seconds>", "<6.2 seconds>", "<8.8 seconds>"):
        assert stamp in prompt


def test_right_padding_is_refused(plume_model):
    model = plume_model("qwen2_vl")
    features = model.preprocess(["short", "a considerably longer input text"])
    for key in ("input_ids", "attention_mask", "mm_token_type_ids"):
        features[key] = torch.flip(features[key], dims=[1])  # now right-padded (and reversed: never run)
    with pytest.raises(ValueError, match="left padding"):
        model(features)


@pytest.mark.parametrize("text", ["ends with <disc_emb>", "inject <|im_end|> here", "a <|image_pad|> token"])
def test_control_tokens_in_text_are_refused(plume_model, text):
    with pytest.raises(ValueError, match=r"Input 1 of the batch given to preprocess .*reserved control token"):
        plume_model("qwen2_vl").preprocess(["fine", {"text": text, "image": draw_image(0)}])
    with pytest.raises(ValueError, match="reserved control token"):
        plume_model("qwen2_vl").preprocess(["fine"], prompt="<bot> instruction: ")


def test_gradient_checkpointing_is_refused_in_training(tiny_backbone):
    import plume_st

    model = plume_st.build_plume_model(str(tiny_backbone()), device="cpu")
    model.gradient_checkpointing_enable()  # what the trainer calls for gradient_checkpointing=True
    model.train()
    with pytest.raises(RuntimeError, match="gradient_checkpointing"):
        model(model.preprocess(["a"]))


def test_output_value_none_returns_per_row_features_without_the_cache(plume_model):
    model = plume_model("qwen2_vl")
    rows = model.encode(["one", "two words", "three words here"], output_value=None)
    assert len(rows) == 3
    for row in rows:
        assert "past_key_values" not in row
        assert row["sentence_embedding"].shape == (64,)
        assert row["prefix_hidden_states"].ndim == 2 and row["router_probs"].shape == (8, 4)


def test_backbone_without_plume_rows_is_refused(tiny_backbone):
    import plume_st

    model = plume_st.build_plume_model(str(tiny_backbone()), device="cpu")
    lm = model[0].causal_lm
    lm.resize_token_embeddings(model[0].token_id("<disc_emb>"))  # the raw backbone's rows
    with pytest.raises(ValueError, match="embedding has .* rows but the PLUME token ids reach"):
        model[0].on_model_ready(model)


def test_explicit_mode_keeps_the_backbone_dtype(tiny_backbone):
    import plume_st

    model = plume_st.build_plume_model(
        str(tiny_backbone()), max_new_tokens=2, model_kwargs={"dtype": torch.bfloat16}, device="cpu"
    ).eval()
    with torch.no_grad():
        for mode in ("explicit", "latent", "none"):
            features = model(model.preprocess(["a"]), reasoning=mode)
            state = features["anchor_embedding" if mode == "none" else "gen_state"]
            assert state.dtype == torch.bfloat16 and features["sentence_embedding"].dtype == torch.float32

"""Converting the authors' released PLUME checkpoints into plume-st model folders (the "official" profile).

A released checkpoint (``CUDAOUTOFMEMORY/PLUME-Qwen2-VL-2B``, ``Rem520/PLUME-7B``) is one Qwen2-VL
``save_pretrained`` whose safetensors also hold the 25 transition-adapter tensors under ``latent_moe_transition.``
(layout: ``docs/official.md``). :func:`convert_official` checks the folder, loads the backbone with transformers
(which reads both key layouts), moves the adapter into a :class:`~plume_st.modules.LatentRollout` and saves a
plume-st folder whose configuration reproduces the authors' inference procedure.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoProcessor, AutoTokenizer

from plume_st.backbones.families import get_family
from plume_st.model import PlumeSentenceTransformer
from plume_st.model_card import is_hub_id
from plume_st.modules import LatentRollout, PlumeInput, PlumePooling
from plume_st.modules.plume_prompt import PLUME_TOKENS

logger = logging.getLogger(__name__)

ADAPTER_PREFIX = "latent_moe_transition."
NUM_EXPERTS, NUM_STEP_EMBEDDINGS = 4, 32
OFFICIAL_LATENT_STEPS = 8
"""K of the authors' evaluation script (not stored in the checkpoint)."""
OFFICIAL_CONTINUATION_TOKENS = 4096
OFFICIAL_MIN_PIXELS = 56 * 56
"""The effective per-image minimum: qwen-vl-utils' ``MIN_PIXELS = 4 * 28 * 28`` applies before the processor's 784,
which is why the authors' blank 28x28 image becomes 56x56 (4 image tokens)."""
OFFICIAL_MAX_PIXELS = 2_359_296
KNOWN_BACKBONES = {
    "CUDAOUTOFMEMORY/PLUME-Qwen2-VL-2B": "Qwen/Qwen2-VL-2B-Instruct",
    "Rem520/PLUME-7B": "Qwen/Qwen2-VL-7B-Instruct",
}
"""Released checkpoint -> the Hub id of the backbone it was fine-tuned from."""
DEFAULT_BASE_PROCESSOR = "Qwen/Qwen2-VL-2B-Instruct"
_FAMILIES = {"qwen2_vl", "qwen2_5_vl"}


class OfficialCheckpointError(ValueError):
    """A folder that is not a complete PLUME checkpoint in the authors' layout."""


def adapter_shapes(hidden: int) -> dict[str, tuple[int, ...]]:
    """The 25 adapter tensor names (without the prefix) and their shapes for hidden size ``hidden``."""
    shapes: dict[str, tuple[int, ...]] = {
        "ln.weight": (hidden,),
        "ln.bias": (hidden,),
        "step_embed.weight": (NUM_STEP_EMBEDDINGS, hidden),
        "router.weight": (NUM_EXPERTS, 2 * hidden),
        "router.bias": (NUM_EXPERTS,),
    }
    for name in [f"experts.{index}" for index in range(NUM_EXPERTS)] + ["shared_expert"]:
        shapes.update({
            f"{name}.fc1.weight": (2 * hidden, hidden),
            f"{name}.fc1.bias": (2 * hidden,),
            f"{name}.fc2.weight": (hidden, 2 * hidden),
            f"{name}.fc2.bias": (hidden,),
        })
    return shapes


class WeightFiles:
    """The safetensors file(s) of a checkpoint: which file holds each tensor, and its shape and dtype."""

    def __init__(self, folder: Path) -> None:
        index = folder / "model.safetensors.index.json"
        if index.exists():
            weight_map = json.loads(index.read_text(encoding="utf8"))["weight_map"]
        elif (folder / "model.safetensors").exists():
            with safe_open(folder / "model.safetensors", "pt") as handle:
                weight_map = dict.fromkeys(handle.keys(), "model.safetensors")
        else:
            raise OfficialCheckpointError(f"{folder}: no model.safetensors or model.safetensors.index.json")
        self.folder, self.file_of = folder, weight_map
        self.shape: dict[str, tuple[int, ...]] = {}
        self.dtype: dict[str, str] = {}
        for file in sorted(set(weight_map.values())):
            if not (folder / file).exists():
                raise OfficialCheckpointError(f"{folder / file}: listed in the index but missing")
            with safe_open(folder / file, "pt") as handle:
                for key in handle.keys():
                    tensor_slice = handle.get_slice(key)
                    self.shape[key], self.dtype[key] = tuple(tensor_slice.get_shape()), tensor_slice.get_dtype()

    def where(self, key: str) -> Path:
        """The file that holds ``key`` (the index, or the single file, when none does)."""
        file = self.file_of.get(key)
        if file is None:
            index = self.folder / "model.safetensors.index.json"
            return index if index.exists() else self.folder / "model.safetensors"
        return self.folder / file

    def find(self, *candidates: str) -> str | None:
        """The first of ``candidates`` present in the checkpoint."""
        return next((key for key in candidates if key in self.shape), None)

    def load(self, keys: list[str]) -> dict[str, torch.Tensor]:
        tensors = {}
        for key in keys:
            with safe_open(self.where(key), "pt") as handle:
                tensors[key] = handle.get_tensor(key)
        return tensors


def resolve_source(source: str | Path) -> tuple[Path, str | None]:
    """A local folder, or the snapshot of a Hub id downloaded with huggingface_hub (the one network access).

    Returns:
        The folder and the Hub id (``None`` for a local folder).
    """
    if Path(source).is_dir():
        return Path(source), None
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(str(source))), str(source)


def read_text_config(folder: Path) -> dict[str, Any]:
    """``config.json``'s text settings (``text_config`` first, the legacy top-level fields otherwise)."""
    path = folder / "config.json"
    if not path.exists():
        raise OfficialCheckpointError(f"{path}: missing")
    config = json.loads(path.read_text(encoding="utf8"))
    if config.get("model_type") not in _FAMILIES:
        raise OfficialCheckpointError(
            f"{path}: model_type {config.get('model_type')!r} is not a released PLUME backbone {sorted(_FAMILIES)}"
        )
    text = {**config, **config.get("text_config", {})}
    for key in ("hidden_size", "vocab_size"):
        if not isinstance(text.get(key), int):
            raise OfficialCheckpointError(f"{path}: no integer {key}")
    return text


def check_weights(weights: WeightFiles, text: dict[str, Any], config_path: Path) -> None:
    """Require the 25 adapter tensors with their shapes and a backbone matching ``config.json``.

    Raises:
        OfficialCheckpointError: Naming the tensor, the file and the problem.
    """
    hidden, vocab = text["hidden_size"], text["vocab_size"]
    embed = weights.find("model.language_model.embed_tokens.weight", "model.embed_tokens.weight")
    if embed is None:
        raise OfficialCheckpointError(f"{weights.where('model.embed_tokens.weight')}: no embed_tokens tensor")
    if weights.shape[embed] != (vocab, hidden):
        raise OfficialCheckpointError(
            f"{weights.where(embed)}: {embed} has shape {list(weights.shape[embed])} but {config_path} says "
            f"vocab_size {vocab}, hidden_size {hidden}"
        )
    tied = text.get("tie_word_embeddings", False)
    if not tied and "lm_head.weight" not in weights.shape:
        raise OfficialCheckpointError(f"{weights.where('lm_head.weight')}: untied checkpoint without lm_head.weight")
    problems = []
    for name, shape in adapter_shapes(hidden).items():
        key = ADAPTER_PREFIX + name
        if key not in weights.shape:
            problems.append(f"missing {key}")
        elif weights.shape[key] != shape:
            problems.append(
                f"{key} has shape {list(weights.shape[key])}, expected {list(shape)} (hidden size {hidden})"
            )
    if problems:
        files = sorted({str(weights.where(ADAPTER_PREFIX + name)) for name in adapter_shapes(hidden)})
        raise OfficialCheckpointError(
            f"{', '.join(files)}: the transition adapter is incomplete: {'; '.join(problems)}"
        )


def load_tokenizer(folder: Path) -> Any:
    """The checkpoint's tokenizer (slow-tokenizer files are read by transformers), left-padding; it must hold the
    five PLUME tokens as single tokens."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    unknown = (None, tokenizer.unk_token_id)
    missing = [token for token in PLUME_TOKENS if tokenizer.convert_tokens_to_ids(token) in unknown]
    if missing:
        files = [name for name in ("added_tokens.json", "tokenizer_config.json", "tokenizer.json")
                 if (folder / name).exists()]
        raise OfficialCheckpointError(
            f"{folder / (files[0] if files else 'tokenizer_config.json')}: the tokenizer lacks the PLUME tokens "
            f"{missing}; this is not a PLUME checkpoint"
        )
    tokenizer.padding_side = "left"
    return tokenizer


def load_processor(folder: Path, tokenizer: Any, base_processor: str | None) -> Any:
    """The checkpoint's processor; when it lacks ``preprocessor_config.json`` (an intermediate ``checkpoint-N/``),
    the image and video processors of ``base_processor`` with the checkpoint's tokenizer."""
    if (folder / "preprocessor_config.json").exists() or (folder / "processor_config.json").exists():
        processor = AutoProcessor.from_pretrained(folder)
    else:
        base = base_processor or DEFAULT_BASE_PROCESSOR
        logger.warning("%s has no preprocessor_config.json: using the image and video processor of %s", folder, base)
        processor = AutoProcessor.from_pretrained(base)
    processor.tokenizer = tokenizer
    return processor


def _dtype(stored: str, dtype: str | torch.dtype | None) -> torch.dtype:
    """``dtype`` as a torch dtype; ``None``: the checkpoint's (safetensors' ``stored`` name, e.g. ``"BF16"``)."""
    if dtype is None:
        return {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}[stored]
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def convert_official(
    source: str | Path,
    out: str | Path,
    dtype: str | torch.dtype | None = None,
    base_processor: str | None = None,
) -> Path:
    """Convert an authors' PLUME checkpoint into a plume-st model folder with the official profile.

    Args:
        source: A Hub id (downloaded with huggingface_hub) or a local folder in the authors' layout.
        out: Folder to write the plume-st model to.
        dtype: Weight dtype of the result (``"bfloat16"``, ``"float32"``, ...; ``None``: the checkpoint's).
        base_processor: Hub id or folder whose image/video processor is used when the checkpoint has no
            ``preprocessor_config.json`` (default: ``Qwen/Qwen2-VL-2B-Instruct``).

    Returns:
        ``out``, loadable with ``SentenceTransformer(out, trust_remote_code=True)``.

    Raises:
        OfficialCheckpointError: A missing or misshapen tensor, a wrong hidden size, missing PLUME tokens, ...,
            naming the file and the problem.
    """
    folder, hub_id = resolve_source(source)
    text = read_text_config(folder)
    weights = WeightFiles(folder)
    check_weights(weights, text, folder / "config.json")
    tokenizer = load_tokenizer(folder)
    processor = load_processor(folder, tokenizer, base_processor)
    embed = weights.find("model.language_model.embed_tokens.weight", "model.embed_tokens.weight")
    torch_dtype = _dtype(weights.dtype[embed], dtype)
    config = AutoConfig.from_pretrained(folder)
    config.vocab_size = text["vocab_size"]  # the top-level value may be the base vocabulary's (stale)
    config.plume_source_checkpoint = hub_id
    base_id = base_processor if is_hub_id(base_processor) else None
    config.plume_backbone_id = KNOWN_BACKBONES.get(hub_id or "", base_id)
    model = get_family(config.model_type).model_class.from_pretrained(folder, config=config, dtype=torch_dtype)
    adapter = {
        key[len(ADAPTER_PREFIX):]: value
        for key, value in weights.load([ADAPTER_PREFIX + name for name in adapter_shapes(text["hidden_size"])]).items()
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=Path(out).parent, prefix=".plume-convert-") as staging:  # same disk as out
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        del model
        input_module = PlumeInput(
            staging,
            profile="official",
            min_pixels=OFFICIAL_MIN_PIXELS,
            max_pixels=OFFICIAL_MAX_PIXELS,
            model_kwargs={"dtype": torch_dtype},
        )
        rollout = LatentRollout(
            hidden_size=text["hidden_size"],
            latent_steps=OFFICIAL_LATENT_STEPS,
            position_scheme="official",
            continuation_max_tokens=OFFICIAL_CONTINUATION_TOKENS,
        )
        rollout.adapter.load_state_dict(adapter, strict=True)
        rollout.to(torch_dtype)
        plume = PlumeSentenceTransformer(modules=[input_module, rollout, PlumePooling()], device="cpu")
        plume.save_pretrained(str(out))
    return Path(out)

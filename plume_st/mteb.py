"""PLUME models in mteb (the ``mteb`` extra): a ``ModelMeta`` that declares their modalities, and the
encoder mteb runs.

mteb treats a sentence-transformers model handed to it directly as text-only (its ``ModelMeta.modalities`` default),
so image, video and visual-document tasks fail mteb's modality check. :func:`plume_model_meta` declares text, image
and video, cosine similarity and instructions, and puts the reasoning mode and K into the experiment settings, so the
result folders of different modes do not collide. ``meta.load_model()`` returns a :class:`PlumeMtebEncoder`: mteb's
own sentence-transformers wrapper (its modality collators turn image columns into PIL images and video columns into
uint8 frame tensors) with the task's instruction from mteb's task metadata (mteb's instruction machinery, the
``"{instruction} "`` template) passed to ``encode`` as the sentence-transformers prompt.

The built-in MMEB-v2 harness (``plume-st eval``) stays the one to compare with the paper: mteb has no MMEB benchmark
and its MIEB / ViDoRe / MVEB tasks use other protocols.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from sentence_transformers import SentenceTransformer

from plume_st._extras import MissingExtraError

try:
    from mteb.models.model_meta import ModelMeta, ScoringFunction
    from mteb.models.sentence_transformer_wrapper import (
        SentenceTransformerEncoderWrapper,
        _encode_batches,
        _postprocess_dense_embeddings,
        _setup_modality_collator,
    )
except ImportError as error:
    raise MissingExtraError("mteb", "plume_st.mteb", error.name or "mteb") from error

PAPER = "https://arxiv.org/abs/2604.02073"
INSTRUCTION_TEMPLATE = "{instruction} "
OFFICIAL_CHECKPOINTS = ("CUDAOUTOFMEMORY/PLUME-Qwen2-VL-2B", "Rem520/PLUME-7B")


class PlumeMtebEncoder(SentenceTransformerEncoderWrapper):
    """mteb's sentence-transformers encoder for a PLUME model: task instructions as prompts, chosen mode and K.

    Args:
        model: A PLUME model folder or Hub id (loaded with ``trust_remote_code=True``), or a loaded model.
        revision: Hub revision.
        device: Device to run on.
        reasoning: ``"latent"``, ``"none"`` or ``"explicit"`` (``None``: the model's default).
        latent_steps: K (``None``: the model's default).
        instruction_template: How a task instruction becomes the prompt in front of each input's text.
        **kwargs: Passed to mteb's wrapper (``fps``, ``max_frames``, ...).
    """

    def __init__(
        self,
        model: str | SentenceTransformer,
        revision: str | None = None,
        device: str | None = None,
        *,
        reasoning: str | None = None,
        latent_steps: int | None = None,
        instruction_template: str = INSTRUCTION_TEMPLATE,
        **kwargs: Any,
    ) -> None:
        if isinstance(model, (str, Path)):
            model = SentenceTransformer(str(model), revision=revision, device=device, trust_remote_code=True)
        kwargs.setdefault("num_frames", model[0].num_frames)
        super().__init__(model, **kwargs)
        self.instruction_template = instruction_template
        settings = {"reasoning": reasoning, "latent_steps": latent_steps}
        self.encode_kwargs = {key: value for key, value in settings.items() if value is not None}

    def encode(
        self,
        inputs: Any,
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Encode one side of a task with its instruction as the prompt (see mteb's ``EncoderProtocol``)."""
        instruction = self.get_task_instruction(task_metadata, prompt_type)
        is_multimodal = _setup_modality_collator(
            inputs,
            fps=self.fps,
            max_frames=self.max_frames,
            num_frames=self.num_frames,
            target_sampling_rate=self.target_sampling_rate,
            max_samples=self.max_samples,
        )
        return _encode_batches(
            inputs,
            is_multimodal=is_multimodal,
            encode_function=partial(self.model.encode, **self.encode_kwargs),
            prompt=instruction or None,
            modalities=self.mteb_model_meta.modalities,
            postprocess_batch=_postprocess_dense_embeddings,
            **kwargs,
        )


def plume_model_meta(
    model_name_or_path: str,
    *,
    reasoning: str = "latent",
    latent_steps: int = 8,
    revision: str | None = None,
    loader: Any = PlumeMtebEncoder,
    **overwrites: Any,
) -> ModelMeta:
    """The mteb ``ModelMeta`` of a PLUME model; ``meta.load_model()`` returns its :class:`PlumeMtebEncoder`.

    Args:
        model_name_or_path: A PLUME model folder or Hub id.
        reasoning: The reasoning mode of the run (part of the experiment settings).
        latent_steps: K of the run (part of the experiment settings).
        revision: Hub revision.
        loader: The callable mteb loads the model with.
        **overwrites: Any other ``ModelMeta`` field (``n_parameters``, ``license``, ``release_date``, ...).
    """
    fields = {
        "loader": loader,
        "name": str(model_name_or_path),
        "revision": revision,
        "modalities": ["text", "image", "video"],
        "similarity_fn_name": ScoringFunction.COSINE,
        "use_instructions": True,
        "framework": ["PyTorch", "Sentence Transformers"],
        "reference": PAPER,
        "experiment_kwargs": {"reasoning": reasoning, "latent_steps": latent_steps},
        **overwrites,
    }
    return ModelMeta.create_empty(overwrites=fields)


def load_official(name: str, revision: str | None = None, device: str | None = None, **kwargs: Any) -> Any:
    """mteb loader of an authors' checkpoint: converted once (network: the Hub download) into plume-st's cache."""
    from plume_st.convert import convert_official

    folder = Path.home() / ".cache" / "plume_st" / "converted" / name.replace("/", "--")
    if not (folder / "modules.json").is_file():
        convert_official(name, str(folder))
    return PlumeMtebEncoder(str(folder), device=device, **kwargs)


def official_model_metas(reasoning: str = "latent", latent_steps: int = 8) -> list[ModelMeta]:
    """``ModelMeta`` entries of the authors' released checkpoints (loaded through the converter)."""
    return [
        plume_model_meta(
            name,
            reasoning=reasoning,
            latent_steps=latent_steps,
            loader=load_official,
            open_weights=True,
            embed_dim=1536 if "2B" in name else 3584,
        )
        for name in OFFICIAL_CHECKPOINTS
    ]

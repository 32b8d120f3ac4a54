"""The multimodal input module of a PLUME model: prompt, preprocessing and the cached prefix pass.

Builds on sentence-transformers' :class:`~sentence_transformers.base.modules.Transformer` for loading and saving
the Qwen-VL backbone and its processor, and replaces its preprocessing and forward pass:

* ``preprocess`` accepts every input ``encode`` accepts (see :mod:`media`), wraps each in the PLUME prompt
  (:func:`plume_prompt.render_prompt`, the ST prompt / instruction in front of the text), fits it into
  ``max_seq_length`` (:mod:`text_budget`: only the user's text is cut) and runs the processor with the configured
  pixel budgets and ``num_frames`` uniformly sampled video frames. Errors name the item by its position in the list
  given to ``encode`` (:mod:`input_positions`).
* ``forward`` runs the backbone once over the whole prefix with the KV cache on and explicit M-RoPE positions,
  and hands on the cache, the prefix hidden states (``prefix_hidden_states``, also ``token_embeddings``), the anchor
  ``c(x)`` (state at ``<disc_emb>``), ``z(0)`` (state at ``<bot>``) and each row's next position.

``profile="official"`` reproduces the input side of the authors' released code: a blank 28x28 white image in front
of every text-only item, the item's text stripped of surrounding whitespace, and every image resized with PIL as
qwen-vl-utils resizes it before the processor (:mod:`smart_resize`; the processor then does not resize).
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from sentence_transformers.base.modules import Transformer
from transformers import DynamicCache
from transformers.video_utils import VideoMetadata

from .errors import PlumeInputError, PlumeInputTypeError
from .input_positions import InputPositions
from .media import MediaOptions, ParsedInput, describe, normalise_image, parse_input
from .plume_prompt import DISC_EMB, PLUME_TOKENS, check_user_text, render_prompt
from .smart_resize import SmartResize
from .source_export import copy_module_sources
from .text_budget import TextBudget

_VISION_KEYS = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw")
PROFILES = ("default", "official")
BLANK_IMAGE_SIZE = 28


def input_error(error: Exception, name: str, positions: list[int] | None) -> PlumeInputError:
    """``error`` re-raised as a :class:`PlumeInputError` naming the input, with the item's positions in the list
    given to ``encode`` (or ``None``) and the bare problem, so callers such as a server can drop the bad item."""
    kind = PlumeInputTypeError if isinstance(error, TypeError) else PlumeInputError
    return kind(f"{name}: {error}", problem=str(error), positions=positions)


class PlumeInput(Transformer):
    """Qwen-VL backbone + processor with the PLUME prompt and a cached prefix pass.

    Args:
        model_name_or_path: Backbone folder or Hub id (a Qwen2-VL, Qwen2.5-VL or Qwen3-VL checkpoint whose
            tokenizer holds the PLUME tokens; :func:`plume_st.build_plume_model` prepares one).
        num_frames: Frames sampled uniformly from every video.
        min_pixels: Minimum pixels per image (``None``: the processor's default).
        max_pixels: Maximum pixels per image (``None``: the processor's default).
        video_min_pixels: Minimum pixels per video frame (``None``: the processor's default).
        video_max_pixels: Maximum pixels per video frame (``None``: the processor's default).
        max_aspect_ratio: Images more elongated than this are padded with white to it.
        frame_list_fps: Frame rate assumed for videos given as frame lists (timestamps / M-RoPE time axis).
        profile: ``"default"`` (plume-st's prompt) or ``"official"`` (the authors': a blank image in front of
            text-only items, text stripped).
        url_timeout: Seconds to wait for an image or video URL.
        **kwargs: Passed to :class:`~sentence_transformers.base.modules.Transformer` (``model_kwargs``,
            ``processor_kwargs``, ``config_kwargs``, ...).
    """

    config_keys: list[str] = [
        *Transformer.config_keys,
        "num_frames",
        "min_pixels",
        "max_pixels",
        "video_min_pixels",
        "video_max_pixels",
        "max_aspect_ratio",
        "frame_list_fps",
        "profile",
        "url_timeout",
    ]

    def __init__(
        self,
        model_name_or_path: str,
        *,
        num_frames: int = 8,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        video_min_pixels: int | None = None,
        video_max_pixels: int | None = None,
        max_aspect_ratio: float = 150.0,
        frame_list_fps: float = 2.0,
        profile: str = "default",
        url_timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        kwargs["transformer_task"] = "any-to-any"
        kwargs.setdefault("unpad_inputs", False)
        super().__init__(model_name_or_path, **kwargs)
        if num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {num_frames}")
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
        self.num_frames = num_frames
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.video_min_pixels = video_min_pixels
        self.video_max_pixels = video_max_pixels
        self.max_aspect_ratio = max_aspect_ratio
        self.frame_list_fps = frame_list_fps
        self.profile = profile
        self.url_timeout = url_timeout
        image_processor = self.processor.image_processor
        factor = image_processor.patch_size * image_processor.merge_size
        resize = None
        if profile == "official":  # the authors' PIL resizing, within the same pixel bounds as the processor's
            bounds = image_processor.size
            resize = SmartResize(factor, min_pixels or bounds["shortest_edge"], max_pixels or bounds["longest_edge"])
        self.media_options = MediaOptions(num_frames, factor, max_aspect_ratio, frame_list_fps, url_timeout, resize)
        self.__dict__["input_positions"] = InputPositions()  # plain attribute: not part of the module tree
        self.text_budget = TextBudget(self.tokenizer)

    def on_model_ready(self, model: Any) -> None:
        """Check that the tokenizer holds the PLUME tokens; learn the user's positions of ``encode``'s inputs."""
        self.input_positions.install(model)
        missing = [token for token in PLUME_TOKENS if self.token_id(token) is None]
        if missing:
            raise ValueError(
                f"The backbone's tokenizer lacks the PLUME tokens {missing}; "
                "prepare the backbone with plume_st.build_plume_model(backbone)."
            )
        rows = self.causal_lm.get_input_embeddings().weight.shape[0]  # also through peft token wrappers
        largest = max(self.token_id(token) for token in PLUME_TOKENS)
        if largest >= rows:
            raise ValueError(
                f"The backbone's embedding has {rows} rows but the PLUME token ids reach {largest}: the weights are "
                "those of the original backbone (e.g. a LoRA adapter whose base_model_name_or_path is the raw Hub "
                "backbone). Point the adapter at a saved PLUME model, or save the merged model."
            )

    @property
    def modalities(self) -> list[str]:
        """Text, image, video and any combination of them (``message`` lets ST route multimodal dicts)."""
        return ["text", "image", "video", "message"]

    @property
    def causal_lm(self) -> torch.nn.Module:
        """The ``*ForConditionalGeneration`` model (unwrapped from a PEFT wrapper if there is one)."""
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    def token_id(self, token: str) -> int | None:
        """The id of a single token, or ``None`` if the tokenizer does not know it."""
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        return None if token_id is None or token_id == self.tokenizer.unk_token_id else token_id

    def get_embedding_dimension(self) -> int:
        return self.causal_lm.config.get_text_config().hidden_size

    def _processor_kwargs(self) -> dict[str, Any]:
        images_kwargs: dict[str, Any] = {}
        videos_kwargs: dict[str, Any] = {"do_sample_frames": False, "cap_pixels_per_frame": False}
        for target, processor, low, high in (
            (images_kwargs, self.processor.image_processor, self.min_pixels, self.max_pixels),
            (videos_kwargs, self.processor.video_processor, self.video_min_pixels, self.video_max_pixels),
        ):
            if low is not None or high is not None:
                size = dict(processor.size)
                size.update({k: v for k, v in (("shortest_edge", low), ("longest_edge", high)) if v is not None})
                target["size"] = size
        if self.media_options.image_resize is not None:  # images already on the processor's grid
            images_kwargs["do_resize"] = False
        return {"images_kwargs": images_kwargs, "videos_kwargs": videos_kwargs}

    def preprocess(self, inputs: list[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Parse, prompt, fit into ``max_seq_length`` and process a batch of inputs.

        Args:
            inputs: The batch (every form of :mod:`media`).
            prompt: Instruction placed in front of each input's text (ST prompts, ``encode_query``, ...).
            **kwargs: Ignored (``task`` and other ``encode`` arguments).

        Returns:
            The processor's tensors (``input_ids``, ``attention_mask``, ``mm_token_type_ids``, pixel values, grids).

        Raises:
            PlumeInputError: For a bad input, naming it (its position in ``encode``'s list) and the problem (also a
                ``TypeError`` for an unsupported type), or for a bad ``prompt`` (no positions).
        """
        names, positions = self.input_positions.locate(inputs)  # first: it takes this call's recorded inputs
        if prompt:
            try:
                check_user_text(prompt)
            except ValueError as error:  # a setting of the call, not an item: no positions
                raise PlumeInputError(f"prompt: {error}", problem=f"prompt: {error}") from error
        names = [f"{name} ({describe(item)})" for name, item in zip(names, inputs)]
        parsed = []
        for name, where, item in zip(names, positions, inputs):
            try:
                parsed.append(self._parse(item))
            except (ValueError, TypeError) as error:
                raise input_error(error, name, where) from error
        reserved = len(self.tokenizer(render_prompt(prompt or ""), add_special_tokens=False)["input_ids"])
        try:
            features = self.text_budget.fit(self._process, parsed, prompt or "", self.max_seq_length, reserved)
        except ValueError as error:
            row = getattr(error, "row", None)
            if row is None:
                raise
            raise input_error(error, names[row], positions[row]) from error
        self.input_positions.done(len(inputs))
        return features

    def _parse(self, item: Any) -> ParsedInput:
        """One input, parsed and checked (the official profile adds its blank image and strips the text)."""
        parsed = parse_input(item, self.media_options)
        check_user_text(parsed.text)
        if self.profile == "official":
            parsed.text = parsed.text.strip()
            if not parsed.images and not parsed.videos:
                blank = Image.new("RGB", (BLANK_IMAGE_SIZE, BLANK_IMAGE_SIZE), (255, 255, 255))
                parsed.images = [normalise_image(blank, self.media_options)]
        return parsed

    def _process(self, parsed: list[ParsedInput], prompt: str) -> dict[str, Any]:
        """Render the prompts and run the processor over the whole batch."""
        texts = [render_prompt(prompt + p.text, len(p.images), len(p.videos)) for p in parsed]
        images = [image for p in parsed for image in p.images]
        videos = [video for p in parsed for video in p.videos]
        kwargs = self._processor_kwargs()
        if videos:
            kwargs["videos_kwargs"]["video_metadata"] = [
                VideoMetadata(total_num_frames=v.total_frames, fps=v.fps, frames_indices=v.indices) for v in videos
            ]
        features = self.processor(
            text=texts,
            images=images or None,
            videos=[video.frames for video in videos] or None,
            padding=True,
            return_tensors="pt",
            **kwargs,
        )
        features = dict(features)
        if "mm_token_type_ids" not in features:
            ids = features["input_ids"]
            features["mm_token_type_ids"] = (ids == self.causal_lm.config.image_token_id).int() + 2 * (
                ids == self.causal_lm.config.video_token_id
            ).int()
        return features

    def prefix_positions(self, features: dict[str, Any]) -> torch.Tensor:
        """3-axis M-RoPE positions of the (left-padded) prefix, from the backbone's own ``get_rope_index``."""
        position_ids, _ = self.causal_lm.model.get_rope_index(
            features["input_ids"],
            mm_token_type_ids=features["mm_token_type_ids"],
            image_grid_thw=features.get("image_grid_thw"),
            video_grid_thw=features.get("video_grid_thw"),
            second_per_grid_ts=features.get("second_per_grid_ts"),
            attention_mask=features["attention_mask"],
        )
        return position_ids

    def run_backbone(
        self,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        past_key_values: DynamicCache | None = None,
        **inputs: Any,
    ) -> Any:
        """One cached pass of the language backbone (``input_ids`` or ``inputs_embeds``, plus vision inputs)."""
        return self.causal_lm.model(
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=past_key_values is not None,
            return_dict=True,
            **inputs,
        )

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Run the prefix pass and hand its cache, anchor and ``z(0)`` on to the latent rollout."""
        input_ids, attention_mask = features["input_ids"], features["attention_mask"]
        if not attention_mask[:, -1].all():
            raise ValueError('PLUME needs left padding: set processor.tokenizer.padding_side = "left"')
        lm = self.causal_lm
        checkpointing = getattr(lm, "is_activation_checkpointing", None)  # transformers >= 5.23 name
        if checkpointing is None:
            checkpointing = getattr(lm, "is_gradient_checkpointing", False)
        if self.training and checkpointing:
            raise RuntimeError(
                "PLUME's latent rollout continues the prefix's KV cache, which transformers' gradient checkpointing "
                "drops in training mode; disable gradient_checkpointing."
            )
        position_ids = self.prefix_positions(features)
        cache = DynamicCache(config=self.causal_lm.config.get_text_config())
        vision = {key: features[key] for key in _VISION_KEYS if features.get(key) is not None}
        outputs = self.run_backbone(attention_mask, position_ids, cache, input_ids=input_ids, **vision)
        hidden = outputs.last_hidden_state
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        disc_index = torch.where(input_ids == self.token_id(DISC_EMB), positions, -1).amax(dim=1)
        features["prefix_hidden_states"] = hidden
        features["token_embeddings"] = hidden  # encode(output_value="token_embeddings"): trimmed by the mask
        features["past_key_values"] = outputs.past_key_values
        features["anchor_embedding"] = hidden[rows, disc_index]
        features["bot_state"] = hidden[:, -1]
        features["next_position"] = position_ids.amax(dim=(0, 2)) + 1
        return features

    def __repr__(self) -> str:
        return f"PlumeInput({dict(self.get_config_dict(), architecture=type(self.causal_lm).__name__)})"

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        super().save(output_path, *args, safe_serialization=safe_serialization, **kwargs)
        copy_module_sources(type(self), output_path)

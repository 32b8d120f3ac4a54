"""Turning one ``encode`` input into text, RGB images and video frames, with errors that name the problem.

The input's kind is read by sentence-transformers' own :func:`~sentence_transformers.base.modality.infer_modality`,
so every form it accepts for multimodal models is accepted here:

* text: a string (an empty string too: the PLUME prompt around it is still a valid input);
* an image: a PIL image, a ``np.ndarray`` / ``torch.Tensor`` of 3 dimensions (HWC or CHW, uint8 or float in
  [0, 1]), an image path, an ``http(s)://`` URL or a ``data:image/...`` URI (fetched and read by transformers'
  :func:`~transformers.image_utils.load_image`);
* a video: a list of frames, a 4-D array / tensor (frames x C x H x W or frames x H x W x C; 5-D: several videos),
  ``{"array": ..., "video_metadata": {...}}``, a torchcodec ``VideoDecoder``, a video path or URL
  (see :mod:`video_decoding`);
* chat messages (see :mod:`chat_messages`);
* a dict with any of the keys ``"text"``, ``"image"`` (one image or a list) and ``"video"`` (one video).

Documented conversions: every image becomes RGB (transparent pixels are composited on white, 16-bit and float
images are rescaled to 8 bit); an image whose short side is below the backbone's minimum is upscaled to it; an image
more elongated than ``max_aspect_ratio`` is padded with white to that ratio; videos are sampled to ``num_frames``
uniformly spaced frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from sentence_transformers.base.modality import infer_modality
from transformers.image_transforms import to_pil_image
from transformers.image_utils import load_image as transformers_load_image

from .chat_messages import messages_to_dict
from .video_decoding import Video, load_video

SUPPORTED = ["text", "image", "video", "message"]
INPUT_KEYS = frozenset({"text", "image", "video"})
URL_PREFIXES = ("http://", "https://")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tiff", ".tif", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".wmv", ".flv", ".mkv", ".webm")


@dataclass
class ParsedInput:
    """One input, normalised: its text, its RGB images and its videos."""

    text: str = ""
    images: list[Image.Image] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)


@dataclass
class MediaOptions:
    """How media are normalised.

    Args:
        num_frames: Frames sampled uniformly from every video.
        min_side: Images (and frames) with a shorter side are upscaled to it.
        max_aspect_ratio: Images more elongated than this are padded with white to it.
        frame_list_fps: Frame rate assumed for a video given without a rate (2 fps, the qwen-vl-utils default).
        url_timeout: Seconds to wait for an image or video URL.
    """

    num_frames: int = 8
    min_side: int = 28
    max_aspect_ratio: float = 150.0
    frame_list_fps: float = 2.0
    url_timeout: float = 10.0


def describe(item: Any, limit: int = 80) -> str:
    """A short description of an input for error messages."""
    if isinstance(item, (np.ndarray, torch.Tensor)):
        return f"<{type(item).__name__} of shape {tuple(item.shape)}, {item.dtype}>"
    if isinstance(item, Image.Image):
        return f"<PIL image {item.mode} {item.width}x{item.height}>"
    text = repr(item) if isinstance(item, (str, dict, list, tuple)) else f"<{type(item).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB: alpha over white, 16-bit/32-bit/float rescaled to 8 bit."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        if image.mode == "F" and array.size and array.max() <= 1.0:
            array = array * 255.0
        elif image.mode != "F":
            array = array / 257.0
        return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def normalise_image(image: Image.Image, options: MediaOptions) -> Image.Image:
    """RGB, at least ``min_side`` on the short side, at most ``max_aspect_ratio`` elongated."""
    image = to_rgb(image)
    width, height = image.size
    if min(width, height) < options.min_side:
        scale = options.min_side / min(width, height)
        width, height = max(options.min_side, round(width * scale)), max(options.min_side, round(height * scale))
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    if max(width, height) / min(width, height) > options.max_aspect_ratio:
        short = int(np.ceil(max(width, height) / options.max_aspect_ratio))
        size = (width, short) if width > height else (short, height)
        image = ImageOps.pad(image, size, color=(255, 255, 255))
    return image


def array_to_image(array: np.ndarray | torch.Tensor) -> Image.Image:
    """A PIL image from a 3-D HWC / CHW array (uint8, or float in [0, 1]); 1 channel becomes grey."""
    if array.ndim != 3 or 0 in array.shape:
        raise ValueError(f"an image array must have 3 non-empty dimensions (HWC or CHW), got {tuple(array.shape)}")
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    try:
        return to_pil_image(array)
    except ValueError as error:
        raise ValueError(f"cannot read the image array of shape {tuple(array.shape)}: {error}") from error


def open_image(value: Any, options: MediaOptions) -> Image.Image:
    """Load a PIL image, an image array, a path, a URL or a data URI as a normalised RGB image."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        image = array_to_image(value)
    elif isinstance(value, Image.Image):
        image = value
    elif isinstance(value, (str, os.PathLike)):
        source = os.fspath(value)
        if not source.startswith((*URL_PREFIXES, "data:image/")) and not os.path.isfile(source):
            raise ValueError(f"image file {source!r} does not exist")
        try:
            with transformers_load_image(source, timeout=options.url_timeout) as opened:
                opened.load()
                image = opened.copy()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise ValueError(f"cannot read image {source[:200]!r}: {error}") from error
        except Exception as error:  # httpx errors (offline, timeout, HTTP status), PIL's decompression-bomb guard
            if not source.startswith(URL_PREFIXES):
                raise ValueError(f"cannot read image {source[:200]!r}: {type(error).__name__}: {error}") from error
            raise ValueError(f"cannot fetch image URL {source!r}: {type(error).__name__}: {error}") from error
    else:
        raise TypeError(f"an image must be a PIL image, an array, a path or a URL, got {type(value).__name__}")
    if image.width < 1 or image.height < 1:
        raise ValueError(f"image has an empty size {image.size}")
    return normalise_image(image, options)


def _path_kind(text: str) -> str | None:
    """``"image"`` / ``"video"`` for a string that names a media file by its extension and looks like a path (it has
    a directory part or exists), so that a missing file is an error rather than text, or a ``data:video/`` URI (which
    sentence-transformers reads as text); ``None`` otherwise."""
    if text.startswith("data:video/"):
        return "video"
    if "\n" in text or len(text) >= 4096 or text.startswith(URL_PREFIXES):
        return None
    if not (os.path.sep in text or os.path.isfile(text)):
        return None
    lowered = text.lower()
    return "image" if lowered.endswith(IMAGE_EXTENSIONS) else "video" if lowered.endswith(VIDEO_EXTENSIONS) else None


def is_frame_list(item: Any) -> bool:
    """Whether ``item`` is a non-empty list / tuple of frames (images, image arrays or image paths)."""
    if not isinstance(item, (list, tuple)) or not item:
        return False
    try:
        return all(
            infer_modality(frame, SUPPORTED) == "image" or (isinstance(frame, str) and _path_kind(frame) == "image")
            for frame in item
        )
    except ValueError:
        return False


def _as_text(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return text


def _parse_dict(item: dict[str, Any], options: MediaOptions) -> ParsedInput:
    unknown = set(item) - INPUT_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(map(str, unknown))}; expected some of {sorted(INPUT_KEYS)}")
    parsed = ParsedInput()
    if item.get("image") is not None:
        images = item["image"] if isinstance(item["image"], (list, tuple)) else [item["image"]]
        if not images:
            raise ValueError("'image' is an empty list")
        parsed.images = [open_image(image, options) for image in images]
    if item.get("video") is not None:
        parsed.videos = load_video(item["video"], options, open_image)
    if item.get("text") is not None:
        parsed.text = _as_text(item["text"])
    elif not (parsed.images or parsed.videos):
        raise ValueError("dict has no text, image or video")
    return parsed


def parse_input(item: Any, options: MediaOptions) -> ParsedInput:
    """Normalise one ``encode`` input.

    Args:
        item: The input (see the module docstring for the accepted kinds).
        options: Media normalisation options.

    Raises:
        ValueError: A missing or unreadable file or URL, an empty video, unknown dict keys, malformed messages.
        TypeError: An unsupported input type.
    """
    if isinstance(item, (list, tuple)) and not item:
        raise ValueError("video has zero frames")
    if is_frame_list(item):
        return ParsedInput(videos=load_video(list(item), options, open_image))
    if isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(part, str) for part in item):
        raise TypeError("text pairs are not supported: PLUME embeds one input at a time")
    modality = _path_kind(item) if isinstance(item, str) else None
    try:
        modality = modality or infer_modality(item, supported_modalities=SUPPORTED)
    except ValueError as error:
        if isinstance(item, dict) and not item:
            raise ValueError("empty dict") from error
        if isinstance(item, dict):
            raise ValueError(str(error)) from error
        raise TypeError(f"unsupported input: {error}") from error
    if isinstance(item, dict) and modality != "message" and "array" not in item:
        return _parse_dict(item, options)
    if modality == "text":
        return ParsedInput(text=_as_text(item))
    if modality == "image":
        return ParsedInput(images=[open_image(item, options)])
    if modality == "video":
        return ParsedInput(videos=load_video(item, options, open_image))
    if modality == "message":
        return _parse_dict(messages_to_dict(item), options)
    raise TypeError(f"unsupported input of modality {modality!r}")

"""Turning one ``encode`` input into text, RGB images and video frames, with errors that name the problem.

The input's kind is read by sentence-transformers' own :func:`~sentence_transformers.base.modality.infer_modality`,
so every form it accepts for multimodal models is accepted here:

* text: a string (an empty string too: the PLUME prompt around it is still a valid input). A string is an image or
  a video only by sentence-transformers' rule: an existing file with a media extension, an ``http(s)://`` URL
  without spaces whose path ends in a media extension (or a YouTube URL: a video), a ``data:image/`` URI, and here
  also a ``data:video/`` URI. Every other string is text, whatever paths or URLs it mentions; ``{"image": path}``
  says that a path is meant (a missing file is then an error);
* an image: a PIL image, a ``np.ndarray`` / ``torch.Tensor`` of 3 dimensions (HWC or CHW; 1 to 4 channels: grey,
  grey + alpha, RGB, RGBA; uint8, or float in [0, 1]), an image path, an ``http(s)://`` URL or a ``data:image/...``
  URI (fetched and read by transformers' :func:`~transformers.image_utils.load_image`), a binary file object
  (``io.BytesIO``, an open file) holding an image;
* a video: a list of frames, a 4-D array / tensor (frames x C x H x W or frames x H x W x C; 5-D: several videos),
  ``{"array": ..., "video_metadata": {...}}``, a torchcodec ``VideoDecoder``, a video path or URL, a binary file
  object holding a video (see :mod:`video_decoding`);
* chat messages (see :mod:`chat_messages`);
* a dict with any of the keys ``"text"``, ``"image"`` (one image or a list) and ``"video"`` (one video).

Documented conversions: every image becomes RGB (transparent pixels are composited on white, 16-bit and float
images are rescaled to 8 bit); an image whose short side is below the backbone's minimum is upscaled to it; an image
more elongated than ``max_aspect_ratio`` is padded with white to that ratio; videos are sampled to ``num_frames``
uniformly spaced frames.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from sentence_transformers.base.modality import infer_modality
from transformers.image_utils import load_image as transformers_load_image

from .chat_messages import messages_to_dict
from .video_decoding import Video, is_file_object, load_video, read_file_object

SUPPORTED = ["text", "image", "video", "message"]
ARRAY_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
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
        image_resize: Resizes every image (not video frames) after the RGB conversion and the aspect-ratio padding,
            in place of the ``min_side`` upscaling (the official profile: the authors' smart resize).
    """

    num_frames: int = 8
    min_side: int = 28
    max_aspect_ratio: float = 150.0
    frame_list_fps: float = 2.0
    url_timeout: float = 10.0
    image_resize: Callable[[Image.Image], Image.Image] | None = None


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
    """RGB, at most ``max_aspect_ratio`` elongated, then resized by ``options.image_resize`` or, without one, at least
    ``min_side`` on the short side."""
    image = to_rgb(image)
    width, height = image.size
    if options.image_resize is None and min(width, height) < options.min_side:
        scale = options.min_side / min(width, height)
        width, height = max(options.min_side, round(width * scale)), max(options.min_side, round(height * scale))
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    if max(width, height) / min(width, height) > options.max_aspect_ratio:
        short = int(np.ceil(max(width, height) / options.max_aspect_ratio))
        size = (width, short) if width > height else (short, height)
        image = ImageOps.pad(image, size, color=(255, 255, 255))
    return image if options.image_resize is None else options.image_resize(image)


def frame_options(options: MediaOptions) -> MediaOptions:
    """The options for video frames: ``image_resize`` applies to images only (the processor sizes frames)."""
    return options if options.image_resize is None else replace(options, image_resize=None)


def _as_8_bit(array: np.ndarray) -> np.ndarray:
    """uint8 pixels from uint8, bool, integers in [0, 255], floats in [0, 1] (scaled by 255 and rounded) or
    integer-valued floats in [0, 255]."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    values = array.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if np.issubdtype(array.dtype, np.floating) and 0.0 <= low and high <= 1.0:
        return np.rint(values * 255.0).astype(np.uint8)
    if 0.0 <= low and high <= 255.0 and np.array_equal(values, np.rint(values)):
        return values.astype(np.uint8)
    raise ValueError(f"image array values must be uint8, or floats in [0, 1], got {array.dtype} in [{low}, {high}]")


def array_to_image(array: np.ndarray | torch.Tensor) -> Image.Image:
    """A PIL image from a 3-D HWC / CHW array of 1 to 4 channels (grey, grey + alpha, RGB, RGBA; CHW when both axes
    could hold the channels); uint8, or float in [0, 1]."""
    shape = tuple(array.shape)
    if array.ndim != 3 or 0 in shape:
        raise ValueError(f"an image array must have 3 non-empty dimensions (HWC or CHW), got {shape}")
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        array = (array.float() if array.dtype == torch.bfloat16 else array).numpy()
    if shape[0] in ARRAY_MODES:
        array = np.moveaxis(array, 0, -1)
    elif shape[-1] not in ARRAY_MODES:
        raise ValueError(f"cannot read the image array of shape {shape}: no channel axis of 1 to 4 first or last")
    channels = array.shape[-1]
    pixels = _as_8_bit(np.ascontiguousarray(array))
    return Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=ARRAY_MODES[channels])


def _read_image(source: Any, name: str, options: MediaOptions) -> Image.Image:
    """A path, URL, data URI or in-memory file, read by transformers' ``load_image`` / PIL and fully loaded."""
    try:
        if isinstance(source, io.BytesIO):
            with Image.open(source) as opened:
                opened.load()
                return opened.copy()
        with transformers_load_image(source, timeout=options.url_timeout) as opened:
            opened.load()
            return opened.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"cannot read {name}: {error}") from error
    except Exception as error:  # httpx errors (offline, timeout, HTTP status), PIL's decompression-bomb guard
        if isinstance(source, str) and source.startswith(URL_PREFIXES):
            raise ValueError(f"cannot fetch image URL {source!r}: {type(error).__name__}: {error}") from error
        raise ValueError(f"cannot read {name}: {type(error).__name__}: {error}") from error


def open_image(value: Any, options: MediaOptions) -> Image.Image:
    """Load a PIL image, an image array, a path, a URL, a data URI or a binary file object as a normalised RGB
    image."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        image = array_to_image(value)
    elif isinstance(value, Image.Image):
        image = value
    elif isinstance(value, (str, os.PathLike)):
        source = os.fspath(value)
        if not source.startswith((*URL_PREFIXES, "data:image/")) and not os.path.isfile(source):
            raise ValueError(f"image file {source!r} does not exist")
        image = _read_image(source, f"image {source[:200]!r}", options)
    elif is_file_object(value):
        image = _read_image(io.BytesIO(read_file_object(value)), "the image in the file object", options)
    else:
        raise TypeError(
            f"an image must be a PIL image, an array, a path, a URL or a file object, got {type(value).__name__}"
        )
    if image.width < 1 or image.height < 1:
        raise ValueError(f"image has an empty size {image.size}")
    return normalise_image(image, options)


def string_kind(text: str) -> str:
    """``"image"``, ``"video"`` or ``"text"``: sentence-transformers' rule (an existing file with a media extension,
    an ``http(s)`` URL without spaces whose path ends in one, a ``data:image/`` URI), plus ``data:video/`` URIs."""
    if text.startswith("data:video/"):
        return "video"
    return infer_modality(text, supported_modalities=SUPPORTED)


def _names_image_file(frame: Any) -> bool:
    """A frame of a frame list given by name: in a list, a string ending in an image extension can only be a path, so
    a missing file is an error rather than text."""
    return isinstance(frame, str) and frame.lower().endswith(IMAGE_EXTENSIONS)


def is_frame_list(item: Any) -> bool:
    """Whether ``item`` is a non-empty list / tuple of frames (images, image arrays, image paths or file objects)."""
    if not isinstance(item, (list, tuple)) or not item:
        return False
    try:
        return all(
            _names_image_file(frame) or is_file_object(frame) or infer_modality(frame, SUPPORTED) == "image"
            for frame in item
        )
    except ValueError:
        return False


def _open_file_object(file: Any, options: MediaOptions) -> ParsedInput:
    """A bare file object: an image if PIL recognises its bytes, else a video."""
    data = read_file_object(file)
    try:
        Image.open(io.BytesIO(data)).close()
    except UnidentifiedImageError as image_error:
        try:
            return ParsedInput(videos=load_video(io.BytesIO(data), frame_options(options), open_image))
        except ValueError as video_error:
            raise ValueError(
                f"the file object holds neither an image ({image_error}) nor a readable video ({video_error})"
            ) from video_error
    return ParsedInput(images=[open_image(io.BytesIO(data), options)])


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
        parsed.videos = load_video(item["video"], frame_options(options), open_image)
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
        return ParsedInput(videos=load_video(list(item), frame_options(options), open_image))
    if is_file_object(item):
        return _open_file_object(item, options)
    if isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(part, str) for part in item):
        raise TypeError("text pairs are not supported: PLUME embeds one input at a time")
    try:
        modality = string_kind(item) if isinstance(item, str) else infer_modality(item, supported_modalities=SUPPORTED)
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
        return ParsedInput(videos=load_video(item, frame_options(options), open_image))
    if modality == "message":
        return _parse_dict(messages_to_dict(item), options)
    raise TypeError(f"unsupported input of modality {modality!r}")

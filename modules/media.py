"""Turning one ``encode`` input into text, RGB images and video frames, with errors that name the input.

Accepted inputs: a string (text, or the path of an image or video file), a PIL image, a list/tuple of frames
(a video), or a dict with any of the keys ``"text"``, ``"image"`` (an image, a path, or a list of them) and
``"video"`` (a frame list or a video file path). Documented conversions: every image becomes RGB (transparent
pixels are composited on white, 16-bit and float images are rescaled to 8 bit); an image whose short side is
below the backbone's minimum is upscaled to it; an image more elongated than ``max_aspect_ratio`` is padded with
white to that ratio; videos are sampled to ``num_frames`` uniformly spaced frames. URLs are never fetched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .video_decoding import decode_video_file, uniform_indices

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tiff", ".tif", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".wmv", ".flv", ".mkv", ".webm")
INPUT_KEYS = frozenset({"text", "image", "video"})


@dataclass
class Video:
    """Sampled frames of a video and their timing (for the M-RoPE time axis and Qwen3-VL's timestamps).

    Args:
        frames: The sampled RGB frames.
        fps: Frame rate of the source (a file's own rate; ``MediaOptions.frame_list_fps`` for a frame list).
        total_frames: Frames in the source.
        indices: Source index of every sampled frame.
    """

    frames: list[Image.Image]
    fps: float
    total_frames: int
    indices: list[int]


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
        frame_list_fps: Frame rate assumed for a video given as a frame list (2 fps, the qwen-vl-utils default).
    """

    num_frames: int = 8
    min_side: int = 28
    max_aspect_ratio: float = 150.0
    frame_list_fps: float = 2.0


def describe(item: Any, limit: int = 80) -> str:
    """A short description of an input for error messages."""
    text = repr(item) if isinstance(item, (str, dict, list, tuple)) else f"<{type(item).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _looks_like_path(text: str, extensions: tuple[str, ...]) -> bool:
    return text.lower().endswith(extensions) and "\n" not in text and len(text) < 4096


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


def load_image(value: Any, options: MediaOptions) -> Image.Image:
    """Load a PIL image or an image file path, normalised."""
    if isinstance(value, Image.Image):
        image = value
    elif isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if path.startswith(("http://", "https://")):
            raise ValueError(f"image URL {path!r} is not fetched; download it and pass the file or a PIL image")
        if not os.path.isfile(path):
            raise ValueError(f"image file {path!r} does not exist")
        try:
            with Image.open(path) as opened:
                opened.load()
                image = opened.copy()
        except (UnidentifiedImageError, OSError, SyntaxError) as error:
            raise ValueError(f"cannot read image file {path!r}: {error}") from error
    else:
        raise TypeError(f"an image must be a PIL image or a file path, got {type(value).__name__}")
    if image.width < 1 or image.height < 1:
        raise ValueError(f"image has an empty size {image.size}")
    return normalise_image(image, options)


def load_video(value: Any, options: MediaOptions) -> Video:
    """Load a frame list or a video file as ``num_frames`` uniformly sampled, normalised RGB frames."""
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if path.startswith(("http://", "https://")):
            raise ValueError(f"video URL {path!r} is not fetched; download it and pass the file")
        frames, fps, total, indices = decode_video_file(path, options.num_frames)
    elif isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("video has zero frames")
        fps, total, indices = options.frame_list_fps, len(value), uniform_indices(len(value), options.num_frames)
        frames = [value[i] for i in indices]
    else:
        raise TypeError(f"a video must be a list of frames or a file path, got {type(value).__name__}")
    return Video([load_image(frame, options) for frame in frames], fps, total, indices)


def _check_text(text: Any, allow_empty: bool) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not allow_empty and not text.strip():
        raise ValueError("text is empty")
    return text


def parse_input(item: Any, options: MediaOptions) -> ParsedInput:
    """Normalise one ``encode`` input.

    Args:
        item: The input (see the module docstring for the accepted kinds).
        options: Media normalisation options.

    Raises:
        ValueError: Empty text, a missing or unreadable file, an empty video, unknown dict keys.
        TypeError: An unsupported input type.
    """
    if isinstance(item, str):
        if _looks_like_path(item, IMAGE_EXTENSIONS) and (os.path.sep in item or os.path.isfile(item)):
            return ParsedInput(images=[load_image(item, options)])
        if _looks_like_path(item, VIDEO_EXTENSIONS) and (os.path.sep in item or os.path.isfile(item)):
            return ParsedInput(videos=[load_video(item, options)])
        return ParsedInput(text=_check_text(item, allow_empty=False))
    if isinstance(item, Image.Image):
        return ParsedInput(images=[load_image(item, options)])
    if isinstance(item, (list, tuple)):
        if (
            item
            and all(isinstance(frame, (Image.Image, str, os.PathLike)) for frame in item)
            and not any(isinstance(frame, str) and not _looks_like_path(frame, IMAGE_EXTENSIONS) for frame in item)
        ):
            return ParsedInput(videos=[load_video(list(item), options)])
        if not item:
            raise ValueError("video has zero frames")
        raise TypeError("a list input must be video frames (PIL images or image paths); text pairs are not supported")
    if isinstance(item, dict):
        if "role" in item and "content" in item:
            raise TypeError("chat messages are not supported; pass {'text', 'image', 'video'} dicts")
        unknown = set(item) - INPUT_KEYS
        if unknown:
            raise ValueError(f"unknown keys {sorted(map(str, unknown))}; expected some of {sorted(INPUT_KEYS)}")
        if not item:
            raise ValueError("empty dict")
        parsed = ParsedInput()
        if item.get("image") is not None:
            images = item["image"] if isinstance(item["image"], (list, tuple)) else [item["image"]]
            if not images:
                raise ValueError("'image' is an empty list")
            parsed.images = [load_image(image, options) for image in images]
        if item.get("video") is not None:
            parsed.videos = [load_video(item["video"], options)]
        has_media = bool(parsed.images or parsed.videos)
        if "text" in item and item["text"] is not None:
            parsed.text = _check_text(item["text"], allow_empty=has_media)
        elif not has_media:
            raise ValueError("dict has no text, image or video")
        return parsed
    raise TypeError(f"unsupported input type {type(item).__name__}; expected str, PIL image, frame list or a dict")

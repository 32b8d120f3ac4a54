"""Videos in every form sentence-transformers accepts, sampled to ``num_frames`` uniformly spaced RGB frames.

* a list of frames (PIL images, image arrays or paths), at ``frame_list_fps`` (2 fps) unless told otherwise;
* a 4-D ``np.ndarray`` / ``torch.Tensor`` (frames x C x H x W or frames x H x W x C; what mteb sends), 5-D for
  several videos;
* ``{"array": frames, "video_metadata": {"fps", "total_num_frames", "frames_indices", ...}}``: the frames of a longer
  video with their source indices and rate;
* a torchcodec ``VideoDecoder`` (only the sampled frames are decoded);
* a file path, an ``http(s)://`` URL, a base64 ``data:video/...`` URI or a binary file object (``io.BytesIO``, an
  open file), decoded by transformers' :func:`~transformers.video_utils.load_video` with PyAV (whose wheels bundle
  FFmpeg), which converts only the sampled frames.

All frames of one video must have one size (a clear error otherwise: resize them first).
"""

from __future__ import annotations

import base64
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from sentence_transformers.base.modality_types import VideoDecoder
from transformers.video_utils import load_video as transformers_load_video


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


def uniform_indices(total: int, count: int) -> list[int]:
    """``count`` evenly spaced indices over ``range(total)`` (all of them when ``total <= count``)."""
    if total <= count:
        return list(range(total))
    return np.linspace(0, total - 1, count).round().astype(int).tolist()


def is_file_object(value: Any) -> bool:
    """Whether ``value`` is a file object (``io.BytesIO``, an open file, anything with ``read``)."""
    return isinstance(value, io.IOBase) or callable(getattr(value, "read", None))


def read_file_object(file: Any) -> bytes:
    """All bytes of a binary file object, read from its start (as PIL reads one); its position is kept."""
    seekable = callable(getattr(file, "seekable", None)) and file.seekable()
    start = file.tell() if seekable else None
    if seekable:
        file.seek(0)
    data = file.read()
    if start is not None:
        file.seek(start)
    if not isinstance(data, bytes):
        raise ValueError(f"a file object must be opened in binary mode ('rb'); this one reads {type(data).__name__}")
    if not data:
        raise ValueError("the file object is empty")
    return data


def _is_single_video(value: Any) -> bool:
    from .media import is_frame_list

    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.ndim == 4
    return not isinstance(value, (list, tuple)) or is_frame_list(value)


def _frame_size(frame: Any) -> tuple[int, ...]:
    if isinstance(frame, Image.Image):
        return (frame.height, frame.width)
    if isinstance(frame, (np.ndarray, torch.Tensor)):
        return tuple(sorted(frame.shape)[1:])  # the two spatial sides of HWC / CHW, whichever order
    return ()


def _from_frames(
    frames: Any, fps: float, total: int, source: list[int] | None, options: Any, opener: Callable
) -> Video:
    count = len(frames)
    if count == 0:
        raise ValueError("video has zero frames")
    picked = uniform_indices(count, options.num_frames)
    chosen = [frames[i] for i in picked]
    sizes = {_frame_size(frame) for frame in chosen} - {()}
    if len(sizes) > 1:
        raise ValueError(f"video frames differ in size ({sorted(sizes)}); resize them to one size first")
    images = [opener(frame, options) for frame in chosen]
    if len({image.size for image in images}) > 1:
        raise ValueError(f"video frames differ in size ({sorted({im.size for im in images})}); resize them first")
    indices = [source[i] for i in picked] if source is not None else picked
    return Video(images, fps, max(total, count), indices)


def _from_metadata_dict(value: dict[str, Any], options: Any, opener: Callable) -> Video:
    frames, metadata = value["array"], dict(value.get("video_metadata") or {})
    if isinstance(frames, (np.ndarray, torch.Tensor)) and frames.ndim != 4:
        raise ValueError(f"'array' of a video must have 4 dimensions, got shape {tuple(frames.shape)}")
    source = metadata.get("frames_indices")
    if source is not None and len(source) != len(frames):
        raise ValueError(f"video_metadata has {len(source)} frames_indices for {len(frames)} frames")
    fps = float(metadata.get("fps") or options.frame_list_fps)
    total = int(metadata.get("total_num_frames") or len(frames))
    return _from_frames(frames, fps, total, list(map(int, source)) if source is not None else None, options, opener)


def _from_decoder(decoder: Any, options: Any, opener: Callable) -> Video:
    total = len(decoder)
    if total == 0:
        raise ValueError("video has zero frames")
    indices = uniform_indices(total, options.num_frames)
    frames = decoder.get_frames_at(indices=indices).data
    fps = float(decoder.metadata.average_fps or options.frame_list_fps)
    return _from_frames(list(frames), fps, total, indices, options, opener)


def _from_file(source: str, options: Any, opener: Callable, name: str | None = None) -> Video:
    is_url = source.startswith(("http://", "https://"))
    name = name or f"video file {source!r}"
    if not is_url and not os.path.isfile(source):
        raise ValueError(f"{name} does not exist")

    def sample(metadata: Any, **kwargs: Any) -> np.ndarray:
        if not metadata.total_num_frames:
            raise ValueError(f"{name} has zero frames (or its container does not state its frame count)")
        return np.asarray(uniform_indices(metadata.total_num_frames, options.num_frames))

    import av

    try:
        if not is_url:
            with av.open(source) as container:
                if not container.streams.video:
                    raise ValueError(f"{name} has no video stream")
        frames, metadata = transformers_load_video(source, backend="pyav", sample_indices_fn=sample)
    except ValueError as error:
        if not isinstance(error, av.FFmpegError):
            raise
        raise ValueError(f"cannot decode {name}: {error}") from error
    except Exception as error:  # PyAV / FFmpeg / httpx errors
        what = f"fetch video URL {source!r}" if is_url else f"decode {name}"
        raise ValueError(f"cannot {what}: {type(error).__name__}: {error}") from error
    indices = [int(i) for i in metadata.frames_indices]
    return _from_frames(list(frames), float(metadata.fps or 24.0), metadata.total_num_frames, indices, options, opener)


def _from_bytes(data: bytes, suffix: str, name: str, options: Any, opener: Callable) -> Video:
    """Decode a video held in memory (through a temporary file: transformers' loader reads paths)."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as file:
        file.write(data)
        file.flush()
        return _from_file(file.name, options, opener, name=name)


def _from_data_uri(uri: str, options: Any, opener: Callable) -> Video:
    header, _, payload = uri.partition(",")
    if ";base64" not in header or not payload:
        raise ValueError(f"a video data URI must be base64-encoded, got {uri[:60]!r}")
    try:
        data = base64.b64decode(payload, validate=True)
    except ValueError as error:
        raise ValueError(f"the video data URI is not valid base64: {error}") from error
    return _from_bytes(data, "." + header[len("data:video/") :].split(";")[0], "the video data URI", options, opener)


def _load_one(value: Any, options: Any, opener: Callable) -> Video:
    if VideoDecoder is not None and isinstance(value, VideoDecoder):
        return _from_decoder(value, options, opener)
    if isinstance(value, dict):
        if "array" not in value:
            raise ValueError(f"a video dict needs 'array' (and 'video_metadata'), got keys {sorted(map(str, value))}")
        return _from_metadata_dict(value, options, opener)
    if isinstance(value, str) and value.startswith("data:video/"):
        return _from_data_uri(value, options, opener)
    if is_file_object(value):
        return _from_bytes(read_file_object(value), "", "the video in the file object", options, opener)
    if isinstance(value, (str, os.PathLike)):
        return _from_file(os.fspath(value), options, opener)
    if isinstance(value, (np.ndarray, torch.Tensor)):
        if value.ndim != 4:
            raise ValueError(f"a video array must have 4 dimensions (frames x C x H x W), got {tuple(value.shape)}")
        return _from_frames(value, options.frame_list_fps, len(value), None, options, opener)
    if isinstance(value, (list, tuple)):
        return _from_frames(list(value), options.frame_list_fps, len(value), None, options, opener)
    kinds = "frames, an array, a VideoDecoder, a dict, a path or a file object"
    raise TypeError(f"a video must be {kinds}, got {type(value).__name__}")


def load_video(value: Any, options: Any, opener: Callable) -> list[Video]:
    """Load one video (or several: a 5-D array, a list of videos) as uniformly sampled, normalised frames.

    Args:
        value: The video(s), in any of the forms of the module docstring.
        options: The :class:`~media.MediaOptions` (``num_frames``, ``frame_list_fps``, ``url_timeout``, ...).
        opener: Turns one frame (PIL image, array, path) into a normalised RGB image (:func:`media.open_image`).

    Raises:
        ValueError: An empty video, a missing or undecodable file, frames of different sizes, bad metadata.
        TypeError: An unsupported type.
    """
    if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 5:
        return [_load_one(video, options, opener) for video in value]
    if _is_single_video(value):
        return [_load_one(value, options, opener)]
    if not value:
        raise ValueError("video has zero frames")
    return [_load_one(video, options, opener) for video in value]

"""Uniform frame sampling and video-file decoding with PyAV (whose wheels bundle FFmpeg; no system libraries)."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image


def uniform_indices(total: int, count: int) -> list[int]:
    """``count`` evenly spaced indices over ``range(total)`` (all of them when ``total <= count``)."""
    if total <= count:
        return list(range(total))
    return np.linspace(0, total - 1, count).round().astype(int).tolist()


def decode_video_file(path: str, num_frames: int) -> tuple[list[Image.Image], float, int, list[int]]:
    """Decode ``num_frames`` uniformly spaced frames of a video file with PyAV (only those are converted).

    Returns:
        The frames, the file's frame rate, its number of frames and the indices of the decoded frames.
    """
    try:
        import av
    except ImportError as error:
        raise ImportError("decoding video files needs PyAV: pip install av") from error
    if not os.path.isfile(path):
        raise ValueError(f"video file {path!r} does not exist")
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ValueError(f"video file {path!r} has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0) or 24.0
            total = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        if total == 0:
            raise ValueError(f"video file {path!r} has zero frames")
        wanted = uniform_indices(total, num_frames)
        keep, frames, decoded = set(wanted), [], []
        with av.open(path) as container:
            for position, frame in enumerate(container.decode(video=0)):
                if position in keep:
                    frames.append(frame.to_image())
                    decoded.append(position)
                if position >= wanted[-1]:
                    break
    except av.FFmpegError as error:
        raise ValueError(f"cannot decode video file {path!r}: {error}") from error
    if not frames:
        raise ValueError(f"video file {path!r} has zero decodable frames")
    return frames, fps, total, decoded

"""Turning one request item into a ready ``encode`` input, every limit checked before the work it guards.

A string of ``input`` is text, always (OpenAI's semantics): it becomes ``{"text": ...}``, never a path or a URL. A
conversation of ``messages`` is read with the model's own :func:`~plume_st.modules.chat_messages.messages_to_dict`;
its media are counted first, then read under the :class:`~plume_st.serving.media_policy.MediaPolicy` and decoded
here: an image's pixels are read from its header before it is decoded, a video's frame count and frame size from its
container before any frame is decoded (and each decoded frame is checked again). The result holds PIL images and
``{"array", "video_metadata"}`` videos (the sampled frames, as the model's own file decoder samples them), so the
batch only encodes.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from plume_st.modules.chat_messages import messages_to_dict
from plume_st.modules.errors import PlumeInputError
from plume_st.modules.plume_prompt import check_user_text
from plume_st.modules.video_decoding import uniform_indices

from .media_policy import MediaPolicy, read_media
from .request import ServeLimits

MEDIA_PART_TYPES = frozenset({"image", "image_url", "video", "video_url"})


def media_count(item: Any) -> int:
    """Media parts in one conversation (0 for text and for malformed conversations, which fail when prepared)."""
    messages = [item] if isinstance(item, dict) else item if isinstance(item, list) else []
    return sum(
        1
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") in MEDIA_PART_TYPES
    )


def checked_text(text: str, what: str = "text") -> str:
    """``text`` if it holds none of the PLUME control tokens."""
    try:
        check_user_text(text)
    except ValueError as error:
        raise PlumeInputError(f"{what} contains a reserved control token; remove it") from error
    return text


def prepare_item(
    item: Any, limits: ServeLimits, policy: MediaPolicy, num_frames: int, deadline: float
) -> dict[str, Any]:
    """One request item (a string or a conversation) as an ``encode`` dict of text, PIL images and videos.

    Args:
        item: A string of ``input`` or a conversation of ``messages``.
        limits: The request limits (media per item, pixels, frames).
        policy: Where media may come from.
        num_frames: Frames the model samples from every video.
        deadline: ``time.monotonic()`` value by which every fetch of the request must be done.

    Raises:
        PlumeInputError: The item's problem, in the caller's terms.
    """
    if isinstance(item, str):
        return {"text": checked_text(item)}
    count = media_count(item)
    if count > limits.max_media_per_item:
        raise PlumeInputError(
            f"{count} images and videos in one item is over the limit of {limits.max_media_per_item}"
        )
    try:
        conversation = messages_to_dict(item)
    except ValueError as error:
        raise PlumeInputError(str(error)[:200]) from error
    except (TypeError, AttributeError, KeyError) as error:
        raise PlumeInputError("a conversation must be a list of {'role', 'content'} messages") from error
    prepared: dict[str, Any] = {"text": checked_text(conversation["text"])}
    if "image" in conversation:
        prepared["image"] = [
            decode_image(read_media(source, "image", policy, deadline), limits) for source in conversation["image"]
        ]
    if "video" in conversation:
        sources = conversation["video"] if isinstance(conversation["video"], list) else [conversation["video"]]
        videos = [
            decode_video(read_media(source, "video", policy, deadline), limits, num_frames) for source in sources
        ]
        prepared["video"] = videos[0] if len(videos) == 1 else videos
    return prepared


def decode_image(data: bytes, limits: ServeLimits) -> Image.Image:
    """A decoded image; its pixel count is read from the header and checked before the pixels are decoded."""
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PlumeInputError(f"the image is over the limit of {limits.max_image_pixels} pixels") from None
    except Exception as error:  # PIL raises many kinds for bytes that are not an image
        raise PlumeInputError("cannot read the image (not a supported image format)") from error
    if width * height > limits.max_image_pixels:
        raise PlumeInputError(f"an image of {width}x{height} is over the limit of {limits.max_image_pixels} pixels")
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except Exception as error:
        raise PlumeInputError("cannot decode the image (truncated or corrupt)") from error


def decode_video(data: bytes, limits: ServeLimits, num_frames: int) -> dict[str, Any]:
    """The video's ``num_frames`` uniformly sampled RGB frames with their metadata, as the model samples a file.

    The frame count and frame size come from the container and are checked before any frame is decoded; each decoded
    frame's size is checked again.
    """
    import av

    try:
        container = av.open(io.BytesIO(data))
    except Exception as error:
        raise PlumeInputError("cannot read the video (not a supported video format)") from error
    with container:
        if not container.streams.video:
            raise PlumeInputError("the video has no video stream")
        stream = container.streams.video[0]
        width, height, total = stream.codec_context.width, stream.codec_context.height, stream.frames
        if width * height > limits.max_image_pixels:
            raise PlumeInputError(
                f"video frames of {width}x{height} are over the limit of {limits.max_image_pixels} pixels"
            )
        if not total:
            raise PlumeInputError("the video has zero frames (or its container does not state its frame count)")
        if total > limits.max_video_frames:
            raise PlumeInputError(f"a video of {total} frames is over the limit of {limits.max_video_frames}")
        indices = uniform_indices(total, num_frames)
        wanted, frames = set(indices), []
        try:
            for index, frame in enumerate(container.decode(video=0)):
                if index > indices[-1]:
                    break
                if frame.width * frame.height > limits.max_image_pixels:
                    raise PlumeInputError(f"a video frame is over the limit of {limits.max_image_pixels} pixels")
                if index in wanted:
                    frames.append(frame.to_ndarray(format="rgb24"))
        except PlumeInputError:
            raise
        except Exception as error:
            raise PlumeInputError("cannot decode the video (truncated or corrupt)") from error
        fps = float(stream.average_rate or 24.0)
    if len(frames) != len(indices):
        raise PlumeInputError("the video has fewer frames than its container states")
    metadata = {"fps": fps, "total_num_frames": total, "frames_indices": indices}
    return {"array": np.stack(frames), "video_metadata": metadata}

"""One query or candidate of an evaluation task, its stable identity, and the model input built from it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class EvalItem:
    """A query or a candidate: instruction, text and at most one image or one frame list.

    Media are paths, opened only when the item is encoded, so a task with thousands of candidates stays small.
    The media come first in the model input (the model places them before the text), as in the public harness.

    Attributes:
        instruction: Task instruction put in front of the text (may be empty).
        text: The item's own text (may be empty).
        image: Path of an image, or ``None``.
        frames: Paths of the (already sampled) video frames, or ``None``.
        name: Human-readable identity used in prediction files (label text, image path, corpus id, ...);
            defaults to the text or the media path.
        separator: What joins instruction and text: ``" "`` (the public harness, ``instruction + " " + text``, the
            instruction alone when there is no text) or ``"\n"`` (plume-st's own style).
    """

    instruction: str = ""
    text: str = ""
    image: str | None = None
    frames: tuple[str, ...] | None = None
    name: str = ""
    separator: str = "\n"

    @property
    def prompt(self) -> str:
        """Instruction and text joined by :attr:`separator`, stripped (what the model reads as text)."""
        if self.separator == " ":
            return (f"{self.instruction} {self.text}" if self.text else self.instruction).strip()
        return f"{self.instruction.rstrip()}{self.separator}{self.text}".strip()

    @property
    def kind(self) -> str:
        """``"video"``, ``"image"`` or ``"text"``: the modality of the input, for grouping batches."""
        return "video" if self.frames else "image" if self.image else "text"

    @cached_property
    def key(self) -> str:
        """Stable hash of everything that determines the model input (the embedding-cache key)."""
        payload = json.dumps([self.prompt, self.image, list(self.frames or ())], ensure_ascii=False)
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()

    @property
    def display_name(self) -> str:
        """The name, else the image path, the first frame's folder or the prompt."""
        if self.name:
            return self.name
        if self.image:
            return self.image
        if self.frames:
            return str(Path(self.frames[0]).parent)
        return self.prompt


def _open_image(path: str) -> Image.Image:
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (FileNotFoundError, OSError) as err:
        raise FileNotFoundError(f"Cannot read image {path!r} ({err}). Is the media root complete?") from err


def to_model_input(item: EvalItem) -> str | Image.Image | dict[str, Any]:
    """Build what ``model.encode`` receives for one item.

    Text only -> ``str``; image without text -> PIL image; image with text -> ``{"image", "text"}``;
    video -> ``{"video": [PIL frames], "text"}`` (``"text"`` left out when empty).
    """
    prompt = item.prompt
    if item.frames:
        video: dict[str, Any] = {"video": [_open_image(p) for p in item.frames]}
        if prompt:
            video["text"] = prompt
        return video
    if item.image:
        image = _open_image(item.image)
        return {"image": image, "text": prompt} if prompt else image
    return prompt

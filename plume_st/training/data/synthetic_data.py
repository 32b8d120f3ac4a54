"""A synthetic multimodal training set with rationales, drawn with PIL, for CPU runs, the demo and the tests.

Three sub-datasets, written as UME-R1-style JSONL (so :func:`~plume_st.training.data.ume_data.read_ume_sft` reads them
like the real corpus) with their media as PNG files under the same folder:

* ``shapes_i2t``: an image of a coloured shape -> its caption ("a red circle");
* ``shapes_t2i``: a caption -> the image;
* ``motion_v2t``: a short frame-list video of a shape moving left or right -> "a red circle moving right".

Every side has an eight-sentence rationale and a short answer, so the curriculum has S = 8 segments to replace.
Shapes, sizes, positions and shades are random per record; the classes (6 colours x 3 shapes) are fixed, so a
held-out set of one image per class measures retrieval by hit@1 against the 18 captions.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 60, 220),
    "yellow": (235, 210, 20),
    "purple": (140, 40, 170),
    "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle")
CLASSES = [(colour, shape) for colour in COLOURS for shape in SHAPES]
KINDS = ("shapes_i2t", "shapes_t2i", "motion_v2t")
IMAGE_SIZE = 56
NUM_FRAMES = 4


def draw_shape(
    colour: str, shape: str, rng: random.Random, size: int = IMAGE_SIZE, x: float | None = None
) -> Image.Image:
    """A white image with one shape of the colour (shade jittered), random size and position."""
    image = Image.new("RGB", (size, size), (255, 255, 255))
    shade = tuple(max(0, min(255, value + rng.randint(-20, 20))) for value in COLOURS[colour])
    radius = rng.uniform(0.2, 0.32) * size
    cx = rng.uniform(radius, size - radius) if x is None else x
    cy = rng.uniform(radius, size - radius)
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    draw = ImageDraw.Draw(image)
    if shape == "circle":
        draw.ellipse(box, fill=shade)
    elif shape == "square":
        draw.rectangle(box, fill=shade)
    else:
        draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=shade)
    return image


def _image_rationale(colour: str, shape: str) -> str:
    corners = {"circle": "It has no corners.", "square": "It has four corners.", "triangle": "It has three corners."}
    return (
        f"I look at the picture. The background is white. There is one shape. Its colour is {colour}. "
        f"{corners[shape]} So the shape is a {shape}. Nothing else is there. It is a {colour} {shape}."
    )


def _caption_rationale(colour: str, shape: str, motion: str | None = None) -> str:
    moving = f" It moves {motion}." if motion else " It does not move."
    return (
        f"I read the caption. It is short. It names a colour. The colour is {colour}. "
        f"It names a shape. The shape is a {shape}.{moving} It means a {colour} {shape}."
    )


def _video_rationale(colour: str, shape: str, motion: str) -> str:
    return (
        f"I watch the frames. The background is white. One shape is there. Its colour is {colour}. "
        f"The shape is a {shape}. It changes place. It moves to the {motion}. "
        f"It is a {colour} {shape} moving {motion}."
    )


def _side(human: str, rationale: str, answer: str, images: list[str], video: list[str]) -> dict[str, Any]:
    gpt = f"<think>{rationale}</think><answer>{answer}</answer>"
    return {
        "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}],
        "image": images,
        "video": video,
    }


def _record(kind: str, index: int, rng: random.Random, media: Path, prefix: str) -> dict[str, Any]:
    colour, shape = rng.choice(CLASSES)
    caption = f"a {colour} {shape}"
    if kind == "motion_v2t":
        motion = rng.choice(("left", "right"))
        start, stop = (14.0, 42.0) if motion == "right" else (42.0, 14.0)
        frame_rng = random.Random(rng.random())
        frames = []
        for frame in range(NUM_FRAMES):
            x = start + (stop - start) * frame / (NUM_FRAMES - 1)
            path = f"{prefix}{index:06d}_f{frame}.png"
            draw_shape(colour, shape, random.Random(frame_rng.random()), x=x).save(media / path)
            frames.append(f"media/{path}")
        caption = f"{caption} moving {motion}"
        query = _side(
            "<video>\nWhich way does the shape move?", _video_rationale(colour, shape, motion), caption, [], frames
        )
        positive = _side(caption, _caption_rationale(colour, shape, motion), caption, [], [])
        return {"dataset_name": kind, "qry": query, "pos": positive}
    path = f"{prefix}{index:06d}.png"
    draw_shape(colour, shape, rng).save(media / path)
    image_side = _side(
        "<image>\nFind a caption for this image.", _image_rationale(colour, shape), caption, [f"media/{path}"], []
    )
    text_side = _side(caption, _caption_rationale(colour, shape), caption, [], [])
    if kind == "shapes_t2i":
        text_side["conversations"][0]["value"] = f"Find an image of {caption}."
        return {"dataset_name": kind, "qry": text_side, "pos": image_side}
    return {"dataset_name": kind, "qry": image_side, "pos": text_side}


def write_synthetic_ume(
    out_dir: str | Path,
    num_records: int = 256,
    seed: int = 0,
    kinds: tuple[str, ...] = KINDS,
    name: str = "train",
) -> Path:
    """Write ``{out_dir}/{name}.jsonl`` (UME-R1 format) and its media under ``{out_dir}/media``.

    Args:
        out_dir: The dataset folder (the media root of the JSONL).
        num_records: Number of query/positive pairs, spread round-robin over ``kinds``.
        seed: Seed of the drawing.
        kinds: Which sub-datasets to include (see the module docstring).
        name: File stem of the JSONL (``"train"``, ``"eval"``, ...); media file names start with it.

    Returns:
        The JSONL path.
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown synthetic kinds {sorted(unknown)}; choose from {KINDS}")
    out_dir = Path(out_dir)
    media = out_dir / "media"
    media.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    path = out_dir / f"{name}.jsonl"
    with open(path, "w", encoding="utf8") as handle:
        for index in range(num_records):
            record = _record(kinds[index % len(kinds)], index, rng, media, f"{name}_")
            handle.write(json.dumps(record) + "\n")
    return path


def shape_retrieval_set(seed: int = 1234, instruction: str = "Find a caption for this image.") -> tuple[list, list]:
    """A held-out image -> caption retrieval set: one fresh image per class and the 18 captions.

    Returns:
        ``(queries, documents)``; query ``i`` matches document ``i``.
    """
    rng = random.Random(seed)
    queries = [{"image": draw_shape(colour, shape, rng), "text": instruction} for colour, shape in CLASSES]
    documents = [f"a {colour} {shape}" for colour, shape in CLASSES]
    return queries, documents

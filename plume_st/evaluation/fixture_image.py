"""Fixture image tasks: one or two datasets per category, in both annotation column conventions."""

from __future__ import annotations

from pathlib import Path

from plume_st.evaluation.fixture_media import MediaWriter, write_table

ROOT = "image-tasks"


def _img(media: MediaWriter, relative: str) -> str:
    """Write a picture under ``image-tasks/``; return its path relative to that folder (as annotations store it)."""
    media.image(f"{ROOT}/{relative}")
    return relative


def _rows_cls(media: MediaWriter) -> list[dict]:
    labels = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead"]
    rows = []
    for i in range(4):
        negatives = [x for x in labels if x != labels[i]][:3]
        rows.append({
            "qry_inst": "<|image_1|>\nRepresent the given image for classification",
            "qry_text": "",
            "qry_img_path": _img(media, f"ImageNet-1K/val/img_{i}.png"),
            "tgt_inst": "Represent the class label:",
            "tgt_text": [labels[i], *negatives],
            "tgt_img_path": ["", "", "", ""],
        })  # fmt: skip
    return rows


def _rows_cls_older_convention(media: MediaWriter) -> list[dict]:
    domains = ["sports", "politics", "science", "travel"]
    return [
        {
            "qry_text": f"<|image_1|>\nRepresent the given news image with the following caption for domain "
            f"classification: headline number {i}",
            "qry_img_path": _img(media, f"N24News/test/{i}.png"),
            "tgt_text": domains[i:] + domains[:i],
            "tgt_img_path": [""] * 4,
        }
        for i in range(3)
    ]


def _rows_qa(media: MediaWriter) -> list[dict]:
    answers = ["red", "two", "a dog", "a bicycle", "on the table"]
    return [
        {
            "qry_inst": "<|image_1|>\nRepresent the given image with the following question:",
            "qry_text": f"question {i} about the picture?",
            "qry_img_path": _img(media, f"OK-VQA/val2014/q{i}.png"),
            "tgt_inst": "",
            "tgt_text": [answers[i], *[a for a in answers if a != answers[i]][:3]],
            "tgt_img_path": [""] * 4,
        }
        for i in range(4)
    ]


def _rows_t2i(media: MediaWriter) -> list[dict]:
    pool = [_img(media, f"MSCOCO_t2i/images/coco_{j}.png") for j in range(6)]
    return [
        {
            "qry_inst": "Find me an everyday image that matches the given caption:",
            "qry_text": f"caption number {i}",
            "qry_img_path": "",
            "tgt_inst": "<|image_1|>\nRepresent the given image.",
            "tgt_text": [""] * 4,
            "tgt_img_path": [pool[i], *[p for p in pool if p != pool[i]][:3]],
        }
        for i in range(4)
    ]


def _rows_i2t(media: MediaWriter) -> list[dict]:
    captions = [f"news caption {j}" for j in range(5)]
    return [
        {
            "qry_inst": "<|image_1|>\nRepresent the given news image for caption retrieval:",
            "qry_text": "",
            "qry_img_path": _img(media, f"VisualNews_i2t/img_{i}.png"),
            "tgt_inst": "",
            "tgt_text": [captions[i], *[c for c in captions if c != captions[i]][:4]],
            "tgt_img_path": [""] * 5,
        }
        for i in range(3)
    ]


def _rows_grounding(media: MediaWriter) -> list[dict]:
    rows = []
    for i in range(3):
        crops = [_img(media, f"RefCOCO/crops/{i}_{k}.png") for k in range(4)]
        rows.append({
            "qry_inst": "<|image_1|>\nSelect the portion of the image that isolates the object labeled as",
            "qry_text": f"object {i}",
            "qry_img_path": _img(media, f"RefCOCO/full/{i}.png"),
            "tgt_inst": "<|image_1|>\nRepresent the given cropped image of the object.",
            "tgt_text": [""] * 4,
            "tgt_img_path": crops,
        })  # fmt: skip
    return rows


def write_image_tasks(root: Path, media: MediaWriter) -> list[str]:
    """Write the image datasets' annotations and images; return their names."""
    writers = {
        "ImageNet-1K": _rows_cls,
        "N24News": _rows_cls_older_convention,
        "OK-VQA": _rows_qa,
        "MSCOCO_t2i": _rows_t2i,
        "VisualNews_i2t": _rows_i2t,
        "RefCOCO": _rows_grounding,
    }
    for name, rows in writers.items():
        suffix = ".parquet" if name == "OK-VQA" else ".jsonl"
        write_table(root / "annotations" / name / f"test{suffix}", rows(media))
    return list(writers)

"""Fixture video tasks: every video loader (classification, QA, retrieval, moment retrieval) with real frame folders.

Frame folders alternate between 10 frames (8 are sampled) and 5 frames (the last is repeated).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from plume_st.evaluation.fixture_media import MediaWriter, write_table

FRAMES = "video-tasks/frames"


class _Videos:
    def __init__(self, media: MediaWriter, folder: str) -> None:
        self.media, self.folder, self.count = media, f"{FRAMES}/{folder}", 0

    def __call__(self, name: str) -> str:
        self.count += 1
        self.media.frames(f"{self.folder}/{name}", 10 if self.count % 2 else 5)
        return name


def _cls(media: MediaWriter) -> list[dict]:
    video = _Videos(media, "video_cls/HMDB51")
    labels = ["run", "jump", "run", "wave"]
    return [{"video_id": video(f"clip_{i}"), "pos_text": label} for i, label in enumerate(labels)]


def _ssv2(media: MediaWriter) -> list[dict]:
    video = _Videos(media, "video_cls/SSv2")
    labels = ["Opening something", "Closing something", "Folding something", "Holding something"]
    return [{"video_id": video(str(1000 + i)), "pos_text": labels[i], "neg_text": labels} for i in range(3)]


def _retrieval(media: MediaWriter, name: str) -> list[dict]:
    video = _Videos(media, f"video_ret/{name}")
    ids = [video(f"video{i}") for i in range(3)]
    pairs = [(ids[0], "a man is cooking"), (ids[1], "a cat plays piano"), (ids[0], "someone cooks food"),
             (ids[2], "cars race on a track")]  # fmt: skip
    columns: dict[str, Callable[[str, str], dict[str, Any]]] = {
        "MSR-VTT": lambda v, c: {"video_id": v, "video": f"{v}.mp4", "caption": c},
        "MSVD": lambda v, c: {"video_id": v, "video": f"{v}.avi", "caption": [c, "another caption"]},
        "DiDeMo": lambda v, c: {"video": f"videos/{v}.mp4", "caption": c},
        "VATEX": lambda v, c: {"videoID": v, "enCap": [c, "second caption"]},
        "YouCook2": lambda v, c: {"id": v, "video_path": f"val/{v}.mp4", "sentence": c},
    }
    return [columns[name](v, c) for v, c in pairs]


def _qa(media: MediaWriter, name: str) -> list[dict]:
    video = _Videos(media, f"video_qa/{name}")
    rows = []
    for i in range(3):
        options = [f"{name} answer {i}-{k}" for k in range(4)]
        if name == "Video-MME":
            letters = [f"{'ABCD'[k]}. {o}." for k, o in enumerate(options)]
            rows.append({"videoID": video(f"vid{i}"), "question": f"What happens {i}?", "options": letters,
                         "answer": "ABCD"[(i + 1) % 4], "question_id": f"{i}-1"})  # fmt: skip
        elif name == "NExTQA":
            row = {"video": video(str(4000 + i)), "question": f"why {i}", "answer": i % 5, "qid": i, "type": "CW"}
            rows.append(row | {f"a{k}": f"NExTQA option {i}-{k}" for k in range(5)})
        elif name == "EgoSchema":
            letters = [f"{'ABCDE'[k]}. {o}" for k, o in enumerate(options + [f"{name} answer {i}-4"])]
            rows.append({"video_idx": video(f"ego-{i}"), "question": f"What is C doing {i}?", "option": letters,
                         "answer": str((i + 2) % 5), "question_idx": f"q{i}"})  # fmt: skip
        elif name == "MVBench":
            subset = ["action_sequence", "object_shuffle", "action_sequence"][i]
            video_name = video(f"{subset}/clip_{i}.mp4")[len(subset) + 1 :]
            rows.append({"subset": subset, "video": video_name, "question": f"Which action {i}?",
                         "candidates": options[:3], "answer": options[i % 3]})  # fmt: skip
        else:  # ActivityNetQA
            video(f"v_act{i}")
            rows.append({"video_name": f"act{i}", "question": f"is it sunny {i}", "answer": ["yes", "no"][i % 2],
                         "question_id": f"a{i}"})  # fmt: skip
    return rows


def _moments(media: MediaWriter) -> list[dict]:
    rows = []
    for i in range(2):
        folder = f"{FRAMES}/video_mret/QVHighlight/qv{i}"
        media.frames(f"{folder}/query", 10)
        for clip in ["negative_0", f"positive_{i}", "negative_1", "negative_2"]:
            media.frames(f"{folder}/{clip}", 5)
        rows.append({"query": f"a person waves {i}", "video_path": f"videos/qv{i}.mp4"})
    return rows


def _momentseeker(media: MediaWriter) -> list[dict]:
    base = f"{FRAMES}/video_mret/MomentSeeker"
    rows = []
    for i, source in enumerate(["", "movie/m1.mp4", "img7.jpg"]):
        if source.endswith(".mp4"):
            media.frames(f"{base}/video_frames/{source[:-4].replace('/', '_')}", 10)
        elif source:
            media.image(f"{base}/query_{source}")
        clips = [f"ms/clip_{i}_{k}.mp4" for k in range(4)]
        for clip in clips:
            media.frames(f"{base}/video_frames/{clip[:-4].replace('/', '_')}", 8)
        positives = [{"output_path": c} for c in clips[: 2 if i == 2 else 1]]
        negatives = [{"output_path": c} for c in clips[len(positives) :]]
        rows.append({"query": f"moment {i}", "input_frames": source, "positive_frames": positives,
                     "negative_frames": negatives})  # fmt: skip
    return rows


def write_video_tasks(root: Path, media: MediaWriter) -> list[str]:
    """Write the video datasets' annotations and frame folders; return their names."""
    tables: dict[str, tuple[str, list[dict]]] = {
        "HMDB51": ("test", _cls(media)),
        "SmthSmthV2": ("test", _ssv2(media)),
        **{n: ("val" if n == "YouCook2" else "test", _retrieval(media, n))
           for n in ("MSR-VTT", "MSVD", "DiDeMo", "VATEX", "YouCook2")},
        **{n: ("train" if n == "MVBench" else "test", _qa(media, n))
           for n in ("Video-MME", "NExTQA", "EgoSchema", "MVBench", "ActivityNetQA")},
        "QVHighlight": ("test", _moments(media)),
        "MomentSeeker": ("test", _momentseeker(media)),
    }  # fmt: skip
    for name, (split, rows) in tables.items():
        write_table(root / "annotations" / name / f"{split}.jsonl", rows)
    return list(tables)

"""The 10 class labels of Breakfast, exactly as the public MMEB-v2 harness ranks them (its full label list).

Source: TIGER-AI-Lab/VLM2Vec at commit 6e1e1d4, ``src/data/eval_dataset/video_classification_utils.py``,
``BREAKFAST_LABELS`` (copied verbatim, in the same order). The reference adds these labels to the test rows' labels to
form the Breakfast candidate pool (de-duplicated by name).
"""

from __future__ import annotations

SOURCE = "TIGER-AI-Lab/VLM2Vec@6e1e1d4:src/data/eval_dataset/video_classification_utils.py:BREAKFAST_LABELS"
LABELS: tuple[str, ...] = (
    "pancake",
    "cereal",
    "sandwich",
    "scrambledegg",
    "friedegg",
    "coffee",
    "milk",
    "tea",
    "juice",
    "salad",
)

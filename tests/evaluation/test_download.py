"""The annotation download writes the local layout that `plume-st eval` then reads offline (Hub faked)."""

from __future__ import annotations

import datasets
import numpy as np
from PIL import Image

from plume_st.evaluation.loaders import load_task
from plume_st.evaluation.loaders.download import download_annotations
from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.registry import get_dataset


def _page(value: int) -> Image.Image:
    return Image.fromarray(np.full((28, 28, 3), value, dtype=np.uint8))


HUB = {
    ("vidore/docvqa_test_subsampled_beir", "queries"): [{"query-id": 1, "query": "what is the total?"}],
    ("vidore/docvqa_test_subsampled_beir", "corpus"): [
        {"corpus-id": 7, "image": _page(10)},
        {"corpus-id": 8, "image": _page(200)},
    ],  # fmt: skip
    ("vidore/docvqa_test_subsampled_beir", "qrels"): [{"query-id": 1, "corpus-id": 8, "score": 1}],
    ("VLM2Vec/ActivityNetQA", None): [
        {"video_name": "x1", "question": "is it day", "answer": "yes", "question_id": "1"}
    ],  # fmt: skip
}


def test_download_then_load_offline(tmp_path, monkeypatch):
    calls = []

    def fake_load_dataset(repo, subset=None, split=None):
        calls.append((repo, subset, split))
        return datasets.Dataset.from_list(HUB[(repo, subset)])  # PIL values become an Image column

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    written = download_annotations(tmp_path, datasets=["ViDoRe_docvqa", "ActivityNetQA"])
    assert written == ["ActivityNetQA", "ViDoRe_docvqa"]  # registry order
    assert sorted(p.name for p in (tmp_path / "annotations/ViDoRe_docvqa").iterdir()) == [
        "corpus.parquet", "qrels.parquet", "queries.parquet",
    ]  # fmt: skip
    assert (tmp_path / "annotations/ActivityNetQA/test.parquet").is_file()
    assert calls[0] == ("VLM2Vec/ActivityNetQA", None, "test")
    page = tmp_path / "visdoc-tasks/ViDoRe_docvqa/8.png"
    assert np.asarray(Image.open(page))[0, 0].tolist() == [200, 200, 200]

    monkeypatch.setattr(datasets, "load_dataset", None)  # no Hub from here on
    task = load_task(get_dataset("ViDoRe_docvqa"), tmp_path)  # vlm2vec: the positives, then the rest of the corpus
    assert [c.name for c in task.candidates] == ["8", "7"] and task.relevance == [{0: 1.0}]
    task = load_task(get_dataset("ViDoRe_docvqa"), tmp_path, protocol=Protocol("plume"))  # the corpus order
    assert [c.name for c in task.candidates] == ["7", "8"] and task.relevance == [{1: 1.0}]
    assert download_annotations(tmp_path, datasets=["ViDoRe_docvqa"]) == ["ViDoRe_docvqa"]  # cached: no calls

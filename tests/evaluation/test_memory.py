"""Bounded memory: a Hub corpus is read page by page, video chunks are small."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from plume_st.evaluation.encoding import encode as encoding
from plume_st.evaluation.encoding.cache import EmbeddingCache
from plume_st.evaluation.encoding.encode import encode_items
from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.loaders.annotations import load_rows
from plume_st.evaluation.loaders.visdoc import load_visdoc_task, page_filename
from plume_st.evaluation.registry import get_dataset


class FakeHubCorpus:
    """A ``datasets.Dataset`` stand-in that counts decoded page images."""

    def __init__(self, ids: list[str], decoded: list[str]) -> None:
        self.ids, self.decoded, self.column_names = ids, decoded, ["corpus-id", "image"]

    def select_columns(self, columns: list[str]) -> list[dict[str, str]]:
        return [{"corpus-id": cid} for cid in self.ids]

    def __getitem__(self, index: int) -> dict:
        self.decoded.append(self.ids[index])
        return {"corpus-id": self.ids[index], "image": Image.new("RGB", (4, 4))}

    def __iter__(self):
        return (self[i] for i in range(len(self.ids)))


def test_hub_corpus_decodes_only_the_pages_to_save(tmp_path, monkeypatch):
    import datasets

    decoded: list[str] = []
    monkeypatch.setattr(datasets, "load_dataset", lambda repo, table, split: FakeHubCorpus(["a", "b", "c"], decoded))
    spec = get_dataset("ViDoRe_arxivqa")
    (tmp_path / page_filename(spec, "b")).write_bytes(b"already saved")
    corpus = load_rows(spec, "corpus", tmp_path / "annotations", from_hub=True)
    assert decoded == []  # nothing read yet
    qrels = [{"query-id": "q", "corpus-id": "a", "score": 1}]
    task = load_visdoc_task(spec, [{"query-id": "q", "query": "x"}], corpus, qrels, tmp_path)
    assert decoded == ["a", "c"]  # page b exists: never decoded
    assert [c.name for c in task.candidates] == ["a", "b", "c"]
    assert Image.open(tmp_path / page_filename(spec, "c")).size == (4, 4)


class SizeRecorder:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def encode(self, inputs, batch_size=32, **kwargs):
        self.sizes.append(len(inputs))
        return np.ones((len(inputs), 2))


def test_video_items_are_encoded_in_smaller_chunks(monkeypatch):
    monkeypatch.setattr(encoding, "to_model_input", lambda item: item.key)  # no frame decoding needed
    videos = [EvalItem(text=str(i), frames=(str(Path(f"v{i}") / "0.jpg"),)) for i in range(10)]
    texts = [EvalItem(text=f"t{i}") for i in range(20)]
    model = SizeRecorder()
    assert encode_items(model, videos + texts, EmbeddingCache(), batch_size=2) == 30
    assert model.sizes == [16, 4, 4, 4, 2]  # 20 texts: 8 * batch_size a call; 10 videos: 2 * batch_size

"""Issue 12: a PLUME model in mteb — mock tasks of every modality, a retrieval score equal to one computed by hand
from ``model.encode``, and the task's instruction reaching ``encode``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from datasets import Dataset
from drawing import draw_image

mteb = pytest.importorskip("mteb")
from mteb.abstasks.retrieval import AbsTaskRetrieval  # noqa: E402
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData  # noqa: E402
from mteb.abstasks.task_metadata import TaskMetadata  # noqa: E402

from plume_st.mteb import official_model_metas, plume_model_meta  # noqa: E402

INSTRUCTION = "Find the picture that shows:"
QUERIES = ["a red block", "a blue block on grey", "something green", "two colours"]
QRELS = {"q0": {"d1": 1}, "q1": {"d3": 1, "d4": 1}, "q2": {"d0": 1}, "q3": {"d5": 1}}


class TextToImageTask(AbsTaskRetrieval):
    """Text queries against an image corpus, in memory."""

    metadata = TaskMetadata(
        name="PlumeTextToImage",
        description="Text-to-image retrieval over generated images (test data).",
        reference="https://github.com/embeddings-benchmark/mteb",
        dataset={"path": "NA", "revision": "NA"},
        type="Any2AnyRetrieval",
        category="t2i",
        modalities=["text", "image"],
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score="ndcg_at_10",
        date=("2026-01-01", "2026-01-01"),
        domains=[],
        task_subtypes=[],
        license="cc-by-4.0",
        annotations_creators="derived",
        dialect=[],
        sample_creation="created",
        bibtex_citation="",
        prompt={"query": INSTRUCTION},
    )

    def load_data(self, num_proc: int | None = None, **kwargs) -> None:
        split = RetrievalSplitData(
            queries=Dataset.from_dict({"id": [f"q{i}" for i in range(4)], "text": QUERIES}),
            corpus=Dataset.from_dict({"id": [f"d{i}" for i in range(6)], "image": [draw_image(i) for i in range(6)]}),
            relevant_docs=QRELS,
            top_ranked=None,
        )
        self.dataset = {"default": {"test": split}}
        self.data_loaded = True


@pytest.fixture(scope="module")
def folder(plume_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("mteb") / "plume"
    plume_model("qwen2_vl").save_pretrained(str(path))
    return str(path)


def test_mock_run_passes_every_text_image_and_video_task(folder):
    results = mteb.mock_run(plume_model_meta(folder).load_model())
    outcomes = list(results.task_results.values())
    assert not [r for r in outcomes if type(r).__name__ == "TaskError"]
    summary = {modality: status for status, modality, _ in results.modality_summary()}
    for modality in ("text", "image", "video"):
        passed, total = map(int, summary[modality].split("(")[1].rstrip(")").split("/"))
        assert passed == total > 0, (modality, summary[modality])
    assert summary["audio"] == "skipped"


def _ndcg_at_10(scores: np.ndarray, qrels: dict[str, dict[str, int]]) -> float:
    values = []
    for row, query in enumerate(sorted(qrels)):
        ranking = np.argsort(-scores[row], kind="stable")[:10]
        gains = [qrels[query].get(f"d{doc}", 0) for doc in ranking]
        dcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))
        ideal = sorted(qrels[query].values(), reverse=True)[:10]
        values.append(dcg / sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal)))
    return float(np.mean(values))


def test_retrieval_score_equals_the_one_computed_from_encode(folder):
    encoder = plume_model_meta(folder).load_model()
    result = mteb.evaluate(encoder, [TextToImageTask()], cache=None, show_progress_bar=False)
    score = result.task_results[0].scores["test"][0]["main_score"]
    model = encoder.model
    queries = model.encode(QUERIES, prompt=INSTRUCTION + " ")
    corpus = model.encode([draw_image(i) for i in range(6)])
    assert score == round(_ndcg_at_10(queries @ corpus.T, QRELS), 5)  # mteb stores scores rounded to 5 decimals


def test_the_task_instruction_reaches_encode(folder):
    from mteb.types import PromptType

    encoder = plume_model_meta(folder).load_model()
    loader = torch.utils.data.DataLoader(Dataset.from_dict({"text": QUERIES}), batch_size=2)
    metadata = TextToImageTask.metadata
    queries = encoder.encode(
        loader, task_metadata=metadata, hf_split="test", hf_subset="default", prompt_type=PromptType.query
    )
    documents = encoder.encode(
        loader, task_metadata=metadata, hf_split="test", hf_subset="default", prompt_type=PromptType.document
    )
    model = encoder.model
    np.testing.assert_allclose(queries, model.encode(QUERIES, prompt=INSTRUCTION + " "), atol=1e-6)
    np.testing.assert_allclose(documents, model.encode(QUERIES), atol=1e-6)
    assert np.abs(queries - documents).max() > 1e-3


def test_reasoning_and_latent_steps_are_experiment_settings(folder):
    from mteb.types import PromptType

    meta = plume_model_meta(folder, reasoning="none", latent_steps=2)
    assert meta.experiment_kwargs == {"reasoning": "none", "latent_steps": 2}
    assert meta.modalities == ["text", "image", "video"] and meta.use_instructions
    encoder = meta.load_model()
    assert encoder.encode_kwargs == {"reasoning": "none", "latent_steps": 2}
    loader = torch.utils.data.DataLoader(Dataset.from_dict({"text": QUERIES}), batch_size=4)
    metadata = TextToImageTask.metadata
    embeddings = encoder.encode(
        loader, task_metadata=metadata, hf_split="test", hf_subset="default", prompt_type=PromptType.query
    )
    expected = encoder.model.encode(QUERIES, prompt=INSTRUCTION + " ", reasoning="none")
    np.testing.assert_allclose(embeddings, expected, atol=1e-6)
    names = {m.name for m in official_model_metas()}
    assert names == {"CUDAOUTOFMEMORY/PLUME-Qwen2-VL-2B", "Rem520/PLUME-7B"}

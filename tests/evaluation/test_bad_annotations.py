"""Malformed annotation rows raise a ValueError naming the dataset, the table and the row; nothing is guessed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plume_st.evaluation.items import EvalItem
from plume_st.evaluation.loaders.image import load_image_task
from plume_st.evaluation.loaders.moment import load_moment_task
from plume_st.evaluation.loaders.video import load_video_cls_task, load_video_retrieval_task
from plume_st.evaluation.loaders.video_qa import load_video_qa_task
from plume_st.evaluation.loaders.visdoc import load_visdoc_task
from plume_st.evaluation.registry import get_dataset
from plume_st.evaluation.scoring.score import score_task
from plume_st.evaluation.task import TaskBuilder

NEXTQA_ROW = {"video": "v1", "question": "q", **{f"a{i}": f"o{i}" for i in range(5)}}
MOMENTSEEKER_ROW = {"query": "x", "positive_frames": [{"output_path": "v1"}], "negative_frames": []}


def _visdoc(queries, corpus, qrels, root: Path = Path("/nowhere")):
    return load_visdoc_task(get_dataset("ViDoRe_arxivqa"), queries, corpus, qrels, root)


@pytest.mark.parametrize(
    ("load", "message"),
    [
        (lambda: load_video_cls_task(get_dataset("HMDB51"), [{"video_id": "v1", "label": "x"}], Path()),
         "HMDB51 row 0"),
        (lambda: load_video_cls_task(get_dataset("SmthSmthV2"), [{"video_id": "v", "pos_text": "x"}], Path()),
         "SmthSmthV2 row 0: KeyError"),
        (lambda: load_video_retrieval_task(get_dataset("MSR-VTT"), [{"video_id": "v1", "text": "x"}], Path()),
         "MSR-VTT row 0: KeyError"),
        (lambda: load_video_retrieval_task(get_dataset("VATEX"), [{"videoID": "v1", "enCap": []}], Path()),
         "VATEX row 0: IndexError"),
        (lambda: load_moment_task(get_dataset("QVHighlight"), [{"query": "x", "video": "v1.mp4"}], Path()),
         "QVHighlight row 0: KeyError"),
        (lambda: load_moment_task(get_dataset("MomentSeeker"), [{"query": "x"}], Path()), "MomentSeeker row 0"),
        (lambda: load_video_qa_task(get_dataset("NExTQA"), [dict(NEXTQA_ROW, answer=7)], Path()), "NExTQA row 0"),
        (lambda: load_video_qa_task(get_dataset("NExTQA"), [dict(NEXTQA_ROW, answer=-1)], Path()), "NExTQA row 0"),
        (lambda: load_video_qa_task(get_dataset("EgoSchema"), [
            {"video_idx": "v1", "question": "q", "option": ["A. x", "B. y"], "answer": "-1"}], Path()),
         "EgoSchema row 0"),
        (lambda: _visdoc([{"query-id": "q", "query": "x"}], [{"corpus-id": "c"}],
                         [{"query-id": "q", "corpus-id": "c"}]), "ViDoRe_arxivqa qrels row 0: KeyError"),
        (lambda: _visdoc([], [{"corpus-id": "c"}, {"id": "d"}], []), "ViDoRe_arxivqa corpus row 1: KeyError"),
        (lambda: _visdoc([{"query-id": "q"}], [{"corpus-id": "c"}], [{"query-id": "q", "corpus-id": "c", "score": 1}]),
         "ViDoRe_arxivqa queries row 0: KeyError"),
        (lambda: load_moment_task(get_dataset("MomentSeeker"), [dict(MOMENTSEEKER_ROW, input_frames="a/b.png")],
                                  Path()), "MomentSeeker row 0: .*'a/b.png' is neither a video"),
    ],
)  # fmt: skip
def test_bad_rows_name_dataset_table_and_row(load, message):
    with pytest.raises(ValueError, match=message):
        load()


def test_positive_outside_the_candidates_is_refused():
    builder = TaskBuilder(get_dataset("OK-VQA"))
    candidates = [EvalItem(text="a"), EvalItem(text="b")]
    for bad in (-1, 2):
        with pytest.raises(ValueError, match=r"OK-VQA: query 'the question'.*\[" + str(bad) + r"\] outside its 2"):
            builder.add_local(EvalItem(text="the question"), candidates, positives=(bad,))
    builder.add_local(EvalItem(text="the question"), candidates, positives=(1,))
    assert builder.build().relevance == [{1: 1.0}]


def test_qrels_naming_pages_missing_from_the_corpus_are_an_error():
    qrels = [{"query-id": "q", "corpus-id": cid, "score": 1} for cid in ("c", "gone", "lost")]
    missing = "ViDoRe_arxivqa: 2 corpus ids in qrels are missing from the corpus: gone, lost"
    with pytest.raises(ValueError, match=missing):
        _visdoc([{"query-id": "q", "query": "x"}], [{"corpus-id": "c"}], qrels)


def test_empty_scalar_image_path_means_no_images():
    row = {"qry_text": "q", "qry_img_path": "", "tgt_text": ["cat", "dog"], "tgt_img_path": ""}
    task = load_image_task(get_dataset("ImageNet-1K"), [row], Path("/IMG"))
    assert [(c.text, c.image) for c in task.candidates] == [("cat", None), ("dog", None)]


def test_non_finite_embeddings_are_refused():
    builder = TaskBuilder(get_dataset("OK-VQA"))
    builder.add_local(EvalItem(text="q"), [EvalItem(text="a"), EvalItem(text="b")])
    task = builder.build()
    assert score_task(task, np.array([[1.0, 0.0]]), np.eye(2)).score == 100.0
    with pytest.raises(ValueError, match="OK-VQA: 1 of 2 candidate embeddings contain NaN or inf"):
        score_task(task, np.ones((1, 2)), np.array([[1.0, 0.0], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="OK-VQA: 1 of 1 query embeddings"):
        score_task(task, np.array([[np.inf, 0.0]]), np.eye(2))

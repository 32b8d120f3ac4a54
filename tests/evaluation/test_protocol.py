"""``--protocol vlm2vec`` reproduces the public harness (VLM2Vec 6e1e1d4) on differences 1-5 of issue 9; ``plume``
keeps plume-st's own choices. Every expected pool, frame list, string and score below is computed by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from plume_st.evaluation.evaluator import MMEBEvaluator
from plume_st.evaluation.fixture.media import MediaWriter
from plume_st.evaluation.items import EvalItem, to_model_input
from plume_st.evaluation.loaders import load_task
from plume_st.evaluation.loaders.labels import LABEL_LISTS, SOURCES, full_label_list
from plume_st.evaluation.loaders.labels.hmdb51 import LABELS as HMDB51_LABELS
from plume_st.evaluation.loaders.video import load_video_cls_task
from plume_st.evaluation.loaders.visdoc import load_visdoc_task
from plume_st.evaluation.protocol import Protocol, model_profile, protocol_for
from plume_st.evaluation.registry import VIDEO_QA_INST, get_dataset
from plume_st.evaluation.report import build_report, report_markdown
from plume_st.evaluation.runner import evaluate_mmeb
from plume_st.evaluation.scoring.metrics import ndcg_ranked, reference_grades
from plume_st.evaluation.scoring.score import score_task

VLM2VEC, PLUME = Protocol("vlm2vec"), Protocol("plume")


def _task(root: Path, name: str, protocol: Protocol):
    return load_task(get_dataset(name), root, protocol=protocol)


# Difference 1: the video classification pool is the rows' labels plus the dataset's full label list.


def test_full_label_lists_have_the_datasets_sizes_and_name_their_source():
    assert {k: len(v) for k, v in LABEL_LISTS.items()} == {"HMDB51": 51, "UCF101": 101, "K700": 700, "Breakfast": 10}
    assert all(len(set(v)) == len(v) for v in LABEL_LISTS.values())
    assert LABEL_LISTS["K700"][:3] == ("waiting_in_line", "fly_tying", "breakdancing")
    assert LABEL_LISTS["K700"][-1] == "clay_pottery_making" and LABEL_LISTS["Breakfast"][0] == "pancake"
    assert all(s.startswith("TIGER-AI-Lab/VLM2Vec@6e1e1d4:src/data/eval_dataset/video_classification_utils.py")
               for s in SOURCES.values())  # fmt: skip
    with pytest.raises(KeyError, match="SmthSmthV2"):
        full_label_list("SmthSmthV2")


def test_hmdb51_pool_adds_the_full_label_list(mini_mmeb):
    # rows: run, jump, run, wave; the reference's pool is those labels, then its 51-label list, de-duplicated by name
    task = _task(mini_mmeb, "HMDB51", VLM2VEC)
    expected = ["run", "jump", "wave"] + [x for x in HMDB51_LABELS if x not in {"run", "jump", "wave"}]
    assert [c.text for c in task.candidates] == expected and len(expected) == 51
    assert task.relevance == [{0: 1.0}, {1: 1.0}, {0: 1.0}, {2: 1.0}]
    assert [c.text for c in _task(mini_mmeb, "HMDB51", PLUME).candidates] == ["run", "jump", "wave"]


def test_k700_pool_keeps_a_row_label_missing_from_the_list(tmp_path):
    media = MediaWriter(tmp_path)
    media.frames("v0", 3)
    media.frames("v1", 3)
    rows = [{"video_id": "v0", "pos_text": "not_a_k700_label"}, {"video_id": "v1", "pos_text": "archery"}]
    task = load_video_cls_task(get_dataset("K700"), rows, tmp_path, VLM2VEC)
    assert len(task.candidates) == 701 and task.candidates[0].text == "not_a_k700_label"
    assert task.candidates[1].text == "archery" and task.relevance == [{0: 1.0}, {1: 1.0}]
    assert [c.text for c in task.candidates[2:]] == [x for x in LABEL_LISTS["K700"] if x != "archery"]


# Difference 2: SmthSmthV2 ranks against neg_text as given.


def test_ssv2_list_is_used_as_given(tmp_path):
    MediaWriter(tmp_path).frames("2000", 8)
    rows = [{"video_id": "2000", "pos_text": "Opening something", "neg_text": ["Closing something", "Folding it"]}]
    reference = load_video_cls_task(get_dataset("SmthSmthV2"), rows, tmp_path, VLM2VEC)
    assert [c.text for c in reference.candidates] == ["Closing something", "Folding it"]
    assert reference.relevance == [{}]
    assert score_task(reference, np.ones((1, 2)), np.eye(2), protocol=VLM2VEC).score == 0.0  # no positive: 0
    own = load_video_cls_task(get_dataset("SmthSmthV2"), rows, tmp_path, PLUME)
    assert [c.text for c in own.candidates] == ["Opening something", "Closing something", "Folding it"]
    assert own.relevance == [{0: 1.0}]


# Difference 3: short videos keep the frames they have; MomentSeeker uses every saved frame.


def test_frames_of_short_videos_and_momentseeker(mini_mmeb):
    hmdb = _task(mini_mmeb, "HMDB51", VLM2VEC).queries  # clips alternate 10 and 5 saved frames
    assert [len(q.frames) for q in hmdb] == [8, 5, 8, 5]
    assert [Path(f).name for f in hmdb[1].frames] == [f"frame_{i}.jpg" for i in range(1, 6)]
    assert [len(q.frames) for q in _task(mini_mmeb, "HMDB51", PLUME).queries] == [8, 8, 8, 8]
    seeker = _task(mini_mmeb, "MomentSeeker", VLM2VEC)
    assert len(seeker.queries[1].frames) == 10  # the query video folder holds 10 frames: all of them
    assert [Path(f).name for f in seeker.queries[1].frames] == [f"frame_{i}.jpg" for i in range(1, 11)]
    assert len(_task(mini_mmeb, "MomentSeeker", PLUME).queries[1].frames) == 8
    qv = _task(mini_mmeb, "QVHighlight", VLM2VEC)  # clips of 5 frames: 5, not padded
    assert len(qv.candidates[0].frames) == 5 and len(_task(mini_mmeb, "QVHighlight", PLUME).candidates[0].frames) == 8


# Difference 4: instruction + " " + text; EgoSchema's question + " ".join(options).


def test_text_composition(mini_mmeb):
    t2i = _task(mini_mmeb, "MSCOCO_t2i", VLM2VEC)
    caption = "Find me an everyday image that matches the given caption: caption number 0"
    assert to_model_input(t2i.queries[0]) == caption
    assert _task(mini_mmeb, "MSCOCO_t2i", PLUME).queries[0].prompt == (
        "Find me an everyday image that matches the given caption:\ncaption number 0"
    )
    assert t2i.candidates[0].prompt == "Represent the given image."  # no text: the instruction alone
    ego = _task(mini_mmeb, "EgoSchema", VLM2VEC).queries[0]
    options = " ".join(f"{'ABCDE'[k]}. EgoSchema answer 0-{k}" for k in range(5))
    assert ego.text == "What is C doing 0?" + options  # no space before the first option, as the reference
    assert ego.prompt == VIDEO_QA_INST + " What is C doing 0?" + options
    assert ego.prompt.startswith("Given a video") and "answer. Question:  What is C" in ego.prompt  # two spaces
    plume_ego = _task(mini_mmeb, "EgoSchema", PLUME).queries[0]
    assert plume_ego.prompt == VIDEO_QA_INST.rstrip() + "\nWhat is C doing 0? " + options
    assert EvalItem("inst", "text", separator=" ").prompt == "inst text"
    assert EvalItem("", " text ", separator=" ").prompt == "text"


class _Official:
    profile = "official"


class _OfficialModel:
    """An encoder whose first module has the official profile; it records the texts it is given."""

    def __init__(self, encoder) -> None:
        self.encoder, self.texts = encoder, []

    def __getitem__(self, i: int):
        return [_Official()][i]

    def encode(self, inputs, **kwargs):
        self.texts += [x if isinstance(x, str) else x.get("text", "") for x in inputs if not hasattr(x, "size")]
        return self.encoder.encode(inputs, **kwargs)


def test_official_profile_gets_the_authors_prompt_composition(mini_mmeb, tmp_path, fake_encoder):
    model = _OfficialModel(fake_encoder())
    assert model_profile(model) == "official" and model_profile(fake_encoder()) == "default"
    assert protocol_for("plume", model) == Protocol("plume", "vlm2vec")
    assert protocol_for("plume", fake_encoder()).prompt_style == "plume"
    evaluate_mmeb(model, mini_mmeb, tmp_path, datasets=["MSCOCO_t2i"], protocol="plume", model_id="official",
                  show_progress_bar=False)  # fmt: skip
    assert "Find me an everyday image that matches the given caption: caption number 0" in model.texts
    score = json.loads((tmp_path / "MSCOCO_t2i_score.json").read_text())
    assert (score["protocol"], score["prompt_style"], score["leaderboard_comparable"]) == ("plume", "vlm2vec", False)
    evaluator = MMEBEvaluator(mini_mmeb, ["MSCOCO_t2i"], protocol="plume")
    assert evaluator.tasks[0].queries[0].prompt.endswith("caption:\ncaption number 0")  # built before seeing a model
    model.texts.clear()
    evaluator(model)
    assert "Find me an everyday image that matches the given caption: caption number 0" in model.texts


# Difference 5: graded NDCG, the correct value and the reference's.


def test_reference_grades_and_the_issue_example():
    # qrels: corpus id 7 grade 2, id 3 grade 1; set([7, 3]) iterates 3, 7, so the reference gives 3 grade 2, 7 grade 1
    assert reference_grades([(7, 2.0), (3, 1.0)]) == {3: 2.0, 7: 1.0}
    order = np.array([0, 1, 2, 3, 4])  # ranking [7, negative, 3, negative, negative]
    ideal = 2 + 1 / math.log2(3)
    correct = ndcg_ranked(order, np.array([2.0, 0, 1.0, 0, 0]))
    reference = ndcg_ranked(order, np.array([1.0, 0, 2.0, 0, 0]))
    assert correct == pytest.approx((2 + 1 / math.log2(4)) / ideal) and round(correct, 4) == 0.9502
    assert reference == pytest.approx((1 + 2 / math.log2(4)) / ideal) and round(reference, 4) == 0.7602


def _graded_task(protocol: Protocol):
    queries = [{"query-id": "q", "query": "find it"}]
    corpus = [{"corpus-id": cid} for cid in (1, 3, 2, 7, 4)]
    qrels = [{"query-id": "q", "corpus-id": 7, "score": 2}, {"query-id": "q", "corpus-id": 3, "score": 1},
             {"query-id": "q", "corpus-id": 4, "score": 0}]  # fmt: skip
    return load_visdoc_task(get_dataset("ViDoSeek-doc"), queries, corpus, qrels, Path("/pages"), protocol=protocol)


def test_graded_ndcg_both_values_through_score_task():
    similarity = {"7": 0.9, "1": 0.8, "3": 0.7, "2": 0.6, "4": 0.5}  # ranks 7, negative, 3, negative, negative
    for protocol, score in ((VLM2VEC, 76.02), (PLUME, 95.02)):
        task = _graded_task(protocol)
        if protocol is VLM2VEC:  # the positives first (in qrels order), then the rest of the corpus
            assert [c.name for c in task.candidates] == ["7", "3", "1", "2", "4"]
        else:
            assert [c.name for c in task.candidates] == ["1", "3", "2", "7", "4"]
        assert (task.mixed_grade_queries, task.hash_order_dependent) == (1, False)  # integer ids: a fixed order
        s = np.array([similarity[c.name] for c in task.candidates])
        result = score_task(task, np.array([[1.0, 0.0]]), np.stack([s, np.sqrt(1 - s**2)], axis=1), protocol=protocol)
        assert round(result.ndcg_correct, 2) == 95.02 and round(result.ndcg_reference, 2) == 76.02
        assert round(result.score, 2) == score  # the protocol's default value
        saved = result.to_json()
        assert saved["protocol"] == protocol.name and saved["ndcg@5_reference"] == result.ndcg_reference
        assert saved["ndcg@5_correct"] == result.ndcg_correct and saved["mixed_grade_queries"] == 1
        assert result.predictions[0]["prediction"][:3] == ["7", "1", "3"]


def test_string_ids_are_marked_hash_order_dependent():
    queries = [{"query-id": "q", "query": "x"}]
    qrels = [{"query-id": "q", "corpus-id": "a", "score": 2}, {"query-id": "q", "corpus-id": "b", "score": 1}]
    corpus = [{"corpus-id": "a"}, {"corpus-id": "b"}]
    task = load_visdoc_task(get_dataset("MMLongBench-doc"), queries, corpus, qrels, Path("/p"), protocol=VLM2VEC)
    assert task.hash_order_dependent and task.mixed_grade_queries == 1
    assert task.reference_relevance[0] in ({0: 2.0, 1: 1.0}, {0: 1.0, 1: 2.0})
    assert task.relevance[0] == {0: 2.0, 1: 1.0}


# Done-when b: the report names the protocol, shows both NDCG values and the comparability marks.


def test_report_shows_protocol_both_ndcg_values_and_marks():
    graded = {"ViDoSeek-doc": {"correct": 95.02, "reference": 76.02, "mixed_grade_queries": 1,
                               "hash_order_dependent": True},
              "ViDoRe_arxivqa": {"correct": 50.0, "reference": 50.0, "mixed_grade_queries": 0,
                                 "hash_order_dependent": False}}  # fmt: skip
    scores = {"ViDoSeek-doc": 76.02, "ViDoRe_arxivqa": 50.0, "MSR-VTT": 40.0}
    report = build_report(scores, protocol=VLM2VEC, graded=graded)
    assert report["protocol"] == {"protocol": "vlm2vec", "prompt_style": "vlm2vec", "leaderboard_comparable": True}
    assert report["ndcg"] == "reference" and report["datasets"]["ViDoSeek-doc"]["marks"] == ["†", "‡"]
    assert report["categories"]["visdoc/OOD"]["paper_comparable"] is False
    assert report["categories"]["visdoc/VDRv1"]["paper_comparable"] is True
    md = report_markdown(report)
    assert "**Protocol: vlm2vec** — the public harness's conventions" in md
    assert "| ViDoSeek-doc | visdoc | OOD | ndcg@5 | 76.02 | 95.02 | 76.02 | † ‡ |" in md
    assert "| OOD " in md and "| visdoc/OOD | 76.0*§ | 1 / 4 |" in md  # the category is marked, the doc set is not
    assert build_report({"MomentSeeker": 10.0})["datasets"]["MomentSeeker"]["marks"] == ["§"]
    assert build_report({"QVHighlight": 10.0})["datasets"]["QVHighlight"]["marks"] == []
    assert "| ViDoRe_arxivqa | visdoc | VDRv1 | ndcg@5 | 50.00 | 50.00 | 50.00 |  |" in md
    assert "| MSR-VTT | video | RET | hit@1 | 40.00 |  |  |  |" in md
    assert "PYTHONHASHSEED" in md and "changed after the paper" in md
    assert build_report(scores, protocol=VLM2VEC, graded=graded)["all"]["score"] == pytest.approx(166.02 / 3)
    switched = build_report(scores, protocol=VLM2VEC, graded=graded, ndcg="correct")
    assert switched["datasets"]["ViDoSeek-doc"]["score"] == 95.02
    assert switched["all"]["score"] == pytest.approx(185.02 / 3)
    own = report_markdown(build_report(scores, protocol=PLUME, graded=graded))
    assert "**Protocol: plume — not leaderboard-comparable:**" in own
    assert "| ViDoSeek-doc | visdoc | OOD | ndcg@5 | 95.02 |" in own
    with pytest.raises(ValueError, match="ndcg"):
        build_report(scores, ndcg="exponential")


def test_fixture_report_names_the_protocol(mini_mmeb, tmp_path, fake_encoder):
    name = "ViDoRe_esg_reports_v2_multilingual"
    report = evaluate_mmeb(fake_encoder(), mini_mmeb, tmp_path, datasets=[name, "MSR-VTT"], show_progress_bar=False)
    d = report["datasets"][name]
    assert d["score"] == d["ndcg@5_reference"] and "ndcg@5_correct" in d and "†" in d["marks"]
    md = (tmp_path / "report.md").read_text()
    assert md.splitlines()[2].startswith("**Protocol: vlm2vec**")
    score = json.loads((tmp_path / f"{name}_score.json").read_text())
    assert score["protocol"] == "vlm2vec" and {"ndcg@5_correct", "ndcg@5_reference"} <= set(score)
    assert json.loads((tmp_path / "MSR-VTT_score.json").read_text())["protocol"] == "vlm2vec"

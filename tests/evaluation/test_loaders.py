"""Loaders of the public layout: frame sampling, both image column conventions, QA formats, moments, BEIR sets."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from plume_st.evaluation.items import to_model_input
from plume_st.evaluation.loaders import annotations, load_task
from plume_st.evaluation.loaders.annotations import AnnotationsNotFound, load_rows
from plume_st.evaluation.loaders.frames import frame_indices, sample_frames
from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.registry import DATASETS, get_dataset, select_datasets


def _task(root: Path, name: str, protocol: str = "plume"):
    return load_task(get_dataset(name), root, protocol=Protocol(protocol))


def test_registry_has_the_78_datasets():
    assert len(DATASETS) == 78 and len({s.name for s in DATASETS}) == 78
    counts = {m: len(select_datasets([m])) for m in ("image", "video", "visdoc")}
    assert counts == {"image": 36, "video": 18, "visdoc": 24}
    k700 = get_dataset("K700")
    assert (k700.hf_repo, k700.candidates, k700.media_dir) == (
        "VLM2Vec/Kinetics-700", "global", "video-tasks/frames/video_cls/K700",
    )  # fmt: skip
    assert get_dataset("SmthSmthV2").max_queries == 1000 and get_dataset("SmthSmthV2").candidates == "local"
    assert get_dataset("VisRAG_PlotQA").hf_split == "train" and get_dataset("YouCook2").hf_split == "val"
    assert get_dataset("ViDoRe_esg_reports_v2_multilingual").media_dir == "visdoc-tasks/esg_reports_v2_multilingual"
    assert {s.metric for s in select_datasets(["visdoc"])} == {"ndcg@5"}


def test_frame_indices_even_spacing_and_repeat_of_the_last():
    assert frame_indices(64) == [0, 9, 18, 27, 36, 45, 54, 63]
    assert frame_indices(10) == [0, 1, 2, 3, 5, 6, 7, 9]
    assert frame_indices(8) == list(range(8))
    assert frame_indices(5) == [0, 1, 2, 3, 4]  # the public harness: the frames it has
    assert frame_indices(5, pad=True) == [0, 1, 2, 3, 4, 4, 4, 4]  # --protocol plume
    with pytest.raises(ValueError):
        frame_indices(0)


def test_sample_frames_in_natural_order(mini_mmeb):
    frames = sample_frames(mini_mmeb / "video-tasks/frames/video_cls/SSv2/1000")
    assert [Path(f).stem for f in frames] == [f"frame_{i}" for i in (1, 2, 3, 4, 6, 7, 8, 10)]
    short = sample_frames(mini_mmeb / "video-tasks/frames/video_cls/SSv2/1001")
    assert [Path(f).stem for f in short] == [f"frame_{i}" for i in (1, 2, 3, 4, 5)]
    padded = sample_frames(mini_mmeb / "video-tasks/frames/video_cls/SSv2/1001", pad=True)
    assert [Path(f).stem for f in padded] == [f"frame_{i}" for i in (1, 2, 3, 4, 5, 5, 5, 5)]
    with pytest.raises(FileNotFoundError, match="No frames"):
        sample_frames(mini_mmeb / "video-tasks/frames/nowhere")


def test_image_tasks_in_both_column_conventions(mini_mmeb):
    current = _task(mini_mmeb, "ImageNet-1K")
    query = current.queries[0]
    assert query.instruction == "Represent the given image for classification" and query.text == ""
    assert query.image == str(mini_mmeb / "image-tasks/ImageNet-1K/val/img_0.png")
    assert [c.text for c in current.candidates] == ["tench", "goldfish", "great white shark", "tiger shark"]
    assert all(c.instruction == "" and c.image is None for c in current.candidates)  # labels are bare text
    older = _task(mini_mmeb, "N24News").queries[0]
    assert older.instruction == "" and older.image.endswith("N24News/test/0.png")
    assert older.text == "Represent the given news image with the following caption for domain classification: " \
        "headline number 0"  # fmt: skip
    t2i = _task(mini_mmeb, "MSCOCO_t2i")
    assert t2i.queries[0].image is None and t2i.queries[0].prompt.endswith("caption number 0")
    assert len(t2i.candidates) == 4 and t2i.query_candidates[1] == [1, 0, 2, 3]  # shared images de-duplicated
    assert t2i.candidates[0].instruction == "Represent the given image." and t2i.candidates[0].image


def test_model_inputs(mini_mmeb):
    t2i = _task(mini_mmeb, "MSCOCO_t2i")
    assert (
        to_model_input(t2i.queries[0]) == "Find me an everyday image that matches the given caption:\ncaption number 0"
    )
    image = to_model_input(t2i.candidates[0])
    assert image["text"] == "Represent the given image." and isinstance(image["image"], Image.Image)
    video = to_model_input(_task(mini_mmeb, "HMDB51").queries[0])
    assert video["text"].startswith("What actions") and len(video["video"]) == 8
    assert all(isinstance(f, Image.Image) and f.mode == "RGB" for f in video["video"])


def test_video_qa_formats(mini_mmeb):
    nextqa = _task(mini_mmeb, "NExTQA")
    assert nextqa.queries[1].text == "why 1\nOptions:\n" + "\n".join(
        f"({'ABCDE'[k]}) NExTQA option 1-{k}" for k in range(5)
    )
    assert nextqa.queries[1].instruction.startswith("Given a video and a question")
    assert nextqa.relevance[1] == {6: 1.0}  # answer 1 of the second query's five options
    mme = _task(mini_mmeb, "Video-MME")
    assert [c.text for c in mme.candidates[:4]] == [f"Video-MME answer 0-{k}" for k in range(4)]  # no "A. ", no "."
    assert mme.relevance[0] == {1: 1.0}  # answer "B"
    mvbench = _task(mini_mmeb, "MVBench")
    assert mvbench.candidates[0].text == "(A) MVBench answer 0-0"
    assert mvbench.queries[1].frames[0].split("video_qa/MVBench/")[1].startswith("object_shuffle/clip_1.mp4/")
    anet = _task(mini_mmeb, "ActivityNetQA")
    assert anet.queries[0].text == "is it sunny 0? (A) yes; (B) no." and anet.relevance == [
        {0: 1.0},
        {1: 1.0},
        {0: 1.0},
    ]


def test_video_retrieval_and_classification_are_global(mini_mmeb):
    msrvtt = _task(mini_mmeb, "MSR-VTT")
    assert msrvtt.query_candidates is None and [c.name for c in msrvtt.candidates] == ["video0", "video1", "video2"]
    assert msrvtt.relevance[0] == msrvtt.relevance[2] == {0: 1.0}  # two captions of one video
    assert msrvtt.candidates[0].instruction == "Understand the content of the provided video."
    assert [c.text for c in _task(mini_mmeb, "HMDB51").candidates] == ["run", "jump", "wave"]
    ssv2 = _task(mini_mmeb, "SmthSmthV2")
    assert ssv2.query_candidates == [[0, 1, 2, 3]] * 3 and ssv2.relevance[2] == {2: 1.0}


def test_moment_retrieval_clips(mini_mmeb):
    qv = _task(mini_mmeb, "QVHighlight")
    assert [c.name for c in qv.candidates[:4]] == [
        "qv0/negative_0",
        "qv0/negative_1",
        "qv0/negative_2",
        "qv0/positive_0",
    ]
    assert qv.relevance[0] == {3: 1.0} and qv.queries[0].frames[0].endswith("qv0/query/frame_1.jpg")
    seeker = _task(mini_mmeb, "MomentSeeker")
    kinds = [(q.kind, q.instruction.split()[0]) for q in seeker.queries]
    assert kinds == [("text", "Find"), ("video", "Find"), ("image", "Select")]
    assert seeker.queries[2].image.endswith("video_mret/MomentSeeker/query_img7.jpg")
    assert seeker.relevance[2] == {8: 1.0, 9: 1.0} and seeker.candidates[0].name == "ms_clip_0_0"


def test_visual_document_sets(mini_mmeb):
    esg = _task(mini_mmeb, "ViDoRe_esg_reports_v2_multilingual")
    assert len(esg.queries) == 3  # q3 has only a zero-score qrel
    assert esg.relevance == [{1: 2.0, 3: 1.0}, {2: 2.0}, {5: 1.0}]  # the zero-score pair of q1 is dropped
    assert len(esg.candidates) == 6 and esg.query_candidates is None
    visrag = _task(mini_mmeb, "VisRAG_ChartQA")
    long_page = Path(visrag.candidates[0].image).name
    assert long_page.startswith("a_very_long_chart_file_name_that_exceeds_fifty_cha_") and long_page.endswith(".png")
    assert len(long_page) == 50 + 1 + 8 + 4
    arxiv = _task(mini_mmeb, "ViDoRe_arxivqa")
    assert arxiv.candidates[0].image.endswith("visdoc-tasks/ViDoRe_arxivqa/100.png")
    assert arxiv.queries[0].instruction == "Find a document image that matches the given query:"


def test_missing_media_and_annotations(tmp_path, mini_mmeb):
    with pytest.raises(AnnotationsNotFound):
        load_task(get_dataset("GQA"), mini_mmeb)
    with pytest.raises(FileNotFoundError, match="images missing"):
        load_task(get_dataset("OK-VQA"), tmp_path, annotations_root=mini_mmeb / "annotations")


def test_hub_is_used_only_when_asked(tmp_path, monkeypatch):
    calls = []

    def fake_load_dataset(repo, subset=None, split=None):
        calls.append((repo, subset, split))
        return [{"question": "q", "subset_row": subset}]

    import datasets

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    nextqa = get_dataset("NExTQA")
    with pytest.raises(AnnotationsNotFound):
        load_rows(nextqa, "test", tmp_path)
    assert calls == []
    assert load_rows(nextqa, "test", tmp_path, from_hub=True) == [{"question": "q", "subset_row": "MC"}]
    assert calls == [("VLM2Vec/NExTQA", "MC", "test")]
    rows = load_rows(get_dataset("MVBench"), "train", tmp_path, from_hub=True)
    assert len(rows) == len(annotations.MVBENCH_SUBSETS) == 20 and rows[0]["subset"] == "episodic_reasoning"
    load_rows(get_dataset("ViDoRe_docvqa"), "qrels", tmp_path, from_hub=True)
    assert calls[-1] == ("vidore/docvqa_test_subsampled_beir", "qrels", "test")

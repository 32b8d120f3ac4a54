"""UME-R1 reading (lazy, per sub-dataset), the synthetic set, and the collator's tensors."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import Dataset, DatasetDict

from plume_st.training.data.collator import PlumeDataCollator
from plume_st.training.data.segmentation import split_rationale
from plume_st.training.data.ume_data import convert_side, read_ume_sft, side_input

from .conftest import make_model


def test_convert_side_strips_placeholders_and_joins_media():
    side = {
        "conversations": [
            {"from": "human", "value": "<image>\nFind the caption.\n<disc_emb>\nRepresent the above..."},
            {"from": "gpt", "value": "<think>One. Two.</think><answer>a dog</answer>"},
        ],
        "image": ["imgs/a.jpg"],
        "video": [["v/f0.jpg", "v/f1.jpg"]],
    }
    assert convert_side(side, "/data") == {
        "text": "Find the caption.",
        "image": ["/data/imgs/a.jpg"],
        "video": ["/data/v/f0.jpg", "/data/v/f1.jpg"],
        "rationale": "One. Two.",
        "answer": "a dog",
    }
    assert side_input(convert_side(side, "/data")) == {
        "text": "Find the caption.",
        "image": ["/data/imgs/a.jpg"],
        "video": ["/data/v/f0.jpg", "/data/v/f1.jpg"],
    }
    assert side_input({"text": "", "image": [], "video": ["/d/clip.mp4"]}) == {"video": "/d/clip.mp4"}


def test_reader_groups_by_dataset_and_reports_bad_lines(synthetic_dir, tmp_path):
    path = synthetic_dir / "train.jsonl"
    whole = read_ume_sft(path, media_root=synthetic_dir)
    assert isinstance(whole, Dataset) and len(whole) == 24 and whole.column_names == ["query", "positive", "source"]
    assert whole[3]["source"] == f"{path}:4"
    parts = read_ume_sft(path, media_root=synthetic_dir, by_dataset=True)
    assert isinstance(parts, DatasetDict)
    assert {name: len(part) for name, part in parts.items()} == {"shapes_i2t": 8, "shapes_t2i": 8, "motion_v2t": 8}
    video = parts["motion_v2t"][0]["query"]
    assert len(video["video"]) == 4 and all(frame.startswith(str(synthetic_dir)) for frame in video["video"])
    assert len(split_rationale(video["rationale"], 8)) == 8 and video["answer"].endswith(("left", "right"))
    bad = tmp_path / "bad.jsonl"
    lines = path.read_text().splitlines()[:2] + [json.dumps({"qry": {"conversations": []}, "pos": {}})]
    bad.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=r"bad.jsonl, line 3: malformed"):
        read_ume_sft(bad)


def test_collator_builds_prefix_and_segment_tensors(tiny_backbone, synthetic_dir):
    model = make_model(tiny_backbone)
    tokenizer = model[0].tokenizer
    collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=tokenizer)
    rows = read_ume_sft(synthetic_dir / "train.jsonl", media_root=synthetic_dir).select(range(3)).to_list()
    batch = collator(rows)
    assert batch["query_think_ids"].shape[:2] == (3, 8)
    assert batch["query_pixel_values"].shape[0] == 16  # one 56 x 56 image: 4 x 4 patches
    assert batch["query_pixel_values_videos"].shape[0] == 32  # 4 frames: 2 temporal x 16 patches
    assert "positive_pixel_values" in batch  # the text -> image row's positive
    for row in range(3):
        side = rows[row]["query"]
        segments = split_rationale(side["rationale"], 8)
        ids, mask = batch["query_think_ids"][row], batch["query_think_mask"][row]
        assert [tokenizer.decode(ids[s][mask[s]]) for s in range(8)] == segments
        answer = batch["query_answer_ids"][row][batch["query_answer_mask"][row]]
        assert tokenizer.decode(answer) == f"<answer>{side['answer']}</answer>"
    prompt = tokenizer.decode(batch["query_input_ids"][1][batch["query_attention_mask"][1].bool()])
    assert prompt.endswith("<|im_start|>assistant\n<think><bot>")
    assert f"{rows[1]['query']['text']}\n<disc_emb>\n" in prompt


def test_collator_names_the_bad_column(tiny_backbone):
    model = make_model(tiny_backbone)
    collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer)
    side = {"text": "", "image": ["/nonexistent.png"], "video": [], "rationale": "", "answer": ""}
    with pytest.raises(ValueError, match=r"column 'query'.*does not exist"):
        collator([{"query": side, "positive": side}])


def test_trainer_draws_each_batch_from_one_sub_dataset(tiny_backbone, synthetic_dir, tmp_path):
    from sentence_transformers import SentenceTransformerTrainingArguments

    from plume_st.training.plume_trainer import PlumeTrainer

    model = make_model(tiny_backbone)
    parts = read_ume_sft(synthetic_dir / "train.jsonl", media_root=synthetic_dir, by_dataset=True)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=4, multi_dataset_batch_sampler="proportional",
        report_to=[], seed=0, dataloader_pin_memory=False,
    )  # fmt: skip
    trainer = PlumeTrainer(model, args, train_dataset=parts)
    kinds = []
    for batch in trainer.get_train_dataloader():
        images = batch.get("query_image_grid_thw", torch.zeros(0, 3)).shape[0]
        videos = batch.get("query_video_grid_thw", torch.zeros(0, 3)).shape[0]
        assert (images, videos) in {(4, 0), (0, 4), (0, 0)}  # all image, all video or all text queries
        kinds.append({(4, 0): "shapes_i2t", (0, 4): "motion_v2t", (0, 0): "shapes_t2i"}[(images, videos)])
    assert sorted(kinds) == ["motion_v2t"] * 2 + ["shapes_i2t"] * 2 + ["shapes_t2i"] * 2


def _record(path, line):
    return json.loads(path.read_text().splitlines()[line - 1])


def test_reader_names_invalid_json_and_bad_media_fields(synthetic_dir, tmp_path):
    record = _record(synthetic_dir / "train.jsonl", 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(record) + "\n" + '{"qry": {"conversations": [}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl, line 2: invalid JSON: Expecting value"):
        read_ume_sft(bad)
    # A string is one path, not a list of characters.
    side = {"conversations": [{"from": "human", "value": "<image>x"}], "image": "a.png", "video": "clip.mp4"}
    assert convert_side(side, "/d")["image"] == ["/d/a.png"] and convert_side(side, "/d")["video"] == ["/d/clip.mp4"]
    for field, value in [("image", [1, 2]), ("image", {"path": "a.png"}), ("video", [["a.png"], ["b.png"]])]:
        broken = {**record, "qry": {**record["qry"], field: value}}
        bad.write_text(json.dumps(record) + "\n" + json.dumps(broken) + "\n")
        with pytest.raises(ValueError, match=r"bad.jsonl, line 2: malformed UME-R1 record: .*; record: \{") as info:
            read_ume_sft(bad)
        assert repr(value)[:3] in str(info.value) or "one video" in str(info.value)


def test_missing_media_is_named_by_record(tiny_backbone, tmp_path):
    from plume_st.training.data.synthetic_data import write_synthetic_ume

    path = write_synthetic_ume(tmp_path, num_records=6, seed=0, name="train")
    rows = read_ume_sft(path, media_root=tmp_path).to_list()
    image_row = next(index for index, row in enumerate(rows) if row["query"]["image"])
    missing = rows[image_row]["query"]["image"][0]
    (tmp_path / missing).unlink()
    # Up front, with check_media=True:
    with pytest.raises(FileNotFoundError, match=rf"train.jsonl, line {image_row + 1}: missing media file"):
        read_ume_sft(path, media_root=tmp_path, check_media=True)
    # Or when the batch is built: the collator names the record's file:line.
    model = make_model(tiny_backbone)
    collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer)
    with pytest.raises(ValueError, match=rf"column 'query', record {path}:{image_row + 1}: .*does not exist"):
        collator(rows)

"""Issue 7, done-when b: an error names the bad item by its position in the list given to ``encode``."""

from __future__ import annotations

import pickle

import pytest
import torch
from drawing import draw_frames, draw_image
from PIL import Image


@pytest.fixture(scope="module")
def model(plume_model):
    return plume_model("qwen2_vl")


def _mixed_batch(bad):
    """64 inputs of every kind and length, ``bad`` at position 37."""
    kinds = [
        lambda i: "text " * (i % 7 + 1),
        lambda i: draw_image(i, size=(32 + 4 * (i % 5), 32)),
        lambda i: {"image": draw_image(i), "text": "caption " * (i % 3 + 1)},
        lambda i: draw_frames(i, count=2 + i % 3),
    ]
    items = [kinds[i % 4](i) for i in range(64)]
    items[37] = bad
    return items


def _corrupt(tmp_path):
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(b"\xff\xd8\xff not a jpeg")
    return str(path)


BAD_ITEMS = {
    "missing file": (lambda tmp: {"image": str(tmp / "photos" / "missing.png")}, ValueError, "does not exist"),
    "corrupt image": (_corrupt, ValueError, "cannot read image"),
    "unsupported type": (lambda tmp: {1, 2}, TypeError, "Unsupported input type: set"),
    "empty video": (lambda tmp: {"video": []}, ValueError, "video has zero frames"),
    "mixed-size frames": (
        lambda tmp: [Image.new("RGB", (64, 64)), Image.new("RGB", (32, 48))],
        ValueError,
        "video frames differ in size",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ITEMS))
def test_bad_item_at_37_is_named_by_its_position(model, tmp_path, case):
    make, error, problem = BAD_ITEMS[case]
    items = _mixed_batch(make(tmp_path))
    with pytest.raises(error, match=rf"^Input 37 of the inputs given to encode \(.*\): .*{problem}") as caught:
        model.encode(items, batch_size=8)
    assert "Input 37" in str(caught.value) and str(caught.value).count("Input ") == 1


def test_the_issue_example(model):
    missing = {"image": "/nonexistent/file.png"}  # a bare missing path is text: the dict form says it is an image
    items = ["short", "a much longer text " * 20, "x", missing, "another text " * 10]
    with pytest.raises(ValueError, match=r"^Input 3 of the inputs given to encode \(\{'image': '/nonexistent/file"):
        model.encode(items, batch_size=2)
    # the next call names its own positions, not the failed call's
    with pytest.raises(ValueError, match=r"^Input 1 of the inputs given to encode \(\{'image': '/nonexistent/file"):
        model.encode(["fine", missing], batch_size=1)


def test_the_same_object_at_two_positions_names_both(model):
    bad = {"video": []}
    with pytest.raises(ValueError, match=r"^Inputs 1, 4 \(one object\) of the inputs given to encode"):
        model.encode(["a", bad, "b", "c", bad], batch_size=2)


def test_a_pickled_copy_names_no_position(model):
    copy = pickle.loads(pickle.dumps(model))  # what sentence-transformers' worker processes receive
    with pytest.raises(ValueError, match=r"^An input \(\{'image': '/nonexistent/file\.png'\}\): image file"):
        copy.encode(["a", {"image": "/nonexistent/file.png"}])


def test_good_batches_are_unaffected(model):
    items = _mixed_batch("a plain text")
    with torch.no_grad():
        batched = model.encode(items, batch_size=8, convert_to_tensor=True)
        alone = model.encode(items[30:40], batch_size=1, convert_to_tensor=True)
    torch.testing.assert_close(batched[30:40], alone, atol=1e-4, rtol=0)


def test_multi_process_pool_encodes_like_one_process_and_names_no_wrong_position(plume_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    plume_model("qwen2_vl").save_pretrained(str(tmp_path / "plume"))
    model = SentenceTransformer(str(tmp_path / "plume"), trust_remote_code=True, device="cpu")
    items = ["a text", draw_image(1), {"image": draw_image(2), "text": "q"}, draw_frames(3), "more text " * 4]
    expected = model.encode(items)
    pool = model.start_multi_process_pool(["cpu", "cpu"])
    try:
        pooled = model.encode(items, pool=pool, chunk_size=2)
        torch.testing.assert_close(torch.as_tensor(pooled), torch.as_tensor(expected), atol=1e-5, rtol=0)
        with pytest.raises(Exception, match=r"An input \(\{'image': '/nonexistent/file\.png'\}\): image") as caught:
            model.encode(["a", "b", "c", {"image": "/nonexistent/file.png"}], pool=pool, chunk_size=2)
        assert "Input 1 of" not in str(caught.value)  # its index inside the worker's chunk is not the user's
    finally:
        model.stop_multi_process_pool(pool)

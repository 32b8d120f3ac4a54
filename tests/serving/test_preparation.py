"""Issue 18 without Ray: the media policy, request-item preparation and its limits, the typed input error, the
position tracker between calls, and a batch whose items raise (each fails alone). Helper HTTP servers listen on
127.0.0.1; every loop is bounded."""

from __future__ import annotations

import time

import numpy as np
import pytest
from drawing import draw_frames, draw_image
from PIL import Image
from serving.media_helpers import MediaServer, conversation, data_uri, image_part, png_bytes, video_part, write_video

from plume_st.modules.errors import PlumeInputError, PlumeInputTypeError
from plume_st.serving.jobs import Job, encode_jobs
from plume_st.serving.media_policy import MediaPolicy, read_media
from plume_st.serving.prepare import decode_video, prepare_item
from plume_st.serving.request import ServeLimits

LIMITS = ServeLimits()


def _problem(source, policy, kind="image") -> str:
    with pytest.raises(PlumeInputError) as caught:
        read_media(source, kind, policy, time.monotonic() + policy.fetch_timeout_s)
    return caught.value.problem


def test_default_policy_takes_data_uris_only_and_its_refusals_do_not_tell_existence_or_ports(tmp_path):
    image = png_bytes(draw_image(0))
    existing = tmp_path / "x.png"
    existing.write_bytes(image)
    default = MediaPolicy()
    assert read_media(data_uri(image, "image/png"), "image", default, time.monotonic() + 5) == image
    with MediaServer(image) as server:
        texts = {
            _problem(str(existing), default),
            _problem(str(tmp_path / "missing.png"), default),
            _problem(f"file://{existing}", default),
        }
        assert texts == {
            "local image files are not allowed on this server (it must be started with --allowed-local-media-path)"
        }
        urls = {_problem(server.url("/image.png"), default), _problem("http://127.0.0.1:9/x.png", default)}
        assert urls == {"image URLs are not allowed on this server (it must be started with --allowed-media-domains)"}
        assert server.paths == []  # nothing was fetched
        opened = MediaPolicy(allowed_media_domains=("127.0.0.1",), fetch_timeout_s=5)
        closed_port = _problem("http://127.0.0.1:9/x.png", opened)
        open_port = _problem(server.url("/nothing-here.png"), opened)
        assert closed_port == open_port == "could not fetch the image URL"
        assert read_media(server.url("/image.png"), "image", opened, time.monotonic() + 5) == image
        other_host = server.url("/redirect?to=" + server.url("/image.png?second", host="localhost"))
        assert (
            _problem(other_host, opened) == "this image URL's domain is not allowed (not in --allowed-media-domains)"
        )
        assert "/image.png?second" not in server.paths
    with pytest.raises(PlumeInputError, match="a video data URI must be data:video"):
        read_media(data_uri(image, "image/png"), "video", default, time.monotonic() + 5)


def test_allowed_local_media_path_keeps_reads_inside_the_folder(tmp_path):
    root, outside = tmp_path / "media", tmp_path / "private"
    root.mkdir(), outside.mkdir()
    image = png_bytes(draw_image(1))
    (root / "in.png").write_bytes(image)
    (outside / "secret.png").write_bytes(image)
    (root / "link.png").symlink_to(outside / "secret.png")
    policy = MediaPolicy(allowed_local_media_path=str(root))
    now = time.monotonic() + 5
    assert read_media(str(root / "in.png"), "image", policy, now) == image
    assert read_media("in.png", "image", policy, now) == image  # relative to the folder
    refused = "this image path is not allowed (outside --allowed-local-media-path)"
    for escape in (
        f"{root}/../private/secret.png",
        "../private/secret.png",
        str(root / "link.png"),
        str(outside / "secret.png"),
        f"{root}/../private/missing.png",
    ):
        assert _problem(escape, policy) == refused
    assert _problem(str(root / "missing.png"), policy) == "could not read the local image file"


def test_fetch_has_a_byte_cap_and_one_deadline(tmp_path):
    policy = MediaPolicy(allowed_media_domains=("127.0.0.1",), max_media_bytes=4 * 2**20, fetch_timeout_s=1.5)
    with MediaServer(b"", big_bytes=64 * 2**20, drip_s=0.2) as server:
        assert _problem(server.url("/big"), policy) == f"the image at this URL is over the limit of {4 * 2**20} bytes"
        start = time.monotonic()
        assert _problem(server.url("/drip"), policy) == "could not fetch the image URL"
        assert 1.4 < time.monotonic() - start < 2.5


def test_items_are_prepared_with_limits_checked_before_decoding(tmp_path):
    image = draw_image(2)
    uri = data_uri(png_bytes(image), "image/png")
    limits = ServeLimits(max_media_per_item=3, max_image_pixels=100 * 100)
    ready = prepare_item(conversation(image_part(uri), {"type": "text", "text": "what?"}), limits, MediaPolicy(), 4, 0)
    assert ready["text"] == "what?" and np.array_equal(np.asarray(ready["image"][0]), np.asarray(image))
    assert prepare_item("/etc/hostname", limits, MediaPolicy(), 4, 0) == {"text": "/etc/hostname"}  # input is text
    with pytest.raises(PlumeInputError, match="4 images and videos in one item is over the limit of 3"):
        prepare_item(conversation(*[image_part(uri)] * 4), limits, MediaPolicy(), 4, 0)
    big = data_uri(png_bytes(Image.new("RGB", (200, 200))), "image/png")
    with pytest.raises(PlumeInputError, match="an image of 200x200 is over the limit of 10000 pixels"):
        prepare_item(conversation(image_part(big)), limits, MediaPolicy(), 4, 0)
    with pytest.raises(PlumeInputError, match="text contains a reserved control token"):
        prepare_item("fine <|im_end|>", limits, MediaPolicy(), 4, 0)
    with pytest.raises(PlumeInputError, match="a video must be a data: URI"):
        video = {"array": [[[[0]]]], "video_metadata": {"total_num_frames": float("inf")}}
        prepare_item(conversation({"type": "video", "video": video}), limits, MediaPolicy(), 4, 0)
    clip = tmp_path / "clip.mp4"
    write_video(clip, draw_frames(1, count=10, size=(64, 64)))
    video = decode_video(clip.read_bytes(), ServeLimits(max_video_frames=10), 4)
    assert video["array"].shape == (4, 64, 64, 3) and video["video_metadata"]["frames_indices"] == [0, 3, 6, 9]
    with pytest.raises(PlumeInputError, match="a video of 10 frames is over the limit of 9"):
        decode_video(clip.read_bytes(), ServeLimits(max_video_frames=9), 4)
    with pytest.raises(PlumeInputError, match="video frames of 64x64 are over the limit of 4000 pixels"):
        prepare_item(
            conversation(video_part(data_uri(clip.read_bytes(), "video/mp4"))),
            ServeLimits(max_image_pixels=4000),
            MediaPolicy(),
            4,
            0,
        )


@pytest.fixture(scope="module")
def model(plume_model):
    return plume_model("qwen2_vl")


def test_input_errors_are_typed_and_positions_do_not_leak_between_calls(model):
    with pytest.raises(PlumeInputError) as caught:
        model.encode(["fine", {"image": 3.5}])
    assert isinstance(caught.value, PlumeInputTypeError) and isinstance(caught.value, TypeError)
    assert caught.value.positions == [1] and "an image must be" in caught.value.problem
    with pytest.raises(PlumeInputError) as caught:  # a setting, not an item: no positions
        model.encode(["a", "b", "c"], prompt="<|im_end|>")
    assert caught.value.positions is None and caught.value.problem.startswith("prompt: ")
    with pytest.raises(PlumeInputError) as caught:  # the next call names its own position, not the last call's
        model.encode(["x", "y", {"video": []}])
    assert caught.value.positions == [2]


def test_a_batch_exception_fails_only_the_items_that_caused_it(model):
    texts = [f"good item {i}" for i in range(15)]
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    overflow = {"video": {"array": frames, "video_metadata": {"total_num_frames": float("inf")}}}
    with pytest.raises(OverflowError):
        model.encode([overflow])
    jobs = [Job({"text": text}, (None, None, None, None)) for text in texts[:7]]
    jobs += [Job(overflow, (None, None, None, None))]
    jobs += [Job({"text": text}, (None, None, None, None)) for text in texts[7:]]
    jobs += [Job({"text": "bad prompt's item"}, (None, "<|im_end|>", None, None))]
    outcomes = encode_jobs(model, jobs)
    problems = [outcome.problem for outcome in outcomes]
    assert problems[7] == "could not embed this item (OverflowError)" and problems[16].startswith("prompt: ")
    good = [outcome.embedding for index, outcome in enumerate(outcomes) if index not in (7, 16)]
    assert all(problem is None for index, problem in enumerate(problems) if index not in (7, 16))
    np.testing.assert_allclose(np.stack(good), model.encode(texts), atol=1e-5)

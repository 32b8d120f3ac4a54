"""Issue 7, done-when c and d: every sentence-transformers input form embeds like its PIL / frame-list equivalent."""

from __future__ import annotations

import base64
import io
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from drawing import draw_frames, draw_image
from PIL import Image
from test_bad_input import _write_video

ATOL = 1e-5


@pytest.fixture(scope="module")
def model(plume_model):
    return plume_model("qwen2_vl")


def _encode(model, items, **kwargs):
    return model.encode(items, convert_to_tensor=True, **kwargs)


def _chw(image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()


def test_array_and_tensor_images_equal_the_pil_image(model):
    image = draw_image(3)
    forms = [_chw(image), np.array(image), _chw(image).permute(1, 2, 0).numpy(), {"image": _chw(image), "text": "q"}]
    expected = _encode(model, [image, image, image, {"image": image, "text": "q"}])
    torch.testing.assert_close(_encode(model, forms), expected, atol=ATOL, rtol=0)


def test_tensor_and_metadata_videos_equal_the_frame_list(model):
    frames, other = draw_frames(1, count=6), draw_frames(2, count=6)
    tchw = torch.stack([_chw(frame) for frame in frames])
    forms = [
        tchw,  # what mteb sends
        tchw.permute(0, 2, 3, 1).numpy(),  # frames x H x W x C
        {"video": {"array": tchw, "video_metadata": {"fps": 2.0, "total_num_frames": 6}}},
        {"video": {"array": frames, "video_metadata": {"fps": 2.0, "frames_indices": list(range(6))}}},
        {"video": torch.stack([tchw, torch.stack([_chw(frame) for frame in other])]), "text": "two"},
    ]
    expected = _encode(model, [frames, frames, frames, frames, {"video": [frames, other], "text": "two"}])
    torch.testing.assert_close(_encode(model, forms), expected, atol=ATOL, rtol=0)
    alone = _encode(model, [{"video": frames, "text": "two"}])
    assert (expected[4] - alone[0]).abs().max() > 1e-3  # the second video of the 5-D tensor counts


def test_video_metadata_sets_the_time_axis(plume_model):
    model = plume_model("qwen2_5_vl")
    frames = draw_frames(1, count=8)
    slow = model.preprocess([{"video": {"array": frames, "video_metadata": {"fps": 1.0}}}])
    fast = model.preprocess([{"video": {"array": frames, "video_metadata": {"fps": 4.0}}}])
    assert slow["second_per_grid_ts"].tolist() == [2.0] and fast["second_per_grid_ts"].tolist() == [0.5]


def test_chat_messages_equal_the_dict_form(model):
    image, frames = draw_image(4), draw_frames(3)
    data_uri = "data:image/png;base64," + base64.b64encode(_png_bytes(image)).decode()
    messages = [
        [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "what is it?"}]}],
        {"role": "user", "content": "plain words"},
        [{"role": "user", "content": [{"type": "video", "video": frames}, {"type": "text", "text": "moves"}]}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_uri}}]}],
    ]
    dicts = [{"image": image, "text": "what is it?"}, "plain words", {"video": frames, "text": "moves"}, image]
    torch.testing.assert_close(_encode(model, messages), _encode(model, dicts), atol=ATOL, rtol=0)


def test_a_system_turn_is_the_instruction(model):
    conversation = [
        {"role": "system", "content": "Find an image of: "},
        {"role": "user", "content": [{"type": "text", "text": "a red square"}]},
    ]
    expected = _encode(model, ["a red square"], prompt="Find an image of: ")
    torch.testing.assert_close(_encode(model, [conversation]), expected, atol=ATOL, rtol=0)


def _png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def http_root(tmp_path):
    """A static HTTP server on 127.0.0.1 over ``tmp_path`` (stopped after the test)."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


def test_urls_are_fetched(model, http_root):
    root, url = http_root
    image, frames = draw_image(6), draw_frames(4, count=5, size=(64, 64))
    image.save(root / "cat.png")
    _write_video(root / "clip.mp4", frames)
    fetched = _encode(model, [f"{url}/cat.png", {"video": f"{url}/clip.mp4", "text": "x"}])
    local = _encode(model, [image, {"video": str(root / "clip.mp4"), "text": "x"}])
    torch.testing.assert_close(fetched, local, atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match=r"Input 1 of the inputs given to encode .*cannot read image .*missing\.png"):
        model.encode(["fine", f"{url}/missing.png"])


def test_unreachable_url_is_a_clear_error(model):
    with pytest.raises(ValueError, match=r"Input 0 .*cannot fetch image URL 'http://127\.0\.0\.1:9/x\.png'"):
        model.encode(["http://127.0.0.1:9/x.png"])


def test_empty_strings_are_embedded(model):
    embeddings = _encode(model, ["", "   ", "text"])
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    assert (embeddings[0] - embeddings[2]).abs().max() > 1e-3


def test_token_embeddings_are_the_prefix_states(model):
    items = ["a", "a longer input text here", draw_image(1)]
    tokens = model.encode(items, output_value="token_embeddings")
    lengths = model.preprocess(items)["attention_mask"].sum(dim=1).tolist()
    assert [t.shape for t in tokens] == [torch.Size([n, 64]) for n in lengths]
    with torch.no_grad():
        features = model[0](model.preprocess(["a"]))
    torch.testing.assert_close(tokens[0], features["prefix_hidden_states"][0], atol=1e-5, rtol=0)


def test_video_decoder_equals_the_file(model, tmp_path):
    decoders = pytest.importorskip("torchcodec.decoders", exc_type=(ImportError, OSError, RuntimeError))
    clip = tmp_path / "clip.mp4"
    _write_video(clip, draw_frames(5, count=12, size=(64, 64)))
    expected = _encode(model, [str(clip)])
    torch.testing.assert_close(_encode(model, [decoders.VideoDecoder(str(clip))]), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("See the diagram in docs/architecture.png", "text"),
        ("docs/architecture.png", "text"),  # no such file
        ("holiday.jpg", "text"),
        ("and/or the .mp4", "text"),
        ("Logo source: https://example.com/logo.png", "text"),
        ("https://example.com/my logo.png", "text"),  # a URL has no spaces
        ("https://example.com/logo.png", "image"),
        ("https://example.com/logo.PNG?size=2", "image"),  # the URL's path ends in the extension
        ("https://example.com/clip.mp4", "video"),
        ("https://example.com/page.html", "text"),
        ("data:image/png;base64,AAAA", "image"),
        ("data:video/mp4;base64,AAAA", "video"),
    ],
)
def test_strings_follow_the_sentence_transformers_rule(text, kind):
    from plume_st.modules.media import string_kind

    assert string_kind(text) == kind


def test_text_that_mentions_paths_and_urls_embeds_as_text(model, tmp_path):
    image = draw_image(8)
    image.save(tmp_path / "photo.png")
    _write_video(tmp_path / "clip.mp4", draw_frames(5, count=4, size=(64, 64)))
    texts = [
        "See the diagram in docs/x.png",
        "Logo source: https://example.com/logo.png and more",
        f"The scan at {tmp_path}/missing.jpg was lost",
        "and/or the .mp4",
        "holiday.jpg",
        str(tmp_path / "missing.jpg"),
    ]
    encoded = _encode(model, [str(tmp_path / "photo.png"), *texts, str(tmp_path / "clip.mp4")])
    expected = _encode(model, [image, *[{"text": text} for text in texts], {"video": str(tmp_path / "clip.mp4")}])
    torch.testing.assert_close(encoded, expected, atol=ATOL, rtol=0)
    assert (encoded[0] - encoded[1]).abs().max() > 1e-3  # the existing path is the image, not its name as text
    with pytest.raises(ValueError, match=r"Input 1 of the inputs given to encode .*image file 'missing\.jpg' does"):
        model.encode(["fine", {"image": "missing.jpg"}])
    part = {"type": "image", "image": "missing.jpg"}
    with pytest.raises(ValueError, match=r"Input 0 of the inputs given to encode .*image file 'missing\.jpg' does"):
        model.encode([[{"role": "user", "content": [part, {"type": "text", "text": "x"}]}]])


def _with_alpha(image, mode: str, seed: int):
    """``image`` in ``mode`` (``"RGBA"`` or ``"LA"``) with a random alpha channel (transparent to opaque)."""
    alpha = np.random.default_rng(seed).integers(0, 256, (image.height, image.width), dtype=np.uint8)
    converted = image.convert(mode[:-1])
    converted.putalpha(Image.fromarray(alpha))
    return converted


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_arrays_equal_the_pil_image_over_white(model, mode):
    image = _with_alpha(draw_image(9), mode, seed=1)
    hwc = np.array(image)
    chw = torch.from_numpy(hwc).permute(2, 0, 1).contiguous()
    forms = [hwc, chw, hwc.astype(np.float32) / 255, chw.float() / 255, {"image": chw, "text": "q"}]
    expected = _encode(model, [image] * 4 + [{"image": image, "text": "q"}])
    torch.testing.assert_close(_encode(model, forms), expected, atol=ATOL, rtol=0)
    white = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA")).convert("RGB")
    torch.testing.assert_close(expected[0], _encode(model, [white])[0], atol=ATOL, rtol=0)


def test_file_objects_are_read_like_paths(model, tmp_path):
    image, frames = draw_image(10), draw_frames(6, count=4, size=(64, 64))
    image.save(tmp_path / "photo.png")
    _write_video(tmp_path / "clip.mp4", frames)
    buffer = io.BytesIO(_png_bytes(image))
    buffer.seek(0, io.SEEK_END)  # as left by image.save(buffer): read from the start all the same
    clip = io.BytesIO((tmp_path / "clip.mp4").read_bytes())
    with open(tmp_path / "photo.png", "rb") as opened:
        forms = [buffer, opened, {"image": buffer, "text": "q"}, clip, {"video": clip, "text": "v"}, [buffer, buffer]]
        encoded = _encode(model, forms)
    video = str(tmp_path / "clip.mp4")
    expected = _encode(
        model, [image, image, {"image": image, "text": "q"}, video, {"video": video, "text": "v"}, [image, image]]
    )
    torch.testing.assert_close(encoded, expected, atol=ATOL, rtol=0)
    assert buffer.tell() == len(buffer.getvalue())  # the position is kept


def test_a_file_object_of_garbage_fails_naming_it(model):
    with pytest.raises(ValueError, match=r"Input 1 of the inputs given to encode \(<BytesIO>\): the file object holds "
                                         r"neither an image .* nor a readable video"):
        model.encode(["fine", io.BytesIO(b"not an image and not a video")])
    with pytest.raises(ValueError, match=r"Input 0 .*cannot read the image in the file object"):
        model.encode([{"image": io.BytesIO(b"garbage"), "text": "x"}])

"""Done-when f: bad input gets a correct embedding after a documented conversion, or an error naming it."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch
from drawing import draw_frames, draw_image
from PIL import Image

from plume_st.modules.media import MediaOptions, normalise_image, to_rgb


@pytest.fixture(scope="module")
def model(plume_model):
    return plume_model("qwen2_vl")


def _encode(model, items):
    with torch.no_grad():
        return model.encode(items, convert_to_tensor=True)


def test_direct_preprocess_names_its_own_batch_index(model, tmp_path):
    bad = {"image": str(tmp_path / "missing.png"), "text": "x"}
    with pytest.raises(ValueError, match=r"Input 2 of the batch given to preprocess .*missing\.png.*does not exist"):
        model.preprocess(["fine", draw_image(0), bad])


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        (42, TypeError, "Unsupported input type: int"),
        ({"text": "a", "audio": [0.1]}, ValueError, r"unknown keys \['audio'\]"),
        ({}, ValueError, "empty dict"),
        ({"video": []}, ValueError, "video has zero frames"),
        ([], ValueError, "video has zero frames"),
        ({"image": 3.5}, TypeError, "an image must be a PIL image, an array, a path, a URL or a file object"),
        ({"text": 7}, TypeError, "text must be a string"),
        ({"role": "assistant", "content": "hi"}, ValueError, "a 'assistant' turn cannot be embedded"),
        ([{"role": "user", "content": [{"type": "audio"}]}], ValueError, "unsupported content part type 'audio'"),
        ({"image": np.zeros((4, 4), dtype=np.uint8)}, ValueError, "must have 3 non-empty dimensions"),
        (torch.zeros(2, 3, 3, 8, 8, 1), TypeError, "Unsupported tensor dimensionality: 6D"),
        ({"video": {"array": torch.zeros(3, 3, 8, 8), "video_metadata": {"frames_indices": [0]}}}, ValueError,
         "1 frames_indices for 3 frames"),
        (("query", "document"), TypeError, "text pairs are not supported"),
    ],
)
def test_invalid_items_raise(model, item, error, message):
    with pytest.raises(error, match=message):
        model.encode(["a valid neighbour", item])


def test_missing_and_corrupt_files(model, tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ValueError, match="corrupt.png.*cannot read image"):
        model.encode([str(corrupt)])
    with pytest.raises(ValueError, match=r"Input 0 .*image file .*gone\.jpg' does not exist"):
        model.encode([{"image": str(tmp_path / "photos" / "gone.jpg")}])  # a bare missing path is text
    with pytest.raises(ValueError, match="video file .*gone.mp4.* does not exist"):
        model.encode([{"video": str(tmp_path / "gone.mp4")}])


def _write_video(path, frames: list[Image.Image]) -> None:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_video_files_decode_and_streamless_files_fail(model, tmp_path):
    clip = tmp_path / "clip.mp4"
    _write_video(clip, draw_frames(1, count=10, size=(64, 64)))
    embedding = _encode(model, [str(clip), {"video": str(clip), "text": "what moves?"}])
    assert embedding.shape == (2, 64) and torch.isfinite(embedding).all()

    audio_only = tmp_path / "audio.mkv"
    with av.open(str(audio_only), mode="w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono")
        samples.sample_rate = 8000
        for packet in stream.encode(samples):
            container.mux(packet)
    with pytest.raises(ValueError, match="has no video stream"):
        model.encode([{"video": str(audio_only)}])
    not_a_video = tmp_path / "fake.mp4"
    not_a_video.write_bytes(b"definitely not a video")
    with pytest.raises(ValueError, match="cannot decode video file"):
        model.encode([{"video": str(not_a_video)}])


def test_non_rgb_modes_embed_like_their_documented_rgb_conversion(model):
    rgb = draw_image(5)
    gray = rgb.convert("L")
    transparent = Image.new("RGBA", (64, 48), (10, 200, 30, 0))
    sixteen = Image.fromarray(np.asarray(gray, dtype=np.uint16) * 257)
    floating = Image.fromarray(np.asarray(gray, dtype=np.float32) / 255.0)
    cmyk = rgb.convert("CMYK")
    palette = rgb.convert("P")
    items = [gray, transparent, sixteen, floating, cmyk, palette]
    converted = [
        gray.convert("RGB"),
        Image.new("RGB", (64, 48), (255, 255, 255)),
        gray.convert("RGB"),
        gray.convert("RGB"),
        cmyk.convert("RGB"),
        palette.convert("RGB"),
    ]
    torch.testing.assert_close(_encode(model, items), _encode(model, converted), atol=1e-4, rtol=0)
    assert to_rgb(sixteen).getpixel((3, 3)) == gray.convert("RGB").getpixel((3, 3))


def test_tiny_and_elongated_images_are_converted(model):
    options = model[0].media_options
    one_pixel = Image.new("RGB", (1, 1), (200, 10, 10))
    assert normalise_image(one_pixel, options).size == (options.min_side, options.min_side)
    sliver = Image.new("RGB", (3000, 2), (0, 0, 255))
    padded = normalise_image(sliver, MediaOptions(min_side=28, max_aspect_ratio=150))
    assert padded.size[0] / padded.size[1] <= 150
    embeddings = _encode(model, [one_pixel, sliver, Image.new("RGB", (2, 900), (0, 255, 0))])
    assert embeddings.shape == (3, 64) and torch.isfinite(embeddings).all()
    torch.testing.assert_close(
        embeddings[0], _encode(model, [normalise_image(one_pixel, options)])[0], atol=1e-4, rtol=0
    )


def test_video_file_frames_are_the_uniform_sample(tmp_path):
    from plume_st.modules.media import MediaOptions, open_image
    from plume_st.modules.video_decoding import load_video

    colours = [Image.new("RGB", (32, 32), (min(255, 12 * i), 0, 0)) for i in range(20)]
    clip = tmp_path / "ramp.mp4"
    _write_video(clip, colours)
    (video,) = load_video(str(clip), MediaOptions(num_frames=8), open_image)
    frames = video.frames
    assert (video.fps, video.total_frames, video.indices) == (4.0, 20, [0, 3, 5, 8, 11, 14, 16, 19])
    reds = [frame.getpixel((16, 16))[0] for frame in frames]
    expected = [12 * i for i in [0, 3, 5, 8, 11, 14, 16, 19]]
    assert len(frames) == 8
    assert max(abs(a - b) for a, b in zip(reds, expected)) <= 6  # lossy codec

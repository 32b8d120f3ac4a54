"""Done-when a: a converted checkpoint of every layout variant encodes mixed batches exactly like the authors'
procedure (``official_reference``, one item at a time), to 1e-6 in float32, images of any size included (issue 17)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from sentence_transformers import SentenceTransformer

from convert.official_reference import OfficialReference
from plume_st.convert import LAYOUTS, convert_official, write_tiny_official
from plume_st.convert.tiny_checkpoint import CONTINUATION_WORD


def picture(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


ITEMS = [
    ("a dog catching a frisbee in the park", None),
    ("", picture(56, 84, 1)),
    ("  what is left of the cup? \n", picture(84, 56, 2)),
    ("The chart shows sales growing every year.", None),
]
RESIZED = [
    ("", picture(97, 61, 3)),  # noisy, sides not multiples of 28: resized with PIL's bicubic filter
    ("a wide one", picture(250, 130, 4)),
    ("", picture(20, 13, 5)),  # below the minimum pixels: scaled up to it
]


def as_input(text: str, image: Image.Image | None):
    if image is None:
        return text
    return image if not text else {"image": image, "text": text}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """The base processor for the checkpoint without preprocessor_config.json (a tiny backbone folder)."""
    from plume_st.backbones.tiny import build_tiny_backbone

    return build_tiny_backbone(tmp_path_factory.mktemp("base"))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_converted_model_equals_the_authors_procedure(layout, tmp_path, tiny_base, caplog):
    source = write_tiny_official(tmp_path / "official", layout)
    out = convert_official(source, tmp_path / "converted", dtype="float32", base_processor=str(tiny_base))
    if not LAYOUTS[layout].preprocessor:
        assert "has no preprocessor_config.json: using the image and video processor of" in caplog.text
        base = json.loads((tiny_base / "processor_config.json").read_text())["image_processor"]
        pixels = {"shortest_edge": 784, "longest_edge": 2_359_296}  # the authors' evaluation's bounds
        config = {**base, "size": pixels, "processor_class": "Qwen2VLProcessor"}
        (tmp_path / "official" / "preprocessor_config.json").write_text(json.dumps(config))
    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    profile = (model[0].profile, model[1].position_scheme, model[1].continuation_max_tokens)
    assert profile == ("official", "official", 4096)
    items = ITEMS + RESIZED
    with torch.no_grad():
        encoded = model.encode([as_input(*item) for item in items], batch_size=len(items), convert_to_tensor=True)
    reference = OfficialReference(source)
    word, gen_emb = reference.processor.tokenizer.convert_tokens_to_ids([CONTINUATION_WORD, "<gen_emb>"])
    for row, (text, image) in enumerate(items):
        expected, decoded = reference(text, image)
        assert decoded == ([word, gen_emb] if LAYOUTS[layout].continuation == "second_gen_emb" else [])
        torch.testing.assert_close(encoded[row], expected, atol=1e-6, rtol=0)
    assert (encoded[0] - encoded[3]).abs().max() > 1e-3  # the items' embeddings differ: the test can tell them apart


def test_dtype_is_kept_unless_chosen(tmp_path):
    source = write_tiny_official(tmp_path / "official", "bfloat16")
    for dtype, expected in ((None, "BF16"), ("float32", "F32")):
        out = convert_official(source, tmp_path / f"converted_{dtype}", dtype=dtype)
        with safe_open(out / "model.safetensors", "pt") as handle:
            dtypes = {handle.get_slice(key).get_dtype() for key in handle.keys()}
        with safe_open(out / "1_LatentRollout" / "model.safetensors", "pt") as handle:
            dtypes |= {handle.get_slice(key).get_dtype() for key in handle.keys()}
        assert dtypes == {expected}


def test_blank_image_becomes_four_image_tokens(tmp_path):
    out = convert_official(write_tiny_official(tmp_path / "official"), tmp_path / "converted")
    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    features = model[0].preprocess(["a caption"])
    assert features["image_grid_thw"].tolist() == [[1, 4, 4]]  # 56x56 pixels: 4x4 patches of 14, 2x2 merged
    image_token = model[0].causal_lm.config.image_token_id
    assert int((features["input_ids"] == image_token).sum()) == 4


def test_images_are_resized_as_the_authors_resize_them(tmp_path):
    """The pixels the backbone sees equal the authors' (qwen-vl-utils' PIL resize, then their processor) exactly."""
    from transformers import AutoProcessor

    from convert.official_reference import qwen_vl_utils_resize

    source = write_tiny_official(tmp_path / "official")
    folder = convert_official(source, tmp_path / "converted")
    model = SentenceTransformer(str(folder), trust_remote_code=True, device="cpu")
    processor = AutoProcessor.from_pretrained(source)
    for image in (picture(97, 61, 3), picture(250, 130, 4), picture(20, 13, 5), picture(2000, 1500, 6)):
        expected = processor.image_processor(images=[qwen_vl_utils_resize(image)], return_tensors="pt")
        features = model[0].preprocess([image])
        assert features["image_grid_thw"].tolist() == expected["image_grid_thw"].tolist()
        torch.testing.assert_close(features["pixel_values"], expected["pixel_values"], atol=1e-6, rtol=0)

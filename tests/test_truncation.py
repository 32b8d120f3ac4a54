"""Issue 7, done-when a: long texts are cut to ``max_seq_length`` (only the user's text), memory stays bounded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from drawing import draw_image

from plume_st.modules.plume_prompt import render_prompt

# torch's CUDA build maps ~5.5 GB of address space at import; the child caps what encode may add on top: 4 GiB.
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(sys.argv[1], trust_remote_code=True, device="cpu")
    model.encode(["warm up"])
    used = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (used + (4 << 30), used + (4 << 30)))
    long_text = model.encode(["word " * 50000])[0]
    by_hand = model.encode([sys.argv[2]])[0]
    print(json.dumps({"norm": float(np.linalg.norm(long_text)), "diff": float(np.abs(long_text - by_hand).max())}))
    """
)


def _cut_by_hand(tokenizer, text: str, max_length: int) -> str:
    skeleton = len(tokenizer(render_prompt(""), add_special_tokens=False)["input_ids"])
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokenizer.decode(ids[: max_length - skeleton])


def test_a_50000_word_text_embeds_in_bounded_memory(plume_model, tmp_path):
    model = plume_model("qwen2_vl")
    assert model.max_seq_length == 8192
    folder = tmp_path / "plume"
    model.save_pretrained(str(folder))
    by_hand = _cut_by_hand(model[0].tokenizer, "word " * 50000, 8192)
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), by_hand], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["norm"] == pytest.approx(1.0, abs=1e-5)
    assert values["diff"] <= 1e-5


@pytest.fixture
def short_model(plume_model):
    model = plume_model("qwen2_vl")
    saved = model.max_seq_length
    model.max_seq_length = 120
    yield model
    model.max_seq_length = saved


def test_only_the_user_text_is_cut(short_model):
    model, tokenizer = short_model, short_model[0].tokenizer
    text = " ".join(f"w{i}" for i in range(400))
    features = model.preprocess([text, "short"], prompt="Find: ")
    assert 118 <= features["attention_mask"].sum(dim=1).tolist()[0] <= 120  # the prompt's space joins the text
    prompt = tokenizer.decode(features["input_ids"][0][features["attention_mask"][0].bool()])
    assert "user\nFind: w0 w1 " in prompt and prompt.endswith("<|im_start|>assistant\n<think><bot>")
    assert "<disc_emb>\nRepresent the above input" in prompt and "w399" not in prompt
    with torch.no_grad():
        cut = model.encode([text], prompt="Find: ", convert_to_tensor=True)
        skeleton = len(tokenizer(render_prompt("Find: "), add_special_tokens=False)["input_ids"])
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][: 120 - skeleton]
        by_hand = model.encode([tokenizer.decode(ids)], prompt="Find: ", convert_to_tensor=True)
    torch.testing.assert_close(cut, by_hand, atol=1e-5, rtol=0)


def test_media_are_never_cut(short_model):
    model = short_model
    text = "many words " * 100
    features = model.preprocess([{"image": draw_image(1), "text": text}])
    image_tokens = int((features["input_ids"] == model[0].token_id("<|image_pad|>")).sum())
    full = model.preprocess([draw_image(1)])
    assert image_tokens == int((full["input_ids"] == model[0].token_id("<|image_pad|>")).sum()) > 0
    assert int(features["attention_mask"].sum()) <= 120


def test_media_alone_over_the_bound_is_an_error(short_model):
    big = draw_image(2, size=(448, 448))
    message = r"^Input 1 of the inputs given to encode .*media take \d+ tokens \(images 256"
    with pytest.raises(ValueError, match=message):
        short_model.encode(["fine", big])
    np.testing.assert_allclose(np.linalg.norm(short_model.encode(["fine"]), axis=1), 1.0, atol=1e-5)


def test_the_paper_pixel_budget_is_the_default(plume_model):
    assert plume_model("qwen2_vl")[0].max_pixels == 2_359_296

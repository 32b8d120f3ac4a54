"""Done-when e: save -> load -> re-save -> load keeps the embeddings; loading works without plume_st."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from drawing import draw_frames, draw_image
from sentence_transformers import SentenceTransformer

ITEMS = ["a caption", {"image": draw_image(11), "text": "what is left of the cup?"}, {"video": draw_frames(2)}]


def test_round_trip_and_resave(plume_model, tmp_path):
    model = plume_model("qwen2_vl")
    expected = model.encode(ITEMS)
    model.save_pretrained(str(tmp_path / "first"))
    entries = json.loads((tmp_path / "first" / "modules.json").read_text())
    assert [e["type"] for e in entries] == [
        "plume_input.PlumeInput",
        "latent_rollout.LatentRollout",
        "plume_pooling.PlumePooling",
    ]
    assert (tmp_path / "first" / "model.safetensors").exists()
    assert (tmp_path / "first" / "1_LatentRollout" / "model.safetensors").exists()
    card = (tmp_path / "first" / "README.md").read_text()
    assert "trust_remote_code=True)" in card and 'SentenceTransformer("sentence_transformers_model_id")' not in card

    loaded = SentenceTransformer(str(tmp_path / "first"), trust_remote_code=True, device="cpu")
    np.testing.assert_allclose(loaded.encode(ITEMS), expected, atol=1e-6)
    loaded.save_pretrained(str(tmp_path / "second"))
    assert json.loads((tmp_path / "second" / "modules.json").read_text()) == entries
    reloaded = SentenceTransformer(str(tmp_path / "second"), trust_remote_code=True, device="cpu")
    np.testing.assert_allclose(reloaded.encode(ITEMS), expected, atol=1e-6)
    assert loaded[1].latent_steps == 8 and reloaded[1].reasoning == "latent"


def test_loads_where_plume_st_is_not_importable(plume_model, tmp_path):
    model = plume_model("qwen2_vl")
    model.save_pretrained(str(tmp_path / "model"))
    expected = model.encode(["a caption", "another one"])
    script = f"""
import sys
sys.modules["plume_st"] = None  # any `import plume_st` now raises ImportError
import numpy as np
from sentence_transformers import SentenceTransformer
try:
    import plume_st
    raise SystemExit("plume_st is importable")
except ImportError:
    pass
m = SentenceTransformer({str(tmp_path / "model")!r}, trust_remote_code=True, device="cpu")
assert not any(type(x).__module__.startswith("plume_st") for x in m)
np.save({str(tmp_path / "out.npy")!r}, m.encode(["a caption", "another one"]))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)


def test_model_card_is_the_filled_template_plus_st_sections(plume_model, tmp_path):
    model = plume_model("qwen2_vl")
    model.save_pretrained(str(tmp_path / "m"))
    card = (tmp_path / "m" / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: sentence-transformers" in card  # ST's front matter
    assert (
        "| latent steps K | 8 |" in card
        and "| transition adapter | 4 routed experts, top-2, shared expert: yes |" in card
    )
    assert "## Model Details" in card and "### Full Model Architecture" in card  # ST's own sections kept
    assert "## Usage" in card and card.count("## Usage") == 1  # ours; ST's snippet without trust_remote_code dropped
    assert "$" not in card.split("## Model Details")[0]  # every template field filled

"""Model cards: a converted model's card names its source, the authors, the paper, the profile and the paper's
MMEB-v2 numbers; no card contains a local file path; the backbone is named by its Hub id when known."""

from __future__ import annotations

import re

import huggingface_hub
import pytest

import plume_st
from plume_st import PlumeSentenceTransformer
from plume_st.convert import convert_official, write_tiny_official
from plume_st.model_card import render_model_card

LOCAL_PATH = re.compile(r"(?<![\w.:/])/(tmp|work|root|home|var|private)/")


@pytest.fixture(scope="module")
def hub_converted(tmp_path_factory):
    """``convert_official("CUDAOUTOFMEMORY/PLUME-Qwen2-VL-2B", ...)`` with the download intercepted."""
    root = tmp_path_factory.mktemp("card")
    source = write_tiny_official(root / "snapshot", "tied")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(huggingface_hub, "snapshot_download", lambda repo_id: str(source))
        return convert_official("CUDAOUTOFMEMORY/PLUME-Qwen2-VL-2B", root / "converted")


def test_converted_card(hub_converted):
    card = (hub_converted / "README.md").read_text()
    assert "## Source: the authors' released weights" in card
    assert "[`CUDAOUTOFMEMORY/PLUME-Qwen2-VL-2B`](https://huggingface.co/CUDAOUTOFMEMORY/PLUME-Qwen2-VL-2B)" in card
    assert "He et al., *PLUME: Latent Reasoning" in card
    assert "[arXiv 2604.02073](https://arxiv.org/abs/2604.02073)" in card
    assert "| backbone | `Qwen/Qwen2-VL-2B-Instruct` (qwen2_vl, hidden size 64) |" in card
    assert "| profile | `official` |" in card and "| positions of latent steps | `official` |" in card
    assert "greedy decoding (at most 4,096 tokens), last `<gen_emb>` pooled | none |" in card
    assert "| pixels per image | 3,136 to 2,359,296 |" in card
    assert "the paper's numbers for PLUME on Qwen2-VL-2B, not measured on this conversion" in card
    assert "| 66.3 | 44.1 | 67.5 | 61.6 |" in card
    assert 'SentenceTransformer("path/to/this-model", trust_remote_code=True)' in card
    assert not LOCAL_PATH.search(card), LOCAL_PATH.search(card)
    assert "$" not in card.split("## Model Details")[0]


def test_card_of_a_model_on_a_local_backbone_names_no_path(tiny_backbone, tmp_path):
    model = plume_st.build_plume_model(str(tiny_backbone("qwen2_vl")), device="cpu")
    model.save_pretrained(str(tmp_path / "m"))
    card = (tmp_path / "m" / "README.md").read_text()
    assert "| backbone | a local backbone (no Hub id) (qwen2_vl, hidden size 64) |" in card
    assert "## Source: the authors' released weights" not in card and "| profile | `default` |" in card
    assert str(tmp_path) not in card and not LOCAL_PATH.search(card)
    assert str(tiny_backbone("qwen2_vl")) not in card


def test_backbone_hub_id_survives_save_and_reload(tiny_backbone, tmp_path):
    model = plume_st.build_plume_model(str(tiny_backbone("qwen2_vl")), device="cpu")
    model[0].causal_lm.config._name_or_path = "Qwen/Qwen2-VL-2B-Instruct"  # as built from the Hub id
    model.save_pretrained(str(tmp_path / "first"))
    reloaded = PlumeSentenceTransformer(str(tmp_path / "first"), trust_remote_code=True, device="cpu")
    reloaded.save_pretrained(str(tmp_path / "second"))
    for folder in ("first", "second"):
        card = (tmp_path / folder / "README.md").read_text()
        assert "| backbone | `Qwen/Qwen2-VL-2B-Instruct` (qwen2_vl, hidden size 64) |" in card
        assert card.splitlines()[card.splitlines().index("---", 1) + 2] == "# PLUME on Qwen2-VL-2B-Instruct"


def test_paths_in_st_sections_are_cut_to_file_names(plume_model):
    generated = (
        "---\nbase_model: /tmp/pytest-1/backbone_qwen2_vl0\nlibrary_name: sentence-transformers\nwidget:\n"
        "- text: /tmp/pytest-1/demo/train.jsonl:6\n---\n\n# title\n\n## Usage\nST snippet\n\n"
        "## Training Details\n| source |\n|---|\n| <code>/tmp/pytest-1/demo/train.jsonl:6</code> |\n"
        "See https://huggingface.co/org/name/blob/main/x.py and C:/Users/me/data/x.jsonl.\n"
    )
    card = render_model_card(plume_model("qwen2_vl"), generated)
    assert "base_model:" not in card and "- text: train.jsonl:6" in card
    assert "| <code>train.jsonl:6</code> |" in card and "ST snippet" not in card
    assert "https://huggingface.co/org/name/blob/main/x.py" in card and "and x.jsonl." in card
    assert not LOCAL_PATH.search(card)

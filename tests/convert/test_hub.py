"""Done-when c: pushing sends exactly the saved folder (the upload is intercepted), and a model in the Hub cache
layout loads offline through transformers' dynamic modules, with and without ``plume_st`` importable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from huggingface_hub import HfApi, RepoUrl
from PIL import Image
from typer.testing import CliRunner

from plume_st import PlumeSentenceTransformer
from plume_st.cli import app
from plume_st.convert import convert_official, write_tiny_official

REPO = "my-org/plume-tiny-st"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    return convert_official(write_tiny_official(root / "official", "untied"), root / "converted")


@pytest.fixture
def hub(monkeypatch):
    """Intercept huggingface_hub's repository creation and commit; record what would be sent."""
    sent: dict = {"repos": [], "files": {}}

    def create_repo(self, repo_id, private=None, exist_ok=False, **kwargs):
        sent["repos"].append((repo_id, private, exist_ok))
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def create_commit(self, repo_id, operations, commit_message, **kwargs):
        sent["repo_id"], sent["message"] = repo_id, commit_message
        for op in operations:
            data = op.path_or_fileobj
            sent["files"][op.path_in_repo] = data if isinstance(data, bytes) else Path(data).read_bytes()
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/{SHA}")

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_commit", create_commit)
    return sent


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_push_sends_the_folder_as_saved(converted, hub):
    result = CliRunner().invoke(app, ["push", str(converted), REPO])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"https://huggingface.co/{REPO}/commit/{SHA}"
    assert hub["repos"] == [(REPO, None, True)] and hub["repo_id"] == REPO
    local = folder_files(converted)
    assert sorted(hub["files"]) == sorted(local)
    assert {"modules.json", "model.safetensors", "1_LatentRollout/model.safetensors", "2_PlumePooling/config.json",
            "plume_input.py", "latent_rollout.py", "greedy_continuation.py", "README.md"} <= set(local)
    for name, content in local.items():
        if name != "README.md":
            assert hub["files"][name] == content, name
    card = hub["files"]["README.md"].decode()
    assert card == local["README.md"].decode().replace("path/to/this-model", REPO)
    assert f'SentenceTransformer("{REPO}", trust_remote_code=True)' in card


def test_cli_push_refuses_a_folder_that_is_not_a_plume_model(tmp_path, hub):
    (tmp_path / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Transformer"}]))
    result = CliRunner().invoke(app, ["push", str(tmp_path), REPO])
    assert result.exit_code != 0 and hub["files"] == {}
    assert "expected the PLUME modules" in str(result.exception)


def test_model_push_to_hub_sends_a_fresh_save(converted, hub, tmp_path):
    model = PlumeSentenceTransformer(str(converted), trust_remote_code=True, device="cpu")
    url = model.push_to_hub(REPO, private=True)
    assert url == f"https://huggingface.co/{REPO}/commit/{SHA}" and hub["repos"] == [(REPO, True, True)]
    model.save_pretrained(str(tmp_path / "again"))
    again = folder_files(tmp_path / "again")
    assert sorted(hub["files"]) == sorted(again)
    for name in ("modules.json", "1_LatentRollout/config.json", "config.json", "plume_input.py"):
        assert hub["files"][name] == again[name], name
    assert hub["files"]["model.safetensors"] == folder_files(converted)["model.safetensors"]
    assert f'SentenceTransformer("{REPO}", trust_remote_code=True)' in hub["files"]["README.md"].decode()


def snapshot_cache(folder: Path, cache: Path) -> None:
    """Lay ``folder`` out as huggingface_hub's cache holds a downloaded ``REPO``: snapshots/<sha>, refs/main."""
    repo = cache / f"models--{REPO.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / SHA)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(SHA)


@pytest.mark.parametrize("plume_st_importable", [True, False])
def test_loads_offline_from_the_hub_cache(converted, tmp_path, plume_st_importable):
    snapshot_cache(converted, tmp_path / "hub")
    items = ["a dog catching a frisbee", Image.new("RGB", (56, 84), (20, 120, 220))]
    items[1].save(tmp_path / "image.png")
    expected = PlumeSentenceTransformer(str(converted), trust_remote_code=True, device="cpu").encode(items)
    script = f"""
import sys
if {not plume_st_importable}:
    sys.modules["plume_st"] = None  # any `import plume_st` now raises ImportError
import numpy as np
from PIL import Image
from sentence_transformers import SentenceTransformer
m = SentenceTransformer({REPO!r}, trust_remote_code=True, device="cpu")
modules = [type(x).__module__ for x in m]
assert all(name.startswith("transformers_modules.") for name in modules), modules
assert m[0].profile == "official" and m[1].continuation_max_tokens == 4096
np.save("out.npy", m.encode(["a dog catching a frisbee", Image.open("image.png")]))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    env["HF_HOME"] = str(tmp_path / "home")
    env.pop("HF_MODULES_CACHE", None)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)
    assert (tmp_path / "home" / "modules" / "transformers_modules").is_dir()

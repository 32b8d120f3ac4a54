"""Publishing a saved PLUME model folder to the Hugging Face Hub.

The folder is uploaded as it is, in one commit, with one change: the model card's placeholder model id
(``path/to/this-model``) becomes the repository id, so the card's usage snippet loads what was pushed.
"""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi

CARD_PLACEHOLDER = "path/to/this-model"
PLUME_MODULE_TYPES = ("plume_input.PlumeInput", "latent_rollout.LatentRollout", "plume_pooling.PlumePooling")


def check_model_folder(folder: Path) -> None:
    """Require a saved PLUME model: ``modules.json`` listing the three modules, and their source files.

    Raises:
        ValueError: Naming the file and what is wrong with it.
    """
    modules_json = folder / "modules.json"
    if not modules_json.exists():
        raise ValueError(f"{modules_json}: missing; {folder} is not a saved sentence-transformers model")
    types = tuple(entry["type"] for entry in json.loads(modules_json.read_text(encoding="utf8")))
    if types != PLUME_MODULE_TYPES:
        raise ValueError(f"{modules_json}: lists {list(types)}, expected the PLUME modules {list(PLUME_MODULE_TYPES)}")
    for reference in types:
        source = folder / f"{reference.split('.')[0]}.py"
        if not source.exists():
            raise ValueError(f"{source}: missing; the folder cannot load with trust_remote_code=True")


def push_folder(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Add PLUME model",
) -> str:
    """Upload a saved PLUME model folder to ``repo_id`` (created if needed) in one commit.

    Args:
        folder: A folder written by ``save_pretrained`` (or :func:`plume_st.convert_official`).
        repo_id: ``"org/name"``.
        token: Hub token (default: the logged-in one).
        private: Create the repository private.
        commit_message: The commit's message.

    Returns:
        The commit's URL.
    """
    folder = Path(folder)
    check_model_folder(folder)
    api = HfApi(token=token)
    repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
    operations = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        name = path.relative_to(folder).as_posix()
        content: str | bytes = str(path)
        if name == "README.md":
            content = path.read_text(encoding="utf8").replace(CARD_PLACEHOLDER, repo_id).encode("utf8")
        operations.append(CommitOperationAdd(path_in_repo=name, path_or_fileobj=content))
    return api.create_commit(repo_id, operations=operations, commit_message=commit_message).commit_url

"""The SentenceTransformer subclass returned by :func:`plume_st.build_plume_model`.

It differs from ``SentenceTransformer`` only in how it saves: the module classes are listed in ``modules.json``
as ``file.Class`` references to the source files each module copies into the folder root, so the folder loads
with ``SentenceTransformer(folder, trust_remote_code=True)`` where ``plume_st`` is not installed. A model loaded
back that way already carries such references and re-saves correctly as a plain ``SentenceTransformer``. Its
model card is ``MODEL_CARD.md`` filled in (:mod:`plume_st.model_card`). ``push_to_hub`` uploads exactly such a
saved folder (:func:`plume_st.convert.push_folder`).

A model trained with Matryoshka dimensions records them in its backbone config (``plume_matryoshka_dims``, saved in
``config.json``): :func:`matryoshka_dims` reads them from any loaded PLUME model, for the card and the server.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sentence_transformers import SentenceTransformer

from plume_st.model_card import is_hub_id, render_model_card
from plume_st.modules.source_export import class_reference

MATRYOSHKA_CONFIG_KEY = "plume_matryoshka_dims"


def matryoshka_dims(model: Any) -> list[int] | None:
    """The embedding sizes a PLUME model was trained to be truncated to, largest (full) first; ``None`` if none.

    Pass one as ``truncate_dim`` (``SentenceTransformer(..., truncate_dim=256)`` or ``encode(..., truncate_dim=256)``).
    """
    config = getattr(getattr(model[0], "causal_lm", None), "config", None)  # None for a model that is not PLUME
    dims = getattr(config, MATRYOSHKA_CONFIG_KEY, None)
    return [int(dim) for dim in dims] if dims else None


def set_matryoshka_dims(model: Any, dims: list[int] | tuple[int, ...] | None) -> None:
    """Record the Matryoshka sizes on the model (saved with it); ``None`` clears them.

    :class:`~plume_st.training.losses.plume_loss.PlumeLoss` records its ``matryoshka_dims`` itself; after training
    with sentence-transformers' ``MatryoshkaLoss`` call ``set_matryoshka_dims(model, loss.matryoshka_dims)``.
    """
    config = model[0].causal_lm.config
    if dims:
        setattr(config, MATRYOSHKA_CONFIG_KEY, sorted(map(int, dims), reverse=True))
    elif hasattr(config, MATRYOSHKA_CONFIG_KEY):
        delattr(config, MATRYOSHKA_CONFIG_KEY)


class PlumeSentenceTransformer(SentenceTransformer):
    """A ``SentenceTransformer`` whose saved folders list the PLUME modules by their root source files."""

    def save(self, path: str, *args: Any, **kwargs: Any) -> None:
        config = self[0].causal_lm.config
        if getattr(config, "plume_backbone_id", None) is None and is_hub_id(config.name_or_path):
            config.plume_backbone_id = config.name_or_path  # the card names it after the folder is reloaded
        super().save(path, *args, **kwargs)
        modules_json = Path(path) / "modules.json"
        entries = json.loads(modules_json.read_text(encoding="utf8"))
        for entry, module in zip(entries, self._modules.values()):
            if type(module).__module__.startswith("plume_st.modules."):
                entry["type"] = class_reference(type(module))
        modules_json.write_text(json.dumps(entries, indent=2), encoding="utf8")
        card = Path(path) / "README.md"
        if card.exists():
            card.write_text(render_model_card(self, card.read_text(encoding="utf8")), encoding="utf8")

    def push_to_hub(
        self,
        repo_id: str,
        token: str | None = None,
        private: bool | None = None,
        commit_message: str = "Add PLUME model",
    ) -> str:
        """Save the model into a temporary folder (its card naming ``repo_id``) and upload it in one commit.

        Args:
            repo_id: ``"org/name"``, created if it does not exist.
            token: Hub token (default: the logged-in one).
            private: Create the repository private.
            commit_message: The commit's message.

        Returns:
            The commit's URL.
        """
        from plume_st.convert.hub import push_folder

        self.model_card_data.set_model_id(repo_id)
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder)
            return push_folder(folder, repo_id, token=token, private=private, commit_message=commit_message)

"""The SentenceTransformer subclass returned by :func:`plume_st.build_plume_model`.

It differs from ``SentenceTransformer`` only in how it saves: the module classes are listed in ``modules.json``
as ``file.Class`` references to the source files each module copies into the folder root, so the folder loads
with ``SentenceTransformer(folder, trust_remote_code=True)`` where ``plume_st`` is not installed. A model loaded
back that way already carries such references and re-saves correctly as a plain ``SentenceTransformer``. Its
model card is ``MODEL_CARD.md`` filled in (:mod:`plume_st.model_card`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sentence_transformers import SentenceTransformer

from plume_st.model_card import render_model_card
from plume_st.modules.source_export import class_reference


class PlumeSentenceTransformer(SentenceTransformer):
    """A ``SentenceTransformer`` whose saved folders list the PLUME modules by their root source files."""

    def save(self, path: str, *args: Any, **kwargs: Any) -> None:
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

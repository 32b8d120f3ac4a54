"""plume-st: PLUME latent-reasoning universal multimodal embeddings for sentence-transformers.

The public names are imported lazily, so ``import plume_st`` (and the command line) start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnchorGuidedTransition": "plume_st.modules",
    "LatentRollout": "plume_st.modules",
    "PlumeInput": "plume_st.modules",
    "PlumePooling": "plume_st.modules",
    "balance_loss": "plume_st.modules",
    "PlumeSentenceTransformer": "plume_st.model",
    "add_plume_tokens": "plume_st.build",
    "build_plume_model": "plume_st.build",
    "build_tiny_backbone": "plume_st.backbones.tiny",
    "render_pdf_pages": "plume_st.documents",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'plume_st' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

"""plume-st: PLUME latent-reasoning universal multimodal embeddings for sentence-transformers.

The public names are imported lazily, so ``import plume_st`` (and the command line) start fast.
"""

from __future__ import annotations

from plume_st._lazy import lazy_exports

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
    "convert_official": "plume_st.convert",
    "push_folder": "plume_st.convert",
    "write_tiny_official": "plume_st.convert",
    "render_pdf_pages": "plume_st.documents",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)

"""Serving PLUME models (the ``serve`` extra): an OpenAI-style embeddings server on Ray Serve and corpus embedding
on Ray Data.

The names are imported lazily, so the ``plume-st`` command line (which registers ``serve`` and ``embed-corpus``) starts
without Ray or FastAPI, and a base install without the extra works.
"""

from __future__ import annotations

from plume_st._lazy import lazy_exports

_EXPORTS = {
    "CorpusEmbedder": "plume_st.serving.corpus",
    "EmbeddingRequest": "plume_st.serving.request",
    "PlumeEmbeddingServer": "plume_st.serving.server",
    "ServeLimits": "plume_st.serving.request",
    "build_app": "plume_st.serving.server",
    "embed_corpus": "plume_st.serving.corpus",
    "MediaPolicy": "plume_st.serving.media_policy",
    "encode_jobs": "plume_st.serving.jobs",
    "serve_model": "plume_st.serving.server",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)

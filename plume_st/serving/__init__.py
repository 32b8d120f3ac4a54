"""Serving PLUME models (``pip install "plume-st[serve]"``): an OpenAI-style embeddings server on Ray Serve and corpus
embedding on Ray Data."""

from plume_st.serving.corpus import CorpusEmbedder, embed_corpus
from plume_st.serving.request import EmbeddingRequest, ServeLimits
from plume_st.serving.server import PlumeEmbeddingServer, build_app, encode_jobs, serve_model

__all__ = [
    "CorpusEmbedder",
    "EmbeddingRequest",
    "PlumeEmbeddingServer",
    "ServeLimits",
    "build_app",
    "embed_corpus",
    "encode_jobs",
    "serve_model",
]

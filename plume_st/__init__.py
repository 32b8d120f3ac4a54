"""plume-st: PLUME latent-reasoning universal multimodal embeddings for sentence-transformers."""

from plume_st.backbones.tiny import build_tiny_backbone
from plume_st.build import add_plume_tokens, build_plume_model
from plume_st.model import PlumeSentenceTransformer
from plume_st.modules import AnchorGuidedTransition, LatentRollout, PlumeInput, PlumePooling, balance_loss

__all__ = [
    "AnchorGuidedTransition",
    "LatentRollout",
    "PlumeInput",
    "PlumePooling",
    "PlumeSentenceTransformer",
    "add_plume_tokens",
    "balance_loss",
    "build_plume_model",
    "build_tiny_backbone",
]

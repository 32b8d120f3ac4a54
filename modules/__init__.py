"""The sentence-transformers modules of a PLUME model (copied into every saved model folder's root)."""

from .latent_rollout import LatentRollout
from .plume_input import PlumeInput
from .plume_pooling import PlumePooling
from .transition_adapter import AnchorGuidedTransition, balance_loss

__all__ = ["AnchorGuidedTransition", "LatentRollout", "PlumeInput", "PlumePooling", "balance_loss"]

"""Evaluation protocols: the public harness's exact conventions (``vlm2vec``) or plume-st's own (``plume``).

``vlm2vec`` (the default) reproduces the reference harness, VLM2Vec at commit 6e1e1d4, so scores compare with the
public MMEB-v2 leaderboard:

- video classification in global mode (HMDB51, UCF101, K700, Breakfast) ranks against the test rows' labels plus the
  dataset's full label list (:mod:`plume_st.evaluation.loaders.labels`); SmthSmthV2 ranks against ``neg_text`` as
  given (a query whose positive is not listed scores 0);
- a video with fewer saved frames than it samples uses the frames it has; MomentSeeker uses every saved frame;
- ranking is numpy's ``argsort(-scores)`` order, the first candidate decides hit@1 (no tie averaging);
- graded NDCG: both values are computed, and the reference's (grades attached in ``set`` order, see
  :func:`plume_st.evaluation.scoring.metrics.reference_grades`) is the one reported by default.

``plume`` keeps plume-st's own choices where they are better measurements: ties averaged (uninformative embeddings
score the chance level), the correct graded NDCG, the positive inserted into a SmthSmthV2 list that lacks it, short
videos padded with their last frame, MomentSeeker sampled to 8 frames. Its scores are not leaderboard-comparable.

The **prompt style** is how instruction and text are joined into the text the model reads. ``vlm2vec``: the
reference's ``instruction + " " + text`` (video QA: the task prompt ending in ``"Question: "``, then a space and the
query; EgoSchema's query is ``question + " ".join(options)``), with the media token, which the reference puts first,
left to the model (a PLUME model places the media before the text itself) and the rest stripped — exactly the text
the authors' PLUME collator keeps. ``plume``: ``instruction + "\\n" + text``. The prompt style follows the protocol,
except that a model of the **official profile** (converted from the authors' checkpoint,
``model[0].profile == "official"``) always gets the authors' (``vlm2vec``) composition, so its scores can be held
against the paper's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROTOCOLS: tuple[str, ...] = ("vlm2vec", "plume")
NDCG_VARIANTS: tuple[str, ...] = ("reference", "correct")
OFFICIAL_PROFILE = "official"


@dataclass(frozen=True)
class Protocol:
    """How a run builds pools, samples frames, composes prompts, ranks and reports graded NDCG.

    Args:
        name: ``"vlm2vec"`` (the reference harness, leaderboard-comparable) or ``"plume"``.
        prompt_style: ``"vlm2vec"`` or ``"plume"`` text composition (default: the same as ``name``).

    Raises:
        ValueError: An unknown protocol or prompt style.
    """

    name: str = "vlm2vec"
    prompt_style: str = ""

    def __post_init__(self) -> None:
        if self.name not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {self.name!r}")
        if not self.prompt_style:
            object.__setattr__(self, "prompt_style", self.name)
        if self.prompt_style not in PROTOCOLS:
            raise ValueError(f"prompt_style must be one of {', '.join(PROTOCOLS)}, not {self.prompt_style!r}")

    @property
    def is_reference(self) -> bool:
        """Whether pools, frames, ranking and the default NDCG are the reference harness's."""
        return self.name == "vlm2vec"

    @property
    def separator(self) -> str:
        """What joins an instruction and its text: a space (``vlm2vec`` style) or a newline (``plume``)."""
        return " " if self.prompt_style == "vlm2vec" else "\n"

    @property
    def default_ndcg(self) -> str:
        """The graded NDCG the report uses unless told otherwise: ``"reference"`` or ``"correct"``."""
        return "reference" if self.is_reference else "correct"

    def to_json(self) -> dict[str, Any]:
        """What score files and reports record."""
        return {"protocol": self.name, "prompt_style": self.prompt_style, "leaderboard_comparable": self.is_reference}


def model_profile(model: Any) -> str:
    """The inference profile of a PLUME model (``model[0].profile``); ``"default"`` for any other model."""
    try:
        first = model[0]
    except (TypeError, IndexError, KeyError, AttributeError):
        return "default"
    return str(getattr(first, "profile", "default"))


def protocol_for(name: str, model: Any = None) -> Protocol:
    """The protocol ``name`` with the prompt style ``model`` needs (the authors' for the official profile).

    Raises:
        ValueError: ``name`` is not a protocol.
    """
    style = "vlm2vec" if model is not None and model_profile(model) == OFFICIAL_PROFILE else name
    return Protocol(name, style)

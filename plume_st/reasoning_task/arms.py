"""The arms of the reasoning experiment: one tiny backbone, one training budget, different ways to reason.

=================  ==========================================================  ====================
arm                training                                                     evaluated with
=================  ==========================================================  ====================
``single_pass``    anchor InfoNCE only (VLM2Vec-style), no rationale            ``reasoning="none"``
``explicit_cot``   stage 0 only: the whole rationale as supervised text         ``reasoning="explicit"``
``plume_k4``       the full curriculum (ratios 0, .25, .5, .75, 1), K = 4       ``reasoning="latent"``
``plume_k8``       the full curriculum, K = 8                                    ``reasoning="latent"``
``no_adapter``     as ``plume_k8``, the latent state fed back as it is          ``reasoning="latent"``
``no_anchor``      as ``plume_k8``, the router sees z instead of z + c(x)       ``reasoning="latent"``
``no_curriculum``  as ``plume_k8``, stage 0 then straight to fully latent       ``reasoning="latent"``
=================  ==========================================================  ====================

The curriculum arms give the stages the demo's shares (1, 1, 1, 1, 2; the answer text kept during the first half of
the last stage); ``no_curriculum`` gives stage 0 the first four shares and the fully latent stage the last two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_FULL = {"ratios": [0.0, 0.25, 0.5, 0.75, 1.0], "stage_fractions": [1, 1, 1, 1, 2], "final_answer_first_half": True}
_PLUME_LOSS = {"ce_weight": 1.0, "gen_weight": 1.0, "anchor_weight": 1.0, "balance_weight": 0.1}


@dataclass(frozen=True)
class Arm:
    """One arm of the experiment.

    Attributes:
        name: Identifier (folder and JSON key).
        label: What the table and the plot call it.
        reasoning: The ``encode`` mode it is evaluated with.
        latent_steps: K of the model (S, the segments per rationale, in training).
        curriculum: The ``curriculum`` config section.
        loss: The ``loss`` config section.
        rollout: Extra :class:`~plume_st.modules.LatentRollout` settings (``transition``, ``anchor_guidance``).
    """

    name: str
    label: str
    reasoning: str
    latent_steps: int
    curriculum: dict[str, Any]
    loss: dict[str, Any] = field(default_factory=lambda: dict(_PLUME_LOSS))
    rollout: dict[str, Any] = field(default_factory=dict)


ARMS: dict[str, Arm] = {
    arm.name: arm
    for arm in (
        Arm(
            "single_pass",
            "single pass",
            "none",
            1,
            {"ratios": [1.0]},
            {"ce_weight": 0.0, "gen_weight": 0.0, "anchor_weight": 1.0, "balance_weight": 0.0},
        ),
        Arm("explicit_cot", "explicit CoT", "explicit", 8, {"ratios": [0.0, 1.0], "stage_fractions": [1, 0]}),
        Arm("plume_k4", "PLUME K=4", "latent", 4, dict(_FULL)),
        Arm("plume_k8", "PLUME K=8", "latent", 8, dict(_FULL)),
        Arm("no_adapter", "no adapter (K=8)", "latent", 8, dict(_FULL), rollout={"transition": "identity"}),
        Arm("no_anchor", "no anchor (K=8)", "latent", 8, dict(_FULL), rollout={"anchor_guidance": False}),
        Arm(
            "no_curriculum",
            "no curriculum (K=8)",
            "latent",
            8,
            {"ratios": [0.0, 1.0], "stage_fractions": [4, 2], "final_answer_first_half": True},
        ),
    )
}


def select_arms(names: list[str] | None) -> list[Arm]:
    """The named arms in the order given (``None``: all).

    Raises:
        ValueError: For an unknown arm name.
    """
    if names is None:
        return list(ARMS.values())
    unknown = [name for name in names if name not in ARMS]
    if unknown:
        raise ValueError(f"unknown arms {unknown}; choose from {list(ARMS)}")
    return [ARMS[name] for name in names]

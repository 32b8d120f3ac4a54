"""The progressive explicit-to-latent curriculum: which stage a point of training is in, and what it means.

Stage ``s`` has a ratio ``r_s``: the first ``round(r_s * S)`` of an example's S rationale segments become latent
steps, the remaining segments stay as explicit, supervised text. The stages follow each other by training
progress (``global_step / max_steps``), each taking its share of ``stage_fractions`` (equal shares by default).
The last stage drops the remaining rationale and the answer text, so the rollout leads straight to ``<gen_emb>``
exactly as ``encode`` runs it; with ``final_answer_first_half`` the answer text is kept during the first half of
the last stage, as the authors' script does.

The schedule also carries the *current* stage (set by :class:`~plume_st.training.curriculum_callback.
CurriculumCallback` before every optimizer step and read by the loss), so both sides share one object.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from itertools import accumulate

DEFAULT_RATIOS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class StageSpec:
    """What one stage asks of a batch.

    Attributes:
        stage: The stage index.
        num_latent: Latent steps K of the batch (one per replaced segment).
        keep_rationale: Whether the rationale segments after the latent slots stay as supervised text.
        keep_answer: Whether ``<answer>…</answer>`` stays as supervised text.
    """

    stage: int
    num_latent: int
    keep_rationale: bool
    keep_answer: bool


@dataclass
class CurriculumSchedule:
    """Stage ratios, their share of training, and the current stage.

    Args:
        ratios: Fraction of the S segments replaced by latent steps in each stage (non-decreasing, in [0, 1], the
            last one 1.0).
        num_segments: S; the last stage (ratio 1) runs S latent steps.
        stage_fractions: Relative share of training per stage (normalised); ``None`` gives equal shares.
        final_answer_first_half: Keep the answer text during the first half of the last stage.
    """

    ratios: tuple[float, ...] = DEFAULT_RATIOS
    num_segments: int = 8
    stage_fractions: tuple[float, ...] | None = None
    final_answer_first_half: bool = False
    stage: int = field(default=0)
    progress: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.ratios = tuple(float(ratio) for ratio in self.ratios)
        if not self.ratios:
            raise ValueError("ratios must name at least one stage")
        if any(not 0.0 <= ratio <= 1.0 for ratio in self.ratios) or list(self.ratios) != sorted(self.ratios):
            raise ValueError(f"ratios must be non-decreasing values in [0, 1], got {self.ratios}")
        if self.ratios[-1] != 1.0:
            # The last stage drops the rationale text and runs all S latent steps, exactly what encode() runs.
            raise ValueError(f"the last ratio must be 1.0 (the fully latent stage), got {self.ratios}")
        if self.num_segments < 1:
            raise ValueError(f"num_segments must be positive, got {self.num_segments}")
        fractions = self.stage_fractions or (1.0,) * len(self.ratios)
        if len(fractions) != len(self.ratios) or any(fraction < 0 for fraction in fractions) or sum(fractions) <= 0:
            raise ValueError(
                f"stage_fractions must give one non-negative share per stage ({len(self.ratios)}), got {fractions}"
            )
        self.stage_fractions = tuple(float(fraction) for fraction in fractions)
        total = sum(self.stage_fractions)
        self._ends = [end / total for end in accumulate(self.stage_fractions)]

    @property
    def num_stages(self) -> int:
        return len(self.ratios)

    def stage_at(self, progress: float) -> int:
        """The stage at a training progress in [0, 1] (1 and beyond: the last stage)."""
        stage = bisect.bisect_right(self._ends, progress)
        while stage < self.num_stages - 1 and self.stage_fractions[stage] == 0:
            stage += 1
        return min(stage, self.num_stages - 1)

    def latent_slots(self, stage: int) -> int:
        """Latent steps of a stage: ``round(r_s * S)`` (halves round up)."""
        return math.floor(self.ratios[stage] * self.num_segments + 0.5)

    def spec(self, stage: int | None = None, progress: float | None = None) -> StageSpec:
        """The :class:`StageSpec` of a stage (default: the current one) at a progress (default: the current one)."""
        stage = self.stage if stage is None else stage
        progress = self.progress if progress is None else progress
        last = stage == self.num_stages - 1
        keep_answer = not last
        if last and self.final_answer_first_half:
            start = self._ends[stage - 1] if stage > 0 else 0.0
            keep_answer = progress < start + (1.0 - start) / 2
        return StageSpec(stage, self.latent_slots(stage), keep_rationale=not last, keep_answer=keep_answer)

    def update(self, progress: float) -> bool:
        """Move to the stage of ``progress``; returns whether the stage changed."""
        stage = self.stage_at(progress)
        changed = stage != self.stage
        self.stage, self.progress = stage, progress
        return changed

    @classmethod
    def final(cls, num_segments: int = 8) -> CurriculumSchedule:
        """A one-stage schedule that is always fully latent (plain fine-tuning of a PLUME model)."""
        return cls(ratios=(1.0,), num_segments=num_segments)

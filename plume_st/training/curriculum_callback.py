"""The ``TrainerCallback`` that drives the curriculum: sets the stage, resets the optimizer moments, saves the stage.

Before every optimizer step it moves the shared :class:`~plume_st.training.curriculum.CurriculumSchedule` to the
stage of the current progress (``global_step / max_steps``). When the stage changes it clears the optimizer's
state (Adam's moments and step count), as the paper does at each switch. The stage is written into the trainer
state (``trainer_state.json``, ``stateful_callbacks``) of every checkpoint and read back when a run resumes, so
the resumed run continues in the stage where it stopped and does not reset the moments a second time.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from .curriculum import CurriculumSchedule


def reset_optimizer_moments(optimizer: Any) -> None:
    """Forget the per-parameter state of a torch optimizer (unwrapping accelerate's wrapper)."""
    inner = getattr(optimizer, "optimizer", optimizer)
    state = getattr(inner, "state", None)
    if state is not None:
        state.clear()


class CurriculumCallback(TrainerCallback, ExportableState):
    """Keeps ``curriculum`` at the stage of the training progress.

    Args:
        curriculum: The schedule shared with the loss.
        reset_optimizer: Clear the optimizer's moments at each stage switch.
    """

    def __init__(self, curriculum: CurriculumSchedule | None = None, reset_optimizer: bool = True) -> None:
        self.curriculum = curriculum if curriculum is not None else CurriculumSchedule()
        self.reset_optimizer = reset_optimizer
        self.num_resets = 0

    def state(self) -> dict[str, Any]:
        return {
            "args": {"reset_optimizer": self.reset_optimizer},
            "attributes": {"stage": self.curriculum.stage, "progress": self.curriculum.progress},
        }

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        saved = (state.stateful_callbacks or {}).get(type(self).__name__)
        if isinstance(saved, list):
            saved = saved[0] if saved else None
        if state.global_step > 0 and saved:
            self.curriculum.stage = int(saved["attributes"]["stage"])
            self.curriculum.progress = float(saved["attributes"]["progress"])
        elif state.global_step == 0:
            self.curriculum.update(0.0)

    def on_step_begin(self, args: Any, state: Any, control: Any, optimizer: Any = None, **kwargs: Any) -> None:
        progress = state.global_step / max(state.max_steps, 1)
        if self.curriculum.update(progress) and self.reset_optimizer and optimizer is not None:
            reset_optimizer_moments(optimizer)
            self.num_resets += 1

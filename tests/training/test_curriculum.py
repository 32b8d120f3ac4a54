from __future__ import annotations

import pytest

from plume_st.training.curriculum import CurriculumSchedule, StageSpec


def test_stage_by_progress_with_equal_shares():
    schedule = CurriculumSchedule()
    stages = [schedule.stage_at(p) for p in (0.0, 0.19, 0.2, 0.39, 0.4, 0.6, 0.79, 0.8, 0.99, 1.0, 1.5)]
    assert stages == [0, 0, 1, 1, 2, 3, 3, 4, 4, 4, 4]
    assert [schedule.latent_slots(s) for s in range(5)] == [0, 2, 4, 6, 8]


def test_paper_shares_and_rounding():
    schedule = CurriculumSchedule(stage_fractions=(3, 1 / 3, 1 / 3, 1 / 3, 1), num_segments=6)
    assert schedule.stage_at(0.59) == 0
    assert schedule.stage_at(0.61) == 1
    assert schedule.stage_at(0.79) == 3
    assert schedule.stage_at(0.81) == 4
    assert [schedule.latent_slots(s) for s in range(5)] == [0, 2, 3, 5, 6]  # 1.5 -> 2, 4.5 -> 5


def test_specs_and_final_stage_text():
    schedule = CurriculumSchedule()
    assert schedule.spec(0, 0.0) == StageSpec(0, 0, keep_rationale=True, keep_answer=True)
    assert schedule.spec(3, 0.7) == StageSpec(3, 6, keep_rationale=True, keep_answer=True)
    assert schedule.spec(4, 0.85) == StageSpec(4, 8, keep_rationale=False, keep_answer=False)
    halves = CurriculumSchedule(final_answer_first_half=True)
    assert halves.spec(4, 0.85).keep_answer and not halves.spec(4, 0.95).keep_answer
    assert not halves.spec(4, 0.95).keep_rationale
    assert CurriculumSchedule.final(8).spec() == StageSpec(0, 8, keep_rationale=False, keep_answer=False)


def test_update_reports_switches():
    schedule = CurriculumSchedule()
    assert not schedule.update(0.1)
    assert schedule.update(0.25) and schedule.stage == 1
    assert not schedule.update(0.3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ratios": (0.5, 0.25)}, "non-decreasing"),
        ({"ratios": (0.0, 1.5)}, "non-decreasing"),
        ({"ratios": (0.0, 0.5, 0.75)}, "last ratio must be 1.0"),
        ({"ratios": (0.25,)}, "last ratio must be 1.0"),
        ({"stage_fractions": (1, 1)}, "stage_fractions"),
        ({"num_segments": 0}, "num_segments"),
    ],
)
def test_bad_schedules(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CurriculumSchedule(**kwargs)

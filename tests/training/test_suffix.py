from __future__ import annotations

import torch

from plume_st.training.curriculum import StageSpec
from plume_st.training.data.suffix import IGNORE_INDEX, SuffixPieces, assemble_suffix

PIECES = SuffixPieces(eot=torch.tensor([100]), close=torch.tensor([101, 102]), end=torch.tensor([103, 104]), pad_id=0)


def _batch():
    # Row 0: segments [1,2] [3] [4] [5,6]; row 1: segments [7] [] [8,9] [10]. Answers: [20, 21] and [22].
    think = torch.tensor([[[1, 2], [3, 0], [4, 0], [5, 6]], [[7, 0], [0, 0], [8, 9], [10, 0]]])
    think_mask = think != 0
    answer = torch.tensor([[20, 21], [22, 0]])
    return think, think_mask, answer, answer != 0


def test_stage_two_keeps_later_segments_and_answer():
    suffix = assemble_suffix(*_batch(), StageSpec(2, 2, True, True), PIECES)
    assert suffix.input_ids.tolist() == [
        [100, 4, 5, 6, 101, 102, 20, 21, 103, 104],
        [100, 8, 9, 10, 101, 102, 22, 103, 104, 0],
    ]
    assert suffix.attention_mask.tolist() == [[1] * 10, [1] * 9 + [0]]
    assert suffix.labels.tolist() == [
        [4, 5, 6, 101, 102, 20, 21, 103, 104, IGNORE_INDEX],
        [8, 9, 10, 101, 102, 22, 103, 104, IGNORE_INDEX, IGNORE_INDEX],
    ]


def test_stage_zero_is_fully_explicit():
    suffix = assemble_suffix(*_batch(), StageSpec(0, 0, True, True), PIECES)
    assert suffix.input_ids[0].tolist() == [100, 1, 2, 3, 4, 5, 6, 101, 102, 20, 21, 103, 104]
    assert suffix.lengths.tolist() == [13, 10]


def test_final_stage_drops_rationale_and_answer():
    suffix = assemble_suffix(*_batch(), StageSpec(4, 4, False, False), PIECES)
    assert suffix.input_ids.tolist() == [[100, 101, 102, 103, 104]] * 2
    assert suffix.labels.tolist() == [[101, 102, 103, 104, IGNORE_INDEX]] * 2


def test_answer_only_without_rationale():
    suffix = assemble_suffix(*_batch(), StageSpec(4, 4, False, True), PIECES)
    assert suffix.input_ids.tolist() == [[100, 101, 102, 20, 21, 103, 104], [100, 101, 102, 22, 103, 104, 0]]

"""Explicit mode compacts the batch and its cache once most rows have finished, without changing any result."""

from __future__ import annotations

import pytest
import torch

from plume_st.modules.explicit_rationale import generate_rationale
from plume_st.modules.plume_prompt import GEN_EMB

ITEMS = [" ".join(["word"] * (i + 1)) for i in range(6)]  # six prompts of distinct lengths
LENGTHS = [1, 9, 2, 12, 3, 5]  # rationale tokens written by each row before its <gen_emb>
MAX_NEW_TOKENS = 12


class ScheduledRationale:
    """Row i writes exactly ``LENGTHS[i]`` tokens, then ``<gen_emb>``, whichever rows share its batch.

    A pre-hook on the language model records each pass's positions and batch size; a hook on ``lm_head`` recognises
    a row by its first rationale position (distinct per row: the prompts differ in length) and masks ``<gen_emb>``
    and ``<|im_end|>`` until the row has written its tokens, then forces ``<gen_emb>``.
    """

    def __init__(self, model, first_positions: list[int], lengths: list[int]) -> None:
        self.model = model
        self.length_at = dict(zip(first_positions, lengths, strict=True))
        self.batch_sizes: list[int] = []
        self.step = 0

    def record(self, module, args, kwargs) -> None:
        self.positions = kwargs["position_ids"][0, :, -1]
        self.batch_sizes.append(self.positions.shape[0])

    def steer(self, module, args, logits: torch.Tensor) -> torch.Tensor:
        input_module = self.model[0]
        gen_id, end_id = input_module.token_id(GEN_EMB), input_module.tokenizer.convert_tokens_to_ids("<|im_end|>")
        lengths = torch.tensor([self.length_at.get(int(p) - self.step, 0) for p in self.positions])
        logits = logits.clone()
        logits[:, [gen_id, end_id]] = float("-inf")
        logits[lengths == self.step, gen_id] = float("inf")
        self.step += 1
        return logits

    def __enter__(self) -> ScheduledRationale:
        lm = self.model[0].causal_lm
        self.handles = [
            lm.model.register_forward_pre_hook(self.record, with_kwargs=True),
            lm.lm_head.register_forward_hook(self.steer),
        ]
        return self

    def __exit__(self, *exc_info) -> None:
        for handle in self.handles:
            handle.remove()


@pytest.fixture(scope="module")
def model(tiny_backbone):
    import plume_st

    return plume_st.build_plume_model(
        str(tiny_backbone("qwen2_vl")), max_new_tokens=MAX_NEW_TOKENS, device="cpu"
    ).eval()


def explicit_states(model, compact_below: float) -> tuple[torch.Tensor, list[int]]:
    """The explicit states of ``ITEMS`` as one batch, and the batch size of every backbone pass after the prefix."""
    input_module, rollout = model[0], model[1]
    with torch.no_grad():
        features = input_module(input_module.preprocess(ITEMS))
        state = rollout.start(features)
        with ScheduledRationale(model, state.next_position.tolist(), LENGTHS) as schedule:
            states = generate_rationale(rollout, state, len(ITEMS), state.next_position.device, compact_below)
    return states, schedule.batch_sizes


def test_compacted_batch_equals_uncompacted(model):
    compacted, compacted_sizes = explicit_states(model, compact_below=0.5)
    masked, masked_sizes = explicit_states(model, compact_below=0.0)
    # <eot>, then max(LENGTHS) tokens and the <gen_emb> of the longest row: 1 + 12 + 1 passes either way
    assert len(compacted_sizes) == len(masked_sizes) == 1 + max(LENGTHS) + 1
    assert masked_sizes == [6] * 14
    # rows finish after their <gen_emb> pass, at passes 3, 4, 5, 7, 11, 14 (LENGTHS + 2); the batch shrinks once at
    # most half of it is active: 6 rows until 3 have finished (pass 5), then 3 until 2 more have (pass 11)
    assert compacted_sizes == [6] * 5 + [3] * 6 + [1] * 3
    assert (compacted.abs().sum(dim=1) > 0).all()
    torch.testing.assert_close(compacted, masked, atol=1e-6, rtol=0)


def first_positions(model, items: list[str]) -> list[int]:
    with torch.no_grad():
        return model[0](model[0].preprocess(items))["next_position"].tolist()


def test_encode_compacts_and_equals_items_alone(model):
    with torch.no_grad(), ScheduledRationale(model, first_positions(model, ITEMS), LENGTHS) as schedule:
        batched = model.encode(ITEMS, batch_size=len(ITEMS), reasoning="explicit", convert_to_tensor=True)
    assert schedule.batch_sizes == [6] + [6] * 5 + [3] * 6 + [1] * 3  # the prefix, then the compacted rationale
    for row, item in enumerate(ITEMS):
        with torch.no_grad(), ScheduledRationale(model, first_positions(model, [item]), [LENGTHS[row]]) as alone:
            encoded = model.encode([item], reasoning="explicit", convert_to_tensor=True)[0]
        assert len(alone.batch_sizes) == 1 + LENGTHS[row] + 2
        torch.testing.assert_close(batched[row], encoded, atol=1e-4, rtol=0)

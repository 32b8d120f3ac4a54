"""The teacher-forced assistant suffix of one curriculum stage, assembled for a whole batch at once.

After ``<think><bot>`` and the stage's K latent steps, the training sequence of a row continues with::

    <eot> + rationale segments K..S-1 + </think> + <answer>…</answer> + \\n<gen_emb>

(the segments only while ``keep_rationale``, the answer only while ``keep_answer``). In the last stage that is
``<eot></think>\\n<gen_emb>``, the very suffix :class:`~plume_st.modules.LatentRollout` runs at inference.

The collator hands over the rationale already tokenised segment by segment (``think_ids`` of shape (B, S, L)) and
the answer (B, A); :func:`assemble_suffix` keeps the stage's pieces and packs them to the left with one stable sort
over the batch, then derives next-token labels: position t is trained to predict token t + 1, the last real token
(``<gen_emb>``) and the padding are ``-100``. Prefix and latent slots are not part of the suffix, so they are never
supervised.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plume_st.modules.plume_prompt import EOT, GEN_EMB

from ..curriculum import StageSpec

IGNORE_INDEX = -100
CLOSE_THINK = "</think>"
SUFFIX_END = "\n" + GEN_EMB


@dataclass
class SuffixPieces:
    """Token ids of the fixed pieces of the suffix (``<eot>``, ``</think>``, ``\\n<gen_emb>``) and the pad id."""

    eot: torch.Tensor
    close: torch.Tensor
    end: torch.Tensor
    pad_id: int

    @classmethod
    def from_tokenizer(cls, tokenizer) -> SuffixPieces:
        def ids(text: str) -> torch.Tensor:
            return torch.tensor(tokenizer(text, add_special_tokens=False).input_ids, dtype=torch.long)

        return cls(ids(EOT), ids(CLOSE_THINK), ids(SUFFIX_END), tokenizer.pad_token_id)


@dataclass
class Suffix:
    """A stage's suffix for a batch: ids and mask (B, T), right-padded, and next-token labels (B, T)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        return self.attention_mask.sum(dim=1)


def assemble_suffix(
    think_ids: torch.Tensor,
    think_mask: torch.Tensor,
    answer_ids: torch.Tensor,
    answer_mask: torch.Tensor,
    spec: StageSpec,
    pieces: SuffixPieces,
) -> Suffix:
    """Build the stage's suffix for every row of a batch (no loop over rows).

    Args:
        think_ids: Rationale tokens per segment, (B, S, L), padded.
        think_mask: Which entries of ``think_ids`` are real tokens, (B, S, L).
        answer_ids: ``<answer>…</answer>`` tokens, (B, A), padded.
        answer_mask: Which entries of ``answer_ids`` are real tokens, (B, A).
        spec: The stage: latent slots K (segments ``< K`` are dropped), whether rationale and answer stay.
        pieces: The fixed pieces' token ids.

    Returns:
        The packed :class:`Suffix`.
    """
    batch, num_segments, seg_len = think_ids.shape
    device = think_ids.device
    segment = torch.arange(num_segments, device=device)[None, :, None]
    keep_think = think_mask.bool() & (segment >= spec.num_latent) & spec.keep_rationale
    keep_answer = answer_mask.bool() & spec.keep_answer

    def fixed(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids = ids.to(device)[None].expand(batch, -1)
        return ids, torch.ones_like(ids, dtype=torch.bool)

    parts = [fixed(pieces.eot), (think_ids.reshape(batch, -1), keep_think.reshape(batch, -1)), fixed(pieces.close)]
    parts += [(answer_ids, keep_answer), fixed(pieces.end)]
    ids = torch.cat([part[0] for part in parts], dim=1)
    keep = torch.cat([part[1] for part in parts], dim=1)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    lengths = keep.sum(dim=1)
    width = int(lengths.max())
    ids = ids.gather(1, order)[:, :width]
    mask = torch.arange(width, device=device)[None, :] < lengths[:, None]
    ids = torch.where(mask, ids, torch.full_like(ids, pieces.pad_id))
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[:, :-1] = torch.where(mask[:, 1:], ids[:, 1:], torch.full_like(ids[:, 1:], IGNORE_INDEX))
    return Suffix(ids, mask.long(), labels)

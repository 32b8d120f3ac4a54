"""The data collator of PLUME training: prompts and media for the prefix, the rationale tokenised per segment.

For every side column of the batch (``query``, ``positive``, optional hard negatives) it writes, under the column's
prefix so the trainer's ``collect_features`` groups them:

* the prefix features of :meth:`~plume_st.modules.PlumeInput.preprocess` (``input_ids``, ``attention_mask``, pixel
  values, grids): system turn, instruction and input, ``<disc_emb>``, the embedding instruction, ``<think><bot>``;
  media are opened here, when the batch is built;
* ``think_ids`` / ``think_mask`` (B, S, L): the rationale split into S segments
  (:func:`~plume_st.training.data.segmentation.split_rationale`), each tokenised on its own;
* ``answer_ids`` / ``answer_mask`` (B, A): ``<answer>…</answer>`` (empty when the record has no answer).

The curriculum stage is *not* applied here: the trainer's data loader collates the next batch before the current
step runs (and may do so in worker processes), so a stage set on the collator would lag the schedule. The loss
applies the current stage with :func:`~plume_st.training.data.suffix.assemble_suffix` — the latent slots, the remaining
segments, the answer and ``\\n<gen_emb>`` — for the whole batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from sentence_transformers.base.data_collator import BaseDataCollator
from torch.nn.utils.rnn import pad_sequence

from .segmentation import split_rationale
from .ume_data import side_input


def pad_token_lists(token_lists: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token lists into ids and a boolean mask (at least one column wide)."""
    rows = [torch.tensor(tokens, dtype=torch.long) for tokens in token_lists] + [torch.zeros(1, dtype=torch.long)]
    ids = pad_sequence(rows, batch_first=True, padding_value=pad_id)[:-1]  # the extra row makes width >= 1
    lengths = torch.tensor([len(tokens) for tokens in token_lists], dtype=torch.long)
    return ids, torch.arange(ids.shape[1]) < lengths[:, None]


def _named_error(error: Exception, column: str, sides: list[dict[str, Any]], sources: list[str | None]) -> Exception:
    """``error`` (same type where possible) prefixed with the column and the records (``file:line``) it concerns:
    the rows whose media path the error names, else every row of the batch."""
    message = str(error)
    named = [source for side, source in zip(sides, sources) if source and any(
        path in message for path in [*(side.get("image") or []), *(side.get("video") or [])])]  # fmt: skip
    records = named or [source for source in sources if source]
    label = "records" if len(records) > 1 else "record"
    where = f"column {column!r}" + (f", {label} {', '.join(records)}" if records else "")
    try:
        return type(error)(f"{where}: {message}")
    except TypeError:  # an exception class with a constructor of its own
        return RuntimeError(f"{where}: {message}")


@dataclass
class PlumeDataCollator(BaseDataCollator):
    """Collates ``{"query": side, "positive": side, ...}`` rows for :class:`~plume_st.training.PlumeLoss`.

    Args:
        preprocess_fn: The input module's ``preprocess`` (``model[0].preprocess``).
        tokenizer: The backbone's tokenizer (``model[0].tokenizer``).
        num_segments: S, segments per rationale.
        prompts: Optional instruction per column (or one for all), placed in front of each input's text.
    """

    tokenizer: Any = None
    num_segments: int = 8
    side_columns: tuple[str, ...] | None = field(default=None)

    def tokenize_segments(self, rationales: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S, L) ids and mask of every rationale split into S segments, tokenised in one call."""
        segments = [segment for text in rationales for segment in split_rationale(text, self.num_segments)]
        encoded = self.tokenizer(segments, add_special_tokens=False).input_ids
        ids, mask = pad_token_lists(encoded, self.tokenizer.pad_token_id)
        shape = (len(rationales), self.num_segments, ids.shape[1])
        return ids.reshape(shape), mask.reshape(shape)

    def tokenize_answers(self, answers: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, A) ids and mask of ``<answer>…</answer>`` (no tokens for an empty answer)."""
        texts = [f"<answer>{answer}</answer>" if answer else "" for answer in answers]
        return pad_token_lists(self.tokenizer(texts, add_special_tokens=False).input_ids, self.tokenizer.pad_token_id)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if not features:
            return {}
        if self.tokenizer is None:
            raise ValueError("PlumeDataCollator needs the backbone's tokenizer")
        batch: dict[str, Any] = {}
        if "dataset_name" in features[0]:
            batch["dataset_name"] = features[0]["dataset_name"]
        prompts = self._resolve_prompts(batch)
        columns = self.side_columns or tuple(name for name in features[0] if isinstance(features[0][name], dict))
        for column in columns:
            sides = [row[column] for row in features]
            prompt = self._get_prompt_for_column(prompts, column) if prompts else None
            try:
                prefix = self.preprocess_fn([side_input(side) for side in sides], prompt=prompt)
            except (ValueError, TypeError, OSError) as error:
                raise _named_error(error, column, sides, [row.get("source") for row in features]) from error
            think_ids, think_mask = self.tokenize_segments([side.get("rationale") or "" for side in sides])
            answer_ids, answer_mask = self.tokenize_answers([side.get("answer") or "" for side in sides])
            extra = {"think_ids": think_ids, "think_mask": think_mask, "answer_ids": answer_ids}
            extra["answer_mask"] = answer_mask
            for key, value in {**prefix, **extra}.items():
                batch[f"{column}_{key}"] = value
        return batch

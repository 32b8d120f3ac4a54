"""Fitting every prompt into ``max_seq_length`` by cutting the user's text, never the prompt or the media.

A PLUME prompt is the fixed skeleton (system turn, ``<disc_emb>``, the embedding instruction, ``<think><bot>``), the
instruction (``prompt=``), the media tokens and the user's text. When a row is longer than ``max_seq_length``, the
user's text is cut to its first ``n`` tokens, ``n`` as large as fits (decoded back to text, so the prompt is
tokenised as usual). When the skeleton, the instruction and the media alone exceed the bound, the item is refused
with the count of its media tokens and the settings that lower it.

Memory stays bounded for any text length: a text is first cut to the characters that its first ``max_seq_length``
tokens can span (no token is longer than the vocabulary's longest entry), so neither the tokenizer nor the backbone
ever sees more than the bound allows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MAX_ROUNDS = 4  # a cut text can re-tokenise one token longer at its join with the prompt; this settles it


class TextBudget:
    """Cuts the user texts of a batch so that every processed row fits ``max_seq_length`` tokens.

    Args:
        tokenizer: The backbone's tokenizer.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._longest_token: int | None = None

    @property
    def longest_token(self) -> int:
        """Characters of the vocabulary's longest token (an upper bound on the characters one token spans)."""
        if self._longest_token is None:
            self._longest_token = max(len(token) for token in self.tokenizer.get_vocab())
        return self._longest_token

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]

    def cut(self, text: str, num_tokens: int) -> str:
        """The first ``num_tokens`` tokens of ``text``, as text."""
        ids = self._ids(text)
        if len(ids) <= num_tokens:
            return text
        return self.tokenizer.decode(ids[: max(num_tokens, 0)], clean_up_tokenization_spaces=False)

    def fit(
        self,
        process: Callable[[list[Any], str], dict[str, Any]],
        parsed: list[Any],
        prompt: str,
        max_length: int | None,
        reserved: int = 0,
    ) -> dict[str, Any]:
        """Process ``parsed`` (items with a ``.text``) with ``process``, cutting texts until every row fits.

        Args:
            process: Renders and processes a batch: ``process(parsed, prompt) -> features``.
            parsed: The batch's parsed inputs; their ``text`` is shortened in place where needed.
            prompt: The instruction in front of every text (never cut).
            max_length: ``max_seq_length`` (``None``: no bound).
            reserved: Tokens the prompt takes without text and media (a first cut leaves room for them).

        Raises:
            ValueError: When an item's prompt and media alone exceed ``max_length`` (its batch row is ``.row``).
        """
        if max_length is None:
            return process(parsed, prompt)
        span = (max_length + 1) * self.longest_token
        for item in parsed:
            if len(item.text) > span:
                item.text = item.text[:span]
            if len(item.text) > max_length - reserved:  # a text has at most as many tokens as characters
                item.text = self.cut(item.text, max_length - reserved)
        features = process(parsed, prompt)
        for _ in range(_MAX_ROUNDS):
            lengths = features["attention_mask"].sum(dim=1).tolist()
            over = [row for row, length in enumerate(lengths) if length > max_length]
            if not over:
                return features
            for row in over:
                text_tokens = len(self._ids(parsed[row].text))
                budget = text_tokens - (lengths[row] - max_length)
                if budget < 0 or not parsed[row].text:
                    error = ValueError(self._too_long(features, row, lengths[row] - text_tokens, max_length))
                    error.row = row
                    raise error
                parsed[row].text = self.cut(parsed[row].text, budget)
            features = process(parsed, prompt)
        raise RuntimeError(f"could not fit the batch into max_seq_length={max_length} in {_MAX_ROUNDS} rounds")

    def _too_long(self, features: dict[str, Any], row: int, fixed: int, max_length: int) -> str:
        ids = features["input_ids"][row]
        pad_ids = [self.tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>")]
        images, videos = (int((ids == token).sum()) for token in pad_ids)
        return (
            f"its prompt and media take {fixed} tokens (images {images}, videos {videos}), more than "
            f"max_seq_length={max_length}; lower the pixel budgets (max_pixels, video_max_pixels) or num_frames, "
            "or raise max_seq_length"
        )

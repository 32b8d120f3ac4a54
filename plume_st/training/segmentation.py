"""Splitting a rationale into the S segments the curriculum replaces one by one with latent steps.

A UME-R1 assistant turn reads ``<think>RATIONALE</think><answer>ANSWER</answer>``. :func:`parse_assistant_turn`
takes it apart; :func:`split_rationale` cuts the rationale into exactly ``num_segments`` contiguous pieces:

* at sentence boundaries (``.``, ``!``, ``?`` and their CJK forms, followed by white space) when there are at least
  ``num_segments`` sentences, grouping consecutive sentences so the group sizes differ by at most one;
* otherwise at equal character offsets (the "character fallback"), so a short rationale still yields S pieces
  (some may be empty when it has fewer than S characters).

White space between sentences stays at the *start* of the following segment, so tokenising the segments one by
one gives the same byte-level tokens as tokenising the joined text, and ``"".join(segments) == rationale``.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])(?=\s)")
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def parse_assistant_turn(value: str) -> tuple[str, str]:
    """Split an assistant turn into its rationale and its answer.

    Args:
        value: ``<think>…</think><answer>…</answer>`` (either part may be missing).

    Returns:
        ``(rationale, answer)``, each stripped; a missing part is ``""``. A turn with neither tag is taken
        as a bare answer.
    """
    think = _THINK.search(value)
    answer = _ANSWER.search(value)
    if think is None and answer is None:
        return "", value.strip()
    return (think.group(1).strip() if think else ""), (answer.group(1).strip() if answer else "")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; the white space after a sentence end starts the next sentence."""
    pieces = [piece for piece in _SENTENCE_END.split(text) if piece]
    return pieces


def split_rationale(text: str, num_segments: int = 8) -> list[str]:
    """Cut a rationale into exactly ``num_segments`` contiguous segments.

    Args:
        text: The rationale (the text between ``<think>`` and ``</think>``).
        num_segments: S, the number of segments (one latent step replaces one segment).

    Returns:
        ``num_segments`` strings whose concatenation is ``text``.

    Raises:
        ValueError: If ``num_segments`` is not positive.
    """
    if num_segments < 1:
        raise ValueError(f"num_segments must be positive, got {num_segments}")
    sentences = split_sentences(text)
    if len(sentences) >= num_segments:
        base, extra = divmod(len(sentences), num_segments)
        segments, start = [], 0
        for index in range(num_segments):
            size = base + (1 if index < extra else 0)
            segments.append("".join(sentences[start : start + size]))
            start += size
        return segments
    bounds = [round(index * len(text) / num_segments) for index in range(num_segments + 1)]
    return [text[bounds[index] : bounds[index + 1]] for index in range(num_segments)]

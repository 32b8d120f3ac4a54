"""Splitting a rationale into the S segments the curriculum replaces one by one with latent steps.

A UME-R1 assistant turn reads ``<think>RATIONALE</think><answer>ANSWER</answer>``. :func:`parse_assistant_turn`
takes it apart; :func:`split_rationale` cuts the rationale into exactly ``num_segments`` contiguous pieces:

* at sentence boundaries (``.``, ``!``, ``?`` and their CJK forms, followed by white space) when there are at least
  ``num_segments`` sentences, grouping consecutive sentences so the group sizes differ by at most one;
* otherwise at word boundaries (white space), grouping consecutive words the same way; a rationale of fewer than
  S words gives one word per segment and empty segments after them;
* only a rationale of a single word (no white space to cut at) is cut at equal character offsets, so it still
  yields S pieces (some empty when it has fewer than S characters).

White space between sentences (and words) stays at the *start* of the following segment, so tokenising the
segments one by one gives the same byte-level tokens as tokenising the joined text (a byte-level BPE never merges
across a space-word boundary), and ``"".join(segments) == rationale``.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])(?=\s)")
_WORD = re.compile(r"\s*\S+")
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


def split_words(text: str) -> list[str]:
    """Words of ``text``, each with the white space in front of it (trailing white space joins the last word)."""
    words = _WORD.findall(text)
    if words:
        words[-1] += text[sum(len(word) for word in words) :]
    return words


def _group(pieces: list[str], num_segments: int) -> list[str]:
    """``num_segments`` runs of consecutive pieces whose sizes differ by at most one (larger runs first)."""
    base, extra = divmod(len(pieces), num_segments)
    segments, start = [], 0
    for index in range(num_segments):
        size = base + (1 if index < extra else 0)
        segments.append("".join(pieces[start : start + size]))
        start += size
    return segments


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
        return _group(sentences, num_segments)
    words = split_words(text)
    if len(words) > 1:
        return _group(words, num_segments)
    bounds = [round(index * len(text) / num_segments) for index in range(num_segments + 1)]
    return [text[bounds[index] : bounds[index + 1]] for index in range(num_segments)]

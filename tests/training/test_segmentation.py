from __future__ import annotations

import pytest

from plume_st.training.segmentation import parse_assistant_turn, split_rationale


def test_sentences_are_grouped_evenly_and_rejoin():
    text = " ".join(f"S{i}." for i in range(10))
    segments = split_rationale(text, 4)
    assert segments == ["S0. S1. S2.", " S3. S4. S5.", " S6. S7.", " S8. S9."]
    assert "".join(segments) == text


def test_one_sentence_per_segment_keeps_whitespace_in_front():
    assert split_rationale("A b. C d! E f?", 3) == ["A b.", " C d!", " E f?"]


def test_character_fallback_when_too_few_sentences():
    assert split_rationale("abcdefgh", 3) == ["abc", "de", "fgh"]
    assert split_rationale("ab", 4) == ["", "a", "b", ""]
    assert split_rationale("", 2) == ["", ""]


def test_bad_segment_count():
    with pytest.raises(ValueError, match="num_segments"):
        split_rationale("x", 0)


def test_parse_assistant_turn():
    assert parse_assistant_turn("<think> Why.\nBecause. </think><answer> a dog </answer>") == (
        "Why.\nBecause.",
        "a dog",
    )
    assert parse_assistant_turn("just text") == ("", "just text")
    assert parse_assistant_turn("<think>r</think>") == ("r", "")

from __future__ import annotations

import pytest

from plume_st.training.data.segmentation import parse_assistant_turn, split_rationale


def test_sentences_are_grouped_evenly_and_rejoin():
    text = " ".join(f"S{i}." for i in range(10))
    segments = split_rationale(text, 4)
    assert segments == ["S0. S1. S2.", " S3. S4. S5.", " S6. S7.", " S8. S9."]
    assert "".join(segments) == text


def test_one_sentence_per_segment_keeps_whitespace_in_front():
    assert split_rationale("A b. C d! E f?", 3) == ["A b.", " C d!", " E f?"]


def test_word_fallback_when_too_few_sentences():
    text = "The shape in the picture is a red circle on a white background, so name both"
    segments = split_rationale(text, 4)
    assert segments == [
        "The shape in the",
        " picture is a red",
        " circle on a white",
        " background, so name both",
    ]
    assert split_rationale("one two three", 5) == ["one", " two", " three", "", ""]
    assert split_rationale(" a b ", 2) == [" a", " b "]


def test_word_fallback_tokenises_like_the_joined_text(tiny_backbone):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    text = "The shape in the picture is a red circle on a white background, so the caption should name both"
    for count in (3, 8, 16):
        segments = split_rationale(text, count)
        assert "".join(segments) == text
        # Every cut is at white space: each non-empty segment after the first starts with it.
        assert all(segment[:1].isspace() for segment in segments[1:] if segment)
        pieces = [token for segment in segments for token in tokenizer(segment, add_special_tokens=False).input_ids]
        assert pieces == tokenizer(text, add_special_tokens=False).input_ids


def test_character_fallback_only_for_a_single_word():
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

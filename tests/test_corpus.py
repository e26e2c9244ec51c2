"""Tests for llmtheory.corpus."""

import numpy as np
import pytest

from llmtheory.corpus import (
    CharTokenizer,
    WordTokenizer,
    chunk_rows,
    load_public_domain_text,
    story_metrics,
    template_stories,
)


def test_template_stories_are_valid_and_consistent():
    stories = template_stories(200, np.random.default_rng(0))
    assert max(len(s.split()) for s in stories) <= 64
    for s in stories:
        assert story_metrics(s) == {"valid": True, "names": True, "pronouns": True}


def test_story_metrics_catch_errors():
    s = template_stories(1, np.random.default_rng(1))[0]
    name = s.split()[s.split().index("named") + 1]
    other = "tom" if name != "tom" else "mia"
    swapped = s.replace(f"every day {name}", f"every day {other}")
    assert not story_metrics(swapped)["names"]
    wrong = s.replace(" he ", " she ") if " he " in s else s.replace(" she ", " he ")
    assert not story_metrics(wrong)["pronouns"]
    assert not story_metrics(s.replace("the end .", "the end"))["valid"]


def test_a_pad_inside_a_story_is_kept_and_invalid():
    stories = template_stories(5, np.random.default_rng(3))
    tok = WordTokenizer(stories)
    ids = tok.encode(stories, 64)
    assert story_metrics(tok.decode(ids[0]))["valid"]
    ids[0, 5] = 0
    assert "<pad>" in tok.decode(ids[0])
    assert not story_metrics(tok.decode(ids[0]))["valid"]


def test_word_tokenizer_roundtrip():
    stories = template_stories(20, np.random.default_rng(2))
    tok = WordTokenizer(stories)
    ids = tok.encode(stories, 64)
    assert ids.shape == (20, 64)
    assert tok.decode(ids[3]) == stories[3]


def test_public_domain_text_and_char_tokenizer():
    text = load_public_domain_text()
    assert 10_000 < len(text) < 500_000
    assert text.startswith("First Citizen:")
    tok = CharTokenizer(text)
    ids = tok.encode(text)
    assert tok.decode(ids[:100]) == text[:100]
    rows = chunk_rows(ids, 8, 4)
    np.testing.assert_array_equal(rows[1], ids[4:12])


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_stories"):
        template_stories(0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        template_stories(2, 0)
    with pytest.raises(TypeError, match="story"):
        story_metrics(3)
    with pytest.raises(ValueError, match="texts"):
        WordTokenizer([])
    with pytest.raises(ValueError, match="length"):
        WordTokenizer(["a b"]).encode(["a"], 0)
    with pytest.raises(ValueError, match="text"):
        CharTokenizer("")
    with pytest.raises(ValueError, match="outside"):
        CharTokenizer("abc").encode("abd")
    with pytest.raises(ValueError, match="fewer"):
        chunk_rows(np.arange(3), 5, 1)
    with pytest.raises(ValueError, match="stride"):
        chunk_rows(np.arange(9), 5, 0)


# --------------------------------------------------- reliability review (bad input)


def test_reliability_6_a_string_is_not_a_list_of_texts():
    """WordTokenizer("abc") used to build a character vocabulary."""
    with pytest.raises(TypeError, match="texts must be a list of strings, got a single string"):
        WordTokenizer("once upon a time")
    tok = WordTokenizer(["a b", "c"])
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        tok.encode("a b", 3)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.encode(["a zzz"], 3)


def test_reliability_6_negative_ids_do_not_wrap_around():
    """CharTokenizer.decode([-1]) used to return the last character."""
    tok = CharTokenizer("abc")
    assert tok.decode(np.array([0, 2])) == "ac"
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\)"):
        tok.decode(np.array([0, -1]))
    with pytest.raises(ValueError, match="ids must lie in"):
        WordTokenizer(["a b"]).decode(np.array([1, 3]))

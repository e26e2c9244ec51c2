"""Corpora for next-token prediction that need no download.

* :func:`template_stories`: generated TinyStories-like stories (a named character who
  is re-mentioned, gendered pronouns, optional adjectives and filler sentences), with
  :func:`story_metrics` scoring a generated story for template validity, name
  consistency and pronoun agreement.
* :func:`load_public_domain_text`: the opening of Shakespeare's *Coriolanus* (public
  domain) shipped in ``llmtheory/data``, with the character tokenizer
  :class:`CharTokenizer`.
"""

from __future__ import annotations

import re
from importlib import resources

import numpy as np

from .validation import (
    check_array,
    check_generator,
    check_int,
    check_memory,
    check_str,
    check_str_list,
)

__all__ = [
    "NAMES",
    "WordTokenizer",
    "CharTokenizer",
    "template_stories",
    "story_metrics",
    "load_public_domain_text",
    "chunk_rows",
]

NAMES = {
    "lily": "f",
    "mia": "f",
    "sara": "f",
    "emma": "f",
    "anna": "f",
    "tom": "m",
    "ben": "m",
    "max": "m",
    "sam": "m",
    "leo": "m",
}
_PRONOUN = {"f": ("she", "her"), "m": ("he", "his")}
_NOUN = {"f": "girl", "m": "boy"}
_ADJ = ("little", "happy", "brave", "kind", "small")
_PLACE = ("house", "town", "forest", "village")
_ACTIVITY = ("play", "run", "sing", "read", "draw")
_OBJECT = ("ball", "box", "cat", "dog", "flower", "key")
_FEELING = ("happy", "surprised", "excited", "glad")
_WEATHER = ("warm", "bright", "cold")
_RELATIVE = ("mom", "dad", "friend", "sister")
PAD = "<pad>"


def _alt(words: tuple[str, ...] | list[str]) -> str:
    return "(?:" + "|".join(words) + ")"


def _story_regex() -> re.Pattern[str]:
    """The grammar of :func:`template_stories` as one regular expression."""
    name, adj = _alt(list(NAMES)), _alt(_ADJ)
    pron, poss = _alt(["he", "she"]), _alt(["his", "her"])
    parts = [
        rf"once upon a time there was a (?:{adj} )?{_alt(['girl', 'boy'])} named {name} \.",
        rf" {pron} lived in a (?:{adj} )?{_alt(_PLACE)} \.",
        rf" every day {name} liked to {_alt(_ACTIVITY)} \.",
        rf"(?: the sun was {_alt(_WEATHER)} \.)?",
        rf" one day {name} found a (?:{adj} )?{_alt(_OBJECT)} \.",
        rf" {pron} was very {_alt(_FEELING)} \.",
        rf"(?: {pron} smiled \.)?",
        rf" {name} showed the {_alt(_OBJECT)} to {poss} {_alt(_RELATIVE)} \.",
        r" the end \.",
    ]
    return re.compile("^" + "".join(parts) + "$")


_STORY_RE = _story_regex()


def template_stories(n_stories: int, rng: np.random.Generator) -> list[str]:
    """``n_stories`` random stories from the template grammar (words separated by spaces)."""
    n_stories = check_int(n_stories, "n_stories")
    rng = check_generator(rng, "rng")
    check_memory(600 * n_stories, f"n_stories={n_stories} stories")
    names = list(NAMES)
    stories = []
    for _ in range(n_stories):
        name = names[rng.integers(len(names))]
        g = NAMES[name]
        pron, poss = _PRONOUN[g]

        def pick(words: tuple[str, ...]) -> str:
            return words[rng.integers(len(words))]

        def adj() -> str:
            return f"{pick(_ADJ)} " if rng.random() < 0.5 else ""

        obj = pick(_OBJECT)
        s = [
            f"once upon a time there was a {adj()}{_NOUN[g]} named {name} .",
            f"{pron} lived in a {adj()}{pick(_PLACE)} .",
            f"every day {name} liked to {pick(_ACTIVITY)} .",
            f"the sun was {pick(_WEATHER)} ." if rng.random() < 0.5 else "",
            f"one day {name} found a {adj()}{obj} .",
            f"{pron} was very {pick(_FEELING)} .",
            f"{pron} smiled ." if rng.random() < 0.5 else "",
            f"{name} showed the {obj} to {poss} {pick(_RELATIVE)} .",
            "the end .",
        ]
        stories.append(" ".join(x for x in s if x))
    return stories


def story_metrics(story: str) -> dict[str, bool]:
    """Score one generated story (trailing padding removed).

    * ``valid``: the story is a sentence of the template grammar (a ``<pad>`` inside the
      story, before its last word, makes it invalid);
    * ``names``: every name in it is the first name (the character is re-mentioned);
    * ``pronouns``: every pronoun has the gender of the first name.
    """
    check_str(story, "story")
    words = story.split()
    while words and words[-1] == PAD:  # the padding after the story, not inside it
        words.pop()
    text = " ".join(words)
    names = [w for w in words if w in NAMES]
    pronouns = [w for w in words if w in ("he", "she", "his", "her")]
    first = NAMES[names[0]] if names else None
    return {
        "valid": bool(_STORY_RE.match(text)),
        "names": len(names) >= 2 and len(set(names)) == 1,
        "pronouns": bool(pronouns)
        and first is not None
        and all(p in _PRONOUN[first] for p in pronouns),
    }


def _ids(ids: object, vocab_size: int) -> list[int]:
    """Token ids (any shape, flattened) checked to lie in ``[0, vocab_size)``."""
    ids = check_array(ids, "ids", dtype="integral", allow_empty=True).ravel()
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"ids must lie in [0, {vocab_size}) (the vocabulary), got values from "
            f"{ids.min()} to {ids.max()}"
        )
    return ids.tolist()


class WordTokenizer:
    """Whitespace word tokenizer with a fixed vocabulary built from a corpus (id 0 = pad)."""

    def __init__(self, texts: list[str]) -> None:
        texts = check_str_list(texts, "texts")
        words = sorted({w for t in texts for w in t.split()})
        self.vocab = [PAD, *words]
        self.index = {w: i for i, w in enumerate(self.vocab)}

    def encode(self, texts: list[str], length: int) -> np.ndarray:
        """Ids of ``texts``, right-padded (or cut) to ``length``: shape ``(len(texts), length)``."""
        texts = check_str_list(texts, "texts", allow_empty=True)
        length = check_int(length, "length")
        check_memory(8 * len(texts) * length, f"{len(texts)} rows of length={length}")
        unknown = sorted({w for t in texts for w in t.split()} - self.index.keys())
        if unknown:
            raise ValueError(f"texts has words outside the vocabulary: {unknown[:10]}")
        out = np.zeros((len(texts), length), dtype=np.int64)
        for r, t in enumerate(texts):
            ids = [self.index[w] for w in t.split()][:length]
            out[r, : len(ids)] = ids
        return out

    def decode(self, ids: np.ndarray) -> str:
        """Words of one id row, the trailing padding dropped (a pad inside the row is kept)."""
        ids = _ids(ids, len(self.vocab))
        while ids and ids[-1] == 0:
            ids.pop()
        return " ".join(self.vocab[i] for i in ids)


class CharTokenizer:
    """Character tokenizer over the characters of a text."""

    def __init__(self, text: str) -> None:
        check_str(text, "text", allow_empty=False)
        self.vocab = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.vocab)}

    def encode(self, text: str) -> np.ndarray:
        """Ids of the characters of ``text`` (each must be in the vocabulary)."""
        check_str(text, "text")
        missing = set(text) - set(self.index)
        if missing:
            raise ValueError(f"text has characters outside the vocabulary: {sorted(missing)}")
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids: np.ndarray) -> str:
        """The text of a 1-D id array."""
        return "".join(self.vocab[i] for i in _ids(ids, len(self.vocab)))


def load_public_domain_text() -> str:
    """The opening of Shakespeare's *Coriolanus* (public domain; see ``data/README.md``)."""
    return (resources.files("llmtheory") / "data" / "coriolanus_act1.txt").read_text("utf-8")


def chunk_rows(ids: np.ndarray, length: int, stride: int) -> np.ndarray:
    """Windows ``ids[s : s + length]`` for ``s = 0, stride, 2 stride, ...`` as rows."""
    ids = check_array(ids, "ids", ndim=1, dtype="numeric", allow_empty=True)
    length, stride = check_int(length, "length"), check_int(stride, "stride")
    if ids.size < length:
        raise ValueError(f"ids has {ids.size} tokens, fewer than length={length}")
    n_rows = (ids.size - length) // stride + 1
    check_memory(16 * n_rows * length, f"{n_rows} windows of length={length} (stride={stride})")
    # a stride beyond the stream gives the one window at 0, as any stride > ids.size does
    starts = np.arange(0, ids.size - length + 1, min(stride, ids.size))
    return ids[starts[:, None] + np.arange(length)]

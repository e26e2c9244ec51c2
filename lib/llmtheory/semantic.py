"""Semantic communication on the skill–text graph (chapter 6).

A text is sent as the indices of its skills, as far as the sender has learned them; the
indices cross a binary symmetric channel protected by a Hamming(7,4) code; the receiver reads
them with *its* learned skills. The module also holds the compression baselines the chapter
compares the skill indices with: an exact code of a corpus given the lexicon (an enumerative,
mixed-radix code, the ideal code of a receiver that knows the lexicon) and raw deflate streams
with the lexicon as preset dictionary. Equation labels refer to
``book/part3_emergence/06_emergence_beyond.ipynb`` (``eq-emb-*``).

A corpus of texts is a list of 1-D integer arrays, the skills of each text in order
(:func:`texts_of` reads one from a skill–text graph).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from .emergence import SkillTextGraph, pgf
from .validation import (
    check_array,
    check_bool,
    check_generator,
    check_instance,
    check_int,
    check_memory,
    check_probabilities,
    check_scalar,
    check_str_list,
    describe,
)

__all__ = [
    "binary_symmetric_channel",
    "decode_corpus",
    "deflate_bits",
    "deflate_match_bits",
    "deflate_texts",
    "encode_corpus",
    "end_to_end_success",
    "hamming74_block_success",
    "hamming74_decode",
    "hamming74_encode",
    "lexicon_zdict",
    "parse_texts",
    "raw_link",
    "semantic_link",
    "texts_of",
]

ZLIB_WINDOW = 32768  # bytes of history (and of preset dictionary) zlib keeps
ZLIB_MAX_DIST = ZLIB_WINDOW - 262  # the farthest match zlib emits (its MAX_DIST: window - 258 - 4)
ZDICT_SIZE = ZLIB_MAX_DIST - 256  # so that a text of up to 256 bytes reaches the whole dictionary


# ----------------------------------------------------------------------------- validation
def _check_corpus(texts: object, name: str = "texts") -> tuple[list[np.ndarray], np.ndarray]:
    """A non-empty list of non-empty 1-D arrays of distinct non-negative skill indices.

    Returns the texts as int64 arrays and the text each skill slot belongs to.
    """
    if isinstance(texts, (str, bytes, np.ndarray)) or not isinstance(texts, Sequence):
        raise TypeError(f"{name} must be a list of 1-D integer arrays, got {describe(texts)}")
    if len(texts) == 0:
        raise ValueError(f"{name} must hold at least one text, got an empty list")
    out = [
        t.astype(np.int64, copy=False)
        if isinstance(t, np.ndarray) and t.ndim == 1 and t.dtype.kind in "iu" and t.size
        else check_array(t, f"{name}[{i}]", ndim=1, dtype="integral")
        for i, t in enumerate(texts)
    ]
    flat = np.concatenate(out)
    owner = np.repeat(np.arange(len(out)), [t.size for t in out])
    if flat.min() < 0:
        raise ValueError(f"{name} must hold non-negative skill indices, got {flat.min()}")
    order = np.lexsort((flat, owner))
    dup = (flat[order][1:] == flat[order][:-1]) & (owner[order][1:] == owner[order][:-1])
    if dup.any():
        raise ValueError(f"{name}[{owner[order][1:][dup][0]}] must hold distinct skills")
    return out, owner


def _check_sizes(sizes: object) -> np.ndarray:
    s = check_array(sizes, "sizes", ndim=1, dtype="integral")
    if s.min() < 1 or np.unique(s).size != s.size:
        raise ValueError(f"sizes must hold distinct text sizes >= 1, got {s.tolist()}")
    return np.sort(s)


def _check_bits(bits: object, name: str, width: int) -> np.ndarray:
    b = check_array(bits, name, dtype="integral", allow_empty=True)
    if b.ndim == 0 or b.shape[-1] != width:
        raise ValueError(f"{name} must have a last axis of length {width}, got shape {b.shape}")
    if np.any((b != 0) & (b != 1)):
        raise ValueError(f"{name} must hold bits (0 or 1)")
    return b.astype(np.uint8)


def _check_eta(eta: object) -> float:
    return check_scalar(eta, "eta", minimum=0.0, maximum=1.0)


# ------------------------------------------------------------------------ texts and lexicon
def texts_of(graph: SkillTextGraph) -> list[np.ndarray]:
    """The skills of each text of ``graph``, in the order the edges list them."""
    check_instance(graph, "graph", SkillTextGraph, "a SkillTextGraph")
    order = np.argsort(graph.text, kind="stable")
    ends = np.cumsum(np.bincount(graph.text, minlength=graph.n_texts))
    return np.split(graph.skill[order].astype(np.int64), ends[:-1])


def parse_texts(texts: Sequence[str], lexicon: Sequence[str]) -> list[np.ndarray]:
    """Invert ``render_text``: the skill indices of each surface text, read with the lexicon.

    A receiver that knows the lexicon recovers the skills exactly iff the phrases are
    distinct (the lexicon is a bijection), which is what makes the ideal code given the
    lexicon equal to the semantic code (eq-emb-rate).
    """
    texts = check_str_list(texts, "texts")
    lexicon = check_str_list(lexicon, "lexicon")
    index = {p: i for i, p in enumerate(lexicon)}
    if len(index) != len(lexicon):
        raise ValueError("lexicon must hold distinct phrases: a repeated one is ambiguous")
    out = []
    for i, text in enumerate(texts):
        if not text.endswith("."):
            raise ValueError(f"texts[{i}] must end with '.', as render_text writes it")
        phrases = text[:-1].split(", ")
        missing = [p for p in phrases if p not in index]
        if missing:
            raise ValueError(f"texts[{i}] holds a phrase not in the lexicon: {missing[0]!r}")
        out.append(np.array([index[p] for p in phrases], dtype=np.int64))
    return out


def lexicon_zdict(lexicon: Sequence[str], size: int = ZDICT_SIZE) -> tuple[bytes, int]:
    """Preset dictionary of at most ``size`` bytes: the last phrases of the lexicon.

    Phrases are written as ``render_text`` separates them, ``", phrase, phrase, ..."``: the
    leading separator keeps the first phrase off window position 0, which zlib never matches
    (0 marks an empty hash chain). zlib matches reach back at most ``ZLIB_MAX_DIST`` = 32506
    bytes, so a longer dictionary would waste its head; the default leaves room for a text of
    256 bytes. Returns the dictionary and the index of the first skill whose phrase it holds;
    the skills from there to the end are *in the window* (eq-emb-deflate).
    """
    lexicon = check_str_list(lexicon, "lexicon")
    size = check_int(size, "size", 1, maximum=ZLIB_WINDOW)
    lengths = np.array([len(p.encode()) + 2 for p in lexicon])
    tail = 2 + np.cumsum(lengths[::-1])
    count = int(np.searchsorted(tail, size, side="right"))
    if count == 0:
        raise ValueError(f"size must hold at least one phrase ({tail[0]} bytes), got {size}")
    first = len(lexicon) - count
    return (", " + "".join(p + ", " for p in lexicon[first:])).encode(), first


def deflate_texts(texts: Sequence[str], zdict: bytes | None = None, level: int = 9) -> list[bytes]:
    """Each text compressed alone as a raw deflate stream (no zlib header/checksum).

    With ``zdict`` every text is compressed with that preset dictionary (eq-emb-deflate).
    """
    texts = check_str_list(texts, "texts")
    if zdict is not None and not isinstance(zdict, bytes):
        raise TypeError(f"zdict must be bytes or None, got {describe(zdict)}")
    if zdict == b"":
        raise ValueError("zdict must not be empty (use None for no dictionary)")
    level = check_int(level, "level", 0, maximum=9)
    extra = {} if zdict is None else {"zdict": zdict}
    out = []
    for text in texts:
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, **extra)
        out.append(c.compress(text.encode()) + c.flush())
    return out


def deflate_bits(texts: Sequence[str], zdict: bytes | None = None, level: int = 9) -> np.ndarray:
    """Bits of each text compressed alone by :func:`deflate_texts` (eq-emb-deflate)."""
    return 8 * np.array([len(c) for c in deflate_texts(texts, zdict, level)], dtype=np.int64)


def deflate_match_bits(length: np.ndarray, distance: np.ndarray) -> np.ndarray:
    r"""Bits of one match in a deflate block with the fixed Huffman code (RFC 1951, eq-emb-deflate).

    A length symbol of 7 bits (8 for lengths of 115 or more) with
    :math:`\lfloor\log_2(L-3)\rfloor-2` extra bits (none for :math:`L\le10` and
    :math:`L=258`), and a 5-bit distance symbol with :math:`\lfloor\log_2(d-1)\rfloor-1`
    extra bits (none for :math:`d\le4`).
    """
    L = check_array(length, "length", dtype="integral", allow_empty=True)
    d = check_array(distance, "distance", dtype="integral", allow_empty=True)
    try:
        L, d = np.broadcast_arrays(L, d)
    except ValueError:
        raise ValueError(
            f"length and distance must broadcast together, got shapes {L.shape} and {d.shape}"
        ) from None
    if np.any((L < 3) | (L > 258)):
        raise ValueError("length must lie in [3, 258], the match lengths of deflate")
    if np.any((d < 1) | (d > ZLIB_WINDOW)):
        raise ValueError(f"distance must lie in [1, {ZLIB_WINDOW}], the distances of deflate")
    plain = (L <= 10) | (L == 258)
    length_extra = np.where(plain, 0, np.floor(np.log2(np.maximum(L - 3, 1))) - 2)
    dist_extra = np.where(d <= 4, 0, np.floor(np.log2(np.maximum(d - 1, 1))) - 1)
    return (np.where(L <= 114, 7, 8) + length_extra + 5 + dist_extra).astype(np.int64)


# ------------------------------------------------------------- ideal code given the lexicon
def _digits(texts: list[np.ndarray], n_skills: int, sizes: np.ndarray):
    """Mixed-radix digits of a corpus: the size of each text, then its skills' ranks."""
    for t, skills in enumerate(texts):
        where = np.flatnonzero(sizes == skills.size)
        if where.size == 0:
            raise ValueError(f"texts[{t}] has {skills.size} skills, not one of sizes")
        if skills.max() >= n_skills:
            raise ValueError(f"texts[{t}] holds a skill >= n_skills ({n_skills})")
        yield int(where[0]), sizes.size
        for j, s in enumerate(skills.tolist()):
            # rank of s among the skills not yet named in this text
            yield s - int(np.sum(skills[:j] < s)), n_skills - j


def encode_corpus(
    texts: Sequence[np.ndarray], n_skills: int, sizes: Sequence[int]
) -> tuple[int, int]:
    """The exact code of a corpus for a receiver that knows the lexicon (eq-emb-rate).

    Each text is its size (one of ``sizes``, equally likely) and the ranks of its ordered,
    distinct skills, digits of radix ``len(sizes)``, ``N_s``, ``N_s - 1``, ...; the corpus is
    the integer these digits spell in mixed radix. Returns the code and its length in bits,
    ``ceil(log2 prod(radices))``: less than one bit above the sum of the texts' ideal code
    lengths ``log2 len(sizes) + log2 N_s!/(N_s - k)!``.
    """
    texts, _ = _check_corpus(texts)
    n_skills = check_int(n_skills, "n_skills", 1)
    sizes = _check_sizes(sizes)
    if sizes.max() > n_skills:
        raise ValueError(f"sizes must not exceed n_skills ({n_skills}), got {sizes.max()}")
    digits = list(_digits(texts, n_skills, sizes))
    code, product = 0, 1
    for d, r in reversed(digits):  # the first digit is the least significant
        code = code * r + d
        product *= r
    return code, (product - 1).bit_length()


def decode_corpus(code: int, n_texts: int, n_skills: int, sizes: Sequence[int]) -> list[np.ndarray]:
    """Invert :func:`encode_corpus`: the ``n_texts`` texts that ``code`` spells."""
    code = check_int(code, "code", 0)
    n_texts = check_int(n_texts, "n_texts", 1)
    n_skills = check_int(n_skills, "n_skills", 1)
    sizes = _check_sizes(sizes)
    if sizes.max() > n_skills:
        raise ValueError(f"sizes must not exceed n_skills ({n_skills}), got {sizes.max()}")
    check_memory(8 * n_texts * int(sizes.max()), f"{n_texts} decoded texts (n_texts, sizes)")
    texts = []
    for _ in range(n_texts):
        code, d = divmod(code, sizes.size)
        skills: list[int] = []
        for j in range(int(sizes[d])):
            code, rank = divmod(code, n_skills - j)
            s = rank
            for prev in sorted(skills):  # the rank-th skill not yet named
                s += prev <= s
            skills.append(s)
        texts.append(np.array(skills, dtype=np.int64))
    if code:
        raise ValueError(f"code holds more than n_texts ({n_texts}) texts")
    return texts


# ---------------------------------------------------------------------------- the channel
_G = np.array(  # generator of Hamming(7,4): codeword positions 1..7, parity at 1, 2, 4
    [
        [1, 1, 1, 0, 0, 0, 0],
        [1, 0, 0, 1, 1, 0, 0],
        [0, 1, 0, 1, 0, 1, 0],
        [1, 1, 0, 1, 0, 0, 1],
    ],
    dtype=np.uint8,
)
_H = (np.arange(1, 8)[None, :] >> np.arange(3)[:, None]) & 1  # column j: binary of j + 1
_DATA = np.array([2, 4, 5, 6])  # positions 3, 5, 6, 7 carry the data bits


def hamming74_encode(data: np.ndarray) -> np.ndarray:
    """Hamming(7,4) codewords of the 4-bit blocks on the last axis of ``data`` (eq-emb-hamming)."""
    d = _check_bits(data, "data", 4)
    return (d @ _G % 2).astype(np.uint8)


def hamming74_decode(received: np.ndarray) -> np.ndarray:
    """Syndrome decoding: the syndrome is the position of a single flipped bit (eq-emb-hamming)."""
    r = _check_bits(received, "received", 7).copy()
    pos = (r @ _H.T % 2) @ np.array([1, 2, 4])  # 0: no error seen
    rows = np.flatnonzero(pos.reshape(-1))
    flat = r.reshape(-1, 7)
    flat[rows, pos.reshape(-1)[rows] - 1] ^= 1
    return flat.reshape(r.shape)[..., _DATA]


def hamming74_block_success(eta: float | np.ndarray) -> np.ndarray:
    r"""Probability that a block decodes right on a BSC(``eta``): at most one of 7 bits flips.

    :math:`(1-\eta)^7 + 7\eta(1-\eta)^6` (eq-emb-hamming): the code is perfect, so two or
    more flips always decode to another codeword.
    """
    eta = check_array(eta, "eta", allow_empty=True)
    if np.any((eta < 0) | (eta > 1)):
        raise ValueError("eta must lie in [0, 1]")
    return (1 - eta) ** 7 + 7 * eta * (1 - eta) ** 6


def binary_symmetric_channel(bits: np.ndarray, eta: float, rng: np.random.Generator) -> np.ndarray:
    """Flip each bit independently with probability ``eta``."""
    b = check_array(bits, "bits", dtype="integral", allow_empty=True)
    if np.any((b != 0) & (b != 1)):
        raise ValueError("bits must hold bits (0 or 1)")
    eta = _check_eta(eta)
    rng = check_generator(rng, "rng")
    check_memory(9 * b.size, f"a channel block of {b.size} bits (bits)")
    return (b.astype(np.uint8) ^ (rng.random(b.shape) < eta)).astype(np.uint8)


def _send_blocks(bits: np.ndarray, eta: float, rng: np.random.Generator) -> np.ndarray:
    """Bits (rows of 4k) through Hamming(7,4) and the channel, decoded."""
    blocks = bits.reshape(bits.shape[0], -1, 4)
    received = binary_symmetric_channel(hamming74_encode(blocks), eta, rng)
    return hamming74_decode(received).reshape(bits.shape)


# -------------------------------------------------------------------------- the two links
def semantic_link(
    texts: Sequence[np.ndarray],
    n_skills: int,
    sender: np.ndarray,
    receiver: np.ndarray,
    eta: float,
    rng: np.random.Generator,
    per_skill: bool = False,
) -> np.ndarray:
    r"""Send each text as its skill indices; True where the receiver understands it.

    The sender encodes a text only if it has learned all its skills; each index is a word
    of :math:`4\lceil \log_2 N_s / 4\rceil` bits sent as Hamming(7,4) blocks over a
    BSC(``eta``); the receiver understands the text iff every index arrives intact and it
    has learned every skill (eq-emb-e2e). With ``per_skill`` the result has one flag per
    skill slot of the concatenated texts instead: True where that skill is learned by both
    ends and its index arrives intact (the per-skill fidelity, :math:`\ell_{AB}c`).
    """
    texts, owner = _check_corpus(texts)
    n_skills = check_int(n_skills, "n_skills", 2)
    sender = check_array(sender, "sender", dtype="bool", ndim=1)
    receiver = check_array(receiver, "receiver", dtype="bool", ndim=1)
    if sender.size != n_skills or receiver.size != n_skills:
        raise ValueError(
            f"sender and receiver must hold one flag per skill, n_skills = {n_skills}, got "
            f"{sender.size} and {receiver.size}"
        )
    eta = _check_eta(eta)
    rng = check_generator(rng, "rng")
    per_skill = check_bool(per_skill, "per_skill")
    skills = np.concatenate(texts)
    if skills.max() >= n_skills:
        raise ValueError(f"texts must hold skills below n_skills ({n_skills})")
    width = 4 * -(-int(np.ceil(np.log2(n_skills))) // 4)
    check_memory(40 * skills.size * width, f"{skills.size} indices of {width} bits (texts)")
    bits = ((skills[:, None] >> np.arange(width)[None, :]) & 1).astype(np.uint8)
    got = _send_blocks(bits, eta, rng).astype(np.int64) @ (1 << np.arange(width))
    ok = (got == skills) & sender[skills] & receiver[skills]
    if per_skill:
        return ok
    return np.bincount(owner, weights=~ok, minlength=len(texts)) == 0


def raw_link(
    texts: Sequence[str] | Sequence[bytes], eta: float, rng: np.random.Generator
) -> np.ndarray:
    """Send each text as 8 bits a byte, Hamming(7,4)-coded; True where it arrives intact.

    ``texts`` are surface texts (sent as UTF-8) or byte strings, such as compressed texts.
    A byte is two blocks, so a text of :math:`n` bytes arrives with probability
    :math:`P_{block}^{2n}` (eq-emb-raw).
    """
    if (
        isinstance(texts, Sequence)
        and not isinstance(texts, (str, bytes))
        and len(texts)
        and all(isinstance(t, bytes) for t in texts)
    ):
        payloads = list(texts)
    else:
        payloads = [t.encode() for t in check_str_list(texts, "texts")]
    eta = _check_eta(eta)
    rng = check_generator(rng, "rng")
    data = [np.frombuffer(t, dtype=np.uint8) for t in payloads]
    sizes = np.array([d.size for d in data])
    if sizes.min() == 0:
        raise ValueError("texts must not hold an empty string")
    check_memory(40 * 8 * sizes.sum(), f"{sizes.sum()} bytes of text (texts)")
    flat = np.concatenate(data)
    bits = np.unpackbits(flat)[None, :]
    wrong = (_send_blocks(bits, eta, rng)[0] != bits[0]).reshape(-1, 8).any(axis=1)
    owner = np.repeat(np.arange(len(texts)), sizes)
    return np.bincount(owner, weights=wrong, minlength=len(texts)) == 0


def end_to_end_success(
    test_degrees: np.ndarray, known: float | np.ndarray, index_success: float | np.ndarray
) -> np.ndarray:
    r"""Probability that a text is understood: :math:`\Psi_{test}(\ell_{AB}\,c)` (eq-emb-e2e).

    ``known`` is the probability :math:`\ell_{AB}` that both sender and receiver have
    learned a given skill, ``index_success`` the probability :math:`c` that its index
    crosses the channel intact; a text of :math:`k` skills needs all :math:`k` of both.
    """
    c = check_probabilities(test_degrees, "test_degrees", min_size=2)
    known = check_array(known, "known", allow_empty=True)
    index_success = check_array(index_success, "index_success", allow_empty=True)
    for name, v in (("known", known), ("index_success", index_success)):
        if np.any((v < 0) | (v > 1)):
            raise ValueError(f"{name} must lie in [0, 1]")
    return pgf(c, known * index_success)

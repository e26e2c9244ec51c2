"""Tests for llmtheory.semantic: the code given the lexicon, deflate, Hamming(7,4), the links."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmtheory import emergence as em
from llmtheory import semantic as sc

LEXICON = ["ba de", "fi go", "ku la", "me no", "pu ra"]


# ------------------------------------------------------------------------ texts and lexicon
def test_texts_of_groups_edges_by_text_in_order():
    graph = em.SkillTextGraph(4, 3, np.array([2, 0, 3, 1, 0]), np.array([1, 0, 1, 2, 2]))
    texts = sc.texts_of(graph)
    assert [t.tolist() for t in texts] == [[0], [2, 3], [1, 0]]


def test_texts_of_keeps_empty_texts():
    graph = em.SkillTextGraph(2, 3, np.array([1]), np.array([2]))
    assert [t.tolist() for t in sc.texts_of(graph)] == [[], [], [1]]


def test_parse_texts_inverts_render_text():
    rng = np.random.default_rng(0)
    lexicon = em.make_lexicon(50, rng)
    texts = [rng.choice(50, size=k, replace=False) for k in (1, 3, 5)]
    parsed = sc.parse_texts([em.render_text(t, lexicon) for t in texts], lexicon)
    assert all(np.array_equal(a, b) for a, b in zip(parsed, texts, strict=True))


def test_parse_texts_refuses_ambiguous_or_unknown_phrases():
    with pytest.raises(ValueError, match="lexicon must hold distinct"):
        sc.parse_texts(["ba de."], ["ba de", "ba de"])
    with pytest.raises(ValueError, match="texts\\[0\\] holds a phrase not in the lexicon"):
        sc.parse_texts(["zz zz."], LEXICON)
    with pytest.raises(ValueError, match="must end with"):
        sc.parse_texts(["ba de"], LEXICON)


def test_lexicon_zdict_holds_the_last_phrases_within_size():
    zdict, first = sc.lexicon_zdict(LEXICON, size=20)
    assert zdict == b", me no, pu ra, "
    assert first == 3
    assert len(zdict) <= 20
    assert len(sc.lexicon_zdict(LEXICON, size=21)[0]) <= 21
    assert sc.lexicon_zdict(LEXICON, size=200) == ((", " + ", ".join(LEXICON) + ", ").encode(), 0)
    with pytest.raises(ValueError, match="size must hold at least one phrase"):
        sc.lexicon_zdict(LEXICON, size=5)


def test_default_zdict_reaches_every_phrase_from_a_long_text():
    lexicon = em.make_lexicon(5000, np.random.default_rng(1))
    zdict, first = sc.lexicon_zdict(lexicon)
    assert len(zdict) + 256 <= sc.ZLIB_MAX_DIST
    assert len(zdict) + len(lexicon[first - 1]) + 2 > sc.ZDICT_SIZE  # one more would not fit


# ------------------------------------------------------------------------------- deflate
def test_deflate_bits_matches_a_raw_deflate_stream():
    texts = ["ba de, fi go.", "ku la."]
    for zdict in (None, b", ba de, fi go, "):
        extra = {} if zdict is None else {"zdict": zdict}
        want = []
        for t in texts:
            c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, **extra)
            want.append(8 * len(c.compress(t.encode()) + c.flush()))
        assert sc.deflate_bits(texts, zdict).tolist() == want


def test_deflate_with_dictionary_decompresses_and_shrinks():
    text = "ba de, fi go."
    zdict = b", ba de, fi go, "
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, zdict=zdict)
    data = c.compress(text.encode()) + c.flush()
    d = zlib.decompressobj(-15, zdict=zdict)
    assert d.decompress(data).decode() == text
    assert sc.deflate_bits([text], zdict)[0] < sc.deflate_bits([text])[0]


@pytest.mark.parametrize(
    ("length", "distance", "bits"),
    [
        (3, 1, 12),  # symbol 257 (7 bits), distance code 0 (5 bits), no extra bits
        (10, 4, 12),
        (11, 5, 14),  # 1 extra length bit, 1 extra distance bit
        (29, 16385, 27),  # 2 extra length bits, 13 extra distance bits
        (114, 8, 17),  # symbol 279 (7 bits) + 4 extra; distance 5-8: 1 extra
        (115, 9, 19),  # symbol 280 (8 bits) + 4 extra; distance 9-16: 2 extra
        (257, 32768, 31),  # symbol 284 (8 bits) + 5 extra; 13 extra
        (258, 2, 13),  # symbol 285 (8 bits), no extra bits
    ],
)
def test_deflate_match_bits_follows_rfc1951(length, distance, bits):
    assert sc.deflate_match_bits(np.array([length]), np.array([distance])).tolist() == [bits]


def test_deflate_prediction_is_exact_for_texts_in_the_window():
    rng = np.random.default_rng(3)
    lexicon = em.make_lexicon(4000, rng)
    zdict, first = sc.lexicon_zdict(lexicon)
    offset = 2 + np.concatenate([[0], np.cumsum([len(p) + 2 for p in lexicon[first:]])])
    for _ in range(60):
        skills = rng.choice(np.arange(first, 4000), size=int(rng.integers(1, 6)), replace=False)
        lengths = np.array([len(lexicon[s]) + 2 for s in skills])
        start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        lengths[-1] -= 2
        distance = len(zdict) + start - offset[skills - first]
        want = 8 * math.ceil((3 + sc.deflate_match_bits(lengths, distance).sum() + 15) / 8)
        assert sc.deflate_bits([em.render_text(skills, lexicon)], zdict)[0] == want


# ------------------------------------------------------------- the code given the lexicon
corpora = st.integers(2, 40).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.lists(st.integers(0, n - 1), min_size=1, max_size=min(n, 3), unique=True),
            min_size=1,
            max_size=8,
        ),
    )
)


@settings(max_examples=60, deadline=None)
@given(corpora)
def test_corpus_code_round_trips_and_is_within_one_bit_of_ideal(case):
    n_skills, lists = case
    texts = [np.array(t) for t in lists]
    sizes = sorted({t.size for t in texts} | {1})
    code, n_bits = sc.encode_corpus(texts, n_skills, sizes)
    assert code < 2**n_bits or n_bits == 0
    decoded = sc.decode_corpus(code, len(texts), n_skills, sizes)
    assert all(np.array_equal(a, b) for a, b in zip(decoded, texts, strict=True))
    ideal = sum(math.log2(len(sizes)) + em.semantic_code_bits(n_skills, t.size) for t in texts)
    assert ideal - 1e-9 <= n_bits < ideal + 1 + 1e-9


def test_corpus_code_is_a_bijection_on_a_small_space():
    # every ordered pair of distinct skills out of 4 gets its own code in [0, 12)
    texts = [np.array([a, b]) for a in range(4) for b in range(4) if a != b]
    codes = sorted(sc.encode_corpus([t], 4, [2])[0] for t in texts)
    assert codes == list(range(12))


def test_corpus_code_refuses_what_it_cannot_encode():
    with pytest.raises(ValueError, match="not one of sizes"):
        sc.encode_corpus([np.array([0, 1])], 4, [1])
    with pytest.raises(ValueError, match="texts\\[0\\] holds a skill >= n_skills"):
        sc.encode_corpus([np.array([5])], 4, [1])
    with pytest.raises(ValueError, match="distinct skills"):
        sc.encode_corpus([np.array([1, 1])], 4, [2])
    with pytest.raises(ValueError, match="code holds more than n_texts"):
        sc.decode_corpus(10**6, 1, 4, [1])


# ---------------------------------------------------------------------------- the channel
def test_hamming_codewords_have_zero_syndrome_and_distance_three():
    messages = ((np.arange(16)[:, None] >> np.arange(4)) & 1).astype(np.uint8)
    words = sc.hamming74_encode(messages)
    assert np.array_equal(sc.hamming74_decode(words), messages)
    dist = (words[:, None, :] != words[None, :, :]).sum(-1)
    assert dist[~np.eye(16, dtype=bool)].min() == 3


def test_hamming_corrects_single_flips_and_fails_on_double_flips():
    messages = ((np.arange(16)[:, None] >> np.arange(4)) & 1).astype(np.uint8)
    words = sc.hamming74_encode(messages)
    eye = np.eye(7, dtype=np.uint8)
    for i in range(7):
        assert np.array_equal(sc.hamming74_decode(words ^ eye[i]), messages)
        for j in range(i):
            wrong = (sc.hamming74_decode(words ^ eye[i] ^ eye[j]) != messages).any(axis=1)
            assert wrong.all()


def test_block_success_values():
    assert sc.hamming74_block_success(0.0) == 1.0
    assert sc.hamming74_block_success(1.0) == 0.0
    assert math.isclose(sc.hamming74_block_success(0.5), 8 / 128)  # 8 of 128 words decode right


def test_bsc_flip_rate_and_extremes():
    rng = np.random.default_rng(4)
    bits = rng.integers(0, 2, size=100_000)
    assert np.array_equal(sc.binary_symmetric_channel(bits, 0.0, rng), bits)
    assert np.array_equal(sc.binary_symmetric_channel(bits, 1.0, rng), 1 - bits)
    flips = (sc.binary_symmetric_channel(bits, 0.1, rng) != bits).mean()
    assert abs(flips - 0.1) < 4 * math.sqrt(0.09 / bits.size)


# -------------------------------------------------------------------------- the two links
def test_semantic_link_noiseless_is_the_all_learned_test():
    texts = [np.array([0, 1]), np.array([2]), np.array([1, 3])]
    everyone = np.ones(4, dtype=bool)
    missing = np.array([True, True, True, False])
    rng = np.random.default_rng(5)
    assert sc.semantic_link(texts, 4, everyone, everyone, 0.0, rng).tolist() == [1, 1, 1]
    assert sc.semantic_link(texts, 4, missing, everyone, 0.0, rng).tolist() == [1, 1, 0]
    assert sc.semantic_link(texts, 4, everyone, missing, 0.0, rng).tolist() == [1, 1, 0]
    assert not sc.semantic_link(texts, 4, everyone, everyone, 1.0, rng).any()


def test_semantic_link_matches_the_composition():
    rng = np.random.default_rng(6)
    n_skills, eta = 500, 0.02
    psi = np.array([0.0, 0.5, 0.0, 0.5])
    texts = sc.texts_of(em.sample_e2(n_skills, 40.0, psi, rng))
    sender, receiver = rng.random(n_skills) < 0.8, rng.random(n_skills) < 0.7
    ok = sc.semantic_link(texts, n_skills, sender, receiver, eta, rng)
    c = sc.hamming74_block_success(eta) ** 3  # 12 bits per index, three blocks
    p = sc.end_to_end_success(psi, (sender & receiver).mean(), c)
    slack = 0.5 * 3 * 2 / (2 * (n_skills - 3))  # distinct skills per text
    assert abs(ok.mean() - p) < 4 * math.sqrt(p * (1 - p) / ok.size) + slack


def test_raw_link_matches_block_success_per_byte():
    rng = np.random.default_rng(7)
    texts = ["ba de, fi go."] * 4000
    ok = sc.raw_link(texts, 0.02, rng)
    p = float(sc.hamming74_block_success(0.02)) ** (2 * len(texts[0]))
    assert abs(ok.mean() - p) < 4 * math.sqrt(p * (1 - p) / ok.size)
    assert sc.raw_link(texts[:3], 0.0, rng).all()


def test_end_to_end_success_is_the_pgf_and_beats_the_product():
    psi = np.array([0.0, 0.5, 0.0, 0.0, 0.0, 0.5])
    assert math.isclose(sc.end_to_end_success(psi, 0.5, 0.9), em.pgf(psi, 0.45))
    assert sc.end_to_end_success(psi, 0.5, 0.9) > em.pgf(psi, 0.5) * em.pgf(psi, 0.9)
    fixed = np.array([0.0, 0.0, 0.0, 1.0])
    assert math.isclose(
        sc.end_to_end_success(fixed, 0.5, 0.9), em.pgf(fixed, 0.5) * em.pgf(fixed, 0.9)
    )


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (
            lambda: sc.semantic_link(
                [np.array([0])],
                3,
                np.ones(2, bool),
                np.ones(3, bool),
                0.1,
                np.random.default_rng(0),
            ),
            "n_skills",
        ),
        (
            lambda: sc.semantic_link(
                [np.array([0])],
                3,
                np.ones(3, bool),
                np.ones(3, bool),
                1.5,
                np.random.default_rng(0),
            ),
            "eta",
        ),
        (lambda: sc.hamming74_encode(np.array([[0, 1, 2, 0]])), "data"),
        (lambda: sc.hamming74_decode(np.zeros((2, 6))), "received"),
        (lambda: sc.deflate_bits(["a."], zdict="a"), "zdict"),
        (lambda: sc.decode_corpus(-1, 1, 4, [1]), "code"),
        (lambda: sc.end_to_end_success(np.array([0.0, 1.0]), 1.5, 0.5), "known"),
        (lambda: sc.deflate_match_bits(np.array([2]), np.array([1])), "length"),
        (lambda: sc.raw_link([""], 0.1, np.random.default_rng(0)), "texts"),
    ],
)
def test_errors_name_the_parameter(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()


# ----------------------------------------------------- compressed payloads, per-skill fidelity
def test_deflate_texts_round_trip_and_match_deflate_bits():
    zdict = b", ba de, fi go, "
    texts = ["ba de, fi go.", "ku la."]
    packed = sc.deflate_texts(texts, zdict)
    for t, p in zip(texts, packed, strict=True):
        d = zlib.decompressobj(-15, zdict=zdict)
        assert (d.decompress(p) + d.flush()).decode() == t
    assert sc.deflate_bits(texts, zdict).tolist() == [8 * len(p) for p in packed]


def test_raw_link_sends_bytes_like_their_text():
    texts = ["ba de, fi go.", "ku la."]
    a = sc.raw_link(texts, 0.05, np.random.default_rng(3))
    b = sc.raw_link([t.encode() for t in texts], 0.05, np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert sc.raw_link([b"\x00\xff"], 0.0, np.random.default_rng(0)).all()


def test_semantic_link_per_skill_flags_each_slot():
    texts = [np.array([0, 1]), np.array([2])]
    sender = np.array([True, True, False])
    ok = sc.semantic_link(texts, 3, sender, np.ones(3, bool), 0.0, np.random.default_rng(0), True)
    assert ok.tolist() == [True, True, False]
    with pytest.raises(TypeError, match="per_skill"):
        sc.semantic_link(texts, 3, sender, sender, 0.0, np.random.default_rng(0), per_skill=1.5)


def test_encode_corpus_length_within_one_bit_of_ideal_lengths():
    # ceil(log2 prod radices) lies in [sum of log2 radices, that sum + 1) by construction
    rng = np.random.default_rng(5)
    texts = [rng.choice(200, size=int(k), replace=False) for k in rng.choice([1, 5], 300)]
    _, bits = sc.encode_corpus(texts, 200, (1, 5))
    ideal = sum(1 + em.semantic_code_bits(200, t.size) for t in texts)
    assert ideal - 1e-6 <= bits < ideal + 1

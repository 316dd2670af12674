"""Alignment counts and backtraces on known examples."""
from __future__ import annotations

import editdistance
import numpy as np
import pytest

from speechssl.scoring import ErrorCounts, align
from speechssl.utils.errors import SpeechSSLError


def ops(a):
    return "".join(p[0] for p in a.pairs)


def test_known_alignments():
    a = align("a b c d".split(), "a x c".split())
    assert a.pairs == (("C", "a", "a"), ("S", "b", "x"), ("C", "c", "c"), ("D", "d", None))
    c = a.counts
    assert (c.corr, c.sub, c.dele, c.ins, c.ref_len, c.errors) == (2, 1, 1, 0, 4, 2)
    assert c.error_rate == pytest.approx(50.0)
    assert ops(align("e f".split(), "e y f".split())) == "CIC"
    assert ops(align([], "x y".split())) == "II"
    assert ops(align("x y".split(), [])) == "DD"
    assert align([], []).counts == ErrorCounts(sentences=1)
    # a shift: two correct words kept, one deletion and one insertion
    assert align("a b c d e".split(), "c d e x y".split()).counts == ErrorCounts(3, 0, 2, 2, 1, 1)


def test_sclite_and_levenshtein_costs_differ_where_expected():
    # 5 substitutions (cost 20 under sclite) vs 3 deletions + 3 insertions (cost 18): sclite prefers the latter
    ref, hyp = "a b c d e".split(), "d e x y z".split()
    lev = align(ref, hyp, "levenshtein").counts
    scl = align(ref, hyp, "sclite").counts
    assert lev.errors == editdistance.eval(ref, hyp) == 5 and lev.sub == 5
    assert (scl.corr, scl.sub, scl.dele, scl.ins) == (2, 0, 3, 3)
    # equal cost under sclite (3 substitutions = 2 deletions + 2 insertions): fewer edits win
    assert align("a b c".split(), "x y a".split()).counts == ErrorCounts(0, 3, 0, 0, 1, 1)
    with pytest.raises(SpeechSSLError, match="unknown alignment costs 'foo'"):
        align(["a"], ["a"], "foo")


def test_levenshtein_matches_editdistance_and_backtrace_is_consistent():
    rng = np.random.default_rng(0)
    for _ in range(200):
        ref = list(rng.choice(list("abcd"), rng.integers(0, 12)))
        hyp = list(rng.choice(list("abcde"), rng.integers(0, 12)))
        for costs in ("levenshtein", "sclite"):
            a = align(ref, hyp, costs)
            assert [r for _, r, _ in a.pairs if r is not None] == ref
            assert [h for _, _, h in a.pairs if h is not None] == hyp
            assert all((op == "C") == (r == h) for op, r, h in a.pairs)
            if costs == "levenshtein":
                assert a.counts.errors == editdistance.eval(ref, hyp)

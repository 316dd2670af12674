"""Prefix beam search: equals greedy at beam 1 without LM, and a phone n-gram resolves ambiguous acoustics."""
from __future__ import annotations

import numpy as np
import pytest

from speechssl.decoding import BeamConfig, OutputTokens, beam_search, greedy_decode, normalize_logprobs
from speechssl.text.lm import build_arpa, load_lm
from speechssl.utils.errors import SpeechSSLError

PHONES = ["a", "b", "c", "d", "<SIL>"]


def frames(tokens: OutputTokens, rows: list[dict[str, float]]) -> np.ndarray:
    """Frames with the given probabilities, the rest of each frame spread over the other columns."""
    m = np.zeros((len(rows), tokens.size))
    for t, row in enumerate(rows):
        rest = [v for v in range(tokens.size) if tokens.symbols[v] not in row]
        m[t, rest] = (1.0 - sum(row.values())) / len(rest)
        for s, p in row.items():
            m[t, tokens.symbols.index(s)] = p
    return normalize_logprobs(np.log(m), tokens)


@pytest.fixture(scope="module")
def phone_lm(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    (d / "text").write_text("a b c\n" * 5 + "<SIL> a b c <SIL>\n" * 3 + "c d a\n" * 2 + "d b a\n")
    arpa = build_arpa(d / "text", d / "phones.3.arpa", order=3)
    return load_lm(arpa, PHONES)


def ambiguous(tokens):
    # a, then b-or-d with d slightly ahead (out of the LM's habits after "a"), then c
    return frames(tokens, [{"a": 0.9}, {"a": 0.9}, {"d": 0.46, "b": 0.44}, {"d": 0.46, "b": 0.44}, {"c": 0.9}])


def test_lm_prefers_in_lm_sequence(phone_lm):
    tok = OutputTokens.build(PHONES)
    m = ambiguous(tok)
    assert tok.to_symbols(greedy_decode([m], tok)[0]) == ["a", "d", "c"]
    no_lm = beam_search([m], tok, None, BeamConfig(beam=5, lm_weight=0.0))[0]
    assert tok.to_symbols(no_lm.ids) == ["a", "d", "c"]
    with_lm = beam_search([m], tok, phone_lm, BeamConfig(beam=5, lm_weight=1.0))[0]
    assert tok.to_symbols(with_lm.ids) == ["a", "b", "c"]
    # the score is acoustic + LM: the LM part is the sentence log-probability in natural-log units
    acoustic = float(m[0, 0] + m[1, 0] + m[2, 1] + m[3, 1] + m[4, 2])
    lm_ln = phone_lm.score("a b c", bos=True, eos=True) * np.log(10)
    assert with_lm.score == pytest.approx(acoustic + lm_ln, abs=1e-4)


def test_clear_acoustics_win_over_lm(phone_lm):
    tok = OutputTokens.build(PHONES)
    m = frames(tok, [{"a": 0.95}, {"d": 0.95}, {"c": 0.95}])
    out = beam_search([m], tok, phone_lm, BeamConfig(beam=5, lm_weight=0.3))[0]
    assert tok.to_symbols(out.ids) == ["a", "d", "c"]


@pytest.mark.parametrize("blank", ["", "<blank>"])
def test_beam_one_without_lm_equals_greedy(blank):
    rng = np.random.default_rng(3)
    tok = OutputTokens.build((["<blank>"] if blank else []) + PHONES + ["<pad>"], blank=blank)
    batch = [normalize_logprobs(rng.normal(size=(n, tok.size)) * 2, tok) for n in (0, 1, 9, 40, 25)]
    greedy = greedy_decode(batch, tok)
    beam = beam_search(batch, tok, None, BeamConfig(beam=1, lm_weight=0.0))
    assert [list(h.ids) for h in beam] == greedy
    # a wider beam finds a path at least as good as the greedy one
    wide = beam_search(batch, tok, None, BeamConfig(beam=8, lm_weight=0.0))
    assert all(w.score >= b.score - 1e-9 for w, b in zip(wide, beam))


def test_ctc_beam_with_lm_batched(phone_lm):
    tok = OutputTokens.build(["<blank>"] + PHONES, blank="<blank>")
    amb = frames(tok, [{"a": 0.9}, {"<blank>": 0.9}, {"d": 0.46, "b": 0.44}, {"<blank>": 0.9}, {"c": 0.9}])
    rep = frames(tok, [{"a": 0.9}, {"<blank>": 0.9}, {"a": 0.9}, {"a": 0.9}])
    out = beam_search([amb, rep], tok, phone_lm, BeamConfig(beam=6, lm_weight=1.0, merge="sum"))
    assert [tok.to_symbols(h.ids) for h in out] == [["a", "b", "c"], ["a", "a"]]
    # the batch gives the same results as one utterance at a time
    single = [beam_search([m], tok, phone_lm, BeamConfig(beam=6, lm_weight=1.0, merge="sum"))[0] for m in (amb, rep)]
    assert [h.ids for h in single] == [h.ids for h in out]
    assert [h.score for h in single] == pytest.approx([h.score for h in out])


def test_insertion_bonus_changes_length():
    tok = OutputTokens.build(["<blank>", "a", "b"], blank="<blank>")
    # frame 2 is blank-or-b: a penalty per token drops the optional b, a bonus keeps it
    m = frames(tok, [{"a": 0.9}, {"b": 0.45, "<blank>": 0.5}, {"a": 0.9}])
    short = beam_search([m], tok, None, BeamConfig(beam=4, lm_weight=0.0, insertion_bonus=-1.0))[0]
    long = beam_search([m], tok, None, BeamConfig(beam=4, lm_weight=0.0, insertion_bonus=1.0))[0]
    assert tok.to_symbols(short.ids) == ["a", "a"]
    assert tok.to_symbols(long.ids) == ["a", "b", "a"]


def test_bad_config():
    tok = OutputTokens.build(PHONES)
    with pytest.raises(SpeechSSLError, match="beam size 0"):
        beam_search([], tok, None, BeamConfig(beam=0))
    with pytest.raises(SpeechSSLError, match="merge='avg'"):
        beam_search([], tok, None, BeamConfig(merge="avg"))

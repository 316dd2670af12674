"""Lexicon prefix-tree decoding with a word LM."""
from __future__ import annotations

import numpy as np
import pytest

from speechssl.decoding import LexiconConfig, OutputTokens, build_trie, LexiconDecoder, normalize_logprobs
from speechssl.decoding.lexicon_beam import ROOT
from speechssl.text.lm import build_arpa, load_lm
from speechssl.utils.errors import SpeechSSLError

PHONES = ["k", "a", "t", "b", "d", "o", "g", "<SIL>"]
LEXICON = {"cat": ("k", "a", "t"), "cab": ("k", "a", "b"), "dog": ("d", "o", "g"), "god": ("g", "o", "d"),
           "at": ("a", "t"), "kat": ("k", "a", "t")}


def frames(tokens: OutputTokens, rows) -> np.ndarray:
    """Each row: a symbol (probability 0.9) or a dict of probabilities; the rest spread over other columns."""
    m = np.zeros((len(rows), tokens.size))
    for t, row in enumerate(rows):
        row = {row: 0.9} if isinstance(row, str) else row
        rest = [v for v in range(tokens.size) if tokens.symbols[v] not in row]
        m[t, rest] = (1.0 - sum(row.values())) / len(rest)
        for s, p in row.items():
            m[t, tokens.symbols.index(s)] = p
    return normalize_logprobs(np.log(m), tokens)


@pytest.fixture(scope="module")
def word_lm(tmp_path_factory):
    d = tmp_path_factory.mktemp("wordlm")
    (d / "text").write_text("cat dog\n" * 6 + "god at cat\n" * 2 + "dog cab\n")
    return load_lm(build_arpa(d / "text", d / "words.3.arpa", order=3))


def test_trie_shares_prefixes_and_sil_loop():
    tok = OutputTokens.build(PHONES)
    trie = build_trie(LEXICON, tok)
    k, a, t = (PHONES.index(p) for p in "kat")
    node_ka = trie.children[trie.children[ROOT, k], a]
    assert sorted(trie.words[trie.children[node_ka, t]]) == ["cat", "kat"]          # homophones share a leaf
    assert trie.words[trie.children[node_ka, PHONES.index("b")]] == ["cab"]
    assert trie.children[ROOT, PHONES.index("<SIL>")] == ROOT
    assert len(trie.words) == 1 + 4 + 3 + 3 + 2     # root, k-a-t/b, d-o-g, g-o-d, a-t


@pytest.mark.parametrize("with_sil", [False, True])
def test_recovers_two_words_from_clean_posteriors(with_sil):
    tok = OutputTokens.build(PHONES)
    trie = build_trie({w: p for w, p in LEXICON.items() if w != "kat"}, tok)
    rows = ["k", "k", "a", "t", "t"] + (["<SIL>", "<SIL>"] if with_sil else []) + ["d", "o", "o", "g"]
    out = LexiconDecoder(tok, trie, None, LexiconConfig(beam=8, lm_weight=0.0))([frames(tok, rows)])
    assert list(out[0].ids) == ["cat", "dog"]


def test_word_lm_picks_the_likely_word(word_lm):
    tok = OutputTokens.build(PHONES)
    trie = build_trie(LEXICON, tok)
    rows = ["k", "a", {"b": 0.46, "t": 0.44}, "<SIL>", "d", "o", "g"]
    m = frames(tok, rows)
    no_lm = LexiconDecoder(tok, build_trie({w: p for w, p in LEXICON.items() if w != "kat"}, tok),
                             None, LexiconConfig(beam=8, lm_weight=0.0))([m])
    assert list(no_lm[0].ids) == ["cab", "dog"]
    with_lm = LexiconDecoder(tok, trie, word_lm, LexiconConfig(beam=8, lm_weight=1.0))([m])
    assert list(with_lm[0].ids) == ["cat", "dog"]          # "kat" (unknown to the LM) loses to "cat"
    acoustic = float(sum(m[i, PHONES.index(s)] for i, s in enumerate(["k", "a", "t", "<SIL>", "d", "o", "g"])))
    lm_ln = word_lm.score("cat dog", bos=True, eos=True) * np.log(10)
    assert with_lm[0].score == pytest.approx(acoustic + lm_ln, abs=1e-4)


def test_ctc_blank_and_batch(word_lm):
    tok = OutputTokens.build(["<blank>"] + PHONES, blank="<blank>")
    trie = build_trie(LEXICON, tok)
    u1 = frames(tok, ["g", "<blank>", "o", "d", "<blank>", "a", "<blank>", "t", "k", "a", "t"])
    u2 = frames(tok, ["d", "o", "<blank>", "g", "<blank>", "<blank>", "g", "o", "d"])
    out = LexiconDecoder(tok, trie, word_lm, LexiconConfig(beam=10, lm_weight=0.5))([u1, u2])
    assert [list(h.ids) for h in out] == [["god", "at", "cat"], ["dog", "god"]]


def test_undecodable_lexicon():
    tok = OutputTokens.build(PHONES)
    with pytest.raises(SpeechSSLError, match="no lexicon word can be spelled"):
        build_trie({"zebra": ("z", "e", "b", "r", "a"), "sil": ("<SIL>",)}, tok)


def test_no_blank_repeated_phones():
    # no-blank outputs merge runs: "all" (a l l) is spelled a l, and "all lot" share one run of l frames
    tok = OutputTokens.build(["a", "l", "o", "t", "<SIL>"])
    lexicon = {"all": ("a", "l", "l"), "lot": ("l", "o", "t"), "at": ("a", "t")}
    trie = build_trie(lexicon, tok)
    m = frames(tok, ["a", "a", "l", "l", "l", "o", "t"])
    out = LexiconDecoder(tok, trie, None, LexiconConfig(beam=8, lm_weight=0.0))([m])
    assert list(out[0].ids) == ["all", "lot"]
    # with a CTC blank the repeats are real: "a l l" needs a blank between the two l
    ctc = OutputTokens.build(["<blank>", "a", "l", "o", "t", "<SIL>"], blank="<blank>")
    ctc_trie = build_trie(lexicon, ctc)
    m = frames(ctc, ["a", "l", "<blank>", "l", "<blank>", "l", "o", "t"])
    out = LexiconDecoder(ctc, ctc_trie, None, LexiconConfig(beam=8, lm_weight=0.0))([m])
    assert list(out[0].ids) == ["all", "lot"]

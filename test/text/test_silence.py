"""Seeded <SIL> insertion and sentence phonemization through a lexicon."""
from __future__ import annotations

import numpy as np
import pytest

from speechssl.text.silence import SIL, SentencePhonemizer, insert_silence, parse_sil_prob
from speechssl.utils.errors import SpeechSSLError

LEX = {"the": ("ð", "ə"), "cat": ("k", "æ", "t"), "sat": ("s", "æ", "t")}


def test_rate_close_to_probability():
    words = [("a",)] * 20001
    for p in (0.25, 0.5):
        phones = insert_silence(words, p, np.random.default_rng(3), surround=False)
        rate = phones.count(SIL) / 20000
        assert abs(rate - p) < 0.015, rate


def test_seeded_determinism_and_seed_matters():
    sentences = ["the cat sat the cat sat the cat"] * 30
    runs = []
    for seed in (7, 7, 8):
        conv = SentencePhonemizer(LEX, 0.5, seed)
        runs.append([s.phones_sil for s in conv.convert_all(sentences)])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_surround_and_extremes():
    prons = [LEX["the"], LEX["cat"]]
    rng = np.random.default_rng(0)
    assert insert_silence(prons, 0.0, rng) == [SIL, "ð", "ə", "k", "æ", "t", SIL]
    assert insert_silence(prons, 1.0, rng, surround=False) == ["ð", "ə", SIL, "k", "æ", "t"]
    assert insert_silence(prons, 0.0, rng, surround=False) == ["ð", "ə", "k", "æ", "t"]


def test_oov_policies_and_counts():
    sentences = ["the cat sat", "the dog sat", "dog bird", "the cat"]
    conv = SentencePhonemizer(LEX, 0.0, 0)
    kept = list(conv.convert_all(sentences))
    assert [s.words for s in kept] == [["the", "cat", "sat"], ["the", "cat"]]
    assert kept[0].phones == ["ð", "ə", "k", "æ", "t", "s", "æ", "t"]
    assert dict(conv.stats.dropped) == {"has_oov_word": 1, "all_words_oov": 1}
    conv = SentencePhonemizer(LEX, 0.0, 0, oov="skip_word")
    kept = list(conv.convert_all(sentences))
    assert [s.words for s in kept] == [["the", "cat", "sat"], ["the", "sat"], ["the", "cat"]]
    assert dict(conv.stats.dropped) == {"all_words_oov": 1} and conv.stats.words_oov == 3


def test_realised_rate_in_stats():
    conv = SentencePhonemizer(LEX, 1.0, 0)
    list(conv.convert_all(["the cat sat", "cat"]))
    assert conv.stats.to_dict()["sil_rate_realised"] == 1.0 and conv.stats.word_gaps == 2


def test_sil_prob_parsing_and_errors():
    assert parse_sil_prob("v1") == 0.25 and parse_sil_prob("v2") == 0.5 and parse_sil_prob("0.3") == 0.3
    with pytest.raises(SpeechSSLError, match="must be in"):
        parse_sil_prob("1.5")
    with pytest.raises(SpeechSSLError, match="neither a number"):
        parse_sil_prob("often")
    with pytest.raises(SpeechSSLError, match="uses the silence token"):
        SentencePhonemizer({"x": ("<SIL>",)}, 0.5, 0)

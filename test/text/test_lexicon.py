"""Word lists with a count threshold, lexicon files, rare-phone filtering, token dictionaries."""
from __future__ import annotations

import pytest

from speechssl.text.lexicon import (count_words, filter_rare_phones, phone_counts, read_counts, read_lexicon,
                                    select_words, write_counts, write_lexicon)
from speechssl.text.tokens import count_tokens, read_token_dict, write_token_dict
from speechssl.utils.errors import SpeechSSLError


def test_word_threshold_keeps_count_at_least_threshold():
    counts = count_words(["b a c", "a b", "a d"])
    assert counts == {"a": 3, "b": 2, "c": 1, "d": 1}
    assert select_words(counts, 2) == [("a", 3), ("b", 2)]
    assert select_words(counts, 1) == [("a", 3), ("b", 2), ("c", 1), ("d", 1)]   # ties in C order
    with pytest.raises(SpeechSSLError):
        select_words(counts, 0)


def test_counts_file_round_trip(tmp_path):
    write_counts(tmp_path / "words.txt", [("the", 5), ("cat", 2)])
    assert (tmp_path / "words.txt").read_text() == "the 5\ncat 2\n"
    assert list(read_counts(tmp_path / "words.txt").items()) == [("the", 5), ("cat", 2)]
    (tmp_path / "bad.txt").write_text("the 5\ncat two\n")
    with pytest.raises(SpeechSSLError, match=r"bad.txt:2: expected 'token count'"):
        read_counts(tmp_path / "bad.txt")


def test_user_lexicon(tmp_path):
    path = tmp_path / "lex.txt"
    path.write_text("tomato t ə m eɪ t oʊ\nzebra z iː b r ə\ntomato t ə m ɑː t oʊ\n\n")
    lex = read_lexicon(path)
    assert lex == {"tomato": ("t", "ə", "m", "eɪ", "t", "oʊ"), "zebra": ("z", "iː", "b", "r", "ə")}
    write_lexicon(tmp_path / "out.lst", lex)
    assert (tmp_path / "out.lst").read_text() == "tomato t ə m eɪ t oʊ\nzebra z iː b r ə\n"
    path.write_text("tomato t ə\nlonely\n")
    with pytest.raises(SpeechSSLError, match=r"lex.txt:2: word 'lonely' has no phones"):
        read_lexicon(path)


def test_rare_phone_filter_by_count_and_fraction():
    lex = {"ab": ("a", "b"), "ba": ("b", "a"), "aa": ("a", "a"), "ax": ("a", "x"), "by": ("b", "y")}
    assert phone_counts(lex) == {"a": 5, "b": 3, "x": 1, "y": 1}
    res = filter_rare_phones(lex, min_count=2)
    assert set(res.lexicon) == {"ab", "ba", "aa"}
    assert res.rare_phones == {"x": 1, "y": 1} and res.words_dropped == ["ax", "by"]
    # fraction of the 10 phone occurrences: 0.35 -> threshold 3.5, so b (3) is rare too
    res = filter_rare_phones(lex, min_fraction=0.35)
    assert set(res.lexicon) == {"aa"} and res.threshold == pytest.approx(3.5)
    # counted over corpus tokens: x is frequent in the text, so "ax" survives
    res = filter_rare_phones(lex, min_count=5, word_counts={"ab": 1, "ba": 1, "aa": 1, "ax": 10, "by": 1})
    assert set(res.lexicon) == {"aa", "ax"} and res.rare_phones == {"b": 3, "y": 1}


def test_token_dict_sorted_by_count_then_token(tmp_path):
    counts = count_tokens(["<SIL> a b <SIL>", "b c <SIL>"])
    write_token_dict(tmp_path / "dict.phn.txt", counts)
    assert (tmp_path / "dict.phn.txt").read_text() == "<SIL> 3\nb 2\na 1\nc 1\n"
    assert read_token_dict(tmp_path / "dict.phn.txt") == {"<SIL>": 3, "b": 2, "a": 1, "c": 1}
    with pytest.raises(SpeechSSLError, match="<unk> are reserved"):
        write_token_dict(tmp_path / "bad.txt", {"a": 2, "<unk>": 1})

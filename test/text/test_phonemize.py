"""espeak-ng lexicons through phonemizer: real IPA, determinism, clear errors."""
from __future__ import annotations

import pytest

from speechssl.text.phonemize import check_espeak_language, espeak_languages, phonemize_words
from speechssl.utils.errors import SpeechSSLError


def test_english_words_get_ipa_phones():
    lex, failed = phonemize_words(["hello", "world", "cat"], "en-us", batch_size=2)
    assert lex["hello"] == ("h", "ə", "l", "oʊ")
    assert lex["world"] == ("w", "ɜː", "l", "d")
    assert lex["cat"] == ("k", "æ", "t")
    assert failed == []


def test_multiword_reading_keeps_phones_apart():
    # "42" is read as two words; their boundary must not glue phones ("i" + "t").
    lex, _ = phonemize_words(["42"], "en-us")
    assert "it" not in lex["42"] and lex["42"][-2:] == ("t", "uː")


def test_deterministic_and_batch_independent():
    words = ["bonjour", "maison", "oui", "chat", "heureux"]
    a, _ = phonemize_words(words, "fr-fr", batch_size=2)
    b, _ = phonemize_words(list(reversed(words)), "fr-fr", batch_size=10)
    assert a == b and a["bonjour"] == ("b", "ɔ̃", "ʒ", "u", "ʁ")


def test_unknown_language_code_lists_how_to_check():
    assert "en-us" in espeak_languages()
    with pytest.raises(SpeechSSLError, match=r"no voice for language code 'zu'.*espeak-ng --voices"):
        check_espeak_language("zu")
    with pytest.raises(SpeechSSLError, match=r"'en-xx'.*Codes of the same language: .*en-us"):
        phonemize_words(["hello"], "en-xx")

"""Text normalisation: case, character classes, punctuation, digits, alphabet, length filters."""
from __future__ import annotations

import pytest

from speechssl.text.normalize import NormalizeConfig, Normalizer, iter_text_lines, normalize_sentences
from speechssl.utils.errors import SpeechSSLError


def norm(line: str, **kwargs) -> str | None:
    return Normalizer(NormalizeConfig(**kwargs)).normalize(line)


def test_case_and_punctuation():
    assert norm("Hello, World! It's -- fine.") == "hello world it's fine"
    assert norm("Hello, World!", case="upper") == "HELLO WORLD"
    assert norm("Hello, World!", case="keep") == "Hello World"
    assert norm("o.k. well-known", punctuation="remove") == "ok well-known"
    assert norm("o.k. well-known", punctuation="split") == "o k well-known"


def test_word_internal_characters_are_trimmed_at_word_edges():
    assert norm("'quoted' -dash- rock'n'roll") == "quoted dash rock'n'roll"
    assert norm("l’homme") == "l'homme"                       # typographic apostrophe mapped
    assert norm("l'homme", word_internal="") == "l homme"    # apostrophe then splits words
    assert norm("c++ rocks", extra_chars="+") == "c++ rocks"


def test_unicode_forms_and_marks():
    assert norm("ﬁne Ｆｕｌｌ") == "fine full"                   # NFKC: ligature and full-width letters
    assert norm("नमस्ते दुनिया") == "नमस्ते दुनिया"                  # Devanagari vowel signs (marks) kept
    assert norm("नमस्ते", keep_marks=False) == "नमसत"
    assert norm("café", unicode_form="NFC") == "café"


def test_digit_policies():
    assert norm("room 42 is free") is None
    assert norm("room 42 is free", digits="drop_word") == "room is free"
    assert norm("room 42 is free", digits="keep") == "room 42 is free"


def test_alphabet_drops_lines_in_another_script():
    cfg = dict(alphabet="abcdefghijklmnopqrstuvwxyz")
    assert norm("Plain English.", **cfg) == "plain english"
    assert norm("un café noir", **cfg) is None
    assert norm("Привет мир", **cfg) is None


def test_corpus_counts_every_drop():
    lines = ["One two three.", "", "!!! ???", "one", "a b c d e f", "it is 1999", "Ok then"]
    kept, stats = normalize_sentences(lines, NormalizeConfig(min_words=2, max_words=4))
    assert kept == ["one two three", "ok then"]
    assert stats.lines_in == 7 and stats.lines_kept == 2
    assert dict(stats.dropped) == {"no_valid_word": 2, "too_few_words": 1, "too_many_words": 1, "has_digits": 1}


def test_bad_config_is_a_clear_error():
    with pytest.raises(SpeechSSLError, match="digits='spell'"):
        NormalizeConfig(digits="spell")
    with pytest.raises(SpeechSSLError, match="max_words=2 is below min_words=3"):
        NormalizeConfig(min_words=3, max_words=2)


def test_iter_text_lines_names_the_bad_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("ok\nfine\r\ncaf\xe9\n".encode("latin-1"))
    it = iter_text_lines(path)
    assert next(it) == "ok" and next(it) == "fine"
    with pytest.raises(SpeechSSLError, match=r"t.txt:3: text is not valid UTF-8"):
        next(it)

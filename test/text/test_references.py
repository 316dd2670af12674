"""Reference phones of transcripts through the text-side lexicon (write_references)."""
import pytest

from speechssl.bin import write_references
from speechssl.utils.errors import SpeechSSLError


def test_references_use_the_lexicon_and_text_normalisation(tmp_path):
    (tmp_path / "text").write_text("s1-u1 HELLO, World!\ns1-u2 world\n")
    (tmp_path / "lex").write_text("hello h ə l oʊ\nworld w ɜː l d\n")
    (tmp_path / "text.yaml").write_text("case: lower\nlang: ''\n")
    out = tmp_path / "utt2phones"
    assert write_references.main([str(tmp_path / "text"), str(out), "--lexicon", str(tmp_path / "lex"),
                                  "--text-config", str(tmp_path / "text.yaml")]) == 0
    assert out.read_text() == "s1-u1 h ə l oʊ | w ɜː l d\ns1-u2 w ɜː l d\n"
    # a rerun with the same inputs keeps the output; a changed lexicon is refused without --redo
    assert write_references.main([str(tmp_path / "text"), str(out), "--lexicon", str(tmp_path / "lex"),
                                  "--text-config", str(tmp_path / "text.yaml")]) == 0
    (tmp_path / "lex").write_text("hello h e l o\nworld w ɜː l d\n")
    assert write_references.main([str(tmp_path / "text"), str(out), "--lexicon", str(tmp_path / "lex"),
                                  "--text-config", str(tmp_path / "text.yaml")]) != 0


def test_oov_words_are_phonemized_or_named(tmp_path):
    (tmp_path / "text").write_text("s1-u1 hello zebra\n")
    (tmp_path / "lex").write_text("hello h ə l oʊ\n")
    out = tmp_path / "utt2phones"
    assert write_references.main([str(tmp_path / "text"), str(out), "--lexicon", str(tmp_path / "lex"),
                                  "--lang", "en-us"]) == 0
    phones = out.read_text().split()
    assert phones[:6] == ["s1-u1", "h", "ə", "l", "oʊ", "|"] and len(phones) > 7
    from speechssl.text.lexicon import read_lexicon
    from speechssl.text.references import transcripts_to_tokens
    with pytest.raises(SpeechSSLError, match="'zebra' in utterance s1-u1"):
        transcripts_to_tokens({"s1-u1": ["hello", "zebra"]}, read_lexicon(tmp_path / "lex"), "")

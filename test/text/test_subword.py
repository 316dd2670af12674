"""Subword (SentencePiece) tokens for the text side: deterministic model, word -> pieces lexicon, prepare_text."""
from __future__ import annotations

import json

import pytest

from speechssl.bin.prepare_text import main
from speechssl.text.lexicon import read_lexicon
from speechssl.text.lm import load_lm
from speechssl.text.prepare import TextPrepConfig
from speechssl.text.subword import SPM_MODEL, SpmConfig, encode_words, load_spm, train_spm
from speechssl.text.tokens import read_token_dict
from speechssl.utils.errors import SpeechSSLError

SUBJECTS = ["The cat", "A dog", "The old man", "My sister", "The bird", "Two horses", "A small child"]
VERBS = ["sat on", "looked at", "ran towards", "slept near", "jumped over"]
OBJECTS = ["the mat.", "a red box!", "the tall tree,", "the wooden door", "a kitchen table"]
NO_LM = ["--phone-lm-orders", "", "--word-lm-order", "0"]


def corpus(tmp_path):
    lines = [f"{s} {v} {o}" for s in SUBJECTS for v in VERBS for o in OBJECTS] + ["It cost 42 pounds."]
    path = tmp_path / "lm_text.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_spm_model_is_deterministic_and_words_encode_alone(tmp_path):
    lines = corpus(tmp_path).read_text().lower().splitlines()
    a = train_spm(lines, tmp_path / "a.model", SpmConfig(40))
    b = train_spm(lines, tmp_path / "b.model", SpmConfig(40))
    assert a.read_bytes() == b.read_bytes()
    assert train_spm(lines, tmp_path / "c.model", SpmConfig(40, "bpe")).read_bytes() != a.read_bytes()
    lexicon, failed = encode_words(a, ["cat", "horses", "kitchen"])
    assert not failed and all(p[0].startswith("\u2581") for p in lexicon.values())
    assert "".join(lexicon["kitchen"]) == "\u2581kitchen"
    sp = load_spm(a)
    assert sp.encode("the cat", out_type=str) == list(encode_words(a, ["the"])[0]["the"] + lexicon["cat"])
    with pytest.raises(SpeechSSLError, match="smaller --spm-vocab-size"):
        train_spm(lines[:3], tmp_path / "d.model", SpmConfig(5000))


def test_prepare_text_with_spm_tokens(tmp_path):
    text, out = corpus(tmp_path), tmp_path / "text"
    args = [str(text), str(out), "--token-type", "spm", "--spm-vocab-size", "40", "--min-phone-fraction", "0",
            "--sil-prob", "v2", "--phone-lm-orders", "4", "--word-lm-order", "0"]
    assert main(args) == 0
    assert (out / SPM_MODEL).is_file()
    lexicon = read_lexicon(out / "lexicon_filtered.lst")
    assert lexicon == read_lexicon(out / "lexicon.lst")
    assert "".join(lexicon["towards"]) == "\u2581towards"
    sentences = (out / "sentences.txt").read_text().splitlines()
    phones = (out / "phones.txt").read_text().splitlines()
    assert len(sentences) == len(phones) == len(SUBJECTS) * len(VERBS) * len(OBJECTS)
    for words, pieces in zip(sentences, phones):
        assert pieces.split() == [p for w in words.split() for p in lexicon[w]]
    tokens = read_token_dict(out / "dict.phn.txt")
    assert "<SIL>" in tokens and len(tokens) <= 40
    stats = json.loads((out / "stats.json").read_text())
    assert stats["lexicon"]["from_spm"] == len(lexicon) and stats["lexicon"]["spm"]["vocab_size"] == 40
    load_lm(out / "lm.phones.4.bin", list(tokens), exact=True)  # KenLM takes the pieces as they are
    marker = json.loads((out / ".done.text.json").read_text())
    assert marker["config"]["token_type"] == "spm" and str(out / SPM_MODEL) in marker["outputs"]
    assert main(args) == 0  # skipped
    assert main(args[:5] + ["45"] + args[6:]) == 1  # another vocabulary size is refused without --redo


def test_phone_markers_unchanged_and_spm_option_errors(tmp_path, capsys):
    # the phone configuration hashes as before the subword options existed (old data/text stays valid)
    assert "token_type" not in TextPrepConfig(language="en-us").result_config()
    assert TextPrepConfig(token_type="spm").result_config()["spm_vocab_size"] == 500
    text = corpus(tmp_path)
    assert main([str(text), str(tmp_path / "a"), "--token-type", "spm", "--lang", "en-us", *NO_LM]) == 1
    assert "drop --lang" in capsys.readouterr().err
    assert main([str(text), str(tmp_path / "b"), "--token-type", "spm", "--spm-vocab-size", "5000", *NO_LM]) == 1
    assert "--spm-vocab-size" in capsys.readouterr().err
    with pytest.raises(SpeechSSLError, match="token_type"):
        TextPrepConfig(language="en-us", token_type="bpe")

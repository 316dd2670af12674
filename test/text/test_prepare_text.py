"""The text-side stage program: outputs, stats, done-markers, user lexicon, errors, LMs."""
from __future__ import annotations

import json

import pytest

from speechssl.bin.prepare_text import main
from speechssl.text.lexicon import read_lexicon
from speechssl.text.lm import find_kenlm_program, load_lm
from speechssl.text.tokens import read_token_dict
from speechssl.utils.errors import SpeechSSLError

SUBJECTS = ["The cat", "A dog", "The old man", "My sister", "The bird"]
VERBS = ["sat on", "looked at", "ran to", "slept near"]
OBJECTS = ["the mat.", "a red box!", "the tall tree,", "the door"]
NO_LM = ["--phone-lm-orders", "", "--word-lm-order", "0"]


def corpus(tmp_path):
    lines = [f"{s} {v} {o}" for s in SUBJECTS for v in VERBS for o in OBJECTS][:60]
    lines += ["", "It cost 42 pounds.", "?!", "Zither quartet.", "The cat sat on a xylophone."]
    path = tmp_path / "lm_text.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def have_lmplz() -> bool:
    try:
        find_kenlm_program("lmplz")
        return True
    except SpeechSSLError:
        return False


def test_outputs_stats_and_markers(tmp_path, capsys):
    text, out = corpus(tmp_path), tmp_path / "text"
    args = [str(text), str(out), "--lang", "en-us", "--sil-prob", "v1", "--seed", "3", *NO_LM]
    assert main(args) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["normalisation"]["lines_in"] == 65 and stats["normalisation"]["lines_kept"] == 62
    assert stats["normalisation"]["lines_dropped"] == {"has_digits": 1, "no_valid_word": 2}
    # "zither", "quartet", "xylophone" occur once (below the word threshold): one line is all OOV,
    # the other has one OOV word
    assert "xylophone" not in (out / "words.txt").read_text()
    assert stats["sentences"]["lines_dropped"] == {"has_oov_word": 1, "all_words_oov": 1}
    assert stats["sentences"]["lines_kept"] == 60
    lex = read_lexicon(out / "lexicon_filtered.lst")
    assert lex["cat"] == ("k", "æ", "t")
    phones = (out / "phones.txt").read_text().splitlines()
    phones_sil = (out / "phones_sil.txt").read_text().splitlines()
    sentences = (out / "sentences.txt").read_text().splitlines()
    assert len(phones) == len(phones_sil) == len(sentences) == 60
    assert sentences[0] == "the cat sat on the mat"
    assert all(p.startswith("<SIL> ") and p.endswith(" <SIL>") for p in phones_sil)
    assert [t for t in phones_sil[0].split() if t != "<SIL>"] == phones[0].split()
    tokens = read_token_dict(out / "dict.phn.txt")
    assert "<SIL>" in tokens and list(tokens.values()) == sorted(tokens.values(), reverse=True)
    assert sum(tokens.values()) == sum(len(p.split()) for p in phones_sil)

    # same options: skipped (outputs untouched); changed options: refused; --redo: rebuilt
    mtime = (out / "phones_sil.txt").stat().st_mtime_ns
    assert main(args) == 0 and (out / "phones_sil.txt").stat().st_mtime_ns == mtime
    capsys.readouterr()
    assert main(args[:-len(NO_LM) - 2] + ["--seed", "4", *NO_LM]) == 1
    assert "seed: 3 -> 4" in capsys.readouterr().err
    assert main(args[:-len(NO_LM) - 2] + ["--seed", "4", *NO_LM, "--redo", "true"]) == 0
    assert (out / "phones_sil.txt").read_text().splitlines() != phones_sil
    assert (out / "phones.txt").read_text().splitlines() == phones


def test_user_lexicon_without_espeak(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("ab ba\nba ab ab\nab cd\nab ba\n")
    lexicon = tmp_path / "lex.txt"
    lexicon.write_text("ab a b\nba b a\n")
    out = tmp_path / "out"
    assert main([str(text), str(out), "--lexicon", str(lexicon), "--sil-prob", "0", "--surround", "false",
                 "--word-min-count", "1", *NO_LM]) == 0
    assert (out / "phones_sil.txt").read_text() == "a b b a\nb a a b a b\na b b a\n"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["lexicon"]["from_user_lexicon"] == 2 and stats["lexicon"]["no_pronunciation"] == 1
    assert (out / "dict.phn.txt").read_text() == "a 7\nb 7\n"


def test_rare_phone_words_are_dropped_and_counted(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("ab ba aq\nab ba\nba ab\n")
    lexicon = tmp_path / "lex.txt"
    lexicon.write_text("ab a b\nba b a\naq a q\n")
    out = tmp_path / "out"
    assert main([str(text), str(out), "--lexicon", str(lexicon), "--word-min-count", "1",
                 "--min-phone-count", "2", *NO_LM]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["lexicon"]["rare_phones"] == {"q": 1} and stats["lexicon"]["words_dropped_rare_phone"] == 1
    assert "aq" not in read_lexicon(out / "lexicon_filtered.lst")
    assert stats["sentences"]["lines_dropped"] == {"has_oov_word": 1}


def test_errors_are_clear(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("1234\n\n...\n")
    assert main([str(empty), str(tmp_path / "o1"), "--lang", "en-us", *NO_LM]) == 1
    assert "no sentence is left after normalisation (3 lines read" in capsys.readouterr().err
    assert main([str(corpus(tmp_path)), str(tmp_path / "o2"), "--lang", "xx-yy", *NO_LM]) == 1
    assert "no voice for language code 'xx-yy'" in capsys.readouterr().err
    assert main([str(empty), str(tmp_path / "o3"), *NO_LM]) == 1
    assert "needs an espeak-ng language code (--lang) or a lexicon file" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.txt"), str(tmp_path / "o4"), "--lang", "en-us"]) == 1
    assert "no such text file" in capsys.readouterr().err


@pytest.mark.skipif(not have_lmplz(), reason="KenLM lmplz not built: run bash tools/install_kenlm.sh")
def test_lms_built_and_checked(tmp_path):
    text, out = corpus(tmp_path), tmp_path / "text"
    assert main([str(text), str(out), "--lang", "en-us", "--word-lm-prune", "0"]) == 0
    tokens = list(read_token_dict(out / "dict.phn.txt"))
    for order in (4, 6):
        model = load_lm(out / f"lm.phones.{order}.bin", tokens)
        assert model.order == order
    words = load_lm(out / "lm.words.4.bin", read_lexicon(out / "lexicon_filtered.lst"), exact=False)
    assert words.order == 4
    marker = json.loads((out / ".done.lm.json").read_text())
    assert 1.0 < marker["summary"]["lm.phones.4"]["train_perplexity"] < len(tokens)
    # another order with --redo: the old LMs are removed, not left stale beside the new one
    assert main([str(text), str(out), "--lang", "en-us", "--word-lm-order", "0", "--phone-lm-orders", "3",
                 "--redo", "true"]) == 0
    assert sorted(p.name for p in out.glob("lm.*")) == ["lm.phones.3.arpa", "lm.phones.3.bin"]

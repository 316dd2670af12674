"""The decode_uasr driver over a kaldiio logits.scp: greedy, phone-LM beam and lexicon decoding, then scoring."""
from __future__ import annotations

import kaldiio
import numpy as np
import pytest

from speechssl.bin import decode_uasr
from speechssl.text.lm import build_arpa

PHONES = ["k", "a", "t", "b", "d", "o", "g", "<SIL>"]


def matrix(rows) -> np.ndarray:
    m = np.full((len(rows), len(PHONES)), 0.02)
    for t, row in enumerate(rows):
        for s, p in ({row: 0.86} if isinstance(row, str) else row).items():
            m[t, PHONES.index(s)] = p
    return np.log(m / m.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("dec")
    utts = {"spk1-u1": matrix(["<SIL>", "k", "a", "a", "t", "<SIL>", "d", "o", "g", "g"]),
            "spk1-u2": matrix(["g", "o", "d", "<SIL>", "k", "a", {"b": 0.45, "t": 0.41}]),
            "spk2-u3": matrix(["d", "o", "o", "g"])}
    with kaldiio.WriteHelper(f"ark,scp:{d / 'logits.ark'},{d / 'logits.scp'}") as w:
        for utt, m in utts.items():
            w(utt, m)
    (d / "tokens.txt").write_text("".join(f"{p} 1\n" for p in PHONES))
    (d / "text.phn").write_text("spk1-u1 k a t <SIL> d o g\nspk1-u2 g o d k a t\nspk2-u3 d o g\n")
    (d / "text").write_text("spk1-u1 cat dog\nspk1-u2 god cat\nspk2-u3 dog\n")
    (d / "lexicon.lst").write_text("cab k a b\ncat k a t\ndog d o g\ngod g o d\n")
    (d / "lm_phones.txt").write_text("k a t <SIL> d o g\n" * 4 + "g o d <SIL> k a t\n" * 3 + "d o g k a b\n")
    build_arpa(d / "lm_phones.txt", d / "lm.phones.arpa", order=3)
    (d / "lm_words.txt").write_text("cat dog\n" * 4 + "god cat\n" * 3 + "dog cab\n")
    build_arpa(d / "lm_words.txt", d / "lm.words.arpa", order=3)
    return d


def run(d, out, *opts, ref="text.phn", metric="PER"):
    return decode_uasr.main([*opts, "--ref", str(d / ref), "--metric", metric, str(d / "logits.scp"),
                             str(d / "tokens.txt"), str(d / out)])


def test_greedy_then_scoring(setup, capsys):
    d = setup
    assert run(d, "greedy") == 0
    assert (d / "greedy/text").read_text() == "spk1-u1 k a t d o g\nspk1-u2 g o d k a b\nspk2-u3 d o g\n"
    assert capsys.readouterr().out.startswith("%PER 6.67 [ 1 / 15, 0 ins, 0 del, 1 sub ]")
    assert "| spk1   |     2    12 |" in (d / "greedy/scoring/result.txt").read_text()
    # same options: skipped; other options: refused until --redo true
    assert run(d, "greedy") == 0
    assert run(d, "greedy", "--blank", "<SIL>") == 1
    assert "made with a different configuration" in capsys.readouterr().err


def test_phone_lm_beam(setup, capsys):
    d = setup
    assert run(d, "beam", "--decoder", "beam", "--lm", str(d / "lm.phones.arpa"), "--beam", "6") == 0
    assert (d / "beam/text").read_text().splitlines()[1] == "spk1-u2 g o d k a t"
    assert capsys.readouterr().out.startswith("%PER 0.00 [ 0 / 15")


def test_lexicon_word_lm(setup, capsys):
    d = setup
    assert run(d, "word", "--decoder", "lexicon", "--lexicon", str(d / "lexicon.lst"), "--lm",
               str(d / "lm.words.arpa"), ref="text", metric="WER") == 0
    assert (d / "word/text").read_text() == "spk1-u1 cat dog\nspk1-u2 god cat\nspk2-u3 dog\n"
    assert capsys.readouterr().out.startswith("%WER 0.00 [ 0 / 5")


def test_errors(setup, tmp_path, capsys):
    d = setup
    (tmp_path / "tokens.txt").write_text("k\na\n")
    rc = decode_uasr.main([str(d / "logits.scp"), str(tmp_path / "tokens.txt"), str(tmp_path / "out")])
    assert rc == 1
    assert "utterance spk1-u1: log-probability matrix has shape (10, 8), expected (frames, 2)" in \
        capsys.readouterr().err
    rc = decode_uasr.main(["--decoder", "lexicon", str(d / "logits.scp"), str(d / "tokens.txt"),
                           str(tmp_path / "out2")])
    assert rc == 1 and "--decoder lexicon needs --lexicon" in capsys.readouterr().err

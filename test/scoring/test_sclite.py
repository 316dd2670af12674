"""Corpus scoring, sclite-format outputs, equality with the real NIST sclite, and the score CLI."""
from __future__ import annotations

import json

import pytest

from speechssl.bin import score as score_cli
from speechssl.scoring import compare_with_sclite, run_sclite, score_corpus, write_score_dir
from speechssl.scoring.sclite import find_sclite, parse_sclite_sum
from speechssl.utils.errors import SpeechSSLError

REFS = {"s1-u1": "a b c d", "s1-u2": "e f", "s2-u3": "g h i", "s2-u4": "a b c", "s2-u5": "a b c d e",
        "s3-u6": "x", "s3-u7": "a b c d e"}
HYPS = {"s1-u1": "a x c", "s1-u2": "e y f", "s2-u3": "g h i", "s2-u4": "x y a", "s2-u5": "c d e x y",
        "s3-u6": "", "s3-u7": "d e x y z"}


def tokens(table):
    return {u: v.split() for u, v in table.items()}


def have_sclite():
    try:
        find_sclite()
        return True
    except SpeechSSLError:
        return False


def test_counts_per_speaker_and_total():
    s = score_corpus(tokens(REFS), tokens(HYPS))
    assert {spk: (c.corr, c.sub, c.dele, c.ins, c.sentences) for spk, c in s.per_speaker.items()} == {
        "s1": (4, 1, 1, 1, 2), "s2": (6, 3, 2, 2, 3), "s3": (2, 0, 4, 3, 2)}
    t = s.total
    assert (t.ref_len, t.errors, t.sentence_errors) == (23, 17, 6)
    assert s.summary_line().startswith("%WER 73.91 [ 17 / 23, 6 ins, 7 del, 4 sub ]")


def test_written_files(tmp_path):
    refs, hyps = tokens(REFS), tokens(HYPS)
    s = score_corpus(refs, hyps, utt2spk={u: "spkA" if u < "s2" else "spkB" for u in refs}, metric="PER")
    write_score_dir(tmp_path, s, refs, hyps)
    assert (tmp_path / "ref.trn").read_text().splitlines()[0] == "a b c d (spkA-s1-u1)"
    assert "(spkB-s3-u6)" in (tmp_path / "hyp.trn").read_text().splitlines()
    pra = (tmp_path / "result.pra").read_text()
    assert ("id: (spkA-s1-u1)\nScores: (#C #S #D #I) 2 1 1 0\nREF:  a b c d\nHYP:  a x c *\nEval:   S   D\n"
            in pra)
    assert "REF:  e * f\nHYP:  e y f\nEval:   I\n" in pra
    result = (tmp_path / "result.txt").read_text()
    assert "| spkA   |     2     6 |   66.7   16.7   16.7   16.7   50.0  100.0 |" in result
    assert parse_sclite_sum(result) == {"sentences": 7, "words": 23, "corr": 52.2, "sub": 17.4, "del": 30.4,
                                        "ins": 26.1, "err": 73.9, "sent_err": 85.7}
    data = json.loads((tmp_path / "scores.json").read_text())
    assert data["metric"] == "PER" and data["per_speaker"]["spkB"]["sub"] == 3


@pytest.mark.skipif(not have_sclite(), reason="sclite (Debian package sctk) is not installed")
def test_equal_to_real_sclite(tmp_path):
    refs, hyps = tokens(REFS), tokens(HYPS)
    s = score_corpus(refs, hyps)
    write_score_dir(tmp_path, s, refs, hyps)
    theirs = run_sclite(tmp_path / "ref.trn", tmp_path / "hyp.trn")
    assert theirs == parse_sclite_sum((tmp_path / "result.txt").read_text())
    assert compare_with_sclite(s, theirs) == []
    # the plain minimum edit distance disagrees with sclite on s3-u7 (5 subs vs 3 del + 3 ins)
    lev = score_corpus(refs, hyps, costs="levenshtein")
    assert lev.total.errors == s.total.errors - 1
    assert compare_with_sclite(lev, theirs)


def test_key_mismatch_and_empty_refs():
    refs = tokens(REFS)
    with pytest.raises(SpeechSSLError, match=r"no hypothesis for 2 of 7 utterance\(s\) of reference: s1-u2 s3-u7"):
        score_corpus(refs, {u: v for u, v in tokens(HYPS).items() if u not in ("s1-u2", "s3-u7")})
    with pytest.raises(SpeechSSLError, match=r"1 utterance\(s\) have no reference in reference: zz"):
        score_corpus(refs, {**tokens(HYPS), "zz": ["a"]})
    lenient = score_corpus(refs, {u: v for u, v in tokens(HYPS).items() if u != "s1-u2"}, missing_hyp="empty")
    assert lenient.alignments["s1-u2"].counts.dele == 2
    with pytest.raises(SpeechSSLError, match=r"1 utterance\(s\) have an empty reference: s1-u2"):
        score_corpus({**refs, "s1-u2": []}, tokens(HYPS))
    with pytest.raises(SpeechSSLError, match=r"utt2spk has no speaker for 6 utterance\(s\)"):
        score_corpus(refs, tokens(HYPS), utt2spk={"s1-u1": "s1"})


def test_score_cli(tmp_path, capsys):
    (tmp_path / "ref").write_text("".join(f"{u} {v} <SIL>\n" for u, v in REFS.items()))
    (tmp_path / "hyp").write_text("".join(f"{u} {v}\n".replace(" \n", "\n") for u, v in HYPS.items()))
    check = "true" if have_sclite() else "false"
    rc = score_cli.main(["--remove-tokens", "<SIL>", "--check-sclite", check, str(tmp_path / "ref"),
                         str(tmp_path / "hyp"), str(tmp_path / "out")])
    assert rc == 0
    assert capsys.readouterr().out.startswith("%WER 73.91 [ 17 / 23, 6 ins, 7 del, 4 sub ]")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["hyp.trn", "ref.trn", "result.pra",
                                                                   "result.txt", "scores.json"]
    (tmp_path / "hyp").write_text("s1-u1 a\n")
    rc = score_cli.main([str(tmp_path / "ref"), str(tmp_path / "hyp"), str(tmp_path / "out2")])
    assert rc == 1
    assert "no hypothesis for 6 of 7 utterance(s)" in capsys.readouterr().err

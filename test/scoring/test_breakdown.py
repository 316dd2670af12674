"""Error rates per utterance group and per reference-token tag."""
import json

import pytest

from speechssl.bin import decode_uasr
from speechssl.scoring.breakdown import counts_by_group, counts_by_tag, format_breakdown
from speechssl.scoring.sclite import score_corpus
from speechssl.utils.errors import SpeechSSLError

REFS = {"a-1": ["x", "y", "z"], "a-2": ["p", "q"], "b-1": ["x", "x"]}
HYPS = {"a-1": ["x", "w", "z", "k"], "a-2": ["p"], "b-1": ["x", "x"]}


def test_group_counts_sum_to_total():
    score = score_corpus(REFS, HYPS, metric="PER")
    groups = counts_by_group(score, {"a-1": "zul", "a-2": "eng", "b-1": "eng"})
    assert set(groups) == {"eng", "zul"}
    assert groups["zul"].sub == 1 and groups["zul"].ins == 1 and groups["zul"].ref_len == 3
    assert groups["eng"].dele == 1 and groups["eng"].ref_len == 4 and groups["eng"].sentences == 2
    total = groups["eng"] + groups["zul"]
    assert total == score.total


def test_tag_counts_charge_reference_tokens_and_insertions_to_the_token_before():
    score = score_corpus({"u": ["a", "b", "c", "d"]}, {"u": ["k", "a", "x", "c", "j"]}, metric="PER")
    tags = counts_by_tag(score, {"u": ["eng", "eng", "zul", "zul"]})
    # k inserted at the start -> first token's tag (eng); b->x substitution (eng); j inserted after c (zul);
    # d deleted (zul) or aligned: whatever the alignment, the per-tag counts add up to the total
    assert tags["eng"].ref_len == 2 and tags["zul"].ref_len == 2
    assert sum(c.errors for c in tags.values()) == score.total.errors
    assert tags["eng"].ins == 1 and tags["eng"].sub == 1
    assert "eng" in format_breakdown(tags, "PER", "tags")


def test_tag_table_must_match_reference_length():
    score = score_corpus({"u": ["a", "b"]}, {"u": ["a"]}, metric="PER")
    with pytest.raises(SpeechSSLError, match="utterance u has 3 tag"):
        counts_by_tag(score, {"u": ["x", "y", "z"]})
    with pytest.raises(SpeechSSLError, match="no entry for 1 scored"):
        counts_by_group(score, {}, "utt2lang")


def test_decode_cli_writes_breakdowns(tmp_path):
    import kaldiio
    import numpy as np

    tokens = tmp_path / "tokens.txt"
    tokens.write_text("a 1\nb 1\n<SIL> 1\n")
    mats = {"s1-u1": np.log(np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]], dtype=np.float32)),
            "s1-u2": np.log(np.array([[0.9, 0.05, 0.05]], dtype=np.float32))}
    kaldiio.save_ark(str(tmp_path / "l.ark"), mats, scp=str(tmp_path / "l.scp"))
    (tmp_path / "ref").write_text("s1-u1 a | b\ns1-u2 b\n")
    (tmp_path / "utt2lang").write_text("s1-u1 eng\ns1-u2 zul\n")
    (tmp_path / "tags").write_text("s1-u1 eng zul\ns1-u2 zul\n")
    out = tmp_path / "dec"
    rc = decode_uasr.main([str(tmp_path / "l.scp"), str(tokens), str(out), "--ref", str(tmp_path / "ref"),
                           "--remove-tokens", "|", "--group", f"lang={tmp_path / 'utt2lang'}",
                           "--ref-tags", str(tmp_path / "tags")])
    assert rc == 0
    scores = json.loads((out / "scoring" / "scores.json").read_text())
    assert scores["breakdowns"]["lang"]["eng"]["error_rate"] == 0.0
    assert scores["breakdowns"]["lang"]["zul"]["sub"] == 1
    assert scores["breakdowns"]["tags"]["zul"]["ref_tokens"] == 2
    assert (out / "scoring" / "breakdown_lang.txt").is_file()

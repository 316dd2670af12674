"""Unsupervised selection metrics on hand-made outputs (with a real KenLM phone 4-gram)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from speechssl.text.lm import load_lm, train_ngram
from speechssl.uasr.selection import (
    SelectionConfig, length_penalty, phone_error_rate, read_references, selection_metrics,
)
from speechssl.utils.errors import SpeechSSLError

TOKENS = ["a", "b", "c", "d", "e", "f", "<SIL>"]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    rng = np.random.default_rng(0)
    words = [["a", "b"], ["c", "d", "e"], ["f", "a"], ["b", "c"], ["d", "f", "e"]]
    lines = []
    for _ in range(300):
        picks = [words[i] for i in rng.integers(0, len(words), rng.integers(2, 5))]
        lines.append(" ".join(["<SIL>"] + [" ".join(w) + " <SIL>" for w in picks]))
    (d / "text.txt").write_text("\n".join(lines) + "\n")
    _, binary = train_ngram(d / "text.txt", d / "lm.phones.4", 4)
    return load_lm(binary, TOKENS), lines


def _hyps(sentences):
    return {f"u{i}": s.split() for i, s in enumerate(sentences)}


def test_weighted_ppl_prefers_text_like_diverse_outputs(lm):
    model, lines = lm
    good = _hyps(lines[:20])
    degenerate = _hyps(["a"] * 20)  # one phone everywhere: low usage
    scrambled = _hyps([" ".join(reversed(s.split())) for s in lines[:20]])
    cfg = SelectionConfig(phone_rate=None)
    mg, md, ms = (selection_metrics(h, TOKENS, model, cfg) for h in (good, degenerate, scrambled))
    assert mg["vocab_usage"] == 1.0 and md["vocab_usage"] == pytest.approx(1 / 7)
    assert mg["weighted_lm_ppl"] == pytest.approx(mg["lm_ppl"])
    assert md["weighted_lm_ppl"] == pytest.approx(md["lm_ppl"] * 49)
    assert mg["weighted_lm_ppl"] < ms["weighted_lm_ppl"] < md["weighted_lm_ppl"]
    assert "oracle_per" not in mg and mg["guarded_weighted_lm_ppl"] == mg["weighted_lm_ppl"]


def test_audio_guard_penalises_outputs_of_the_wrong_length(lm):
    model, lines = lm
    right = _hyps(lines[:20])
    n = {u: sum(p != "<SIL>" for p in h) for u, h in right.items()}
    durations = {u: n[u] / 12.0 for u in right}  # exactly 12 phones per second
    too_long = {u: h + h for u, h in right.items()}  # text-like, but twice the phones the audio can hold
    cfg = SelectionConfig(phone_rate=12.0, length_tolerance=1.3, length_power=2.0)
    mr = selection_metrics(right, TOKENS, model, cfg, durations)
    ml = selection_metrics(too_long, TOKENS, model, cfg, durations)
    assert mr["length_ratio"] == pytest.approx(1.0) and mr["guarded_weighted_lm_ppl"] == mr["weighted_lm_ppl"]
    assert ml["length_ratio"] == pytest.approx(2.0)
    assert ml["guarded_weighted_lm_ppl"] == pytest.approx(ml["weighted_lm_ppl"] * (2.0 / 1.3) ** 2)
    assert mr["length_duration_corr"] == pytest.approx(1.0)
    assert mr["guarded_weighted_lm_ppl"] < ml["guarded_weighted_lm_ppl"]


def test_length_penalty():
    assert length_penalty(1.2, 1.3, 2) == 1.0 and length_penalty(1 / 1.2, 1.3, 2) == 1.0
    assert length_penalty(0.5, 1.0, 1) == pytest.approx(2.0)
    assert math.isinf(length_penalty(0.0, 1.3, 2))


def test_oracle_per_ignores_silence_and_unreferenced(tmp_path, lm):
    hyps = {"u1": ["<SIL>", "a", "b", "<SIL>", "c"], "u2": ["a"], "extra": ["f"]}
    refs = {"u1": ["a", "b", "d"], "u2": ["a", "<SIL>", "b"]}
    per, errors, length = phone_error_rate(hyps, refs)
    assert (errors, length) == (2, 5) and per == pytest.approx(0.4)
    table = tmp_path / "utt2phones"
    table.write_text("u1 a b | d\nu2 a | <SIL> b\n")  # "|" separates words, it is not a phone
    assert read_references(table) == refs
    m = selection_metrics(hyps, TOKENS, lm[0], SelectionConfig(phone_rate=None), None, refs)
    assert m["oracle_per"] == pytest.approx(0.4)
    with pytest.raises(SpeechSSLError, match="no validation utterance"):
        phone_error_rate({"x": ["a"]}, refs)


def test_config_validation():
    with pytest.raises(SpeechSSLError, match="selection.metric"):
        SelectionConfig(metric="per")

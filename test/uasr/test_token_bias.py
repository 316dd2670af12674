"""Output biases fitted to the unpaired text's phone frequencies (speechssl.uasr.token_bias)."""
from __future__ import annotations

import numpy as np
import pytest

from speechssl.decoding import OutputTokens
from speechssl.uasr.pseudo_label import decode_labels
from speechssl.uasr.token_bias import (add_token_bias, fit_token_bias, read_token_bias, text_frequencies,
                                       write_token_bias)
from speechssl.utils.errors import SpeechSSLError

SYMBOLS = ["a", "b", "c", "<SIL>", "<blank>"]


def _starved_logprobs(seed: int = 0) -> dict[str, np.ndarray]:
    """Frames alternating a phone and the blank; the model puts 'c' frames second to 'a' by a small margin, so its
    greedy output has almost no 'c' while the true phones are a, b, c in equal shares."""
    rng = np.random.default_rng(seed)
    out = {}
    for u in range(40):
        truth = rng.integers(0, 3, size=30)
        frames = []
        for t in truth:
            row = np.full(5, -6.0)
            row[t] = 0.0
            if t == 2:
                row[0] = 0.3          # 'c' loses to 'a'
            blank = np.full(5, -6.0)
            blank[4] = 0.0
            frames += [row, blank]
        m = np.array(frames, dtype=np.float32) + rng.normal(0, 0.05, (len(frames), 5)).astype(np.float32)
        out[f"u{u:02d}"] = m - np.log(np.exp(m).sum(1, keepdims=True))
    return out


def test_fitted_biases_give_the_text_frequencies(tmp_path):
    tokens = OutputTokens.build(SYMBOLS, "<blank>")
    (tmp_path / "dict.phn.txt").write_text("a 1000\nb 1000\nc 1000\n<SIL> 500\n")
    target = text_frequencies(tmp_path / "dict.phn.txt", tokens)
    assert target == pytest.approx([1 / 3] * 3, abs=1e-3)       # <SIL> and the blank get no bias
    logprobs = _starved_logprobs()

    def share_of_c(bias):
        labels = decode_labels(add_token_bias(logprobs, bias), tokens, "greedy")
        phones = [p for v in labels.values() for p in v]
        return phones.count("c") / len(phones)
    assert share_of_c(np.zeros(5, dtype=np.float32)) < 0.05
    bias = fit_token_bias(logprobs, tokens, target, iters=6, step=0.5)
    assert bias[3] == 0 and bias[4] == 0 and bias[2] > bias[0]
    assert abs(share_of_c(bias) - 1 / 3) < 0.05
    # written and read back for the model's columns; another model's columns are refused
    write_token_bias(tmp_path / "token_bias.txt", SYMBOLS, bias)
    np.testing.assert_array_equal(read_token_bias(tmp_path / "token_bias.txt", SYMBOLS), bias)
    with pytest.raises(SpeechSSLError, match="belong to another model"):
        read_token_bias(tmp_path / "token_bias.txt", ["a", "b", "<blank>"])
    (tmp_path / "bad.txt").write_text("".join(f"{s} x\n" for s in SYMBOLS))
    with pytest.raises(SpeechSSLError, match="not a number"):
        read_token_bias(tmp_path / "bad.txt", SYMBOLS)
    with pytest.raises(SpeechSSLError, match="iterations must be >= 1"):
        fit_token_bias(logprobs, tokens, target, iters=0)

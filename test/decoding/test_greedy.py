"""Greedy decoding, token lists and log-probability checks on hand-made matrices."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from speechssl.decoding import OutputTokens, collapse, greedy_decode, normalize_logprobs, unpad
from speechssl.utils.errors import SpeechSSLError


def posteriors(labels, tokens: OutputTokens, peak=0.9) -> np.ndarray:
    """One frame per label, ``peak`` probability on it and the rest spread evenly."""
    m = np.full((len(labels), tokens.size), (1 - peak) / (tokens.size - 1))
    for t, s in enumerate(labels):
        m[t, tokens.symbols.index(s)] = peak
    return np.log(m).astype(np.float32)


def test_no_blank_merges_repeats_and_drops_sil():
    tok = OutputTokens.build(["a", "b", "<SIL>", "c"])
    m = posteriors(["a", "a", "<SIL>", "b", "b", "a", "<SIL>", "<SIL>", "a", "c"], tok)
    ids = greedy_decode([m], tok)[0]
    assert [tok.symbols[i] for i in ids] == ["a", "<SIL>", "b", "a", "<SIL>", "a", "c"]
    assert tok.to_symbols(ids) == ["a", "b", "a", "a", "c"]


def test_ctc_blank_separates_repeats():
    tok = OutputTokens.build(["<blank>", "a", "b"], blank="<blank>")
    m = posteriors(["<blank>", "a", "a", "<blank>", "a", "b", "b", "<blank>"], tok)
    assert tok.to_symbols(greedy_decode([m], tok)[0]) == ["a", "a", "b"]
    # not declared as the blank, <blank> is a special symbol: masked, so blank frames go to the best real
    # token (a tie between a and b, won by a) and the runs merge into a b a
    nob = OutputTokens.build(["<blank>", "a", "b"])
    assert nob.masked == frozenset({0})
    assert nob.to_symbols(greedy_decode([m], nob)[0]) == ["a", "b", "a"]


def test_special_columns_never_emitted_and_batch_split():
    tok = OutputTokens.build(["<s>", "<pad>", "</s>", "<unk>", "x", "y"])
    m1 = posteriors(["<unk>", "x", "<pad>", "y"], tok)          # masked columns hold the argmax here
    m1[0, 4] = np.log(0.05)                                      # x still second best in frame 0
    m2 = posteriors(["y", "y"], tok)
    empty = np.zeros((0, tok.size), dtype=np.float32)
    out = greedy_decode([m1, empty, m2], tok)
    assert [tok.to_symbols(o) for o in out] == [["x", "y"], [], ["y"]]


def test_collapse_and_unpad_torch_batch():
    tok = OutputTokens.build(["a", "b"])
    assert collapse(np.array([0, 0, 1, 1, 0]), tok) == [0, 1, 0]
    padded = torch.zeros(2, 3, 2)
    padded[0, :, 1] = 5.0
    padded[1, 0, 0] = 5.0
    parts = unpad(padded, [3, 1])
    assert [p.shape for p in parts] == [(3, 2), (1, 2)]
    assert greedy_decode(parts, tok) == [[1], [0]]


def test_normalize_logprobs():
    tok = OutputTokens.build(["a", "b", "<pad>"])
    x = normalize_logprobs(torch.tensor([[1.0, 2.0, 9.0]]), tok)
    assert x.dtype == np.float32 and x[0, 2] == -np.inf
    assert np.allclose(np.exp(x).sum(axis=1), 1.0)
    assert np.allclose(normalize_logprobs(x, tok), x)           # idempotent on log-probabilities
    with pytest.raises(SpeechSSLError, match=r"utt7: log-probability matrix has shape \(1, 2\)"):
        normalize_logprobs(np.zeros((1, 2)), tok, "utt7")
    with pytest.raises(SpeechSSLError, match="utt8: 1 frame"):
        normalize_logprobs(np.array([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]]), tok, "utt8")


def test_token_list_errors(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("a 10\nb 5\na 1\n")
    with pytest.raises(SpeechSSLError, match=r"token 'a' appears twice \(lines 1 and 3\)"):
        OutputTokens.read(path)
    path.write_text("<SIL> 10\nb 5\n")
    assert OutputTokens.read(path).drop == frozenset({0})
    with pytest.raises(SpeechSSLError, match="blank symbol '<blank>' is not in the token list"):
        OutputTokens.read(path, blank="<blank>")

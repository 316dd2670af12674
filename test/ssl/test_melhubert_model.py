"""MelHuBERT model pieces: span masking, frame stacking, padding invariance, MACs, featurizer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from speechssl.models.featurizer import Featurizer
from speechssl.models.melhubert import (
    MelHuBERT, MelHuBERTConfig, compute_span_mask, macs_per_second, stack_frames,
)
from speechssl.utils.errors import SpeechSSLError


@pytest.mark.parametrize("prob,length", [(0.5, 5), (0.8, 10), (0.3, 2)])
def test_mask_covers_configured_share(prob, length):
    rng = np.random.default_rng(0)
    lengths = [200, 350, 501, 1000]
    mask = compute_span_mask(lengths, prob, length, rng)
    for b, n in enumerate(lengths):
        share = mask[b, :n].float().mean().item()
        assert abs(share - prob) <= length / n + 1e-9  # exactly round(prob*n/length) whole spans
        assert not mask[b, n:].any()
        # spans are runs of exactly `length` frames (adjacent spans merge into multiples)
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, mask[b, :n].numpy().astype(int), 0])))[::2]
        assert all(r % length == 0 for r in runs)


def test_mask_is_seeded_and_varies():
    a = compute_span_mask([300], 0.5, 5, np.random.default_rng(3))
    b = compute_span_mask([300], 0.5, 5, np.random.default_rng(3))
    c = compute_span_mask([300], 0.5, 5, np.random.default_rng(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_stack_frames_pads_and_halves_lengths():
    x = torch.arange(2 * 5 * 3, dtype=torch.float32).view(2, 5, 3)
    y, lens = stack_frames(x, torch.tensor([5, 3]), 2)
    assert y.shape == (2, 3, 6) and lens.tolist() == [3, 2]
    assert torch.equal(y[0, 0], torch.cat([x[0, 0], x[0, 1]]))
    assert torch.equal(y[0, 2, 3:], torch.zeros(3))


def _small(stack=2):
    return MelHuBERT(MelHuBERTConfig(stack_frames=stack, hidden_size=32, num_layers=3, num_heads=4, ffn_size=64,
                                     pos_conv_kernel=8, pos_conv_groups=4, num_clusters=10)).eval()


def test_padding_does_not_change_hidden_states():
    torch.manual_seed(0)
    model = _small()
    a, b = torch.randn(1, 37, 40), torch.randn(1, 20, 40)
    batch = torch.zeros(2, 37, 40)
    batch[0], batch[1, :20] = a[0], b[0]
    with torch.no_grad():
        _, states, lens = model(batch, torch.tensor([37, 20]))
        _, alone, _ = model(b, torch.tensor([20]))
    assert lens.tolist() == [19, 10] and len(states) == 4
    for s, s_alone in zip(states, alone):
        assert torch.allclose(s[1, :10], s_alone[0], atol=1e-5)


def test_macs_match_the_paper_ratio_for_the_12_layer_model():
    model = MelHuBERT(MelHuBERTConfig())
    gmacs = macs_per_second(model, 1.0) / 1e9
    # 1 s at 50 Hz: projection 80x768, pos-conv 768x48x128, 12 x (4x768^2 + 2x768x3072) per frame + attention
    assert 4.2 < gmacs < 4.7
    assert macs_per_second(MelHuBERT(MelHuBERTConfig(stack_frames=1)), 1.0) > 1.9 * gmacs


def test_config_errors_name_the_problem():
    with pytest.raises(SpeechSSLError, match="stack_frames"):
        MelHuBERTConfig(stack_frames=3)
    with pytest.raises(SpeechSSLError, match="unknown MelHuBERT option"):
        MelHuBERTConfig.from_dict({"hiden_size": 3})


def test_featurizer_weighted_sum_and_selection():
    states = [torch.full((2, 3, 4), float(i)) for i in range(5)]
    ws = Featurizer(4, "all")
    assert torch.allclose(ws(states), torch.full((2, 3, 4), 2.0))  # uniform start: mean of 0..4
    with torch.no_grad():
        ws.weights[4] = 100.0
    assert torch.allclose(ws(states), states[4], atol=1e-3)
    assert torch.allclose(ws.layer_weights().sum(), torch.tensor(1.0))
    one = Featurizer(4, 2)
    assert one.weights is None and one(states) is states[2] and list(one.parameters()) == []
    sub = Featurizer(4, "1,3")
    assert torch.allclose(sub(states), torch.full((2, 3, 4), 2.0)) and sub.max_layer == 3
    with pytest.raises(SpeechSSLError, match="layer 7 does not exist"):
        Featurizer(4, 7)
    with pytest.raises(SpeechSSLError, match="truncated"):
        sub(states[:2])

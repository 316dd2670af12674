"""SpecAugment masking of feature batches for CTC training."""
from __future__ import annotations

import pytest
import torch

from speechssl.features.spec_augment import SpecAugmentConfig, spec_augment
from speechssl.utils.errors import SpeechSSLError


def batch(lengths=(50, 30), dim=13):
    feats = torch.randn(len(lengths), max(lengths), dim) + 5.0   # no value is 0 before masking
    pad = torch.arange(max(lengths))[None, :] >= torch.tensor(lengths)[:, None]
    return feats.masked_fill(pad[:, :, None], 0.0), pad


def test_disabled_is_the_identity_and_draws_nothing():
    feats, pad = batch()
    torch.manual_seed(0)
    state = torch.get_rng_state()
    assert spec_augment(feats, pad, SpecAugmentConfig()) is feats
    assert torch.equal(torch.get_rng_state(), state)


def test_time_masks_zero_whole_frames_inside_each_utterance():
    feats, pad = batch()
    torch.manual_seed(1)
    out = spec_augment(feats, pad, SpecAugmentConfig(time_masks=2, time_width=6))
    zero_frames = (out == 0).all(dim=2) & ~pad
    assert ((out == 0) == zero_frames[:, :, None] | pad[:, :, None]).all()   # only whole frames, never parts
    for row in range(2):
        n = int(zero_frames[row].sum())
        assert 1 <= n <= 12                                                  # 2 spans of 1..6 frames
    assert torch.equal(out[~(out == 0).all(dim=2)], feats[~(out == 0).all(dim=2)])  # the rest untouched


def test_freq_masks_zero_whole_dimensions_and_are_seeded():
    feats, pad = batch()
    torch.manual_seed(2)
    out = spec_augment(feats, pad, SpecAugmentConfig(freq_masks=1, freq_width=4))
    for row in range(2):
        dims = (out[row][~pad[row]] == 0).all(dim=0)
        assert 1 <= int(dims.sum()) <= 4
        idx = dims.nonzero().flatten()
        assert int(idx.max() - idx.min()) + 1 == len(idx)                    # one contiguous span
    torch.manual_seed(2)
    assert torch.equal(spec_augment(feats, pad, SpecAugmentConfig(freq_masks=1, freq_width=4)), out)


def test_bad_configurations_are_refused():
    with pytest.raises(SpeechSSLError, match="time_width"):
        SpecAugmentConfig.from_dict({"time_masks": 2, "time_width": 0})
    with pytest.raises(SpeechSSLError, match="unknown keys"):
        SpecAugmentConfig.from_dict({"time_mask": 2})
    assert SpecAugmentConfig.from_dict(None) == SpecAugmentConfig()

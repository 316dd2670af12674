"""Kaldi-compatible MFCC and filterbank features, deltas and CMVN.

Features come from ``torchaudio.compliance.kaldi`` (pure Python) on the
waveform scaled to the 16-bit integer range, as Kaldi reads PCM, with
``dither=0`` so that features are reproducible (Kaldi's ``--dither=1``
default adds random noise).  Other Kaldi options keep torchaudio's defaults
(25 ms Povey window, 10 ms shift, MFCC with C0 instead of log-energy).

CMVN is per utterance or global.  Global statistics (``count``, ``sum``,
``sum_square`` per dimension, the names ESPnet's ``feats_stats.npz`` uses) are
accumulated on the training set, saved with :meth:`CMVNStats.save` and applied
to any set.  As in Kaldi's ``apply-cmvn``, means are normalised and variances
only when asked.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi

from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError

#: Kaldi reads 16-bit PCM as integers; our waveforms are floats in [-1, 1].
INT16_SCALE = 32768.0
FEATURE_TYPES = ("mfcc", "fbank")


@dataclass
class FeatureConfig:
    """Options of :func:`compute_features` (Kaldi names; ``num_mel_bins=None``: 23 for MFCC, 80 for fbank)."""

    feat_type: str = "mfcc"
    num_ceps: int = 13
    num_mel_bins: int | None = None
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    deltas: bool = False

    def __post_init__(self) -> None:
        if self.feat_type not in FEATURE_TYPES:
            raise SpeechSSLError(f"unknown feature type {self.feat_type!r}; choose one of {', '.join(FEATURE_TYPES)}")

    @property
    def mel_bins(self) -> int:
        return self.num_mel_bins or (23 if self.feat_type == "mfcc" else 80)

    @property
    def dim(self) -> int:
        base = self.num_ceps if self.feat_type == "mfcc" else self.mel_bins
        return base * (3 if self.deltas else 1)

    @property
    def frame_rate(self) -> float:
        return 1000.0 / self.frame_shift_ms


def _as_tensor(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(wave, dtype=np.float32) if not torch.is_tensor(wave) else wave)
    return t.float().reshape(1, -1) * INT16_SCALE


def _check_length(num_samples: int, sample_rate: int, frame_length_ms: float, utt: str | None) -> None:
    window = int(sample_rate * frame_length_ms / 1000)
    if num_samples < window:
        raise SpeechSSLError(
            f"{utt or 'waveform'}: {num_samples} samples is shorter than one {frame_length_ms:g} ms analysis window "
            f"({window} samples at {sample_rate} Hz); remove the utterance (e.g. filter on utt2dur)"
        )


def kaldi_mfcc(wave, sample_rate: int, num_ceps: int = 13, num_mel_bins: int = 23, **kaldi_opts) -> np.ndarray:
    """MFCC ``[frames, num_ceps]`` of a float waveform in [-1, 1], as torchaudio's Kaldi MFCC."""
    feats = kaldi.mfcc(_as_tensor(wave), sample_frequency=sample_rate, num_ceps=num_ceps,
                       num_mel_bins=num_mel_bins, dither=0.0, **kaldi_opts)
    return feats.numpy()


def kaldi_fbank(wave, sample_rate: int, num_mel_bins: int = 80, **kaldi_opts) -> np.ndarray:
    """Log Mel filterbank ``[frames, num_mel_bins]`` of a float waveform in [-1, 1]."""
    feats = kaldi.fbank(_as_tensor(wave), sample_frequency=sample_rate, num_mel_bins=num_mel_bins,
                        dither=0.0, **kaldi_opts)
    return feats.numpy()


def delta_window(order: int, window: int = 2) -> np.ndarray:
    """Kaldi's delta filter of the given order (length ``2 * order * window + 1``).

    Order 1 is the regression ``sum_n n (x[t+n] - x[t-n]) / (2 sum_n n^2)``;
    order k is order 1 convolved with order k-1.
    """
    taps = np.array([1.0])
    base = np.arange(-window, window + 1, dtype=np.float64)
    base /= np.sum(base ** 2)
    for _ in range(order):
        taps = np.convolve(taps, base)
    return taps


def add_deltas(feats: np.ndarray, order: int = 2, window: int = 2) -> np.ndarray:
    """Append deltas up to ``order`` like Kaldi's ``add-deltas`` (edge frames repeated)."""
    x = torch.as_tensor(feats, dtype=torch.float64).T[None]  # [1, D, T]
    reach = order * window
    padded = F.pad(x, (reach, reach), mode="replicate")
    out = [x]
    for k in range(1, order + 1):
        taps = torch.as_tensor(delta_window(k, window))
        pad = reach - k * window
        kernel = taps.repeat(x.shape[1], 1, 1)  # applied as out[t] = sum_j taps[j] x[t + j]
        out.append(F.conv1d(padded[..., pad : padded.shape[-1] - pad], kernel, groups=x.shape[1]))
    return torch.cat(out, dim=1)[0].T.numpy().astype(np.float32)


def compute_features(wave, sample_rate: int, config: FeatureConfig, utt: str | None = None) -> np.ndarray:
    """Features ``[frames, config.dim]`` (float32) of one utterance; ``utt`` names it in errors."""
    _check_length(int(np.asarray(wave).shape[-1]), sample_rate, config.frame_length_ms, utt)
    opts = dict(frame_length=config.frame_length_ms, frame_shift=config.frame_shift_ms)
    if config.feat_type == "mfcc":
        feats = kaldi_mfcc(wave, sample_rate, config.num_ceps, config.mel_bins, **opts)
    else:
        feats = kaldi_fbank(wave, sample_rate, config.mel_bins, **opts)
    if config.deltas:
        feats = add_deltas(feats)
    return feats.astype(np.float32)


def utterance_cmvn(feats: np.ndarray, norm_vars: bool = False) -> np.ndarray:
    """Subtract the utterance mean (and divide by its standard deviation if ``norm_vars``)."""
    x = feats.astype(np.float64)
    x = x - x.mean(axis=0)
    if norm_vars:
        x = x / np.maximum(x.std(axis=0), 1e-10)
    return x.astype(feats.dtype)


def speaker_cmvn(feats: list[np.ndarray], speakers: list[str]) -> list[np.ndarray]:
    """Every utterance normalised to zero mean and unit variance with the statistics of all its speaker's
    frames (``speakers[i]`` is the speaker of ``feats[i]``)."""
    if len(feats) != len(speakers):
        raise SpeechSSLError(f"speaker_cmvn: {len(feats)} utterances but {len(speakers)} speakers")
    stats: dict[str, CMVNStats] = {}
    for m, spk in zip(feats, speakers):
        stats.setdefault(spk, CMVNStats(m.shape[1])).accumulate(m)
    return [stats[spk].apply(m, norm_vars=True) for m, spk in zip(feats, speakers)]


class CMVNStats:
    """Global mean/variance statistics, accumulated in float64."""

    def __init__(self, dim: int):
        self.count = 0
        self.sum = np.zeros(dim, dtype=np.float64)
        self.sum_square = np.zeros(dim, dtype=np.float64)

    def accumulate(self, feats: np.ndarray) -> None:
        """Add the frames of ``feats [frames, dim]``."""
        x = np.asarray(feats, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.sum.shape[0]:
            raise SpeechSSLError(f"CMVN stats have dimension {self.sum.shape[0]} but features are {x.shape}")
        self.count += x.shape[0]
        self.sum += x.sum(axis=0)
        self.sum_square += (x * x).sum(axis=0)

    def merge(self, other: "CMVNStats") -> None:
        """Add another accumulator (e.g. of another job)."""
        if other.sum.shape != self.sum.shape:
            raise SpeechSSLError(f"cannot merge CMVN stats of dimensions {other.sum.shape[0]} and {self.sum.shape[0]}")
        self.count += other.count
        self.sum += other.sum
        self.sum_square += other.sum_square

    @property
    def mean(self) -> np.ndarray:
        return self.sum / max(self.count, 1)

    @property
    def std(self) -> np.ndarray:
        var = self.sum_square / max(self.count, 1) - self.mean ** 2
        return np.sqrt(np.maximum(var, 1e-20))

    def apply(self, feats: np.ndarray, norm_vars: bool = False) -> np.ndarray:
        """Normalise ``feats`` with these statistics."""
        if self.count == 0:
            raise SpeechSSLError("global CMVN statistics are empty (no frames were accumulated)")
        x = feats.astype(np.float64) - self.mean
        if norm_vars:
            x = x / np.maximum(self.std, 1e-10)
        return x.astype(feats.dtype)

    def save(self, path: str | Path) -> None:
        """Write ``count``, ``sum``, ``sum_square`` to an ``.npz`` file atomically."""
        with atomic_write(path, "wb") as f:
            np.savez(f, count=np.array(self.count), sum=self.sum, sum_square=self.sum_square)

    @classmethod
    def load(cls, path: str | Path) -> "CMVNStats":
        path = Path(path)
        try:
            with np.load(path) as z:
                stats = cls(int(z["sum"].shape[0]))
                stats.count = int(z["count"])
                stats.sum = z["sum"].astype(np.float64)
                stats.sum_square = z["sum_square"].astype(np.float64)
        except (OSError, KeyError, ValueError) as e:
            raise SpeechSSLError(
                f"{path}: not a CMVN statistics file with count/sum/sum_square ({e}); "
                "compute it with dump_features --cmvn global on the training set"
            ) from None
        return stats

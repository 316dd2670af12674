"""Unsupervised phone segmentation from spectral change, and fixed-size segment vectors.

A boundary is placed where the mean of the ``window`` frames to the right of a
frame differs most from the mean of the ``window`` frames to its left (a local
maximum of that distance, standing out by ``prominence`` standard deviations of
the utterance's distance curve, at least ``min_gap`` frames from a stronger
one).  Each segment is then represented by the means of its three thirds
concatenated, which keeps the onset/steady-state/offset shape a plain mean
throws away.  Boundaries found on other features (another frame rate) can be
read back and rescaled instead (:func:`read_bounds`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from speechssl.data.scp import read_table
from speechssl.utils.errors import SpeechSSLError


@dataclass
class SegmentationConfig:
    """Options of :func:`spectral_boundaries` (frames at the feature frame rate)."""

    window: int = 2          # frames averaged on each side of a candidate boundary
    min_gap: int = 3         # shortest segment, in frames
    prominence: float = 0.8  # a peak must rise this many curve std-devs above its neighbourhood's minimum
    shift: int = 1           # frames added to every peak (the distance peaks 1-2 frames before the change)
    dims: int = 13           # leading feature dimensions compared (13: the static cepstra of 39-dim MFCC); 0: all

    def check(self) -> None:
        if self.window < 1 or self.min_gap < 1:
            raise SpeechSSLError(f"segmentation: window ({self.window}) and min_gap ({self.min_gap}) must be >= 1")
        if self.prominence < 0 or self.dims < 0:
            raise SpeechSSLError("segmentation: prominence and dims must be >= 0")


def change_curve(feats: np.ndarray, cfg: SegmentationConfig) -> np.ndarray:
    """Distance at each frame t between the mean of frames [t-w, t) and of (t, t+w], per-utterance z-scored."""
    x = feats[:, :cfg.dims] if cfg.dims else feats
    z = (x - x.mean(0)) / (x.std(0) + 1e-5)
    w, n = cfg.window, len(z)
    padded = np.pad(z, ((w, w), (0, 0)), mode="edge")
    csum = np.concatenate([np.zeros((1, z.shape[1])), np.cumsum(padded, axis=0)])
    left = (csum[w:w + n] - csum[:n]) / w               # frames t-w .. t-1
    right = (csum[2 * w + 1:2 * w + 1 + n] - csum[w + 1:w + 1 + n]) / w  # frames t+1 .. t+w
    return np.linalg.norm(right - left, axis=1)


def spectral_boundaries(feats: np.ndarray, cfg: SegmentationConfig) -> np.ndarray:
    """Segment boundaries of one utterance: sorted frame indices starting at 0 and ending at ``len(feats)``."""
    n = len(feats)
    if n == 0:
        raise SpeechSSLError("spectral_boundaries: empty utterance")
    d = change_curve(feats, cfg)
    spread = d.std()
    peaks = []
    for t in range(1, n - 1):
        if d[t] >= d[t - 1] and d[t] > d[t + 1]:
            floor = d[max(0, t - cfg.min_gap):t + cfg.min_gap + 1].min()
            if d[t] - floor > cfg.prominence * spread:
                peaks.append(t)
    kept: list[int] = []
    for t in sorted(peaks, key=lambda t: -d[t]):           # strongest first, then keep those far enough apart
        if all(abs(t - k) >= cfg.min_gap for k in kept):
            kept.append(t)
    inner = sorted({t + cfg.shift for t in kept if 0 < t + cfg.shift < n})
    return np.array([0, *inner, n], dtype=np.int64)


def rescale_bounds(bounds: np.ndarray, num_frames: int) -> np.ndarray:
    """Boundaries of another frame rate (ending at that rate's frame count) moved onto ``num_frames`` frames:
    scaled, rounded, and those that fall onto the same frame merged."""
    scaled = np.rint(np.asarray(bounds, dtype=np.float64) * num_frames / bounds[-1]).astype(np.int64)
    inner = np.unique(scaled[(scaled > 0) & (scaled < num_frames)])
    return np.array([0, *inner, num_frames], dtype=np.int64)


def read_bounds(path: str | Path, utts: Sequence[str], num_frames: Sequence[int],
                max_rate_spread: float = 0.1) -> tuple[list[np.ndarray], int]:
    """The boundaries of ``utts`` from a ``utt2bounds`` table (``utt 0 b1 ... frames``, as decipher_units writes
    it, possibly at another frame rate), rescaled to ``num_frames``; returns them and how many segments the
    rescaling merged.  Every utterance's frame-count ratio must lie within ``max_rate_spread`` of the median
    ratio, which catches boundaries of other audio."""
    table = {}
    for utt, value, n in read_table(path):
        try:
            b = np.array([int(x) for x in value.split()], dtype=np.int64)
        except ValueError:
            raise SpeechSSLError(f"{path}:{n}: boundaries of {utt!r} are not integers") from None
        if len(b) < 2 or b[0] != 0 or np.any(np.diff(b) <= 0):
            raise SpeechSSLError(f"{path}:{n}: boundaries of {utt!r} must start at 0 and increase strictly")
        table[utt] = b
    missing = [u for u in utts if u not in table]
    if missing:
        raise SpeechSSLError(f"{path}: no boundaries for {len(missing)} of {len(utts)} utterances (first "
                             f"{missing[0]!r}); segment the same utterances there first")
    ratios = np.array([n / table[u][-1] for u, n in zip(utts, num_frames)])
    median = float(np.median(ratios))
    off = np.flatnonzero(np.abs(ratios / median - 1) > max_rate_spread)
    if off.size:
        u = utts[off[0]]
        raise SpeechSSLError(f"{path}: utterance {u!r} has {num_frames[off[0]]} frames here and {table[u][-1]} "
                             f"there (ratio {ratios[off[0]]:.3f}, the median ratio is {median:.3f}; {off.size} "
                             "utterances are that far off): are the boundaries of the same audio?")
    bounds = [rescale_bounds(table[u], n) for u, n in zip(utts, num_frames)]
    merged = sum(len(table[u]) - len(b) for u, b in zip(utts, bounds))
    return bounds, merged


def segment_thirds(feats: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """One vector per segment: the means of its first, middle and last third, concatenated (3 x dim)."""
    out = np.empty((len(bounds) - 1, 3 * feats.shape[1]), dtype=np.float32)
    for i, (a, e) in enumerate(zip(bounds[:-1], bounds[1:])):
        seg = feats[a:e]
        cuts = np.linspace(0, len(seg), 4).round().astype(int)
        out[i] = np.concatenate([seg[min(cuts[j], len(seg) - 1):max(cuts[j + 1], cuts[j] + 1)].mean(0)
                                 for j in range(3)])
    return out


def boundary_scores(hyp: Sequence[Sequence[int]], ref: Sequence[Sequence[int]], tolerance: int = 2) -> dict:
    """Precision, recall, F1 and R-value of inner boundaries against references, each reference matched once
    by a hypothesis within ``tolerance`` frames (the usual phone-segmentation scoring)."""
    hits = n_hyp = n_ref = 0
    for h, r in zip(hyp, ref, strict=True):
        used: set[int] = set()
        for g in r:
            near = [x for x in h if abs(x - g) <= tolerance and x not in used]
            if near:
                used.add(min(near, key=lambda x: abs(x - g)))
                hits += 1
        n_hyp, n_ref = n_hyp + len(h), n_ref + len(r)
    precision = hits / n_hyp if n_hyp else 0.0
    recall = hits / n_ref if n_ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    over = recall / precision - 1 if precision else 0.0
    r1 = np.hypot(1 - recall, over)
    r2 = (-over + recall - 1) / np.sqrt(2)
    return {"precision": precision, "recall": recall, "f1": f1, "r_value": float(1 - (abs(r1) + abs(r2)) / 2),
            "hyp_boundaries": n_hyp, "ref_boundaries": n_ref}

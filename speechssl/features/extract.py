"""Features of in-memory waveforms, computed exactly as ``dump_features`` computes them for a data directory.

:class:`WaveformFeaturizer` takes the same :class:`~speechssl.features.dump.DumpOptions`
and returns per utterance the matrix that ``dump_features`` would store (and a
:class:`~speechssl.uasr.data.FeatureSet` would read back): MFCC/fbank per
utterance, or one layer of an SSL upstream in length-sorted batches; then the
CMVN of the options (per utterance, or global with saved training-set
statistics) and the stored precision.  Packed models use it at inference.

SSL features of a batch can differ from those of the same utterance alone in
the last digits (padding, batched kernels); MFCC and fbank are exact.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from speechssl.audio.features import CMVNStats, FeatureConfig, compute_features, utterance_cmvn
from speechssl.features.dump import DTYPES, SSL, DumpOptions
from speechssl.trainers.base import pick_device
from speechssl.utils.errors import SpeechSSLError


class WaveformFeaturizer:
    """Features of ``(utt, waveform)`` pairs under ``opts`` (one SSL layer); global CMVN needs ``cmvn_stats``."""

    def __init__(self, opts: DumpOptions, cmvn_stats: CMVNStats | None = None):
        if opts.cmvn == "global" and cmvn_stats is None:
            raise SpeechSSLError("global CMVN needs the training set's statistics (cmvn_stats.npz of its dump "
                                 "directory)")
        self.opts, self.cmvn_stats = opts, cmvn_stats
        self.layer: int | None = None
        self.upstream = None
        self.config = None
        if opts.feat_type == SSL:
            from speechssl.models.upstream import load_upstream, parse_layers

            up = load_upstream(opts.upstream)
            layers = parse_layers(opts.layers, up.num_layers)
            if len(layers) != 1:
                raise SpeechSSLError(f"SSL layers {opts.layers!r}: give exactly one layer, got {layers}")
            self.layer = layers[0]
            up.truncate(self.layer)
            self.device = pick_device(opts.device)
            self.upstream = up.to(self.device)
        else:
            self.config = FeatureConfig(opts.feat_type, num_ceps=opts.num_ceps, num_mel_bins=opts.num_mel_bins,
                                        deltas=opts.deltas)

    @property
    def sample_rate(self) -> int:
        """The sample rate the waveforms must have."""
        return self.upstream.sample_rate if self.upstream is not None else self.opts.sample_rate

    @property
    def dim(self) -> int:
        """Feature dimension."""
        return self.upstream.hidden_size if self.upstream is not None else self.config.dim

    @property
    def min_samples(self) -> int:
        """The shortest waveform that gives a feature frame."""
        if self.upstream is not None:
            return self.upstream.receptive_field
        return int(self.sample_rate * self.config.frame_length_ms / 1000)

    @property
    def frame_rate(self) -> float:
        """Feature frames per second."""
        return self.upstream.frame_rate if self.upstream is not None else self.config.frame_rate

    def __call__(self, items: Sequence[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Float32 ``frames x dim`` features of every ``(utt, mono float waveform at sample_rate)``."""
        if self.upstream is None:
            raw = {utt: compute_features(wav, self.sample_rate, self.config, utt=utt) for utt, wav in items}
        else:
            raw = self._ssl(items)
        return {utt: self._finish(raw[utt]) for utt, _ in items}

    def _finish(self, feats: np.ndarray) -> np.ndarray:
        """CMVN and the stored precision, as ``dump_features`` writes them."""
        feats = feats.astype(np.float32, copy=False)
        if self.opts.cmvn == "utt":
            feats = utterance_cmvn(feats, self.opts.norm_vars)
        elif self.opts.cmvn == "global":
            feats = self.cmvn_stats.apply(feats, self.opts.norm_vars)
        return feats.astype(DTYPES[self.opts.dtype]).astype(np.float32)

    def _ssl(self, items: Sequence[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Longest first, in batches whose padded size stays within ``batch_seconds``."""
        budget = int(self.opts.batch_seconds * self.sample_rate)
        out: dict[str, np.ndarray] = {}
        batch: list[tuple[str, np.ndarray]] = []
        for item in sorted(items, key=lambda x: -len(x[1])):
            if batch and (len(batch) + 1) * len(batch[0][1]) > budget:
                out.update(self._ssl_batch(batch))
                batch = []
            batch.append(item)
        if batch:
            out.update(self._ssl_batch(batch))
        return out

    def _ssl_batch(self, batch: list[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
        lens = torch.tensor([len(w) for _, w in batch])
        wavs = torch.zeros(len(batch), int(lens.max()))
        for i, (_, w) in enumerate(batch):
            wavs[i, : len(w)] = torch.from_numpy(np.asarray(w, dtype=np.float32))
        on_gpu = self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_gpu):
            out = self.upstream(wavs.to(self.device), lens.to(self.device), utt_ids=[u for u, _ in batch])
        states = out.hidden_states[self.layer].float().cpu().numpy()
        return {utt: states[i, :n] for i, ((utt, _), n) in enumerate(zip(batch, out.lengths.tolist()))}

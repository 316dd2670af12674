"""MelHuBERT pre-training: masked prediction of k-means targets from dumped log-Mel features.

Inputs are a feature directory written by ``dump_features --feat-type fbank
--num-mel-bins 40 --cmvn global --norm-vars true`` (its ``feats.scp``,
``utt2num_frames``, ``feat_info.json`` and ``cmvn_stats.npz``: the
training-set statistics, stored in every checkpoint so that the model loads
through :func:`speechssl.models.upstream.load_upstream`), and a target file
``<utt> <cluster> <cluster> ...`` written by ``make_kmeans_targets``, at the
10 ms feature rate (stage 1, k-means of log-Mel; subsampled by two for a
20 ms model) or at the model's rate (stage 2, k-means of a hidden layer).

Configuration: :data:`DEFAULT_CONFIG`; a YAML file and ``--set key=value``
override it (:func:`load_config`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kaldiio
import numpy as np
import torch

from speechssl.audio.features import CMVNStats
from speechssl.data.scp import read_table
from speechssl.models.melhubert import (
    MelHuBERT, MelHuBERTConfig, compute_span_mask, macs_per_second, masked_prediction_loss,
)
from speechssl.models.upstream.melhubert import META_KEY, upstream_meta
from speechssl.trainers.base import TRAINER_DEFAULTS
from speechssl.trainers.distributed import broadcast_module
from speechssl.trainers.config import load_nested_config
from speechssl.trainers.pretrain import OPTIM_DEFAULTS, DurationBatchSampler, PretrainTrainer
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

DEFAULT_CONFIG: dict[str, Any] = {
    "model": MelHuBERTConfig().to_dict(),
    "data": {"batch_seconds": 100.0, "crop_seconds": 15.0, "min_seconds": 0.5, "bucket_size": 1000,
             "preload_gb": 4.0, "valid_max_utts": 500},
    "optim": dict(OPTIM_DEFAULTS),
    "trainer": {**TRAINER_DEFAULTS, "max_updates": 400000},
}
#: log-Mel frames per second (10 ms shift).
FEATURE_RATE = 100


def load_config(path: str | Path | None, overrides=()) -> dict[str, Any]:
    """:data:`DEFAULT_CONFIG` updated by the YAML file ``path`` and ``key.sub=value`` overrides."""
    return load_nested_config(DEFAULT_CONFIG, path, overrides)


def read_targets(path: str | Path) -> dict[str, np.ndarray]:
    """``utt -> int16 cluster ids`` from a ``<utt> c1 c2 ...`` file; bad lines raise naming the line."""
    out = {}
    for utt, value, line in read_table(path):
        try:
            out[utt] = np.array(value.split(), dtype=np.int16)
        except ValueError:
            raise SpeechSSLError(f"{path}:{line}: targets of {utt!r} are not integers") from None
    return out


@dataclass
class Batch:
    feats: torch.Tensor       # [B, T, num_mel_bins], normalised, zero-padded
    lengths: torch.Tensor     # [B] log-Mel frames
    targets: torch.Tensor     # [B, T'] cluster ids at the model's frame rate, -1 = none
    mask: torch.Tensor        # [B, T'] frames masked in the input (loss frames)


class MelFeatureSet:
    """Normalised log-Mel features of a dump directory with aligned k-means targets."""

    def __init__(self, feats_dir: str | Path, targets: str | Path, stack: int, num_mel_bins: int,
                 min_frames: int = 1, preload_gb: float = 4.0, max_utts: int | None = None):
        self.dir = Path(feats_dir)
        self.stack = stack
        self.info = self._read_info(num_mel_bins)
        lengths = {u: int(n) for u, n, _ in read_table(self._need("utt2num_frames"))}
        labels = read_targets(targets)
        self.utts, self.targets, dropped = [], [], {"short": 0, "no_targets": 0}
        for utt, n in lengths.items():
            if n < min_frames:
                dropped["short"] += 1
                continue
            if utt not in labels:
                dropped["no_targets"] += 1
                continue
            self.utts.append(utt)
            self.targets.append(self._align(utt, labels[utt], n, targets))
            if max_utts and len(self.utts) >= max_utts:
                break
        if not self.utts:
            raise SpeechSSLError(f"{self.dir}: no utterance has both features (>= {min_frames} frames) and targets "
                                 f"in {targets}")
        if any(dropped.values()):
            log.warning("%s: dropped %d utterances shorter than %d frames and %d without targets in %s",
                        self.dir, dropped["short"], min_frames, dropped["no_targets"], targets)
        self.lengths = np.array([lengths[u] for u in self.utts], dtype=np.int64)
        scp = kaldiio.load_scp(str(self.dir / "feats.scp"))
        size_gb = self.lengths.sum() * num_mel_bins * 4 / 1e9
        self.feats = {u: np.asarray(scp[u], dtype=np.float32) for u in self.utts} if size_gb <= preload_gb else scp
        log.info("%s: %d utterances, %.2f h, targets from %s%s", self.dir, len(self.utts),
                 self.lengths.sum() / FEATURE_RATE / 3600, targets, " (in memory)" if size_gb <= preload_gb else "")

    def _need(self, name: str) -> Path:
        path = self.dir / name
        if not path.is_file():
            raise SpeechSSLError(f"{path}: missing; {self.dir} must be a dump_features output directory")
        return path

    def _read_info(self, num_mel_bins: int) -> dict[str, Any]:
        info = json.loads(self._need("feat_info.json").read_text(encoding="utf-8"))
        if info.get("feat_type") != "fbank" or info.get("dim") != num_mel_bins:
            raise SpeechSSLError(f"{self.dir}: MelHuBERT needs {num_mel_bins}-dim fbank features, this directory has "
                                 f"{info.get('dim')}-dim {info.get('feat_type')}; dump with --feat-type fbank "
                                 f"--num-mel-bins {num_mel_bins} --cmvn global --norm-vars true")
        if info.get("cmvn") == "utt":
            raise SpeechSSLError(f"{self.dir}: features were normalised per utterance; MelHuBERT uses training-set "
                                 "statistics: dump with --cmvn global --norm-vars true")
        return info

    def normalisation(self, cmvn_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The mean and standard deviation the features were normalised with (zeros/ones for none)."""
        dim = self.info["dim"]
        if self.info.get("cmvn") != "global":
            return np.zeros(dim), np.ones(dim)
        stats_dir = Path(cmvn_dir) if cmvn_dir else self.dir
        stats = CMVNStats.load(stats_dir / "cmvn_stats.npz")
        return stats.mean, stats.std if self.info.get("norm_vars") else np.ones(dim)

    def _align(self, utt: str, labels: np.ndarray, frames: int, source) -> np.ndarray:
        """Targets at the model's frame rate: 10 ms targets are subsampled when frames are stacked."""
        model_frames = -(-frames // self.stack)
        if abs(len(labels) - model_frames) <= 1:
            pass
        elif self.stack > 1 and abs(len(labels) - frames) <= 2:
            labels = labels[::self.stack]
        else:
            raise SpeechSSLError(f"{source}: {utt!r} has {len(labels)} targets for {frames} feature frames "
                                 f"({model_frames} model frames); were the targets made from other features?")
        out = np.full(model_frames, -1, dtype=np.int64)
        n = min(model_frames, len(labels))
        out[:n] = labels[:n]
        return out

    def __len__(self) -> int:
        return len(self.utts)

    def collate(self, indices, rng: np.random.Generator, crop_frames: int | None, mask_prob: float,
                mask_length: int) -> Batch:
        """Crop (random offset, a multiple of the stack), pad, and draw the span mask."""
        mats, tgts = [], []
        for i in indices:
            feats, tgt = np.array(self.feats[self.utts[i]], dtype=np.float32), self.targets[i]
            if crop_frames and len(feats) > crop_frames:
                start = int(rng.integers(0, (len(feats) - crop_frames) // self.stack + 1)) * self.stack
                feats = feats[start:start + crop_frames]
                tgt = tgt[start // self.stack: start // self.stack + -(-crop_frames // self.stack)]
            mats.append(torch.from_numpy(feats))
            tgts.append(torch.from_numpy(tgt))
        lengths = torch.tensor([len(m) for m in mats])
        feats = torch.nn.utils.rnn.pad_sequence(mats, batch_first=True)
        targets = torch.nn.utils.rnn.pad_sequence(tgts, batch_first=True, padding_value=-1)
        mask = compute_span_mask([len(t) for t in tgts], mask_prob, mask_length, rng, targets.shape[1])
        return Batch(feats, lengths, targets, mask)


class MelHuBERTTrainer(PretrainTrainer):
    """Pre-trains :class:`MelHuBERT` on a :class:`MelFeatureSet` (validation: masked loss and accuracy)."""

    def __init__(self, config: dict[str, Any], exp_dir: str | Path, feats: str | Path, targets: str | Path,
                 valid_feats: str | Path | None = None, valid_targets: str | Path | None = None):
        self.paths = {"feats": Path(feats), "targets": Path(targets),
                      "valid_feats": Path(valid_feats) if valid_feats else None,
                      "valid_targets": Path(valid_targets) if valid_targets else None}
        if (valid_feats is None) != (valid_targets is None):
            raise SpeechSSLError("give both validation features and validation targets, or neither")
        super().__init__(config, exp_dir)

    def build(self) -> None:
        self.model_cfg = MelHuBERTConfig.from_dict(self.config["model"])
        data = self.config["data"]
        cfg = self.model_cfg
        min_frames = max(1, int(float(data["min_seconds"]) * FEATURE_RATE))
        self.crop_frames = int(float(data["crop_seconds"]) * FEATURE_RATE) if data["crop_seconds"] else None
        self.train_set = MelFeatureSet(self.paths["feats"], self.paths["targets"], cfg.stack_frames,
                                       cfg.num_mel_bins, min_frames, float(data["preload_gb"]))
        self._check_targets(self.train_set, self.paths["targets"])
        self.valid_set = None
        if self.paths["valid_feats"] is not None and self.is_main:
            self.valid_set = MelFeatureSet(self.paths["valid_feats"], self.paths["valid_targets"], cfg.stack_frames,
                                           cfg.num_mel_bins, min_frames, float(data["preload_gb"]),
                                           int(data["valid_max_utts"]) or None)
            self._check_targets(self.valid_set, self.paths["valid_targets"])
        mean, std = self.train_set.normalisation()
        self.meta = upstream_meta(cfg, mean, std)
        self.model = MelHuBERT(cfg).to(self.device)
        broadcast_module(self.model, self.dist)
        self.modules["model"] = self.model
        self.build_optimizer(self.model)
        self.sampler = DurationBatchSampler(self.train_set.lengths, int(float(data["batch_seconds"]) * FEATURE_RATE),
                                            int(self.opts["seed"]), self.dist.rank, self.dist.world_size,
                                            self.crop_frames, int(data["bucket_size"]))
        self.report_model({
            "parameters": self.model.num_parameters(with_head=False),
            "parameters_with_head": self.model.num_parameters(),
            "macs_per_second_audio_10s": macs_per_second(self.model, 10.0),
            "macs_per_second_audio_1s": macs_per_second(self.model, 1.0),
            "frame_rate": FEATURE_RATE / cfg.stack_frames,
            "train_hours": float(self.train_set.lengths.sum() / FEATURE_RATE / 3600),
            "batches_per_epoch": self.sampler.batches_per_epoch,
        })

    def _check_targets(self, data: MelFeatureSet, path: Path) -> None:
        top = max(int(t.max()) for t in data.targets)
        if top >= self.model_cfg.num_clusters:
            raise SpeechSSLError(f"{path}: cluster id {top} but model.num_clusters is {self.model_cfg.num_clusters}; "
                                 "set model.num_clusters to the k-means size")

    # ---- checkpoint hooks -----------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"sampler": self.sampler.state_dict(), META_KEY: self.meta}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state["sampler"])

    def check_resume(self, state: dict[str, Any], path: Path) -> None:
        old = state.get("extra", {}).get(META_KEY, {})
        if old.get("mean") != self.meta["mean"] or old.get("std") != self.meta["std"]:
            raise SpeechSSLError(f"{path} was trained on features normalised with other statistics than "
                                 f"{self.paths['feats']}; use the same features or a new experiment directory")

    # ---- training -------------------------------------------------------------------------
    def next_micro_batches(self, update: int, count: int) -> list[Batch]:
        rng = np.random.default_rng([int(self.opts["seed"]), update, self.dist.rank])
        return [self.train_set.collate(self.sampler.next_batch(), rng, self.crop_frames, self.model_cfg.mask_prob,
                                       self.model_cfg.mask_length) for _ in range(count)]

    def loss_frames(self, batch: Batch) -> int:
        return int((batch.mask & (batch.targets >= 0)).sum())

    def batch_frames(self, batch: Batch) -> int:
        return int(batch.lengths.sum())

    def micro_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        dev = self.device
        logits, _, _ = self.model(batch.feats.to(dev), batch.lengths.to(dev), batch.mask.to(dev))
        loss, stats = masked_prediction_loss(logits, batch.targets.to(dev), batch.mask.to(dev))
        valid = batch.targets >= 0
        stats["mask_share"] = float((batch.mask & valid).sum() / max(int(valid.sum()), 1))
        return loss, stats

    @torch.no_grad()
    def validate(self, update: int) -> dict[str, float]:
        if self.valid_set is None:
            return {}
        self.model.eval()
        rng = np.random.default_rng([int(self.opts["seed"]), 0])  # the same masks at every validation
        lengths = self.valid_set.lengths
        budget = int(float(self.config["data"]["batch_seconds"]) * FEATURE_RATE)
        batches, current = [], []
        for i in np.argsort(lengths, kind="stable"):  # ascending: the newest utterance is the longest
            if current and (len(current) + 1) * lengths[i] > budget:
                batches.append(current)
                current = []
            current.append(i)
        batches.append(current)
        total_loss = total_correct = total = 0.0
        for idx in batches:
            batch = self.valid_set.collate(idx, rng, None, self.model_cfg.mask_prob, self.model_cfg.mask_length)
            with self.autocast():
                _, stats = self.micro_loss(batch)
            n = stats["masked_frames"]
            if n:
                total_loss += stats["loss"] * n
                total_correct += stats["acc"] * n
                total += n
        self.model.train()
        return {"loss": total_loss / max(total, 1.0), "acc": total_correct / max(total, 1.0)}

"""Synthetic log-Mel dumps with k-means-like targets for the SSL tests (no audio, seconds to build)."""
from __future__ import annotations

import json
from pathlib import Path

import kaldiio
import numpy as np
import pytest

from speechssl.audio.features import CMVNStats

DIM = 40
N_UNITS = 8


def write_feature_dir(d: Path, n_utts: int, seed: int) -> None:
    """Features: a fixed random vector per unit held for 3-8 frames, plus noise; targets = the units."""
    d.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    emb = np.random.default_rng(0).normal(size=(N_UNITS, DIM))
    stats = CMVNStats(DIM)
    lines, frames = [], {}
    with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
        for i in range(n_utts):
            utt = f"utt{seed}_{i:03d}"
            units = rng.integers(0, N_UNITS, size=rng.integers(10, 25))
            ids = np.repeat(units, rng.integers(3, 9, size=len(units)))
            mat = (emb[ids] + 0.3 * rng.normal(size=(len(ids), DIM))).astype(np.float32)
            w(utt, mat)
            stats.accumulate(mat)
            frames[utt] = len(mat)
            lines.append(utt + " " + " ".join(map(str, ids.tolist())))
    (d / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in frames.items()))
    (d / "targets.km").write_text("\n".join(lines) + "\n")
    stats.save(d / "cmvn_stats.npz")
    (d / "feat_info.json").write_text(json.dumps({"feat_type": "fbank", "dim": DIM, "frame_rate": 100.0,
                                                  "cmvn": "global", "norm_vars": True}))


@pytest.fixture(scope="session")
def mel_data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ssl_data")
    write_feature_dir(root / "train", 48, seed=1)
    write_feature_dir(root / "dev", 8, seed=2)
    return {"train": root / "train", "dev": root / "dev"}


def tiny_config(**trainer) -> dict:
    """A 2-layer, 64-wide MelHuBERT at 10 ms that trains in seconds on the CPU."""
    from speechssl.trainers.melhubert import load_config

    overrides = ["model.stack_frames=1", "model.hidden_size=64", "model.num_layers=2", "model.num_heads=4",
                 "model.ffn_size=128", "model.pos_conv_kernel=16", "model.pos_conv_groups=4",
                 f"model.num_clusters={N_UNITS}", "model.dropout=0.0", "model.attention_dropout=0.0",
                 "model.input_dropout=0.0", "data.batch_seconds=4", "data.crop_seconds=1.0",
                 "data.min_seconds=0.1", "optim.lr=0.002", "optim.warmup_updates=5", "trainer.progress=false",
                 "trainer.log_interval=5", "trainer.valid_interval=1000", "trainer.save_interval=1000"]
    overrides += [f"trainer.{k}={v}" for k, v in trainer.items()]
    return load_config(None, overrides)

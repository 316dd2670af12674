"""Synthetic CTC corpora for the self-training tests: each phone a fixed mean vector, plus noise."""
from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "egs/TEMPLATE/conf/ctc_tiny.yaml"
PHONES = ["a", "b", "c", "d", "e", "f", "<SIL>"]
DIM = 12


def write_set(d: Path, rng: np.random.Generator, n_utts: int, prefix: str) -> dict[str, list[str]]:
    """Features where each phone is a fixed mean vector held for 3-7 frames, plus noise; returns utt2phones."""
    d.mkdir(parents=True)
    means = 2.0 * np.random.default_rng(0).normal(size=(len(PHONES), DIM))
    refs, num_frames = {}, {}
    with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
        for i in range(n_utts):
            utt = f"{prefix}{i:03d}"
            words = [list(rng.choice(PHONES[:-1], size=rng.integers(2, 4))) for _ in range(rng.integers(2, 4))]
            phones = ["<SIL>"] + [p for word in words for p in word + ["<SIL>"]]
            ids = np.repeat([PHONES.index(p) for p in phones], rng.integers(3, 8, size=len(phones)))
            w(utt, (means[ids] + 0.5 * rng.normal(size=(len(ids), DIM))).astype(np.float32))
            refs[utt], num_frames[utt] = phones, len(ids)
    (d / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in num_frames.items()))
    (d / "utt2phones").write_text("".join(f"{u} {' '.join(p)}\n" for u, p in refs.items()))
    return refs


def make_corpus(root: Path, n_train: int = 60, n_dev: int = 16) -> Path:
    """train/ and dev/ feature directories (with utt2phones) and text/dict.phn.txt under ``root``."""
    rng = np.random.default_rng(1)
    (root / "text").mkdir(parents=True)
    (root / "text/dict.phn.txt").write_text("".join(f"{p} 1\n" for p in PHONES))
    write_set(root / "train", rng, n_train, "tr")
    write_set(root / "dev", rng, n_dev, "dv")
    return root

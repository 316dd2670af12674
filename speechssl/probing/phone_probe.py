"""Layer-wise linear phone probing with gold phone boundaries.

Every feature frame gets the phone that covers its centre in a CTM
alignment (``<utt> <start> <dur> <phone>``, e.g. the stand-in corpus's
``*.alignment.ctm``; silence is a class like any phone).  Frame centres
assume Kaldi-style frames: a 25 ms window every 10 ms, and frames of a
coarser rate made of consecutive 10 ms frames (MelHuBERT's stacked 20 ms
frames), i.e. frame t of shift s is centred at ``t*s + (s - 0.010)/2 + 0.0125``.
A linear softmax classifier is trained on (a seeded sample of) the
training frames, standardised with their own mean and variance, and the
frame accuracy is measured on the test frames.
"""
from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from speechssl.cluster.kmeans import iter_feats
from speechssl.data.scp import read_table
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

WINDOW_S = 0.025
BASE_SHIFT_S = 0.010


def find_alignment_ctms(root: str | Path) -> list[Path]:
    """Every ``*.alignment.ctm`` under ``root`` (sorted)."""
    paths = sorted(Path(root).rglob("*.alignment.ctm"))
    if not paths:
        raise SpeechSSLError(f"{root}: no *.alignment.ctm files; give the corpus directory of the stand-in "
                             "(it writes <spk>-<chapter>.alignment.ctm next to the audio)")
    return paths


def read_alignment_ctm(paths) -> dict[str, tuple[np.ndarray, list[str]]]:
    """``utt -> (segment start times, phones)`` from CTM files (zero-duration lines are skipped)."""
    out: dict[str, tuple[list[float], list[str]]] = {}
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 4:
                    raise SpeechSSLError(f"{path}:{line_no}: expected '<utt> <start> <dur> <phone>', got {line.strip()!r}")
                try:
                    start, dur = float(parts[1]), float(parts[2])
                except ValueError:
                    raise SpeechSSLError(f"{path}:{line_no}: start and duration must be numbers") from None
                if dur <= 0:
                    continue
                starts, phones = out.setdefault(parts[0], ([], []))
                starts.append(start)
                phones.append(parts[3])
    return {u: (np.asarray(s), p) for u, (s, p) in out.items()}


def frame_labels(starts: np.ndarray, phones: list[str], num_frames: int, frame_shift: float) -> list[str]:
    """The phone covering the centre of each of ``num_frames`` frames (see the module docstring)."""
    offset = (frame_shift - BASE_SHIFT_S) / 2 + WINDOW_S / 2
    centres = np.arange(num_frames) * frame_shift + offset
    return [phones[max(0, bisect_right(starts, c) - 1)] for c in centres]


@dataclass
class ProbeData:
    """Sampled frames of one feature directory and their phones."""

    feats: np.ndarray   # [N, D] float32
    phones: list[str]
    utterances: int


def _frame_shift(feats_dir: Path) -> float:
    info_path = feats_dir / "feat_info.json"
    if not info_path.is_file():
        raise SpeechSSLError(f"{info_path}: missing; the probe needs the frame rate of dump_features outputs")
    return 1.0 / float(json.loads(info_path.read_text(encoding="utf-8"))["frame_rate"])


def load_probe_data(feats_dir: str | Path, alignments: dict, max_frames: int, seed: int) -> ProbeData:
    """Frames of ``feats_dir/feats.scp`` with phones, a seeded sample of at most ``max_frames``.

    Utterances without an alignment are skipped (and counted in the log).
    """
    feats_dir = Path(feats_dir)
    shift = _frame_shift(feats_dir)
    total = sum(int(n) for _, n, _ in read_table(feats_dir / "utt2num_frames"))
    keep = min(1.0, max_frames / max(total, 1))
    rng = np.random.default_rng(seed)
    mats, phones, used, missing = [], [], 0, 0
    for utt, mat in iter_feats(feats_dir / "feats.scp", progress=False):
        if utt not in alignments:
            missing += 1
            continue
        labels = frame_labels(*alignments[utt], len(mat), shift)
        sel = np.flatnonzero(rng.random(len(mat)) < keep)
        mats.append(mat[sel])
        phones.extend(labels[i] for i in sel)
        used += 1
    if missing:
        log.warning("%s: %d utterances have no alignment and were skipped", feats_dir, missing)
    if not used:
        raise SpeechSSLError(f"{feats_dir}: no utterance has an alignment; are the CTMs of this corpus?")
    return ProbeData(np.concatenate(mats)[:max_frames], phones[:max_frames], used)


def train_linear_probe(train: ProbeData, test: ProbeData, epochs: int = 10, lr: float = 2e-3,
                       batch_size: int = 1024, seed: int = 0) -> dict[str, float]:
    """Train a softmax-regression phone classifier on ``train``; frame accuracy on ``train`` and ``test``.

    Test frames of phones never seen in training count as errors.
    """
    classes = sorted(set(train.phones))
    index = {p: i for i, p in enumerate(classes)}
    mean, std = train.feats.mean(0), train.feats.std(0) + 1e-5
    xtr = torch.from_numpy((train.feats - mean) / std).float()
    ytr = torch.tensor([index[p] for p in train.phones])
    xte = torch.from_numpy((test.feats - mean) / std).float()
    yte = torch.tensor([index.get(p, -1) for p in test.phones])
    gen = torch.Generator().manual_seed(seed)
    layer = torch.nn.Linear(xtr.shape[1], len(classes))
    with torch.no_grad():
        layer.weight.normal_(0.0, 0.01, generator=gen)
        layer.bias.zero_()
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    for _ in range(epochs):
        for idx in torch.randperm(len(xtr), generator=gen).split(batch_size):
            loss = F.cross_entropy(layer(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc_tr = (layer(xtr).argmax(-1) == ytr).float().mean().item()
        acc_te = (layer(xte).argmax(-1) == yte).float().mean().item()
    return {"train_acc": acc_tr, "test_acc": acc_te, "classes": len(classes),
            "train_frames": len(xtr), "test_frames": len(xte)}


def _expand(name: str, train_dir: Path, test_dir: Path) -> list[tuple[str, int | None, Path, Path]]:
    """One feature directory, or one per ``layer<L>`` subdirectory (dump_features --feat-type ssl)."""
    if (train_dir / "feats.scp").is_file():
        return [(name, None, train_dir, test_dir)]
    layers = sorted(int(p.name[5:]) for p in train_dir.glob("layer*") if p.name[5:].isdigit())
    if not layers:
        raise SpeechSSLError(f"{train_dir}: neither a feature directory (feats.scp) nor one with layer<L>/ "
                             "subdirectories")
    return [(name, L, train_dir / f"layer{L}", test_dir / f"layer{L}") for L in layers]


def probe_feature_dirs(entries: list[tuple[str, str | Path, str | Path]], alignments: dict,
                       max_train_frames: int = 100000, max_test_frames: int = 50000, epochs: int = 10,
                       lr: float = 2e-3, seed: int = 0) -> list[dict]:
    """Probe every ``(name, train_dir, test_dir)`` (each layer of SSL dumps); one result row per probe."""
    from tqdm import tqdm

    jobs = [job for name, tr, te in entries for job in _expand(name, Path(tr), Path(te))]
    rows = []
    for name, layer, tr, te in tqdm(jobs, desc="probing", unit="probe"):
        train = load_probe_data(tr, alignments, max_train_frames, seed)
        test = load_probe_data(te, alignments, max_test_frames, seed + 1)
        if train.feats.shape[1] != test.feats.shape[1]:
            raise SpeechSSLError(f"{tr} and {te} have different dimensions")
        res = train_linear_probe(train, test, epochs, lr, seed=seed)
        row = {"features": name, "layer": layer, "dim": int(train.feats.shape[1]),
               "frame_rate": round(1.0 / _frame_shift(tr), 3), **res}
        log.info("probe %s%s: test frame accuracy %.4f (train %.4f, %d classes)", name,
                 "" if layer is None else f" layer {layer}", res["test_acc"], res["train_acc"], res["classes"])
        rows.append(row)
    return rows

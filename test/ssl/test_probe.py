"""Phone probing (frame labels from CTMs, linear probe, CLI outputs) and k-means target CLI."""
from __future__ import annotations

import json

import kaldiio
import numpy as np
import pytest

from speechssl.bin import make_kmeans_targets, probe_layers
from speechssl.probing import frame_labels, read_alignment_ctm
from speechssl.utils.errors import SpeechSSLError

PHONES = ["SIL", "a", "b", "c", "d"]


def test_frame_labels_use_frame_centres(tmp_path):
    ctm = tmp_path / "x.alignment.ctm"
    ctm.write_text("u 0 0.1 SIL\nu 0.1 0.05 a\nu 0.15 0 l\nu 0.15 0.2 b\n")
    starts, phones = read_alignment_ctm([ctm])["u"]
    assert phones == ["SIL", "a", "b"]  # the zero-duration phone is dropped
    ten = frame_labels(starts, phones, 30, 0.01)  # centre of frame t: 0.01 t + 0.0125
    assert ten[8] == "SIL" and ten[9] == "a" and ten[13] == "a" and ten[14] == "b"
    twenty = frame_labels(starts, phones, 15, 0.02)  # centre 0.02 t + 0.0175
    assert twenty[4] == "SIL" and twenty[5] == "a" and twenty[6] == "a" and twenty[7] == "b"
    ctm.write_text("u 0 SIL\n")
    with pytest.raises(SpeechSSLError, match="x.alignment.ctm:1"):
        read_alignment_ctm([ctm])


def _dump(d, utts, rng, informative, rate=100.0):
    """Features that encode the frame's phone (informative) or only noise."""
    d.mkdir(parents=True)
    emb = np.random.default_rng(0).normal(size=(len(PHONES), 6))
    with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
        for utt, labels in utts.items():
            ids = np.array([PHONES.index(p) for p in labels])
            mat = rng.normal(size=(len(ids), 6)) + (2.0 * emb[ids] if informative else 0.0)
            w(utt, mat.astype(np.float32))
    (d / "utt2num_frames").write_text("".join(f"{u} {len(v)}\n" for u, v in utts.items()))
    (d / "feat_info.json").write_text(json.dumps({"frame_rate": rate}))


def test_probe_cli_ranks_layers(tmp_path):
    rng = np.random.default_rng(1)
    lines, frames = [], {"train": {}, "test": {}}
    for split in ("train", "test"):
        for i in range(30 if split == "train" else 10):
            utt, t = f"{split}{i}", 0.0
            for _ in range(12):
                dur = float(rng.integers(3, 10)) * 0.01
                lines.append(f"{utt} {t:.4f} {dur:.4f} {rng.choice(PHONES)}")
                t += dur
            starts, phones = read_alignment_ctm_lines(lines, utt)
            frames[split][utt] = frame_labels(starts, phones, int((t - 0.0125) / 0.01), 0.01)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.alignment.ctm").write_text("\n".join(lines) + "\n")
    for split in ("train", "test"):
        _dump(tmp_path / "ssl" / split / "layer0", frames[split], rng, informative=False)
        _dump(tmp_path / "ssl" / split / "layer1", frames[split], rng, informative=True)
        _dump(tmp_path / "base" / split, frames[split], rng, informative=False)
    out = tmp_path / "probe"
    rc = probe_layers.main([str(out), "--ctm-dir", str(corpus), "--epochs", "20", "--lr", "0.01",
                            "--feats", "ssl", str(tmp_path / "ssl/train"), str(tmp_path / "ssl/test"),
                            "--feats", "noise", str(tmp_path / "base/train"), str(tmp_path / "base/test")])
    assert rc == 0
    best = json.loads((out / "best.json").read_text())
    assert best["best_layer"]["ssl"]["layer"] == 1 and best["best_layer"]["ssl"]["test_acc"] > 0.8
    assert best["baselines"]["noise"] < 0.5
    rows = (out / "probe.tsv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("features\tlayer")
    assert (out / "probe.png").stat().st_size > 1000


def read_alignment_ctm_lines(lines, utt):
    starts = np.array([float(x.split()[1]) for x in lines if x.startswith(utt + " ")])
    return starts, [x.split()[3] for x in lines if x.startswith(utt + " ")]


def test_make_kmeans_targets(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "feats"
    d.mkdir()
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [-10.0, 10.0]], dtype=np.float32)
    truth = {}
    with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
        for i in range(20):
            ids = rng.integers(0, 3, size=30)
            w(f"u{i:02d}", (centres[ids] + 0.1 * rng.normal(size=(30, 2))).astype(np.float32))
            truth[f"u{i:02d}"] = ids
    km = tmp_path / "km"
    assert make_kmeans_targets.main(["--n-clusters", "3", str(d), str(km), f"train={d}"]) == 0
    lines = (km / "train.km").read_text().splitlines()
    assert len(lines) == 20
    got = {ln.split()[0]: np.array(ln.split()[1:], dtype=int) for ln in lines}
    # clusters match the generating centres up to a renumbering
    mapping = {}
    for u in truth:
        for t, g in zip(truth[u], got[u]):
            assert mapping.setdefault(t, g) == g
    assert len(set(mapping.values())) == 3
    mtime = (km / "km.npz").stat().st_mtime
    assert make_kmeans_targets.main(["--n-clusters", "3", str(d), str(km), f"train={d}"]) == 0
    assert (km / "km.npz").stat().st_mtime == mtime  # done: skipped
    assert make_kmeans_targets.main(["--n-clusters", "4", str(d), str(km)]) == 1  # changed config refused
    assert make_kmeans_targets.main(["--n-clusters", "3", str(d), str(km), "train"]) == 1

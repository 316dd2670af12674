"""Bounded-memory k-means: reservoir sampling, faiss fitting, numpy assignment."""
from __future__ import annotations

import kaldiio
import numpy as np
import pytest

from speechssl.cluster.kmeans import FrameReservoir, KMeans, fit_kmeans, fit_kmeans_on_scp, iter_feats, sample_frames
from speechssl.utils.errors import SpeechSSLError


def _indexed(n: int, chunk: int):
    """Rows whose only column is their position in the stream."""
    rows = np.arange(n, dtype=np.float32)[:, None]
    for i in range(0, n, chunk):
        yield f"u{i}", rows[i:i + chunk]


def test_reservoir_keeps_everything_when_small():
    sample, counts = sample_frames(_indexed(50, 7), max_frames=100, seed=0)
    assert sample[:, 0].tolist() == list(range(50))
    assert counts == {"utterances": 8, "frames_seen": 50, "frames_sampled": 50}


@pytest.mark.parametrize("chunk", [1, 37, 5000])
def test_reservoir_is_bounded_and_uniform(chunk):
    n, k = 5000, 100
    positions = []
    for seed in range(40):
        sample, counts = sample_frames(_indexed(n, chunk), max_frames=k, seed=seed)
        assert len(sample) == k and counts["frames_seen"] == n
        assert len(np.unique(sample[:, 0])) == k  # no row sampled twice
        positions.append(sample[:, 0])
    positions = np.concatenate(positions)
    # Uniform over 0..n-1: mean (n-1)/2 (std of the mean about 1443/sqrt(4000) = 23) and equal deciles.
    assert abs(positions.mean() - (n - 1) / 2) < 100
    deciles = np.histogram(positions, bins=10, range=(0, n))[0] / len(positions)
    assert np.all(np.abs(deciles - 0.1) < 0.02), deciles


def test_reservoir_is_seeded():
    a, _ = sample_frames(_indexed(1000, 64), 50, seed=3)
    b, _ = sample_frames(_indexed(1000, 64), 50, seed=3)
    c, _ = sample_frames(_indexed(1000, 64), 50, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_reservoir_rejects_dimension_change():
    r = FrameReservoir(10)
    r.add(np.zeros((3, 4)), "u1")
    with pytest.raises(SpeechSSLError, match="u2"):
        r.add(np.zeros((3, 5)), "u2")


@pytest.fixture()
def ark_dir(tmp_path):
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((4, 8)).astype(np.float32) * 10
    mats = {}
    for i in range(30):
        labels = rng.integers(0, 4, 100)
        mats[f"utt{i:02d}"] = centers[labels] + rng.standard_normal((100, 8)).astype(np.float32) * 0.1
    kaldiio.save_ark(str(tmp_path / "feats.ark"), mats, scp=str(tmp_path / "feats.scp"))
    return tmp_path, centers


def test_fit_on_scp_respects_memory_bound_and_finds_clusters(ark_dir):
    d, centers = ark_dir
    model, stats = fit_kmeans_on_scp(d / "feats.scp", n_clusters=4, max_frames=400, seed=0, niter=20, nredo=2)
    assert stats["frames_seen"] == 3000 and stats["frames_sampled"] == 400 and stats["frames"] == 400
    # every true centre has a fitted centroid next to it
    dist = np.linalg.norm(centers[:, None] - model.centroids[None], axis=2)
    assert dist.min(axis=1).max() < 0.5
    # numpy assignment agrees with faiss's exact search
    import faiss

    x = np.concatenate([m for _, m in iter_feats(d / "feats.scp", progress=False)])
    index = faiss.IndexFlatL2(8)
    index.add(model.centroids)
    assert np.array_equal(model.assign(x), index.search(x, 1)[1][:, 0])


def test_kmeans_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    model, _ = fit_kmeans(rng.standard_normal((500, 6)).astype(np.float32), 5, niter=5, nredo=1)
    model.save(tmp_path / "km.npz")
    loaded = KMeans.load(tmp_path / "km.npz")
    x = rng.standard_normal((50, 6)).astype(np.float32)
    assert np.array_equal(loaded.centroids, model.centroids)
    assert np.array_equal(loaded.assign(x), model.assign(x))


def test_too_few_frames_is_a_clear_error():
    with pytest.raises(SpeechSSLError, match="only 3 frames for 8 clusters"):
        fit_kmeans(np.zeros((3, 2), dtype=np.float32), 8)


def test_bad_scp_line_is_named(tmp_path, ark_dir):
    d, _ = ark_dir
    lines = (d / "feats.scp").read_text().splitlines()
    lines[2] = lines[2].split()[0] + " " + str(tmp_path / "missing.ark") + ":3"
    (d / "feats.scp").write_text("\n".join(lines) + "\n")
    with pytest.raises(SpeechSSLError, match=r"feats\.scp:3: cannot read features of 'utt02'"):
        list(iter_feats(d / "feats.scp", progress=False))

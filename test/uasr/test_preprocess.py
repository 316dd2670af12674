"""wav2vec-U preprocessing: pooling, the saved FeatureTransform, aux targets, and the CLI stages."""
from __future__ import annotations

import json

import kaldiio
import numpy as np
import pytest
import soundfile as sf

from speechssl.bin.apply_feature_transform import main as apply_main
from speechssl.bin.fit_feature_transform import main as fit_main
from speechssl.data.scp import read_dict
from speechssl.uasr.aux_targets import AuxTargets, align_labels
from speechssl.uasr.preprocess import FeatureTransform, TransformConfig, pool_pairs, pool_runs
from speechssl.utils.errors import SpeechSSLError

SR = 16000


def test_pool_runs_by_hand():
    feats = np.array([[1, 10], [3, 30], [5, 50], [7, 70], [9, 90], [2, 20]], dtype=np.float32)
    ids = np.array([4, 4, 0, 0, 0, 4])
    expected = np.array([[2, 20], [7, 70], [2, 20]], dtype=np.float32)
    assert np.array_equal(pool_runs(feats, ids), expected)
    assert np.array_equal(pool_runs(feats, np.arange(6)), feats)  # all runs of one frame: unchanged
    assert pool_runs(feats[:0], ids[:0]).shape == (0, 2)
    with pytest.raises(SpeechSSLError):
        pool_runs(feats, ids[:5])


def test_pool_pairs_by_hand():
    feats = np.arange(10, dtype=np.float32).reshape(5, 2)  # rows [0,1] [2,3] [4,5] [6,7] [8,9]
    assert np.array_equal(pool_pairs(feats), np.array([[1, 2], [5, 6], [8, 9]], dtype=np.float32))
    assert np.array_equal(pool_pairs(feats[:4]), np.array([[1, 2], [5, 6]], dtype=np.float32))
    assert np.array_equal(pool_pairs(feats[:1]), feats[:1])


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((6, 24)).astype(np.float32) * 5
    labels = np.repeat(rng.integers(0, 6, 400), rng.integers(1, 6, 400))  # runs of 1..5 frames
    return centers[labels] + rng.standard_normal((len(labels), 24)).astype(np.float32) * 0.3


def test_transform_order_is_pca_then_run_pool_then_pair_pool(sample):
    t = FeatureTransform.fit(sample, TransformConfig(pca_dim=8, n_clusters=6, kmeans_iters=10, kmeans_redo=1))
    x = sample[:300]
    ids = t.kmeans.assign(x)  # clusters of the unreduced features
    manual = pool_pairs(pool_runs(x @ t.pca_matrix.T + t.pca_bias, ids))
    out = t.apply(x)
    n_runs = 1 + int(np.count_nonzero(ids[1:] != ids[:-1]))
    assert out.shape == (-(-n_runs // 2), 8) and t.output_dim == 8
    np.testing.assert_allclose(out, manual, rtol=1e-5, atol=1e-5)
    assert n_runs < len(x)  # runs were actually merged


def test_transform_save_load_gives_identical_outputs(sample, tmp_path):
    t = FeatureTransform.fit(sample, TransformConfig(pca_dim=8, n_clusters=6, kmeans_iters=10, kmeans_redo=1))
    t.save(tmp_path / "ft")
    loaded = FeatureTransform.load(tmp_path / "ft")
    assert np.array_equal(loaded.apply(sample), t.apply(sample))
    assert np.array_equal(loaded.cluster_ids(sample), t.cluster_ids(sample))
    meta = json.loads((tmp_path / "ft/transform.json").read_text())
    assert meta["config"]["pca_dim"] == 8 and meta["input_dim"] == 24
    with np.load(tmp_path / "ft/transform.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["centroids", "pca_bias", "pca_matrix"]


def test_disabled_steps_and_dimension_check(sample):
    identity = FeatureTransform.fit(sample, TransformConfig(pca_dim=0, n_clusters=0, pair_pool=False))
    assert np.array_equal(identity.apply(sample[:20]), sample[:20])
    with pytest.raises(SpeechSSLError, match="fitted on 24-dim"):
        identity.apply(np.zeros((5, 23), dtype=np.float32))
    with pytest.raises(SpeechSSLError, match="PCA to 30 dimensions"):
        FeatureTransform.fit(sample, TransformConfig(pca_dim=30, n_clusters=0))


def test_align_labels():
    labels = np.arange(101)  # 101 MFCC frames at 100 Hz
    out = align_labels(labels, 50, 100.0, 50.0)
    assert out.tolist() == list(range(0, 100, 2))
    assert len(align_labels(labels, 51, 100.0, 50.0)) == 51  # within tolerance: last label repeated
    with pytest.raises(SpeechSSLError, match="do not match its 80 SSL frames"):
        align_labels(labels, 80, 100.0, 50.0, "utt1")


def _ssl_frames(num_samples: int) -> int:
    """wav2vec 2.0's frame count: 400-sample receptive field, 320-sample stride."""
    return (num_samples - 400) // 320 + 1


@pytest.fixture(scope="module")
def feats_dir(tmp_path_factory):
    """A data directory with audio and fake 16-dim 'SSL' features at the wav2vec 2.0 frame rate."""
    d = tmp_path_factory.mktemp("ssl")
    rng = np.random.default_rng(1)
    wav_scp, utt2spk, text, mats = {}, {}, {}, {}
    for i in range(6):
        utt = f"spk{i % 2}-utt{i}"
        n = int(SR * rng.uniform(0.8, 1.6))
        t = np.arange(n) / SR
        wav = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 800) * t) * (t % 0.3 < 0.15) + 0.01 * rng.standard_normal(n)
        sf.write(str(d / f"{utt}.wav"), wav.astype(np.float32), SR)
        wav_scp[utt], utt2spk[utt], text[utt] = str(d / f"{utt}.wav"), f"spk{i % 2}", f"words of {i}"
        mats[utt] = rng.standard_normal((_ssl_frames(n), 16)).astype(np.float32)
    kaldiio.save_ark(str(d / "feats.ark"), mats, scp=str(d / "feats.scp"))
    for name, table in (("wav.scp", wav_scp), ("utt2spk", utt2spk), ("text", text),
                        ("utt2num_frames", {u: str(len(m)) for u, m in mats.items()})):
        (d / name).write_text("".join(f"{k} {v}\n" for k, v in sorted(table.items())))
    return d


def test_aux_targets_have_one_label_per_ssl_frame(feats_dir, tmp_path):
    aux = AuxTargets.fit(feats_dir, n_clusters=4, max_frames=300, seed=0, niter=5, nredo=1)
    assert aux.fit_info["frames_sampled"] == 300 and aux.fit_info["frames_seen"] > 300
    aux.save(tmp_path / "aux")
    loaded = AuxTargets.load(tmp_path / "aux")
    wav, sr = sf.read(read_dict(feats_dir / "wav.scp")["spk0-utt0"], dtype="float32")
    n = _ssl_frames(len(wav))
    labels = loaded.labels(wav, sr, n, "spk0-utt0")
    assert len(labels) == n and labels.min() >= 0 and labels.max() < 4
    assert np.array_equal(labels, aux.labels(wav, sr, n))


def test_fit_and_apply_cli_v1(feats_dir, tmp_path):
    tdir, out = tmp_path / "transform", tmp_path / "out"
    args = ["--pca-dim", "4", "--n-clusters", "5", "--max-frames", "200", "--kmeans-iters", "5",
            "--kmeans-redo", "1", str(feats_dir), str(tdir)]
    assert fit_main(args) == 0
    assert FeatureTransform.load(tdir).fit_info["frames_sampled"] == 200
    assert apply_main([str(tdir), str(feats_dir), str(out), "--write-cluster-ids", "true"]) == 0
    transform = FeatureTransform.load(tdir)
    num_frames = read_dict(out / "utt2num_frames")
    ids = read_dict(out / "utt2clusters")
    for utt, mat in kaldiio.load_scp(str(out / "feats.scp")).items():
        src = kaldiio.load_scp(str(feats_dir / "feats.scp"))[utt]
        assert np.array_equal(mat, transform.apply(src))
        assert int(num_frames[utt]) == len(mat)
        assert len(ids[utt].split()) == len(src)
    assert read_dict(out / "text") == read_dict(feats_dir / "text")
    assert (out / "spk2utt").is_file()
    stamp = (out / "feats.ark").stat().st_mtime_ns
    assert apply_main([str(tdir), str(feats_dir), str(out), "--write-cluster-ids", "true"]) == 0  # done: skipped
    assert (out / "feats.ark").stat().st_mtime_ns == stamp
    assert fit_main(["--pca-dim", "3"] + args[2:]) == 1  # changed options refused without --redo


def test_fit_and_apply_cli_v2_aux_targets(feats_dir, tmp_path):
    tdir, out = tmp_path / "transform", tmp_path / "out"
    assert fit_main(["--pca-dim", "0", "--n-clusters", "0", "--pair-pool", "false", "--aux-clusters", "4",
                     "--max-frames", "300", "--kmeans-iters", "5", "--kmeans-redo", "1",
                     str(feats_dir), str(tdir)]) == 0
    assert apply_main([str(tdir), str(feats_dir), str(out)]) == 0
    aux = read_dict(out / "utt2aux")
    ssl = read_dict(feats_dir / "utt2num_frames")
    assert set(aux) == set(ssl)
    for utt, labels in aux.items():
        assert len(labels.split()) == int(ssl[utt])
        assert {int(v) for v in labels.split()} <= set(range(4))

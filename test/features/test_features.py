"""Kaldi-compatible features, CMVN and feature dumping (MFCC and SSL) with read-back through kaldiio."""
from __future__ import annotations

import json

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as AF
import transformers

from speechssl.audio.features import (
    CMVNStats,
    FeatureConfig,
    add_deltas,
    compute_features,
    utterance_cmvn,
)
from speechssl.bin.dump_features import main as dump_main
from speechssl.features.dump import split_utterances
from speechssl.models.upstream import load_upstream
from speechssl.utils.errors import SpeechSSLError

SR = 16000


def wave(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def test_mfcc_and_fbank_equal_torchaudio_kaldi():
    w = wave(0.5, 1)
    scaled = torch.from_numpy(w)[None] * 32768
    mfcc = compute_features(w, SR, FeatureConfig("mfcc"))
    assert mfcc.shape == (48, 13) and mfcc.dtype == np.float32
    np.testing.assert_array_equal(mfcc, kaldi.mfcc(scaled, sample_frequency=SR, dither=0.0).numpy())
    fbank = compute_features(w, SR, FeatureConfig("fbank", num_mel_bins=40))
    np.testing.assert_array_equal(fbank, kaldi.fbank(scaled, num_mel_bins=40, dither=0.0).numpy())


def test_deltas_follow_kaldi_add_deltas():
    x = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    y = add_deltas(x)
    assert y.shape == (30, 12)
    np.testing.assert_array_equal(y[:, :4], x)
    d1 = AF.compute_deltas(torch.from_numpy(x).T)
    np.testing.assert_allclose(y[:, 4:8], d1.T.numpy(), atol=1e-5)  # same regression, edges replicated
    d2 = AF.compute_deltas(d1)  # Kaldi replicates the input, not the deltas, so only the interior agrees
    np.testing.assert_allclose(y[4:-4, 8:], d2.T.numpy()[4:-4], atol=1e-5)
    # on a linear ramp the first difference is the slope everywhere, the second is 0 in the interior
    ramp = add_deltas(np.arange(20, dtype=np.float32)[:, None] * 2)
    np.testing.assert_allclose(ramp[2:-2, 1], 2.0, atol=1e-6)
    np.testing.assert_allclose(ramp[4:-4, 2], 0.0, atol=1e-6)
    assert compute_features(wave(0.3, 2), SR, FeatureConfig("mfcc", deltas=True)).shape == (28, 39)


def test_too_short_audio_is_named():
    with pytest.raises(SpeechSSLError, match="utt7: 300 samples is shorter than one 25 ms analysis window"):
        compute_features(np.zeros(300, np.float32), SR, FeatureConfig("mfcc"), utt="utt7")


def test_cmvn(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(3, 2, (50, 3)), rng.normal(-1, 0.5, (70, 3))
    u = utterance_cmvn(a.astype(np.float32), norm_vars=True)
    np.testing.assert_allclose(u.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(u.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(utterance_cmvn(a, norm_vars=False).std(0), a.std(0))
    s1, s2 = CMVNStats(3), CMVNStats(3)
    s1.accumulate(a)
    s2.accumulate(b)
    s1.merge(s2)
    s1.save(tmp_path / "stats.npz")
    loaded = CMVNStats.load(tmp_path / "stats.npz")
    both = np.concatenate([a, b])
    assert loaded.count == 120
    np.testing.assert_allclose(loaded.mean, both.mean(0))
    np.testing.assert_allclose(loaded.std, both.std(0))
    np.testing.assert_allclose(loaded.apply(b, norm_vars=True), (b - both.mean(0)) / both.std(0))
    with pytest.raises(SpeechSSLError, match="not a CMVN statistics file"):
        CMVNStats.load(tmp_path / "missing.npz")


def test_split_utterances():
    assert split_utterances(list("abcdefg"), 3) == [list("abc"), list("de"), list("fg")]
    with pytest.raises(SpeechSSLError, match="--nj"):
        split_utterances(list("ab"), 3)


# --------------------------------------------------------------------------- dumping
@pytest.fixture
def datadir(tmp_path):
    """Two recordings, three segments and one whole-recording-free layout (segments honoured)."""
    d = tmp_path / "data" / "train"
    d.mkdir(parents=True)
    waves = {"rec1": wave(1.0, 1), "rec2": wave(0.7, 2)}
    for name, w in waves.items():
        sf.write(tmp_path / f"{name}.wav", w, SR, subtype="FLOAT")
    (d / "wav.scp").write_text("".join(f"{n} {tmp_path / n}.wav\n" for n in waves))
    (d / "segments").write_text("spk1-a rec1 0.00 0.45\nspk1-b rec1 0.40 1.00\nspk2-a rec2 0.10 0.70\n")
    (d / "utt2spk").write_text("spk1-a spk1\nspk1-b spk1\nspk2-a spk2\n")
    cuts = {"spk1-a": waves["rec1"][0:7200], "spk1-b": waves["rec1"][6400:16000], "spk2-a": waves["rec2"][1600:11200]}
    return d, cuts


def test_dump_mfcc_jobs_resume_and_merge(tmp_path, datadir):
    data, cuts = datadir
    out = tmp_path / "dump" / "train"
    args = ["--feat-type", "mfcc", "--deltas", "true", "--nj", "2", str(data), str(out)]
    assert dump_main(args + ["--job", "2"]) == 0
    assert (out / "ark" / "feats.2.scp").is_file() and not (out / "feats.scp").exists()
    job2 = (out / "ark" / "feats.2.ark").stat().st_mtime_ns
    assert dump_main(args) == 0  # runs job 1, skips job 2, merges
    assert (out / "ark" / "feats.2.ark").stat().st_mtime_ns == job2
    feats = kaldiio.load_scp(str(out / "feats.scp"))
    assert sorted(feats) == sorted(cuts)
    for utt, w in cuts.items():
        expected = utterance_cmvn(compute_features(w, SR, FeatureConfig("mfcc", deltas=True)))
        np.testing.assert_allclose(feats[utt], expected, atol=1e-4)
    num_frames = dict(line.split() for line in (out / "utt2num_frames").read_text().splitlines())
    assert num_frames == {u: str(feats[u].shape[0]) for u in cuts}
    assert (out / "segments").read_text() == (data / "segments").read_text()  # a copy of the data dir
    info = json.loads((out / "feat_info.json").read_text())
    assert (info["dim"], info["frame_rate"], info["cmvn"]) == (39, 100.0, "utt")
    # a different configuration is refused until --redo
    assert dump_main(["--feat-type", "fbank", "--nj", "2", str(data), str(out)]) == 1
    assert dump_main(["--feat-type", "fbank", "--nj", "2", "--redo", "true", str(data), str(out)]) == 0
    assert kaldiio.load_scp(str(out / "feats.scp"))["spk2-a"].shape[1] == 80


def test_dump_global_cmvn_train_then_apply(tmp_path, datadir):
    data, cuts = datadir
    train = tmp_path / "dump" / "train"
    assert dump_main(["--cmvn", "global", "--norm-vars", "true", "--nj", "3", str(data), str(train)]) == 0
    stacked = np.concatenate(list(kaldiio.load_scp(str(train / "feats.scp")).values()))
    np.testing.assert_allclose(stacked.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(stacked.std(0), 1, atol=1e-3)
    dev = tmp_path / "dump" / "dev"
    assert dump_main(["--cmvn", "global", "--norm-vars", "true", "--cmvn-from", str(train), str(data), str(dev)]) == 0
    dev_feats = kaldiio.load_scp(str(dev / "feats.scp"))
    train_feats = kaldiio.load_scp(str(train / "feats.scp"))
    for utt in cuts:
        np.testing.assert_allclose(dev_feats[utt], train_feats[utt], atol=1e-4)
    assert dump_main(["--cmvn", "global", "--cmvn-from", str(tmp_path / "nowhere"), str(data), str(dev)]) == 1


@pytest.fixture
def tiny_upstream_dir(tmp_path):
    torch.manual_seed(0)
    config = transformers.HubertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16, 16), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2),
        num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4,
    )
    path = tmp_path / "tiny_hubert"
    transformers.HubertModel(config).eval().save_pretrained(path)
    (path / "preprocessor_config.json").write_text(json.dumps({"do_normalize": False, "sampling_rate": SR}))
    return path


def test_dump_ssl_layers_in_one_pass(tmp_path, datadir, tiny_upstream_dir):
    data, cuts = datadir
    out = tmp_path / "dump" / "ssl"
    args = ["--feat-type", "ssl", "--upstream", str(tiny_upstream_dir), "--layers", "0,2", "--dtype", "float16",
            "--batch-seconds", "1.0", "--device", "cpu", str(data), str(out)]
    assert dump_main(args) == 0
    up = load_upstream(tiny_upstream_dir)
    for layer in (0, 2):
        feats = kaldiio.load_scp(str(out / f"layer{layer}" / "feats.scp"))
        assert sorted(feats) == sorted(cuts)
        for utt, w in cuts.items():
            alone = up(torch.from_numpy(w)[None], torch.tensor([len(w)])).hidden_states[layer][0].numpy()
            assert feats[utt].dtype == np.float16
            np.testing.assert_allclose(feats[utt].astype(np.float32), alone, atol=2e-2, rtol=1e-2)
        info = json.loads((out / f"layer{layer}" / "feat_info.json").read_text())
        assert (info["layer"], info["dim"], info["frame_rate"]) == (layer, 32, 800.0)
    assert not (out / "layer1").exists()
    assert dump_main(["--feat-type", "ssl", "--upstream", str(tiny_upstream_dir), "--layers", "3",
                      str(data), str(tmp_path / "bad")]) == 1
    assert dump_main(["--feat-type", "ssl", str(data), str(tmp_path / "bad2")]) == 1

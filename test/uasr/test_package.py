"""Packed UASR models: raw audio -> phones and words equal to the staged pipeline's (stages 2-7); bad inputs."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from speechssl.bin import (apply_feature_transform, compute_vad, decode_uasr, dump_features, export_logits,
                           fit_feature_transform, pack_uasr_model, prepare_text, pseudo_label, recognize)
from speechssl.data.scp import read_dict
from speechssl.trainers.ctc import CTCTrainer, load_config as load_ctc_config
from speechssl.trainers.uasr_gan import UASRGANTrainer, load_config
from speechssl.uasr.package import PackedModel, Recognition, format_outputs, pack_model
from speechssl.utils.errors import SpeechSSLError
from ctc_corpus import ROOT, TINY as CTC_TINY

GAN_TINY = ROOT / "egs/TEMPLATE/conf/uasr_tiny.yaml"
SR = 16000
SENTENCES = [f"{s} {v} {o}" for s in ("the cat", "a dog", "my sister", "the old man")
             for v in ("sat on", "looked at", "ran to") for o in ("the mat", "a red box", "the door")]

pytestmark = pytest.mark.usefixtures("one_thread")


def speechlike(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Harmonic 'syllables' of random pitch and length, short gaps and some pauses, quiet noise at both ends."""
    parts = [1e-4 * rng.normal(size=int(rng.uniform(0.2, 0.4) * SR))]
    while sum(map(len, parts)) < seconds * SR:
        t = np.arange(int(rng.uniform(0.06, 0.16) * SR)) / SR
        f0 = rng.uniform(90, 300)
        tone = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 6))
        parts += [0.2 * tone * np.hanning(len(t)) + 0.01 * rng.normal(size=len(t)),
                  1e-4 * rng.normal(size=int((0.3 if rng.random() < 0.2 else rng.uniform(0.0, 0.05)) * SR))]
    parts.append(1e-4 * rng.normal(size=int(rng.uniform(0.2, 0.4) * SR)))
    return np.concatenate(parts).astype(np.float32)


def run(main, *args) -> None:
    assert main([str(a) for a in args]) == 0


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """A tiny run of stages 2-7 (the real programs; an untrained GAN) and its packed model."""
    d = tmp_path_factory.mktemp("recipe")
    rng = np.random.default_rng(0)
    (d / "audio").mkdir()
    (d / "data").mkdir()
    wavs = {}
    for i in range(10):
        utt = f"spk1-utt{i:02d}"
        sf.write(d / "audio" / f"{utt}.flac", speechlike(rng, rng.uniform(0.8, 1.6)), SR, subtype="PCM_16")
        wavs[utt] = d / "audio" / f"{utt}.flac"
    (d / "data/wav.scp").write_text("".join(f"{u} {p}\n" for u, p in wavs.items()))
    (d / "data/utt2spk").write_text("".join(f"{u} spk1\n" for u in wavs))
    (d / "data/spk2utt").write_text("spk1 " + " ".join(wavs) + "\n")
    conf = d / "conf"
    conf.mkdir()
    (conf / "vad.yaml").write_text("detector: energy\nmode: trim\npad: 0.05\n")
    (conf / "feats.yaml").write_text("num_ceps: 13\ndeltas: true\ncmvn: utt\n")
    (conf / "decode.yaml").write_text("beam: 4\nlm_weight: 0.5\ninsertion_bonus: 0.5\n")
    (d / "lm_text.txt").write_text("\n".join(SENTENCES) + "\n")
    run(prepare_text.main, "--lang", "en-us", "--sil-prob", "v2", "--phone-lm-orders", "4,6", "--word-lm-order", "4",
        d / "lm_text.txt", d / "text")
    # stages 2, 4, 5 (v1 transform: k-means run pooling, PCA, pair pooling)
    run(compute_vad.main, "--config", conf / "vad.yaml", d / "data", d / "data_vad")
    run(dump_features.main, "--config", conf / "feats.yaml", "--feat-type", "mfcc", d / "data_vad", d / "dump/mfcc")
    run(fit_feature_transform.main, "--pca-dim", 8, "--n-clusters", 6, "--pair-pool", "true", "--kmeans-iters", 5,
        "--kmeans-redo", 1, d / "dump/mfcc", d / "exp/transform")
    run(apply_feature_transform.main, d / "exp/transform", d / "dump/mfcc", d / "dump/mfcc_v1")
    # stage 6: the real trainer's checkpoint of its random initialisation (all that equivalence needs)
    cfg = load_config(GAN_TINY, ["data.min_frames=1"])
    UASRGANTrainer(cfg, d / "exp/gan/seed1", d / "dump/mfcc_v1", None, d / "text").save(is_best=False)
    ckpt = d / "exp/gan/seed1/checkpoint_last.pt"
    (d / "exp/gan/selected.json").write_text(json.dumps({"selected": {"run": "seed1", "checkpoint": str(ckpt)}}))
    # stage 7
    gan = d / "exp/gan"
    run(export_logits.main, ckpt, d / "dump/mfcc_v1", gan / "logits")
    scp, tokens = gan / "logits/logits.scp", gan / "logits/tokens.txt"
    run(decode_uasr.main, scp, tokens, gan / "decode_greedy")
    run(decode_uasr.main, "--config", conf / "decode.yaml", "--decoder", "beam", "--lm", d / "text/lm.phones.6.bin",
        scp, tokens, gan / "decode_phn6")
    run(decode_uasr.main, "--config", conf / "decode.yaml", "--decoder", "lexicon", "--lexicon",
        d / "text/lexicon_filtered.lst", "--lm", d / "text/lm.words.4.bin", scp, tokens, gan / "decode_word4")
    run(pack_uasr_model.main, "--vad-config", conf / "vad.yaml", "--feats-config", conf / "feats.yaml",
        "--feat-type", "mfcc", "--decode-config", conf / "decode.yaml", gan / "selected.json", d / "exp/transform",
        d / "text", gan / "packed")
    return d


def staged(recipe, name: str) -> dict[str, list[str]]:
    return {u: v.split() for u, v in read_dict(recipe / f"exp/gan/{name}/text", allow_empty_value=True).items()}


def test_recognize_from_raw_audio_equals_the_staged_pipeline(recipe):
    model = PackedModel.load(recipe / "exp/gan/packed")
    files = sorted((recipe / "audio").glob("*.flac"))
    results = model.recognize(files, batch_size=4)
    assert list(results) == [f.stem for f in files]
    greedy, phn6, word4 = staged(recipe, "decode_greedy"), staged(recipe, "decode_phn6"), staged(recipe, "decode_word4")
    assert {u: r.phones_greedy for u, r in results.items()} == greedy
    assert {u: r.phones_lm for u, r in results.items()} == phn6
    assert {u: r.words for u, r in results.items()} == word4
    assert sum(map(len, greedy.values())) > 20 and sum(map(len, word4.values())) > 0  # not trivially empty
    stats = model.last_stats
    assert stats["inputs"] == 10 and 0 < stats["speech_seconds"] < stats["audio_seconds"] and stats["rtf"] > 0
    manifest = json.loads((recipe / "exp/gan/packed/manifest.json").read_text())
    assert manifest["summary"]["feature_dim"] == 39 and manifest["summary"]["transform_dim"] == 8
    assert "pack_uasr_model" in manifest["command"] and "generator.pt" in manifest["files"]
    files = [p for p in (recipe / "exp/gan/packed").rglob("*") if not p.name.startswith(".")]  # not .done.json
    assert not any(p.is_symlink() for p in files) and all(p.stat().st_mode & 0o004 for p in files)  # world-readable


def test_cli_writes_kaldi_text_and_prints(recipe, tmp_path, capsys):
    packed = recipe / "exp/gan/packed"
    run(recognize.main, "--wav-scp", recipe / "data/wav.scp", "--out-dir", tmp_path, packed)
    assert (tmp_path / "phones_lm.txt").read_text() == (recipe / "exp/gan/decode_phn6/text").read_text()
    assert (tmp_path / "words.txt").read_text() == (recipe / "exp/gan/decode_word4/text").read_text()
    capsys.readouterr()
    one = recipe / "audio/spk1-utt03.flac"
    run(recognize.main, "--print", "phones_greedy", packed, one)
    assert capsys.readouterr().out == "spk1-utt03 " + " ".join(staged(recipe, "decode_greedy")["spk1-utt03"]) + "\n"
    # a rerun of the packing with the same inputs is skipped, with other inputs refused
    args = ["--feat-type", "mfcc", "--feats-config", recipe / "conf/feats.yaml", "--vad-config",
            recipe / "conf/vad.yaml", "--decode-config", recipe / "conf/decode.yaml", recipe / "exp/gan/selected.json",
            recipe / "exp/transform", recipe / "text", packed]
    run(pack_uasr_model.main, *args)
    assert pack_uasr_model.main([str(a) for a in args[2:]]) == 1


def test_any_sample_rate_channels_and_arrays(recipe, tmp_path):
    model = PackedModel.load(recipe / "exp/gan/packed", verify=False)
    wav, _ = sf.read(recipe / "audio/spk1-utt01.flac", dtype="float32")
    sf.write(tmp_path / "stereo.wav", np.stack([wav, wav], axis=1), SR, subtype="FLOAT")
    with pytest.raises(SpeechSSLError, match="2 channels; choose one"):
        model.recognize(tmp_path / "stereo.wav")
    mono = model.recognize({"x": wav}, sample_rate=SR)["x"]
    assert model.recognize({"x": tmp_path / "stereo.wav"}, channel="mean")["x"] == mono
    assert mono.phones_greedy == staged(recipe, "decode_greedy")["spk1-utt01"]
    from scipy.signal import resample_poly

    sf.write(tmp_path / "up.wav", resample_poly(wav, 3, 1).astype(np.float32), 48000, subtype="FLOAT")
    back = model.waveform(tmp_path / "up.wav")
    assert abs(len(back) - len(wav)) <= 1 and np.abs(back[: len(wav)] - wav[: len(back)]).max() < 0.05
    assert model.recognize(tmp_path / "up.wav")["up"].phones_lm  # 48 kHz audio is resampled, not refused
    with pytest.raises(SpeechSSLError, match="needs its sample_rate"):
        model.recognize([wav])
    silent = model.recognize({"quiet": np.zeros(SR, dtype=np.float32)}, sample_rate=SR)["quiet"]
    assert silent == Recognition("quiet", note="no speech found by the VAD")
    assert format_outputs([silent, mono], "words") == "quiet\nx " + " ".join(mono.words) + "\n"
    with pytest.raises(SpeechSSLError, match="does not exist"):
        model.recognize(tmp_path / "missing.wav")


def _copy(recipe, tmp_path):
    dst = tmp_path / "packed"
    shutil.copytree(recipe / "exp/gan/packed", dst)
    return dst


def test_damaged_or_inconsistent_packages_are_refused(recipe, tmp_path):
    packed = _copy(recipe, tmp_path)
    (packed / "lexicon.lst").unlink()
    with pytest.raises(SpeechSSLError, match="lexicon.lst is missing"):
        PackedModel.load(packed)
    with pytest.raises(SpeechSSLError, match="lexicon.lst is missing"):
        PackedModel.load(packed, verify=False)
    packed = _copy(recipe, tmp_path / "b")
    features = packed / "features.yaml"
    features.write_text(features.read_text().replace("num_ceps: 13", "num_ceps: 12"))
    with pytest.raises(SpeechSSLError, match="features.yaml differs from the file that was packed"):
        PackedModel.load(packed)
    with pytest.raises(SpeechSSLError, match="gives 36-dim features but the transform was fitted on 39"):
        PackedModel.load(packed, verify=False)
    packed = _copy(recipe, tmp_path / "c")
    tokens = (packed / "tokens.txt").read_text().splitlines()
    (packed / "tokens.txt").write_text("\n".join(tokens[:-1]) + "\n")
    with pytest.raises(SpeechSSLError, match=f"lists {len(tokens) - 1} tokens but the generator has {len(tokens)}"):
        PackedModel.load(packed, verify=False)
    renamed = [t if t == "<SIL>" else t + "x" for t in tokens]
    (packed / "tokens.txt").write_text("\n".join(renamed) + "\n")
    with pytest.raises(SpeechSSLError, match="LM vocabulary does not match the token list"):
        PackedModel.load(packed, verify=False)


def test_pack_checks_the_pieces_before_writing(recipe, tmp_path):
    gan = recipe / "exp/gan/selected.json"
    with pytest.raises(SpeechSSLError, match="gives 80-dim features but the transform was fitted on 39"):
        pack_model(tmp_path / "p", gan, recipe / "exp/transform", recipe / "text",
                   feat_options=["--feat-type", "fbank"])
    assert not (tmp_path / "p").exists()
    other = tmp_path / "text"
    shutil.copytree(recipe / "text", other)
    (other / "dict.phn.txt").write_text("".join(f"{p} 1\n" for p in ("a", "b", "<SIL>")))
    with pytest.raises(SpeechSSLError, match="does not list the tokens"):
        pack_model(tmp_path / "p", gan, recipe / "exp/transform", other)
    with pytest.raises(SpeechSSLError, match="not a selected.json"):
        pack_model(tmp_path / "p", recipe / "conf/feats.yaml.json", recipe / "exp/transform", recipe / "text")


@pytest.mark.parametrize("mode", ["trim", "split", "concat"])
def test_vad_cut_gives_the_samples_of_the_vad_data_directory(recipe, tmp_path, mode):
    from speechssl.audio.io import iter_utterances
    from speechssl.audio.vad import apply_vad_to_datadir, make_detector, vad_cut

    detector = make_detector("energy")
    apply_vad_to_datadir(recipe / "data", tmp_path / "vad", detector, mode, 0.05)
    staged = {u: w for u, w, _ in iter_utterances(tmp_path / "vad")}
    cut = {}
    for utt, value in read_dict(recipe / "data/wav.scp").items():
        wav, _ = sf.read(value, dtype="float32")
        cut.update(vad_cut(wav, SR, detector, mode, 0.05, utt))
    assert sorted(cut) == sorted(staged) and (len(cut) > 10 if mode == "split" else len(cut) == 10)
    assert all(np.array_equal(cut[u], staged[u]) for u in cut)


def test_ssl_features_come_from_the_packed_upstream(recipe, tmp_path):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=64, conv_dim=(16, 16, 16), conv_kernel=(10, 3, 3),
                                       conv_stride=(5, 2, 2), num_conv_pos_embeddings=8,
                                       num_conv_pos_embedding_groups=4)
    upstream = tmp_path / "tiny_hubert"
    transformers.HubertModel(config).eval().save_pretrained(upstream)
    (upstream / "preprocessor_config.json").write_text(json.dumps({"do_normalize": False, "sampling_rate": SR}))
    # stages 4-7 on SSL layer 2 (batches of one utterance: no padding, so features are exact), v2 transform
    feat_opts = ["--feat-type", "ssl", "--upstream", upstream, "--layers", 2]
    (tmp_path / "feats.yaml").write_text("batch_seconds: 0.5\n")
    run(dump_features.main, "--config", tmp_path / "feats.yaml", *feat_opts, recipe / "data_vad", tmp_path / "dump")
    run(fit_feature_transform.main, "--pca-dim", 0, "--n-clusters", 0, "--pair-pool", "false",
        tmp_path / "dump/layer2", tmp_path / "transform")
    run(apply_feature_transform.main, tmp_path / "transform", tmp_path / "dump/layer2", tmp_path / "v2")
    cfg = load_config(GAN_TINY, ["data.min_frames=1"])
    UASRGANTrainer(cfg, tmp_path / "gan", tmp_path / "v2", None, recipe / "text").save(is_best=False)
    run(export_logits.main, tmp_path / "gan/checkpoint_last.pt", tmp_path / "v2", tmp_path / "logits")
    run(decode_uasr.main, tmp_path / "logits/logits.scp", tmp_path / "logits/tokens.txt", tmp_path / "greedy")
    run(pack_uasr_model.main, "--vad-config", recipe / "conf/vad.yaml", "--feats-config", tmp_path / "feats.yaml",
        *feat_opts, tmp_path / "gan/checkpoint_last.pt", tmp_path / "transform", recipe / "text", tmp_path / "packed")
    shutil.rmtree(upstream)  # the package holds its own copy
    model = PackedModel.load(tmp_path / "packed")
    assert model.summary()["feature_dim"] == 32 and (tmp_path / "packed/upstream/tiny_hubert/config.json").is_file()
    results = model.recognize(sorted((recipe / "audio").glob("*.flac")))
    want = {u: v.split() for u, v in read_dict(tmp_path / "greedy/text", allow_empty_value=True).items()}
    assert {u: r.phones_greedy for u, r in results.items()} == want and sum(map(len, want.values())) > 20


def test_packed_ctc_model_gives_the_labels_of_its_self_training_round(recipe, tmp_path):
    """A CTC model of self-training (frame features, no transform) packed with the insertion bonus its round
    used: raw audio gives the phones pseudo_label wrote from the dumped features."""
    text = recipe / "text"
    phones = [p for p in (text / "dict.phn.txt").read_text().split()[::2] if p != "<SIL>"]
    utts = sorted(read_dict(recipe / "data/wav.scp"))
    (tmp_path / "utt2pseudo").write_text("".join(f"{u} {' '.join(phones[i:i + 4])}\n" for i, u in enumerate(utts)))
    # stage 8: the real trainer's checkpoint of its random initialisation, then labelling with beam and bonus 1.5
    cfg = load_ctc_config(CTC_TINY, ["data.labels=pseudo", "data.min_frames=1"])
    CTCTrainer(cfg, tmp_path / "ctc", recipe / "dump/mfcc", text, tmp_path / "utt2pseudo").save(is_best=False)
    ckpt = tmp_path / "ctc/checkpoint_last.pt"
    run(pseudo_label.main, "--config", recipe / "conf/decode.yaml", "--decoder", "beam", "--lm",
        text / "lm.phones.6.bin", "--insertion-bonus", 1.5, "--set", f"all={recipe / 'dump/mfcc'}", ckpt,
        tmp_path / "round1")
    common = ["--vad-config", recipe / "conf/vad.yaml", "--feats-config", recipe / "conf/feats.yaml", "--feat-type",
              "mfcc", "--decode-config", recipe / "conf/decode.yaml"]
    run(pack_uasr_model.main, *common, "--insertion-bonus", 1.5, ckpt, "-", text, tmp_path / "packed")
    model = PackedModel.load(tmp_path / "packed")
    assert model.kind == "ctc" and model.transform is None and model.tokens[-1] == "<blank>"
    assert not (tmp_path / "packed/transform").exists() and (tmp_path / "packed/ctc.pt").is_file()
    assert "insertion_bonus: 1.5" in (tmp_path / "packed/decode.yaml").read_text()
    results = model.recognize(sorted((recipe / "audio").glob("*.flac")), batch_size=3)
    want = {u: [p for p in v.split() if p != "<SIL>"]
            for u, v in read_dict(tmp_path / "round1/all/utt2pseudo", allow_empty_value=True).items()}
    assert {u: r.phones_lm for u, r in results.items()} == want and sum(map(len, want.values())) > 20
    # a round decoded with output biases (--match-unigram): the package applies them as the round did
    run(pseudo_label.main, "--config", recipe / "conf/decode.yaml", "--decoder", "beam", "--lm",
        text / "lm.phones.6.bin", "--insertion-bonus", 1.5, "--set", f"all={recipe / 'dump/mfcc'}",
        "--match-unigram", f"all={text / 'dict.phn.txt'}", ckpt, tmp_path / "round1u")
    biased = {u: [p for p in v.split() if p != "<SIL>"]
              for u, v in read_dict(tmp_path / "round1u/all/utt2pseudo", allow_empty_value=True).items()}
    assert biased != want
    run(pack_uasr_model.main, *common, "--insertion-bonus", 1.5, "--token-bias", tmp_path / "round1u/token_bias.txt",
        ckpt, "-", text, tmp_path / "packed_u")
    results = PackedModel.load(tmp_path / "packed_u").recognize(sorted((recipe / "audio").glob("*.flac")),
                                                                 batch_size=3)
    assert {u: r.phones_lm for u, r in results.items()} == biased
    (tmp_path / "other_bias.txt").write_text("a 0.5\n")
    with pytest.raises(SpeechSSLError, match="belong to another model"):
        pack_model(tmp_path / "p", ckpt, None, text, token_bias=tmp_path / "other_bias.txt")
    # a CTC model takes no transform, a GAN needs one
    with pytest.raises(SpeechSSLError, match="reads frame features: give no feature transform"):
        pack_model(tmp_path / "p", ckpt, recipe / "exp/transform", text)
    with pytest.raises(SpeechSSLError, match="needs the feature transform of stage 5"):
        pack_model(tmp_path / "p", recipe / "exp/gan/selected.json", None, text)
    assert not (tmp_path / "p").exists()

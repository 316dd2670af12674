"""GAN trainer on synthetic data: losses, resume exactness, NaN stop, configuration checks, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

from speechssl.bin import train_uasr
from speechssl.text.lm import train_ngram
from speechssl.trainers.base import NonFiniteError
from speechssl.trainers.uasr_gan import UASRGANTrainer, load_config
from speechssl.utils.errors import SpeechSSLError

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "egs/TEMPLATE/conf/uasr_tiny.yaml"
PHONES = ["a", "b", "c", "d", "e", "f", "<SIL>"]


def _sentences(rng, n):
    out = []
    for _ in range(n):
        words = [" ".join(rng.choice(PHONES[:-1], size=rng.integers(2, 4))) for _ in range(rng.integers(2, 5))]
        out.append("<SIL> " + " <SIL> ".join(words) + " <SIL>")
    return out


def _write_feats(d: Path, rng, n_utts, dim, sentences, aux=False):
    """Features: a fixed random embedding per phone, 2-4 frames per phone, plus noise."""
    d.mkdir(parents=True)
    emb = np.random.default_rng(0).normal(size=(len(PHONES), dim))
    num_frames, durs, aux_lines, refs = {}, {}, [], {}
    with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
        for i in range(n_utts):
            utt = f"utt{i:03d}"
            phones = sentences[i % len(sentences)].split()
            ids = np.repeat([PHONES.index(p) for p in phones], rng.integers(2, 5, size=len(phones)))
            mat = (emb[ids] + 0.3 * rng.normal(size=(len(ids), dim))).astype(np.float32)
            w(utt, mat)
            num_frames[utt] = len(mat)
            durs[utt] = len(mat) / 50.0
            aux_lines.append(f"{utt} " + " ".join(str(x % 4) for x in ids))
            refs[utt] = phones
    (d / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in num_frames.items()))
    (d / "utt2dur").write_text("".join(f"{u} {t:.2f}\n" for u, t in durs.items()))
    if aux:
        (d / "utt2aux").write_text("\n".join(aux_lines) + "\n")
    return refs


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("uasr")
    rng = np.random.default_rng(1)
    text = root / "text"
    text.mkdir()
    sentences = _sentences(rng, 200)
    (text / "phones_sil.txt").write_text("\n".join(sentences) + "\n")
    counts = {p: sum(s.split().count(p) for s in sentences) for p in PHONES}
    (text / "dict.phn.txt").write_text("".join(f"{p} {c}\n" for p, c in sorted(counts.items(), key=lambda x: -x[1])))
    train_ngram(text / "phones_sil.txt", text / "lm.phones.4", 4)
    _write_feats(root / "train", rng, 40, 12, sentences, aux=True)
    refs = _write_feats(root / "dev", rng, 10, 12, sentences[100:])
    (root / "utt2phones").write_text("".join(f"{u} {' '.join(p)}\n" for u, p in refs.items()))
    return root


def _trainer(data, exp, overrides=(), valid=True):
    cfg = load_config(TINY, list(overrides))
    return UASRGANTrainer(cfg, exp, data / "train", data / "dev" if valid else None, data / "text",
                          data / "utt2phones" if valid else None)


def _params(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_tiny_run_finite_and_discriminator_learns(data, tmp_path):
    # a frozen generator (lr 0) makes the discriminator's task stationary, so its loss must fall
    t = _trainer(data, tmp_path / "exp", ["optim.generator.lr=0", "trainer.max_updates=60",
                                          "trainer.log_interval=10"])
    summary = t.fit()
    rows = [json.loads(x) for x in (tmp_path / "exp/log/metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    assert all(np.isfinite(v) for r in rows for k, v in r.items() if isinstance(v, float) and k != "length_duration_corr")
    assert train[-1]["d_adv"] < train[0]["d_adv"] - 0.05
    valid = [r for r in rows if r["split"] == "valid"]
    assert valid and "oracle_per" in valid[0] and "guarded_weighted_lm_ppl" in valid[0]
    assert summary["best_update"] is not None
    for name in ("checkpoint_last.pt", "checkpoint_best.pt", "curves.png", "tensorboard"):
        assert (tmp_path / "exp" / name).exists(), name


def test_resume_is_bitwise_identical(data, tmp_path):
    straight = _trainer(data, tmp_path / "a", ["trainer.max_updates=12", "trainer.save_interval=4",
                                               "trainer.valid_interval=100"], valid=False)
    straight.fit()
    # killed at update 7 (after the save at 4) ...
    killed = _trainer(data, tmp_path / "b", ["trainer.max_updates=12", "trainer.save_interval=4",
                                             "trainer.valid_interval=100"], valid=False)
    step = killed.train_step

    def dying_step(update):
        if update == 7:
            raise KeyboardInterrupt
        return step(update)

    killed.train_step = dying_step
    with pytest.raises(KeyboardInterrupt):
        killed.fit()
    # ... and resumed by a fresh process-like trainer
    resumed = _trainer(data, tmp_path / "b", ["trainer.max_updates=12", "trainer.save_interval=4",
                                              "trainer.valid_interval=100"], valid=False)
    assert resumed.resume("auto") == 4
    resumed.fit()
    a, b = _params(straight), _params(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa = straight.optimizers["generator"].state_dict()["state"]
    sb = resumed.optimizers["generator"].state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)


def test_nan_stops_and_keeps_last_good_checkpoint(data, tmp_path):
    t = _trainer(data, tmp_path / "exp", ["trainer.max_updates=10", "trainer.save_interval=4",
                                          "trainer.valid_interval=100"], valid=False)
    original = t.model.generator_loss

    def poisoned(*args, **kwargs):
        loss, stats = original(*args, **kwargs)
        update = args[3]  # called as generator_loss(feats, mask, aux, update)
        return loss * float("nan") if update >= 6 else loss, stats

    t.model.generator_loss = poisoned
    with pytest.raises(NonFiniteError, match=r"generator loss is nan at update 6.*checkpoint_last.pt \(update 4\)"):
        t.fit()
    state = torch.load(tmp_path / "exp/checkpoint_last.pt", weights_only=False)
    assert state["update"] == 4
    assert all(torch.isfinite(v).all() for v in state["modules"]["model"].values() if v.is_floating_point())


def test_resume_refuses_other_configuration(data, tmp_path):
    _trainer(data, tmp_path / "exp", ["trainer.max_updates=4", "trainer.save_interval=2"], valid=False).fit()
    other = _trainer(data, tmp_path / "exp", ["trainer.max_updates=4", "loss.code_penalty=2.0"], valid=False)
    with pytest.raises(SpeechSSLError, match=r"another configuration \(loss.code_penalty: 4.0 -> 2.0"):
        other.fit()
    longer = _trainer(data, tmp_path / "exp", ["trainer.max_updates=6", "trainer.save_interval=2"], valid=False)
    assert longer.fit()["updates"] == 6  # max_updates may change


def test_resume_refuses_other_feature_dimension(data, tmp_path):
    _trainer(data, tmp_path / "exp", ["trainer.max_updates=2", "trainer.save_interval=2"], valid=False).fit()
    rng = np.random.default_rng(3)
    _write_feats(tmp_path / "wide", rng, 10, 16, _sentences(rng, 5))
    cfg = load_config(TINY, ["trainer.max_updates=4"])
    t = UASRGANTrainer(cfg, tmp_path / "exp", tmp_path / "wide", None, data / "text")
    with pytest.raises(SpeechSSLError, match="12-dimensional features but .* has 16"):
        t.fit()


def test_v2_generator_with_aux_loss_trains(data, tmp_path):
    t = _trainer(data, tmp_path / "exp", ["model.generator.kernel=9", "model.generator.stride=3",
                                          "model.generator.batch_norm=true", "model.generator.residual=true",
                                          "loss.aux_weight=0.5", "loss.aux_classes=4", "trainer.max_updates=6",
                                          "trainer.log_interval=2"], valid=False)
    t.fit()
    rows = [json.loads(x) for x in (tmp_path / "exp/log/metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["g_aux"]) for r in rows if "g_aux" in r) and any("g_aux" in r for r in rows)


def test_config_errors():
    with pytest.raises(SpeechSSLError, match="unknown configuration key 'loss.code_pen'"):
        load_config(TINY, ["loss.code_pen=2"])
    with pytest.raises(SpeechSSLError, match="expected key.sub=value"):
        load_config(TINY, ["loss.code_penalty"])


def test_cli_end_to_end_and_empty_text(data, tmp_path, capsys):
    exp = tmp_path / "exp"
    args = ["--config", str(TINY), "--feats", str(data / "train"), "--valid-feats", str(data / "dev"),
            "--text-dir", str(data / "text"), "--valid-ref", str(data / "utt2phones"), "--max-updates", "4",
            "--set", "trainer.valid_interval=4", str(exp)]
    assert train_uasr.main(args) == 0
    summary = json.loads((exp / "train_summary.json").read_text())
    assert summary["updates"] == 4 and summary["best_update"] == 4
    assert (exp / "config.yaml").is_file() and (exp / "log/train.log").is_file()
    empty = tmp_path / "text"
    empty.mkdir()
    (empty / "dict.phn.txt").write_text((data / "text/dict.phn.txt").read_text())
    (empty / "phones_sil.txt").write_text("")
    args[args.index("--text-dir") + 1] = str(empty)
    assert train_uasr.main(args[:-1] + [str(tmp_path / "exp2")]) == 1
    assert "phone text corpus is empty" in capsys.readouterr().err

"""MelHuBERT pre-training: loss falls, exact resume, accumulation, schedules, checkpoints through load_upstream."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speechssl.bin import export_upstream, train_melhubert
from speechssl.models.upstream import load_upstream
from speechssl.trainers.checkpoint import load_checkpoint
from speechssl.trainers.melhubert import MelHuBERTTrainer
from speechssl.trainers.pretrain import DurationBatchSampler, lr_lambda
from speechssl.utils.errors import SpeechSSLError

from conftest import tiny_config


def _train(cfg, exp, data, resume="auto"):
    trainer = MelHuBERTTrainer(cfg, exp, data["train"], data["train"] / "targets.km",
                               data["dev"], data["dev"] / "targets.km")
    try:
        trainer.fit(resume)
    finally:
        trainer.close()
    return trainer


def _history(exp, split):
    rows = [json.loads(x) for x in (exp / "log" / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == split]


def test_loss_falls_and_checkpoint_loads_as_upstream(mel_data, tmp_path):
    exp = tmp_path / "exp"
    _train(tiny_config(max_updates=30), exp, mel_data)
    train = _history(exp, "train")
    # targets are uniform over 8 units: below ln 8 = 2.08 the model predicts masked units from their context
    assert train[-1]["loss"] < min(0.8 * train[0]["loss"], np.log(8) - 0.3), [r["loss"] for r in train]
    assert 0.4 < train[-1]["mask_share"] < 0.6
    info = json.loads((exp / "model_info.json").read_text())
    assert info["parameters"] > 0 and info["macs_per_second_audio_1s"] > 0
    assert (exp / "curves.png").is_file()

    up = load_upstream(exp / "checkpoint_last.pt")
    assert up.num_layers == 2 and up.hidden_size == 64 and up.frame_rate == 100
    wavs = torch.randn(2, 16000) * 0.1
    lens = torch.tensor([16000, 8000])
    out = up(wavs, lens)
    assert len(out.hidden_states) == 3 and out.lengths.tolist() == [98, 48]
    assert out.hidden_states[2].shape == (2, 98, 64) and not out.hidden_states[2][1, 48:].any()
    alone = up(wavs[1:, :8000], lens[1:])
    assert torch.allclose(out.hidden_states[2][1, :48], alone.hidden_states[2][0], atol=1e-4)

    exported = tmp_path / "upstream.pt"
    assert export_upstream.main([str(exp / "checkpoint_last.pt"), str(exported)]) == 0
    up2 = load_upstream(exported)
    assert torch.allclose(up2(wavs, lens).hidden_states[2], out.hidden_states[2], atol=1e-6)
    assert exported.stat().st_size < (exp / "checkpoint_last.pt").stat().st_size


class _Killed(RuntimeError):
    pass


def test_resume_after_a_kill_is_exact(mel_data, tmp_path, monkeypatch):
    cfg = tiny_config(max_updates=10, save_interval=5)
    full = _train(cfg, tmp_path / "full", mel_data)
    step = MelHuBERTTrainer.train_step

    def killed_at_8(self, update):
        if update == 8:
            raise _Killed
        return step(self, update)

    monkeypatch.setattr(MelHuBERTTrainer, "train_step", killed_at_8)
    with pytest.raises(_Killed):
        _train(cfg, tmp_path / "part", mel_data)
    monkeypatch.setattr(MelHuBERTTrainer, "train_step", step)
    resumed = _train(cfg, tmp_path / "part", mel_data)
    a = load_checkpoint(tmp_path / "full" / "checkpoint_last.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoint_last.pt")
    assert all(torch.equal(a["modules"]["model"][k], b["modules"]["model"][k]) for k in a["modules"]["model"])
    assert a["optimizers"]["model"]["state"][0]["exp_avg"].equal(b["optimizers"]["model"]["state"][0]["exp_avg"])
    assert resumed.sampler.state_dict() == full.sampler.state_dict()
    losses = lambda exp: [r["loss"] for r in _history(exp, "train")]  # noqa: E731
    assert losses(tmp_path / "full") == losses(tmp_path / "part")


def test_accumulation_matches_one_big_batch():
    """Two micro-batches weighted by their loss frames give the gradient of their union."""
    from speechssl.models.melhubert import MelHuBERT, MelHuBERTConfig, masked_prediction_loss

    torch.manual_seed(0)
    model = MelHuBERT(MelHuBERTConfig(stack_frames=1, hidden_size=16, num_layers=1, num_heads=2, ffn_size=16,
                                      pos_conv_kernel=4, pos_conv_groups=2, num_clusters=5, dropout=0.0,
                                      attention_dropout=0.0, input_dropout=0.0))
    x, t = torch.randn(2, 30, 40), torch.randint(0, 5, (2, 30))
    m = torch.zeros(2, 30, dtype=torch.bool)
    m[0, 3:13], m[1, 5:10] = True, True
    lens = torch.tensor([30, 30])
    loss, _ = masked_prediction_loss(model(x, lens, m)[0], t, m)
    full = torch.autograd.grad(loss, list(model.parameters()))
    acc = [torch.zeros_like(p) for p in model.parameters()]
    for b, w in ((0, 10 / 15), (1, 5 / 15)):
        lb, _ = masked_prediction_loss(model(x[b:b + 1], lens[b:b + 1], m[b:b + 1])[0], t[b:b + 1], m[b:b + 1])
        for a, g in zip(acc, torch.autograd.grad(lb * w, list(model.parameters()))):
            a += g
    assert all(torch.allclose(f, a, atol=1e-5) for f, a in zip(full, acc))


def test_trainer_accumulates(mel_data, tmp_path):
    exp = tmp_path / "acc"
    cfg = tiny_config(max_updates=3)
    cfg["optim"]["accum_grad"] = 2
    trainer = _train(cfg, exp, mel_data)
    assert trainer.sampler.position + trainer.sampler.epoch * trainer.sampler.batches_per_epoch == 6


def test_duration_batches_respect_the_budget_and_resume():
    lengths = np.random.default_rng(0).integers(50, 400, size=200)
    s = DurationBatchSampler(lengths, 1000, seed=3, crop_frames=300, bucket_size=50)
    seen = []
    for _ in range(s.batches_per_epoch):
        batch = s.next_batch()
        assert len(batch) * min(300, lengths[batch].max()) <= 1000
        seen.extend(batch.tolist())
    assert sorted(seen) == list(range(200))  # one epoch covers every utterance once
    state = s.state_dict()
    nxt = [s.next_batch().tolist() for _ in range(3)]
    s2 = DurationBatchSampler(lengths, 1000, seed=3, crop_frames=300, bucket_size=50)
    s2.load_state_dict(state)
    assert [s2.next_batch().tolist() for _ in range(3)] == nxt
    ranks = [DurationBatchSampler(lengths, 1000, seed=3, rank=r, world_size=2, crop_frames=300) for r in (0, 1)]
    a, b = (set(np.concatenate(r._batches).tolist()) for r in ranks)
    assert not a & b and ranks[0].batches_per_epoch == ranks[1].batches_per_epoch
    with pytest.raises(SpeechSSLError, match="raise the batch size"):
        DurationBatchSampler(lengths, 100)


def test_schedules():
    f = lr_lambda("linear", 10, 110, 0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == 1.0 and f(60) == pytest.approx(0.55) and f(110) == pytest.approx(0.1)
    c = lr_lambda("cosine", 0, 100)
    assert c(0) == 1.0 and c(50) == pytest.approx(0.5) and c(100) == pytest.approx(0.0, abs=1e-12)
    assert lr_lambda("constant", 5, 100)(50) == 1.0
    with pytest.raises(SpeechSSLError, match="schedule"):
        lr_lambda("step", 0, 10)


def test_cli_errors_are_clear(mel_data, tmp_path, capsys):
    bad = tmp_path / "bad.km"
    bad.write_text("utt1_000 1 2 x\n")
    rc = train_melhubert.main([str(tmp_path / "e"), "--feats", str(mel_data["train"]), "--targets", str(bad),
                               "--set", "trainer.progress=false"])
    assert rc == 1 and "bad.km:1" in capsys.readouterr().err
    rc = train_melhubert.main([str(tmp_path / "e"), "--feats", str(mel_data["train"]), "--targets",
                               str(mel_data["train"] / "targets.km"), "--set", "model.num_clusters=4"])
    assert rc == 1 and "num_clusters" in capsys.readouterr().err

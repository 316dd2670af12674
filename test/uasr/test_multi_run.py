"""Sweeps in one process: runs identical to solo runs, diverged runs stopped, resume after a kill, memory plan."""
from __future__ import annotations

import json
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

from speechssl.bin import train_uasr
from speechssl.text.lm import train_ngram
from speechssl.trainers.curves import CurveLogger
from speechssl.trainers.multi_run import SweepConfig, divergence_reason, expand_runs, parse_grid, parse_seeds
from speechssl.trainers.uasr_gan import UASRGANTrainer
from speechssl.utils.errors import SpeechSSLError

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "egs/TEMPLATE/conf/uasr_tiny.yaml"
PHONES = ["a", "b", "c", "d", "<SIL>"]
#: 8 updates, a validation every 4, a checkpoint every 3 (and at each validation).
SHORT = ["--max-updates", "8", "--set", "trainer.valid_interval=4", "--set", "trainer.save_interval=3",
         "--set", "trainer.log_interval=2", "--num-threads", "1"]


@pytest.fixture(scope="module", autouse=True)
def no_plots():
    """curves.png is tested elsewhere; drawing it at every validation would take most of these tests' time."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CurveLogger, "plot", lambda self, path=None: None)
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A phone text with its LM, and 16 training / 6 validation utterances of noisy per-phone embeddings."""
    root = tmp_path_factory.mktemp("sweep")
    rng = np.random.default_rng(1)
    sentences = ["<SIL> " + " <SIL> ".join(" ".join(rng.choice(PHONES[:-1], size=rng.integers(2, 4)))
                                           for _ in range(rng.integers(2, 4))) + " <SIL>" for _ in range(60)]
    text = root / "text"
    text.mkdir()
    (text / "phones_sil.txt").write_text("\n".join(sentences) + "\n")
    (text / "dict.phn.txt").write_text("".join(f"{p} 1\n" for p in PHONES))
    train_ngram(text / "phones_sil.txt", text / "lm.phones.4", 4)
    emb = rng.normal(size=(len(PHONES), 8))
    for name, n in (("train", 16), ("dev", 6)):
        d = root / name
        d.mkdir()
        lines = []
        with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
            for i in range(n):
                ids = np.repeat([PHONES.index(p) for p in sentences[i].split()], 3)
                w(f"u{i:02d}", (emb[ids] + 0.3 * rng.normal(size=(len(ids), 8))).astype(np.float32))
                lines.append(f"u{i:02d} {len(ids)}\n")
        (d / "utt2num_frames").write_text("".join(lines))
        (d / "utt2dur").write_text("".join(f"{x.split()[0]} {int(x.split()[1]) / 100:.2f}\n" for x in lines))
    return root


def _args(data, exp, *extra):
    return ["--config", str(TINY), "--feats", str(data / "train"), "--valid-feats", str(data / "dev"),
            "--text-dir", str(data / "text"), *SHORT, *extra, str(exp)]


def _metrics(run_dir):
    return [json.loads(x) for x in (run_dir / "log/metrics.jsonl").read_text().splitlines()]


def _params(run_dir):
    return torch.load(run_dir / "checkpoint_last.pt", weights_only=False)["modules"]["model"]


@pytest.fixture(scope="module")
def sweep(data, tmp_path_factory):
    """Seeds 1-2 trained together: the reference the other tests compare with."""
    exp = tmp_path_factory.mktemp("runs") / "sweep"
    assert train_uasr.main(_args(data, exp, "--seeds", "1-2")) == 0
    return exp


def test_each_run_of_a_sweep_equals_the_run_alone(data, sweep, tmp_path):
    assert train_uasr.main(_args(data, tmp_path / "solo", "--seed", "2")) == 0
    assert _metrics(sweep / "seed2") == _metrics(tmp_path / "solo")
    assert _metrics(sweep / "seed1") != _metrics(sweep / "seed2")
    a, b = _params(sweep / "seed2"), _params(tmp_path / "solo")
    assert all(torch.equal(a[k], b[k]) for k in a)
    summary = json.loads((sweep / "seed2/train_summary.json").read_text())
    assert summary["status"] == "finished" and summary["updates"] == 8 and summary["seed"] == 2
    assert "GAN: input dim 8" in (sweep / "seed2/log/train.log").read_text()
    assert "[seed1] " in (sweep / "log/sweep.log").read_text()


def test_diverged_run_stops_and_the_others_finish(data, tmp_path, capsys):
    exp = tmp_path / "grid"
    assert train_uasr.main(_args(data, exp, "--seeds", "1", "--grid", "optim.discriminator.lr=1.0e-3,1.0e+38")) == 0
    ok = json.loads((exp / "seed1_lr0.001/train_summary.json").read_text())
    bad = json.loads((exp / "seed1_lr1e+38/train_summary.json").read_text())
    assert ok["status"] == "finished" and ok["updates"] == 8 and ok["grid"] == {"optim.discriminator.lr": 0.001}
    assert bad["status"].startswith("stopped: training diverged: ") and "loss is nan" in bad["status"]
    assert bad["updates"] < 4 and bad["best_update"] is None
    assert "stopped: training diverged" in (exp / "seed1_lr1e+38/log/train.log").read_text()
    # the table lists both, with status and grid values; the stopped run has no checkpoint to compete with
    from speechssl.bin import select_uasr_run
    assert select_uasr_run.main([str(exp)]) == 0
    table = (exp / "runs.md").read_text()
    assert "| seed1_lr0.001 (selected) | finished | optim.discriminator.lr=0.001 |" in table
    assert "| seed1_lr1e+38 | stopped: training diverged: " in table


def test_divergence_signals_stop_runs(data, tmp_path):
    exp = tmp_path / "collapse"
    # a vocabulary floor no run can reach stops the run at its first validation (patience 1) ...
    args = _args(data, exp, "--seeds", "1", "--set", "sweep.patience=1", "--set", "sweep.min_vocab_usage=1.01")
    assert train_uasr.main(args) == 0
    summary = json.loads((exp / "seed1/train_summary.json").read_text())
    assert summary["status"].startswith("stopped: vocab_usage below 1.01") and summary["updates"] == 4
    assert summary["best_update"] == 4  # it keeps its best checkpoint, which may still be selected
    # ... and a rerun leaves a stopped run alone
    assert train_uasr.main(args) == 0
    assert "stays stopped" in (exp / "seed1/log/train.log").read_text()
    assert json.loads((exp / "seed1/train_summary.json").read_text())["updates"] == 4


def test_sweep_killed_anywhere_resumes_every_run(data, sweep, tmp_path, monkeypatch):
    exp = tmp_path / "killed"
    step = UASRGANTrainer.train_step

    def dying(self, update):  # seed2 dies at update 5 (last saved 4); seed1, 2 updates ahead (measured first), saved 6
        if self.exp_dir.name == "seed2" and update == 5:
            raise KeyboardInterrupt
        return step(self, update)

    monkeypatch.setattr(UASRGANTrainer, "train_step", dying)
    assert train_uasr.main(_args(data, exp, "--seeds", "1-2")) == 130
    assert torch.load(exp / "seed1/checkpoint_last.pt", weights_only=False)["update"] == 6
    assert torch.load(exp / "seed2/checkpoint_last.pt", weights_only=False)["update"] == 4
    monkeypatch.setattr(UASRGANTrainer, "train_step", step)
    assert train_uasr.main(_args(data, exp, "--seeds", "1-2")) == 0
    for run in ("seed1", "seed2"):
        assert _metrics(exp / run) == _metrics(sweep / run), run
        a, b = _params(exp / run), _params(sweep / run)
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_memory_plan_refuses_or_trains_in_turns(data, sweep, tmp_path, capsys):
    tiny = ["--set", "sweep.memory_fraction=1.0e-9"]
    assert train_uasr.main(_args(data, tmp_path / "refused", "--seeds", "1-2", *tiny,
                                 "--set", "sweep.memory=refuse")) == 1
    assert "2 runs do not fit in memory at once" in capsys.readouterr().err
    assert train_uasr.main(_args(data, tmp_path / "turns", "--seeds", "1-2", *tiny, "--max-updates", "4")) == 0
    assert "1 of 2 runs at once" in (tmp_path / "turns/log/sweep.log").read_text()
    assert _metrics(tmp_path / "turns/seed2") == [r for r in _metrics(sweep / "seed2") if r["update"] <= 4]


def test_divergence_reason():
    cfg = SweepConfig(patience=2, min_vocab_usage=0.2, max_metric_ratio=4.0, plateau=3)
    m = "guarded_weighted_lm_ppl"

    def rows(*pairs):
        return [{"update": 100 * (i + 1), m: v, "vocab_usage": u} for i, (v, u) in enumerate(pairs)]

    best = lambda update: 10.0  # noqa: E731
    assert divergence_reason(rows((12, 0.5), (11, 0.5)), best, m, True, cfg) is None
    assert "vocab_usage below 0.2" in divergence_reason(rows((12, 0.1), (11, 0.1)), best, m, True, cfg)
    assert divergence_reason(rows((12, 0.5), (11, 0.1)), best, m, True, cfg) is None  # not yet `patience` in a row
    assert "worse than 4x the sweep's best (10)" in divergence_reason(rows((50, 0.5), (float("inf"), 0.5)), best,
                                                                      m, True, cfg)
    assert "no new best" in divergence_reason(rows((11, 0.5), (12, 0.5), (13, 0.5), (12, 0.5)), best, m, True, cfg)


def test_seeds_and_grid_parsing():
    assert parse_seeds("1-4") == [1, 2, 3, 4] and parse_seeds("3,1,3") == [3, 1] and parse_seeds("1-2,7") == [1, 2, 7]
    with pytest.raises(SpeechSSLError, match="--seeds"):
        parse_seeds("4-1")
    grid = parse_grid(["loss.code_penalty=2,4", "optim.generator.betas=[0.5, 0.9],[0.9, 0.98]"])
    assert grid == {"loss.code_penalty": [2, 4], "optim.generator.betas": [[0.5, 0.9], [0.9, 0.98]]}
    names = [s.name for s in expand_runs([1, 2], grid)]
    assert names[:2] == ["seed1_code_penalty2_betas0.5-0.9", "seed1_code_penalty2_betas0.9-0.98"]
    assert len(names) == 8
    two = [s.name for s in expand_runs([1], parse_grid(["optim.generator.lr=1,2", "optim.discriminator.lr=3"]))]
    assert two == ["seed1_optim_generator_lr1_optim_discriminator_lr3",
                   "seed1_optim_generator_lr2_optim_discriminator_lr3"]
    with pytest.raises(SpeechSSLError, match="seeds are swept with --seeds"):
        parse_grid(["trainer.seed=1,2"])


def test_bad_grid_key_is_refused_before_training(data, tmp_path, capsys):
    assert train_uasr.main(_args(data, tmp_path / "bad", "--seeds", "1-2", "--grid", "loss.code_pen=2,4")) == 1
    assert "unknown configuration key 'loss.code_pen'" in capsys.readouterr().err
    assert not (tmp_path / "bad/seed1_code_pen2").exists()

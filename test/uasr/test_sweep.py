"""Seed sweeps: every run in the table, the best chosen by the unsupervised metric only."""
from __future__ import annotations

import json

import pytest

from speechssl.uasr.sweep import collect_run, select_best, write_sweep
from speechssl.utils.errors import SpeechSSLError


def make_run(root, name, best_update, metric, oracle):
    d = root / name
    (d / "log").mkdir(parents=True)
    rows = [{"split": "train", "update": 10, "d_loss": 1.0},
            {"split": "valid", "update": best_update, "guarded_weighted_lm_ppl": metric, "lm_ppl": 20.0,
             "vocab_usage": 0.8, "oracle_per": oracle}]
    (d / "log" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "train_summary.json").write_text(json.dumps({
        "updates": 100, "best_metric": "guarded_weighted_lm_ppl", "best_value": metric,
        "best_update": best_update, "best_checkpoint": str(d / "checkpoint_best.pt")}))
    return d


def test_best_by_metric_not_by_oracle(tmp_path):
    runs = [collect_run(make_run(tmp_path, "seed1", 50, 40.0, 0.30)),
            collect_run(make_run(tmp_path, "seed2", 100, 25.0, 0.60))]
    (tmp_path / "seed3" / "log").mkdir(parents=True)  # killed before writing a summary
    runs.append(collect_run(tmp_path / "seed3"))
    best = select_best(runs)
    assert best["run"] == "seed2" and best["oracle_per_%"] == 60.0
    assert runs[2]["status"] == "unfinished or diverged"
    write_sweep(tmp_path, runs, best)
    table = (tmp_path / "runs.md").read_text()
    assert "| seed2 (selected) | finished | - | 100 | 100 | 25 |" in table
    assert "| seed3 | unfinished or diverged |" in table
    selected = json.loads((tmp_path / "selected.json").read_text())
    assert selected["selected"]["run"] == "seed2"
    # seed1's checkpoint had the lowest oracle PER: the unsupervised choice is 30 points worse
    assert selected["selection_gap"] == {"selected_per_%": 60.0, "oracle_best_per_%": 30.0,
                                         "oracle_best_run": "seed1", "oracle_best_update": 50, "gap_points": 30.0}
    assert "the best validated checkpoint of any run 30.0 % (seed1, update 50): 30.0 points" in table


def test_no_finished_run_is_an_error(tmp_path):
    (tmp_path / "seed1").mkdir()
    with pytest.raises(SpeechSSLError, match="no GAN run has a valid checkpoint"):
        select_best([collect_run(tmp_path / "seed1")])


def test_sweep_runs_show_status_and_grid_and_stopped_runs_compete(tmp_path):
    ok = make_run(tmp_path, "seed1_code_penalty2", 100, 40.0, 0.30)
    stopped = make_run(tmp_path, "seed1_code_penalty8", 50, 30.0, 0.50)
    for d, status, value in ((ok, "finished", 2), (stopped, "stopped: vocab_usage below 0.1", 8)):
        summary = json.loads((d / "train_summary.json").read_text())
        summary.update({"status": status, "grid": {"loss.code_penalty": value}, "updates": 100 if value == 2 else 60})
        (d / "train_summary.json").write_text(json.dumps(summary))
    runs = [collect_run(ok), collect_run(stopped)]
    best = select_best(runs)
    assert best["run"] == "seed1_code_penalty8"  # its best checkpoint (update 50) came before the stop
    write_sweep(tmp_path, runs, best)
    table = (tmp_path / "runs.md").read_text()
    assert "| seed1_code_penalty2 | finished | loss.code_penalty=2 | 100 | 100 | 40 |" in table
    assert ("| seed1_code_penalty8 (selected) | stopped: vocab_usage below 0.1 | loss.code_penalty=8 | 60 | 50 | 30 |"
            in table)

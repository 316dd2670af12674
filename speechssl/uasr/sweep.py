"""Seed sweeps of GAN training: collect every run, pick the best without labels.

Each run is a directory written by ``train_uasr`` (``train_summary.json`` and
``log/metrics.jsonl``), alone or in a sweep (``--seeds``/``--grid``, whose
summaries add the run's status, seed and grid values).  Runs are ranked by
their unsupervised selection metric at their best checkpoint; the oracle PER,
when the runs logged one, is shown beside it and never used for the choice.
A run stopped early (``stopped: <reason>``) competes with the checkpoint it
saved as best before it stopped, if any.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError

COLUMNS = ("run", "status", "grid", "updates", "best_update", "metric", "lm_ppl", "vocab_usage", "oracle_per_%")


def _valid_rows(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "log" / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("split") == "valid"]


def collect_run(run_dir: str | Path) -> dict[str, Any]:
    """One row of the sweep table for ``run_dir``."""
    run_dir = Path(run_dir)
    row: dict[str, Any] = {"run": run_dir.name, "dir": str(run_dir)}
    summary_path = run_dir / "train_summary.json"
    if not summary_path.is_file():
        row["status"] = "unfinished or diverged"
        return row
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    row["status"] = summary.get("status", "finished")
    row["grid"] = " ".join(f"{k}={v}" for k, v in summary.get("grid", {}).items()) or None
    row["updates"] = summary.get("updates")
    row["best_update"] = summary.get("best_update")
    row["metric_name"] = summary.get("best_metric")
    row["metric"] = summary.get("best_value")
    row["checkpoint"] = summary.get("best_checkpoint")
    best = [r for r in _valid_rows(run_dir) if r.get("update") == summary.get("best_update")]
    if best:
        row.update({k: best[-1].get(k) for k in ("lm_ppl", "vocab_usage")})
        if best[-1].get("oracle_per") is not None:
            row["oracle_per_%"] = round(100 * best[-1]["oracle_per"], 2)
    row["eligible"] = row["metric"] is not None and math.isfinite(float(row["metric"]))
    if not row["eligible"]:
        row["status"] += ", no valid checkpoint"
    return row


def select_best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run (finished, or stopped early after a valid checkpoint) with the lowest selection metric."""
    ok = [r for r in runs if r.get("eligible")]
    if not ok:
        raise SpeechSSLError("no GAN run has a valid checkpoint (none finished, or stopped after a best "
                             "checkpoint); see the runs' log/train.log")
    return min(ok, key=lambda r: float(r["metric"]))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def write_sweep(out_dir: str | Path, runs: list[dict[str, Any]], best: dict[str, Any]) -> None:
    """Write ``runs.md`` (a table of every run) and ``selected.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in runs:
        mark = " (selected)" if r is best else ""
        cells = [r["run"] + mark] + [_fmt(r.get(c)) for c in COLUMNS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"metric: {best.get('metric_name')} (unsupervised; lower is better). "
                 "oracle_per_% uses the reference phones and is shown for information only.")
    with atomic_write(out_dir / "runs.md") as f:
        f.write("\n".join(lines) + "\n")
    with atomic_write(out_dir / "selected.json") as f:
        json.dump({"selected": best, "runs": runs}, f, indent=2)
        f.write("\n")

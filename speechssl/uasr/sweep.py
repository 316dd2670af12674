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

COLUMNS = ("run", "status", "grid", "updates", "best_update", "metric", "lm_ppl", "vocab_usage", "oracle_per_%",
           "oracle_best_%", "oracle_best_update")


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
    valid = _valid_rows(run_dir)
    oracle = [(r["oracle_per"], r["update"]) for r in valid if r.get("oracle_per") is not None]
    if oracle:
        per, update = min(oracle, key=lambda pu: pu[0])
        row["oracle_best_%"], row["oracle_best_update"] = round(100 * per, 2), update
    best = [r for r in valid if r.get("update") == summary.get("best_update")]
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


def selection_gap(runs: list[dict[str, Any]], best: dict[str, Any]) -> dict[str, Any] | None:
    """Oracle PER of the chosen checkpoint minus the lowest oracle PER of any validated checkpoint of any run.

    The measure of the unsupervised choice (issue 4 asks for at most 2
    points); None when the runs logged no oracle PER.
    """
    candidates = [r for r in runs if r.get("oracle_best_%") is not None]
    if best.get("oracle_per_%") is None or not candidates:
        return None
    oracle_best = min(candidates, key=lambda r: r["oracle_best_%"])
    return {"selected_per_%": best["oracle_per_%"], "oracle_best_per_%": oracle_best["oracle_best_%"],
            "oracle_best_run": oracle_best["run"], "oracle_best_update": oracle_best["oracle_best_update"],
            "gap_points": round(best["oracle_per_%"] - oracle_best["oracle_best_%"], 2)}


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
                 "oracle_per_% (at the chosen checkpoint) and oracle_best_% (the lowest of any validation, at "
                 "oracle_best_update) use the reference phones and are shown for information only.")
    gap = selection_gap(runs, best)
    if gap is not None:
        lines += ["", f"Selection gap (oracle): the chosen checkpoint has {gap['selected_per_%']} % PER, the best "
                      f"validated checkpoint of any run {gap['oracle_best_per_%']} % ({gap['oracle_best_run']}, "
                      f"update {gap['oracle_best_update']}): {gap['gap_points']} points."]
    with atomic_write(out_dir / "runs.md") as f:
        f.write("\n".join(lines) + "\n")
    with atomic_write(out_dir / "selected.json") as f:
        json.dump({"selected": best, "runs": runs, "selection_gap": gap}, f, indent=2)
        f.write("\n")

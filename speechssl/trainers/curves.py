"""Training curves: TensorBoard scalars, a JSON-lines history, and a PNG plot.

Every logged value is appended to ``<exp>/log/metrics.jsonl`` (one object per
line: ``split``, ``update``, values) and to TensorBoard under
``<exp>/tensorboard``.  :meth:`CurveLogger.plot` redraws ``<exp>/curves.png``
from the history, one panel per metric.  On resume the history is cut back to
the checkpoint's update, so curves never show steps that were redone.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from speechssl.utils.atomic import atomic_write


class CurveLogger:
    def __init__(self, exp_dir: str | Path, enabled: bool = True):
        self.exp_dir = Path(exp_dir)
        self.enabled = enabled
        self.history_path = self.exp_dir / "log" / "metrics.jsonl"
        self._writer = None

    def _tb(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.exp_dir / "tensorboard"))
        return self._writer

    def truncate_after(self, update: int) -> None:
        """Drop history entries after ``update`` (the checkpoint a run resumes from)."""
        if not self.enabled or not self.history_path.is_file():
            return
        kept = [line for line in self.history_path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["update"] <= update]
        with atomic_write(self.history_path) as f:
            f.write("".join(line + "\n" for line in kept))

    def log(self, split: str, update: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        values = {k: float(v) for k, v in values.items()}
        writer = self._tb()
        for key, value in values.items():
            writer.add_scalar(f"{split}/{key}", value, update)
        self.history_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.history_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"split": split, "update": update, **values}) + "\n")

    def history(self) -> list[dict]:
        if not self.history_path.is_file():
            return []
        return [json.loads(line) for line in self.history_path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def plot(self, path: str | Path | None = None) -> Path | None:
        """Draw every metric of the history into a PNG (default ``<exp>/curves.png``)."""
        if not self.enabled:
            return None
        rows = self.history()
        if not rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        series: dict[str, tuple[list[int], list[float]]] = {}
        for row in rows:
            for key, value in row.items():
                if key in ("split", "update") or value is None or not math.isfinite(value):
                    continue
                xs, ys = series.setdefault(f"{row['split']}/{key}", ([], []))
                xs.append(row["update"])
                ys.append(value)
        names = sorted(series)
        cols = min(4, len(names))
        nrows = math.ceil(len(names) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 2.8 * nrows), squeeze=False)
        for ax, name in zip(axes.flat, names):
            xs, ys = series[name]
            ax.plot(xs, ys, marker="." if len(xs) < 30 else None)
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("update", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        fig.tight_layout()
        path = Path(path) if path else self.exp_dir / "curves.png"
        with atomic_write(path, "wb") as f:
            fig.savefig(f, format="png", dpi=80)
        plt.close(fig)
        return path

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

"""Several training runs (seeds x a grid of overrides) in one process on one device, diverged runs stopped early.

:class:`MultiRun` builds one :class:`~speechssl.trainers.base.Trainer` per
:class:`RunSpec` and interleaves their updates round-robin (one
:meth:`~speechssl.trainers.base.Trainer.step` of each active run in turn).
Each run owns its random streams: python's, numpy's and torch's generators
are swapped in before its step and saved after it, so a run follows exactly
the trajectory it follows when trained alone, and writes exactly the
directory a single run writes (checkpoints, ``config.yaml``,
``log/train.log``, ``log/metrics.jsonl``, ``train_summary.json``).  A sweep
killed at any point resumes every run from its own last checkpoint; runs that
had finished or been stopped stay so.

Early stopping (the ``sweep:`` section of the configuration,
:data:`SWEEP_DEFAULTS`).  A run stops, saying why in its log and in
``train_summary.json`` (``"status": "stopped: <reason>"``):

- at once on a NaN/inf loss or gradient (a single run would end the process;
  here only that run ends, its last good checkpoints are kept);
- when a divergence signal holds at ``patience`` validations in a row:
  ``vocab_usage`` below ``min_vocab_usage`` (outputs collapsing to a few
  tokens); the selection metric worse than ``max_metric_ratio`` times the
  best value any run of the sweep reached so far (at that update or before);
  or, with ``plateau`` > 0, no new best of its own for ``plateau``
  validations.  A value of 0 turns a signal off.

A stopped run's compute goes to the others (fewer runs to step) and, when
runs wait for memory, to the next waiting run.

Memory.  Runs in one process share one set of activations (only one run
steps at a time), so a run's lasting cost is its data, model, gradients and
optimizer state.  The first run is measured: resident memory grown while
building it (``/proc/self/statm``), CUDA memory of its modules, gradients and
optimizer moments, and the peak of tensors saved for backward during its
first updates (activations at the batch size).  If all runs do not fit in
``memory_fraction`` of the available memory (CPU: ``MemAvailable``; CUDA:
``torch.cuda.mem_get_info``), ``memory: refuse`` stops with a message and
``memory: groups`` (default) trains as many at a time as fit, starting the
next run whenever one ends.
"""
from __future__ import annotations

import contextlib
import gc
import itertools
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from speechssl.trainers.base import NonFiniteError, Trainer
from speechssl.trainers.checkpoint import rng_state, set_rng_state
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

#: The ``sweep:`` section: early stopping and memory planning (see the module docstring).
SWEEP_DEFAULTS: dict[str, Any] = {
    "patience": 3,            # validations in a row a divergence signal must hold
    "min_vocab_usage": 0.1,   # stop below this vocab_usage (0: off)
    "max_metric_ratio": 10.0,  # stop when the selection metric is this many times the sweep's best (0: off)
    "plateau": 0,             # stop after this many validations without a new best of the run's own (0: off)
    "memory": "groups",       # too little memory for all runs at once: groups (as many as fit) or refuse
    "memory_fraction": 0.8,   # share of the available memory the runs may take
}
MEMORY_MODES = ("groups", "refuse")
#: How many first updates of the first run are measured for the activation estimate (GAN: one D and one G step).
MEASURED_UPDATES = 2


@dataclass
class SweepConfig:
    patience: int = SWEEP_DEFAULTS["patience"]
    min_vocab_usage: float = SWEEP_DEFAULTS["min_vocab_usage"]
    max_metric_ratio: float = SWEEP_DEFAULTS["max_metric_ratio"]
    plateau: int = SWEEP_DEFAULTS["plateau"]
    memory: str = SWEEP_DEFAULTS["memory"]
    memory_fraction: float = SWEEP_DEFAULTS["memory_fraction"]

    def __post_init__(self) -> None:
        if self.memory not in MEMORY_MODES:
            raise SpeechSSLError(f"sweep.memory {self.memory!r}: choose one of {', '.join(MEMORY_MODES)}")
        if int(self.patience) < 1:
            raise SpeechSSLError(f"sweep.patience {self.patience} must be at least 1")
        if not 0 < float(self.memory_fraction) <= 1:
            raise SpeechSSLError(f"sweep.memory_fraction {self.memory_fraction} must be in (0, 1]")
        if float(self.max_metric_ratio) != 0 and float(self.max_metric_ratio) < 1:
            raise SpeechSSLError(f"sweep.max_metric_ratio {self.max_metric_ratio} must be 0 (off) or at least 1")


@dataclass
class RunSpec:
    """One run of a sweep: its directory name, seed, grid values and the ``key=value`` overrides they make."""

    name: str
    seed: int
    grid: dict[str, Any] = field(default_factory=dict)

    @property
    def overrides(self) -> list[str]:
        return [f"trainer.seed={self.seed}"] + [f"{k}={json.dumps(v)}" for k, v in self.grid.items()]


# ---- the command line's --seeds and --grid ------------------------------------------------

def parse_seeds(text: str) -> list[int]:
    """``1-4``, ``1,2,3,4`` or ``1-2,7`` -> the seeds, in order, without repeats."""
    seeds: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise SpeechSSLError(f"--seeds {text!r}: expected seeds like 1-4 or 1,2,3,4")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        seeds += [s for s in range(lo, hi + 1) if s not in seeds]
    return seeds


def _split_values(raw: str) -> list[str]:
    """Split at commas outside brackets (``[0.5, 0.9],[0.9, 0.98]`` is two values)."""
    values, depth, current = [], 0, ""
    for ch in raw:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            values.append(current)
            current = ""
        else:
            current += ch
    return values + [current]


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["loss.code_penalty=2,4"]`` -> ``{"loss.code_penalty": [2, 4]}`` (values parsed as YAML)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        values = [yaml.safe_load(v) for v in _split_values(raw)] if sep else []
        if not key or not values or any(v is None for v in values):
            raise SpeechSSLError(f"--grid {item!r}: expected key.sub=value1,value2")
        if key in grid:
            raise SpeechSSLError(f"--grid {key}: given twice")
        if key == "trainer.seed" or key.startswith("sweep."):
            raise SpeechSSLError(f"--grid {key}: seeds are swept with --seeds, and the sweep section is one per sweep")
        grid[key] = values
    return grid


def _tag(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-")


def expand_runs(seeds: list[int], grid: dict[str, list[Any]]) -> list[RunSpec]:
    """Every seed with every combination of grid values; directories ``seed<N>[_<key><value>...]``.

    The key is its last dotted part (the whole key, dots as ``_``, when two
    grid keys share a last part).
    """
    last = [k.split(".")[-1] for k in grid]
    short = {k: (s if last.count(s) == 1 else k.replace(".", "_")) for k, s in zip(grid, last)}
    specs = []
    for seed in seeds:
        for combo in itertools.product(*grid.values()):
            values = dict(zip(grid, combo))
            name = f"seed{seed}" + "".join(f"_{short[k]}{_tag(v)}" for k, v in values.items())
            specs.append(RunSpec(name, seed, values))
    return specs


# ---- early stopping -------------------------------------------------------------------------

def _worse(value: Any, best: float | None, ratio: float, lower_is_better: bool) -> bool:
    if value is None or not math.isfinite(float(value)):
        return True
    if best is None:
        return False
    return value > ratio * best if lower_is_better else value * ratio < best


def divergence_reason(rows: list[dict[str, Any]], sweep_best: Callable[[int], float | None], metric: str,
                      lower_is_better: bool, cfg: SweepConfig) -> str | None:
    """Why a run with validation history ``rows`` (oldest first) should stop now, or None.

    ``sweep_best(update)`` is the best ``metric`` any run of the sweep reached
    at that update or before.
    """
    n = int(cfg.patience)
    recent = rows[-n:]
    if len(recent) == n:
        usage = [r.get("vocab_usage") for r in recent]
        if cfg.min_vocab_usage > 0 and all(u is not None and u < cfg.min_vocab_usage for u in usage):
            return (f"vocab_usage below {cfg.min_vocab_usage:g} at {n} validations in a row "
                    f"({', '.join(f'{u:.3g}' for u in usage)} at updates {recent[0]['update']}-{recent[-1]['update']})")
        if cfg.max_metric_ratio > 0 and all(metric in r for r in recent) and all(
                _worse(r[metric], sweep_best(r["update"]), cfg.max_metric_ratio, lower_is_better) for r in recent):
            best = sweep_best(recent[-1]["update"])
            shown = "none finite" if best is None else f"{best:.4g}"
            return (f"{metric} worse than {cfg.max_metric_ratio:g}x the sweep's best ({shown}) at {n} validations "
                    f"in a row (last {recent[-1][metric]:.4g} at update {recent[-1]['update']})")
    if cfg.plateau > 0:
        values = [r.get(metric) for r in rows]
        finite = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
        if finite:
            pick = min if lower_is_better else max
            best_i = pick(finite, key=lambda i: (values[i], i))
            if len(rows) - 1 - best_i >= cfg.plateau:
                return (f"no new best {metric} for {cfg.plateau} validations "
                        f"(best {values[best_i]:.4g} at update {rows[best_i]['update']})")
    return None


# ---- memory -------------------------------------------------------------------------------

def resident_bytes() -> int:
    """Resident memory of this process (Linux ``/proc/self/statm``; 0 where it cannot be read)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def available_host_bytes() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` (None where unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def state_bytes(trainer: Trainer) -> int:
    """Bytes of a trainer's parameters and buffers, plus gradients and two Adam moments per trainable parameter."""
    total = 0
    for module in trainer.modules.values():
        total += sum(_tensor_bytes(b) for b in module.buffers())
        for p in module.parameters():
            total += _tensor_bytes(p) * (4 if p.requires_grad else 1)
    return total


@contextlib.contextmanager
def measure_saved_tensors(box: dict[str, int]):
    """Record in ``box["peak"]`` the largest total size of distinct tensors saved for backward at once."""
    live: dict[int, int] = {}
    box.setdefault("peak", 0)

    def pack(t: torch.Tensor):
        if isinstance(t, torch.Tensor) and not isinstance(t, torch.nn.Parameter) and t.layout == torch.strided:
            storage = t.untyped_storage()
            live[storage.data_ptr()] = max(live.get(storage.data_ptr(), 0), storage.nbytes())
            box["peak"] = max(box["peak"], sum(live.values()))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield
        live.clear()


def plan_memory(trainer: Trainer, host_growth: int, activations: int, n_runs: int,
                cfg: SweepConfig) -> tuple[int, str]:
    """How many of ``n_runs`` fit at once, and a message saying why.

    The first run (``trainer``) already lives in memory: ``host_growth`` is
    what building it added, ``activations`` its measured peak for one update.
    Each further run needs its own state; the activations are needed once,
    as headroom.
    """
    mib = 2**20
    device_state = state_bytes(trainer) if trainer.device.type == "cuda" else 0
    host = host_growth + (0 if device_state else state_bytes(trainer))
    limits = []
    free_host = available_host_bytes()
    if free_host is not None and host > 0:
        limits.append(("host RAM", free_host, host, 0 if device_state else activations))
    if device_state:
        limits.append((str(trainer.device), torch.cuda.mem_get_info(trainer.device)[0], device_state, activations))
    capacity = n_runs
    notes = []
    for what, free, per_run, headroom in limits:
        fits = 1 + max(0, int((cfg.memory_fraction * free - headroom) // per_run))
        capacity = min(capacity, fits)
        notes.append(f"{what}: {per_run / mib:.1f} MiB per further run, {free / mib:.0f} MiB available")
    message = (f"memory: activations {activations / mib:.1f} MiB at the batch size (one run steps at a time); "
               + "; ".join(notes or ["no memory information on this system"])
               + f"; {min(capacity, n_runs)} of {n_runs} runs at once (memory_fraction {cfg.memory_fraction:g})")
    return max(1, capacity), message


# ---- per-run logs ---------------------------------------------------------------------------

class _RunLogs:
    """Send log records to the ``log/train.log`` of the run being stepped, and tag them in the sweep's logs."""

    FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"

    def __init__(self):
        self.current: str | None = None
        self.logger = logging.getLogger("speechssl")
        self.handlers: dict[str, logging.Handler] = {}
        self._tagged = []
        for handler in self.logger.handlers:
            handler.addFilter(self._tag)
            handler.setFormatter(logging.Formatter(self.FORMAT.replace("%(message)s", "%(run)s%(message)s")))
            self._tagged.append(handler)

    def _tag(self, record: logging.LogRecord) -> bool:
        record.run = f"[{self.current}] " if self.current else ""
        return True

    def open(self, name: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(self.FORMAT))
        handler.addFilter(lambda record, name=name: self.current == name)
        self.logger.addHandler(handler)
        self.handlers[name] = handler

    def close(self, name: str) -> None:
        handler = self.handlers.pop(name, None)
        if handler is not None:
            self.logger.removeHandler(handler)
            handler.close()

    @contextlib.contextmanager
    def of(self, name: str | None):
        previous, self.current = self.current, name
        try:
            yield
        finally:
            self.current = previous

    def restore(self) -> None:
        for name in list(self.handlers):
            self.close(name)
        for handler in self._tagged:
            handler.removeFilter(self._tag)
            handler.setFormatter(logging.Formatter(self.FORMAT))


# ---- the sweep ----------------------------------------------------------------------------

@dataclass
class _Run:
    spec: RunSpec
    trainer: Trainer
    rng: dict[str, Any]
    rows: list[dict[str, Any]]


class MultiRun:
    """Train ``specs`` in one process, run ``spec`` in ``<sweep_dir>/<spec.name>``.

    ``make_trainer(spec, run_dir)`` builds a run's trainer.

    :meth:`run` returns each run's summary (as written to its
    ``train_summary.json``) in the order of ``specs``.
    """

    def __init__(self, sweep_dir: str | Path, specs: list[RunSpec], make_trainer: Callable[[RunSpec, Path], Trainer],
                 cfg: SweepConfig, resume: str = "auto"):
        if resume not in ("auto", "none"):
            raise SpeechSSLError(f"--resume {resume!r}: a sweep resumes with auto (every run from its last "
                                 "checkpoint) or starts over with none")
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise SpeechSSLError("a sweep trains its runs in one process: run it without torchrun")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise SpeechSSLError(f"two runs of the sweep share a directory name: {names}")
        self.sweep_dir = Path(sweep_dir)
        self.specs, self.make_trainer, self.cfg, self.resume = specs, make_trainer, cfg, resume
        self.summaries: dict[str, dict[str, Any]] = {}
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.logs: _RunLogs | None = None

    # -- runs --
    def _open(self, spec: RunSpec) -> _Run | None:
        """Build and start a run; None when it had already finished or stopped (its summary is recorded)."""
        run_dir = self.sweep_dir / spec.name
        self.logs.open(spec.name, run_dir / "log" / "train.log")
        with self.logs.of(spec.name):
            host_before = resident_bytes()
            trainer = self.make_trainer(spec, run_dir)
            self._host_growth = resident_bytes() - host_before
            with atomic_write(run_dir / "config.yaml") as f:
                yaml.safe_dump(trainer.config, f, sort_keys=False)
            old = self._stopped_summary(trainer)
            if old is None:
                trainer.start(self.resume)
            rows = [{k: v for k, v in r.items() if k != "split"} for r in trainer.curves.history()
                    if r.get("split") == "valid"]
            self.histories[spec.name] = rows
            if old is not None:
                log.info("stays stopped (%s); delete %s to train it again", old["status"],
                         run_dir / "train_summary.json")
                self._end(spec, trainer, old)
                return None
            run = _Run(spec, trainer, rng_state(), rows)
            if run.rows and run.rows[-1]["update"] == trainer.update and self._check(run):
                return None
            if trainer.done:
                self._finish(run, "finished")
                return None
            return run

    def _stopped_summary(self, trainer: Trainer) -> dict[str, Any] | None:
        path = trainer.exp_dir / "train_summary.json"
        if self.resume != "auto" or not path.is_file():
            return None
        summary = json.loads(path.read_text(encoding="utf-8"))
        stopped = str(summary.get("status", "")).startswith("stopped")
        return summary if stopped and summary.get("config_hash") == trainer.config_fingerprint() else None

    @contextlib.contextmanager
    def _as(self, run: _Run):
        """Run ``run``'s code with its random generators and its log file."""
        set_rng_state(run.rng)
        try:
            with self.logs.of(run.spec.name):
                yield
        finally:
            run.rng = rng_state()

    def _step(self, run: _Run) -> bool:
        """One update of ``run``; False when the run ended (finished or stopped)."""
        with self._as(run):
            try:
                result = run.trainer.step()
            except NonFiniteError as e:
                self._finish(run, "stopped: " + str(e).split(";")[0])
                return False
            if result.valid is not None:
                run.rows.append({"update": result.update, **result.valid})
                if self._check(run):
                    return False
            if run.trainer.done:
                self._finish(run, "finished")
                return False
        return True

    def _sweep_best(self, update: int, metric: str, lower_is_better: bool) -> float | None:
        values = [r[metric] for rows in self.histories.values() for r in rows
                  if r["update"] <= update and r.get(metric) is not None and math.isfinite(r[metric])]
        return (min(values) if lower_is_better else max(values)) if values else None

    def _check(self, run: _Run) -> bool:
        """Stop ``run`` if a divergence signal says so; True when it stopped."""
        trainer = run.trainer
        metric, lower = trainer.best_metric, trainer.best_lower_is_better
        reason = divergence_reason(run.rows, lambda u: self._sweep_best(u, metric, lower), metric, lower, self.cfg)
        if reason is None:
            return False
        self._finish(run, f"stopped: {reason}")
        return True

    def _finish(self, run: _Run, status: str) -> None:
        trainer = run.trainer
        (log.warning if status.startswith("stopped") else log.info)("%s after %d updates; best %s = %s at update %s",
                                                                    status, trainer.update, trainer.best_metric,
                                                                    trainer.best_value, trainer.best_update)
        summary = {**trainer.finish(), "status": status}
        self._end(run.spec, trainer, summary)

    def _end(self, spec: RunSpec, trainer: Trainer, summary: dict[str, Any]) -> None:
        summary.update({"seed": spec.seed, "grid": spec.grid, "config_hash": trainer.config_fingerprint()})
        trainer.write_summary(summary)
        self.summaries[spec.name] = json.loads((trainer.exp_dir / "train_summary.json").read_text(encoding="utf-8"))
        trainer.close()
        self.logs.close(spec.name)

    # -- memory --
    def _measure(self, run: _Run, n_runs: int) -> int:
        """Step the first run a little while measuring it; return how many runs may train at once."""
        box: dict[str, int] = {}
        for _ in range(MEASURED_UPDATES):
            with measure_saved_tensors(box):
                if not self._step(run):
                    break
        capacity, message = plan_memory(run.trainer, self._host_growth, box.get("peak", 0), n_runs, self.cfg)
        log.info("%s", message)
        if capacity < n_runs and self.cfg.memory == "refuse":
            raise SpeechSSLError(f"{n_runs} runs do not fit in memory at once ({message}); use fewer seeds or "
                                 "grid values, a smaller batch, or sweep.memory: groups to train them in turns")
        return capacity

    # -- the loop --
    def run(self) -> list[dict[str, Any]]:
        """Train every run to its end; return their summaries."""
        self.logs = _RunLogs()
        pending = list(self.specs)
        active: list[_Run] = []
        capacity: int | None = None
        try:
            while pending or active:
                while pending and (capacity is None or len(active) < capacity):
                    run = self._open(pending.pop(0))
                    if run is None:
                        continue
                    active.append(run)
                    if capacity is None:
                        capacity = self._measure(run, len(pending) + 1)
                        if run.spec.name in self.summaries:
                            active.remove(run)
                for run in list(active):
                    if not self._step(run):
                        active.remove(run)
                        gc.collect()
                        if torch.cuda.is_available():
                            torch.cuda.empty_cache()
        finally:
            self.logs.restore()
        for spec in self.specs:
            s = self.summaries[spec.name]
            log.info("%s: %s after %d updates; best %s = %s at update %s", spec.name, s["status"], s["updates"],
                     s["best_metric"], s["best_value"], s["best_update"])
        return [self.summaries[s.name] for s in self.specs]

"""A reusable training loop: device, seeding, distribution, checkpoints, resume, curves, non-finite guard.

Subclasses build their models and optimizers in :meth:`Trainer.build`,
register them in ``self.modules`` / ``self.optimizers`` / ``self.schedulers``,
and implement :meth:`Trainer.train_step` (one update, returning float stats)
and :meth:`Trainer.validate` (returning metrics that include
``self.best_metric``).  The base class owns everything else:

- device: ``auto`` = CUDA when available (``cuda:<LOCAL_RANK>``), else CPU;
  precision ``auto`` = bf16 autocast on CUDA, fp32 on CPU;
- ``torchrun`` data parallelism (see :mod:`speechssl.trainers.distributed`);
  only rank 0 writes files;
- seeding of python, numpy and torch from ``trainer.seed`` (+ rank);
- checkpoints (``checkpoint_last.pt`` / ``checkpoint_best.pt``) holding
  modules, optimizers, schedulers, every rank's RNG states, the subclass's
  extra state (e.g. data-sampler position), the configuration and its hash.
  Saving is atomic, so a run killed at any moment resumes from the last save
  and then follows exactly the trajectory of an uninterrupted run;
- refusing to resume from a checkpoint of another configuration;
- stopping with a clear message on a NaN/inf loss or gradient, before the
  optimizer step, leaving the last good checkpoint untouched;
- TensorBoard, ``log/metrics.jsonl`` and ``curves.png`` (:mod:`.curves`), tqdm progress.

The loop is :meth:`Trainer.fit`, or stepwise :meth:`Trainer.start`, :meth:`Trainer.step`
(until :attr:`Trainer.done`) and :meth:`Trainer.finish` for a caller that interleaves
several trainers in one process (:mod:`speechssl.trainers.multi_run`).
"""
from __future__ import annotations

import contextlib
import json
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from speechssl.trainers.checkpoint import (
    CheckpointManager, config_diff, config_hash, load_checkpoint, rng_state, set_rng_state,
)
from speechssl.trainers.curves import CurveLogger
from speechssl.trainers.distributed import (
    DistInfo, average_gradients, broadcast_object, gather_objects, init_distributed, shutdown,
)
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

#: Keys of the ``trainer`` section every trainer understands, with their defaults.
TRAINER_DEFAULTS = {
    "max_updates": 1000,
    "seed": 1,
    "log_interval": 100,
    "valid_interval": 1000,
    "save_interval": 1000,
    "device": "auto",
    "precision": "auto",
    "progress": True,
}
PRECISIONS = ("auto", "bf16", "fp32")


class NonFiniteError(SpeechSSLError):
    """A loss or gradient became NaN or infinite."""


@dataclass
class StepResult:
    """What one :meth:`Trainer.step` did: its update, training statistics and validation metrics (if any)."""

    update: int
    stats: dict[str, float]
    valid: dict[str, float] | None
    is_best: bool


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: ``cuda:<local_rank>`` when CUDA is available, else CPU; or an explicit torch device name."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SpeechSSLError(f"trainer.device {name!r} is not a device name (auto, cpu, cuda, cuda:0)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpeechSSLError(f"trainer.device is {name!r} but CUDA is not available; use auto or cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{local_rank}")
    return device


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators (CUDA included)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Base class of speechssl trainers (see the module docstring)."""

    #: Configuration keys that may change between a checkpoint and its resumption.
    RESUME_IGNORED_KEYS = ("trainer.max_updates", "trainer.log_interval", "trainer.valid_interval",
                           "trainer.save_interval", "trainer.device", "trainer.progress")
    #: The validation metric that picks ``checkpoint_best.pt`` and whether lower is better.
    best_metric = "loss"
    best_lower_is_better = True

    def __init__(self, config: dict[str, Any], exp_dir: str | Path):
        self.config = config
        self.opts = {**TRAINER_DEFAULTS, **config.get("trainer", {})}
        self.exp_dir = Path(exp_dir)
        if self.opts["precision"] not in PRECISIONS:
            raise SpeechSSLError(f"trainer.precision {self.opts['precision']!r}: choose one of {', '.join(PRECISIONS)}")
        device = pick_device(self.opts["device"])
        self.dist: DistInfo = init_distributed(device.type)
        self.device = pick_device(self.opts["device"], self.dist.local_rank)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.use_bf16 = self.device.type == "cuda" and self.opts["precision"] in ("auto", "bf16")
        self.is_main = self.dist.is_main
        seed_everything(int(self.opts["seed"]) + self.dist.rank)
        self.checkpoints = CheckpointManager(self.exp_dir)
        self.curves = CurveLogger(self.exp_dir, enabled=self.is_main)
        self.modules: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.update = 0
        self.best_value: float | None = None
        self.best_update: int | None = None
        self.last_saved_update: int | None = None
        self.build()

    # ---- hooks for subclasses -------------------------------------------------------------
    def build(self) -> None:
        """Create data, models, optimizers and schedulers (register them in the dicts above)."""
        raise NotImplementedError

    def train_step(self, update: int) -> dict[str, float]:
        """Run update number ``update`` (1-based); return float statistics."""
        raise NotImplementedError

    def validate(self, update: int) -> dict[str, float]:
        """Metrics on the validation data, computed on rank 0 only."""
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """Further state to checkpoint (e.g. a data sampler's position)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""

    def check_resume(self, state: dict[str, Any], path: Path) -> None:
        """Raise :class:`SpeechSSLError` if the checkpoint cannot continue this run (e.g. input dimension)."""

    # ---- helpers for subclasses -----------------------------------------------------------
    def autocast(self):
        """bf16 autocast on CUDA (unless ``trainer.precision`` is fp32); nothing on CPU."""
        if self.use_bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def optimizer_step(self, name: str, loss: torch.Tensor, params: Iterable[torch.nn.Parameter],
                       clip_norm: float = 0.0, zero_grad: bool = True) -> float:
        """Backward, average gradients over ranks, check finiteness, clip and step ``self.optimizers[name]``.

        Returns the gradient norm before clipping.  A NaN/inf loss or gradient
        raises :class:`NonFiniteError` before any parameter changes.  With
        ``zero_grad=False`` the gradients already accumulated (by
        :meth:`accumulate`) are kept and this loss's are added to them.
        """
        params = list(params)
        optimizer = self.optimizers[name]
        self._check_finite(loss.detach(), f"{name} loss")
        if zero_grad:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(params, self.dist)
        grads = [p.grad for p in params if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])) \
            if grads else torch.zeros(())
        self._check_finite(norm, f"{name} gradient norm")
        if clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        optimizer.step()
        if name in self.schedulers:
            self.schedulers[name].step()
        return float(norm)

    def accumulate(self, name: str, loss: torch.Tensor) -> None:
        """Backward of one micro-batch's ``loss`` for gradient accumulation (finish with ``optimizer_step(...,
        zero_grad=False)``); a NaN/inf loss raises :class:`NonFiniteError`."""
        self._check_finite(loss.detach(), f"{name} loss")
        loss.backward()

    def _check_finite(self, value: torch.Tensor, what: str) -> None:
        ok = torch.isfinite(value).all().float().reshape(1)
        if self.dist.enabled:
            ok = ok.to(self.device)
            dist.all_reduce(ok, op=dist.ReduceOp.MIN)
        if ok.item() < 1:
            raise NonFiniteError(f"{what} is {value.item() if value.numel() == 1 else 'not finite'}")

    # ---- checkpoints ----------------------------------------------------------------------
    def config_fingerprint(self) -> str:
        return config_hash(self.config, self.RESUME_IGNORED_KEYS)

    def state_dict(self) -> dict[str, Any]:
        return {
            "update": self.update,
            "config": self.config,
            "config_hash": self.config_fingerprint(),
            "world_size": self.dist.world_size,
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rng": gather_objects(rng_state(), self.dist),
            "extra": self.extra_state(),
            "best": {"metric": self.best_metric, "value": self.best_value, "update": self.best_update},
        }

    def save(self, is_best: bool) -> None:
        state = self.state_dict()  # collective on every rank (RNG gathering)
        if self.is_main:
            self.checkpoints.save(state, is_best)
        self.last_saved_update = self.update

    def resume(self, resume: str) -> int:
        """Load the checkpoint named by ``resume`` (``auto`` = last if any, ``none``, or a path); return its update."""
        path = self.checkpoints.last if resume == "auto" else Path(resume)
        if resume == "none" or (resume == "auto" and not path.is_file()):
            self.curves.truncate_after(0)  # starting over: no curve of an earlier attempt is kept
            return 0
        state = load_checkpoint(path)
        self.check_resume(state, path)
        if state["config_hash"] != self.config_fingerprint():
            diff = config_diff(state["config"], self.config, self.RESUME_IGNORED_KEYS)
            raise SpeechSSLError(
                f"{path} was written with another configuration ({'; '.join(diff[:10]) or 'hash differs'}); "
                "train in a new experiment directory, or start over with --resume none")
        if state["world_size"] != self.dist.world_size:
            raise SpeechSSLError(f"{path} was written by {state['world_size']} process(es), this run has "
                                 f"{self.dist.world_size}; resume with the same number of processes")
        for kind, objects in (("modules", self.modules), ("optimizers", self.optimizers),
                              ("schedulers", self.schedulers)):
            missing = set(objects) - set(state[kind])
            if missing:
                raise SpeechSSLError(f"{path}: no state for {kind[:-1]} {sorted(missing)[0]!r}")
            for key, obj in objects.items():
                obj.load_state_dict(state[kind][key])
        self.load_extra_state(state["extra"])
        set_rng_state(state["rng"][self.dist.rank])
        self.update = self.last_saved_update = int(state["update"])
        self.best_value, self.best_update = state["best"]["value"], state["best"]["update"]
        self.curves.truncate_after(self.update)
        log.info("resumed from %s at update %d", path, self.update)
        return self.update

    # ---- the loop -------------------------------------------------------------------------
    def _is_better(self, value: float) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.best_value is None:
            return True
        return value < self.best_value if self.best_lower_is_better else value > self.best_value

    def run_validation(self, update: int) -> tuple[dict[str, float], bool]:
        metrics = self.validate(update) if self.is_main else None
        metrics = broadcast_object(metrics, self.dist)
        value = metrics.get(self.best_metric)
        is_best = self._is_better(value)
        if is_best:
            self.best_value, self.best_update = float(value), update
        if self.is_main:
            self.curves.log("valid", update, metrics)
            self.curves.plot()
            shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            log.info("valid @ update %d: %s%s", update, shown, " (best so far)" if is_best else "")
        return metrics, is_best

    def start(self, resume: str = "auto") -> int:
        """Resume as asked and prepare the loop of :meth:`step`; return the update training continues from."""
        start = self.resume(resume)
        self._window: dict[str, list[float]] = defaultdict(list)
        self._bar = tqdm(total=int(self.opts["max_updates"]), initial=start, unit="upd", desc=self.exp_dir.name,
                         disable=not (self.is_main and self.opts["progress"]))
        return start

    @property
    def done(self) -> bool:
        """Whether ``trainer.max_updates`` is reached."""
        return self.update >= int(self.opts["max_updates"])

    def step(self) -> StepResult:
        """Run the next update: :meth:`train_step`, then logging, validation and saving when their intervals say.

        A NaN/inf loss or gradient raises :class:`NonFiniteError` (naming the
        last good checkpoint) before any parameter changes.
        """
        update = self.update = self.update + 1
        max_updates = int(self.opts["max_updates"])
        try:
            stats = self.train_step(update)
        except NonFiniteError as e:
            where = (f"{self.checkpoints.last} (update {self.last_saved_update}) is kept"
                     if self.last_saved_update else "no checkpoint was written yet")
            raise NonFiniteError(f"training diverged: {e} at update {update}; stopped before the optimizer "
                                 f"step. The last good checkpoint {where}. Lower the learning rates or "
                                 "raise the gradient penalty, then resume or start over") from None
        for key, value in stats.items():
            self._window[key].append(float(value))
        if update % max(1, int(self.opts["log_interval"])) == 0 or update == max_updates:
            means = {k: sum(v) / len(v) for k, v in self._window.items()}
            if self.is_main:
                self.curves.log("train", update, means)
            self._bar.set_postfix({k: f"{v:.3g}" for k, v in list(means.items())[:4]})
            self._window.clear()
        validate = update % int(self.opts["valid_interval"]) == 0 or update == max_updates
        metrics, is_best = self.run_validation(update) if validate else (None, False)
        if validate or update % int(self.opts["save_interval"]) == 0:
            self.save(is_best)
        self._bar.update(1)
        return StepResult(update, stats, metrics, is_best)

    def finish(self) -> dict[str, Any]:
        """Close the progress bar and the curves (final plot); return the summary of the run."""
        self._bar.close()
        if self.is_main:
            self.curves.plot()
            self.curves.close()
        return {"updates": self.update, "best_metric": self.best_metric, "best_value": self.best_value,
                "best_update": self.best_update, "last_checkpoint": str(self.checkpoints.last)}

    def fit(self, resume: str = "auto") -> dict[str, Any]:
        """Train to ``trainer.max_updates`` (resuming as asked); return a summary.

        The same as :meth:`start`, :meth:`step` until :attr:`done`, and
        :meth:`finish`; :mod:`speechssl.trainers.multi_run` interleaves the
        steps of several trainers this way.
        """
        self.start(resume)
        try:
            while not self.done:
                self.step()
        finally:
            summary = self.finish()
        return summary

    def write_summary(self, summary: dict[str, Any]) -> None:
        """``<exp>/train_summary.json`` (main process): the best update, its metric, the checkpoint paths."""
        if self.is_main:
            with atomic_write(self.exp_dir / "train_summary.json") as f:
                json.dump({**summary, "best_checkpoint": str(self.checkpoints.best)}, f, indent=2)
                f.write("\n")

    def close(self) -> None:
        shutdown(self.dist)

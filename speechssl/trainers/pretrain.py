"""What self-supervised pre-training (and later distillation) adds to :class:`~speechssl.trainers.base.Trainer`.

- configurations load through :func:`speechssl.trainers.config.load_nested_config`;
- :func:`lr_lambda`: linear warm-up, then constant, linear or cosine decay;
- :class:`DurationBatchSampler`: batches cut by total (padded) frames rather than
  utterance count, length-bucketed, reshuffled every epoch, split over ranks,
  with a resumable position;
- :class:`PretrainTrainer`: gradient accumulation over micro-batches
  weighted by their share of the loss frames, AdamW with the schedule,
  throughput in input frames per second, and the model's parameter count and
  multiply-accumulates per second of audio logged (and written to
  ``<exp>/model_info.json``) at start.
"""
from __future__ import annotations

import json
import math
import time
from typing import Any, Callable

import numpy as np
import torch

from speechssl.trainers.base import Trainer
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

SCHEDULES = ("constant", "linear", "cosine")

#: The ``optim`` section every pre-training configuration has.
OPTIM_DEFAULTS: dict[str, Any] = {
    "lr": 5e-4, "betas": [0.9, 0.98], "eps": 1e-6, "weight_decay": 0.01, "clip_norm": 10.0,
    "accum_grad": 1, "schedule": "linear", "warmup_updates": 1000, "final_lr_ratio": 0.0,
}


def lr_lambda(schedule: str, warmup: int, total: int, final_ratio: float = 0.0) -> Callable[[int], float]:
    """Learning-rate factor of step ``s`` (0-based): linear warm-up over ``warmup`` steps, then
    ``constant``, ``linear`` or ``cosine`` decay to ``final_ratio`` at step ``total``."""
    if schedule not in SCHEDULES:
        raise SpeechSSLError(f"optim.schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}")

    def factor(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if schedule == "linear":
            return 1.0 - (1.0 - final_ratio) * progress
        return final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


class DurationBatchSampler:
    """Endless batches of utterance indices whose padded size stays within ``max_frames``.

    Each epoch shuffles the utterances (seed + epoch), sorts them by length
    within buckets of ``bucket_size``, cuts batches so that
    ``len(batch) * longest <= max_frames`` (lengths capped at ``crop_frames``,
    the most a batch will hold of one utterance), shuffles the batch order
    and gives rank r the batches r, r + world, ...  (the same count on every
    rank).  The position is part of :meth:`state_dict`, so a resumed run
    draws the same batches as an uninterrupted one.
    """

    def __init__(self, lengths: np.ndarray | list[int], max_frames: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, crop_frames: int | None = None, bucket_size: int = 1000):
        self.lengths = np.minimum(np.asarray(lengths, dtype=np.int64), crop_frames or np.iinfo(np.int64).max)
        if len(self.lengths) == 0:
            raise SpeechSSLError("no utterances to draw batches from")
        if max_frames < int(self.lengths.max()):
            raise SpeechSSLError(f"a batch holds at most {max_frames} frames but an utterance has "
                                 f"{int(self.lengths.max())}; raise the batch size or lower the crop length")
        self.max_frames, self.seed, self.rank, self.world = int(max_frames), int(seed), rank, world_size
        self.bucket_size = bucket_size
        self.epoch, self.position = 0, 0
        self._batches = self._epoch_batches(0)

    def _epoch_batches(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        batches: list[np.ndarray] = []
        for start in range(0, len(order), self.bucket_size):
            bucket = order[start:start + self.bucket_size]
            bucket = bucket[np.argsort(-self.lengths[bucket], kind="stable")]
            current: list[int] = []
            for i in bucket:
                if current and (len(current) + 1) * self.lengths[current[0]] > self.max_frames:
                    batches.append(np.array(current))
                    current = []
                current.append(int(i))
            if current:
                batches.append(np.array(current))
        batches = [batches[i] for i in rng.permutation(len(batches))]
        per_rank = len(batches) // self.world
        if per_rank == 0:
            raise SpeechSSLError(f"{len(batches)} batch(es) per epoch cannot feed {self.world} processes; "
                                 "use fewer processes or smaller batches")
        return batches[self.rank: per_rank * self.world: self.world]

    @property
    def batches_per_epoch(self) -> int:
        return len(self._batches)

    def next_batch(self) -> np.ndarray:
        if self.position >= len(self._batches):
            self.epoch += 1
            self.position = 0
            self._batches = self._epoch_batches(self.epoch)
        batch = self._batches[self.position]
        self.position += 1
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._batches = self._epoch_batches(self.epoch)


class PretrainTrainer(Trainer):
    """A :class:`Trainer` whose update is ``optim.accum_grad`` micro-batches of one model.

    Subclasses build ``self.model`` (registered as ``self.modules["model"]``)
    and call :meth:`build_optimizer` in :meth:`build`, and implement
    :meth:`next_micro_batches` and :meth:`micro_loss`.
    """

    def build_optimizer(self, model: torch.nn.Module) -> None:
        """AdamW over ``model``'s parameters with the ``optim`` schedule (``self.optimizers["model"]``).

        The decay ends at ``trainer.max_updates``; resuming with a larger
        ``--max-updates`` (allowed) stretches the rest of the schedule.
        """
        o = {**OPTIM_DEFAULTS, **self.config.get("optim", {})}
        if int(o["accum_grad"]) < 1:
            raise SpeechSSLError(f"optim.accum_grad must be >= 1, got {o['accum_grad']}")
        self.optim_opts = o
        self.optimizers["model"] = torch.optim.AdamW(
            model.parameters(), lr=float(o["lr"]), betas=tuple(float(b) for b in o["betas"]), eps=float(o["eps"]),
            weight_decay=float(o["weight_decay"]))
        self.schedulers["model"] = torch.optim.lr_scheduler.LambdaLR(
            self.optimizers["model"], lr_lambda(o["schedule"], int(o["warmup_updates"]),
                                                int(self.opts["max_updates"]), float(o["final_lr_ratio"])))

    def report_model(self, info: dict[str, Any]) -> None:
        """Log the model's size and cost and write them to ``<exp>/model_info.json``."""
        shown = ", ".join(f"{k} {v:,.0f}" if isinstance(v, (int, float)) and v > 1000 else f"{k} {v}"
                          for k, v in info.items())
        log.info("model: %s; device %s%s", shown, self.device, " (bf16 autocast)" if self.use_bf16 else "")
        if self.is_main:
            self.exp_dir.mkdir(parents=True, exist_ok=True)
            with atomic_write(self.exp_dir / "model_info.json") as f:
                json.dump(info, f, indent=2)
                f.write("\n")

    # ---- hooks ----------------------------------------------------------------------------
    def next_micro_batches(self, update: int, count: int) -> list[Any]:
        """The ``count`` micro-batches of update ``update``."""
        raise NotImplementedError

    def loss_frames(self, batch: Any) -> int:
        """Frames the loss of a micro-batch averages over (known before the forward pass)."""
        raise NotImplementedError

    def micro_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """(mean loss over its loss frames, statistics) of one micro-batch."""
        raise NotImplementedError

    def batch_frames(self, batch: Any) -> int:
        """Input frames in a micro-batch (for the throughput statistic)."""
        raise NotImplementedError

    # ---- the update -----------------------------------------------------------------------
    def train_step(self, update: int) -> dict[str, float]:
        start = time.perf_counter()
        self.model.train()
        batches = self.next_micro_batches(update, int(self.optim_opts["accum_grad"]))
        # Each micro-batch's loss is weighted by its share of the update's loss frames, so the gradient
        # is that of the mean over all of them however the update is split; each backward runs at once,
        # so only one micro-batch's activations are held.
        counts = [float(self.loss_frames(b)) for b in batches]
        total = max(sum(counts), 1.0)
        results, grad_norm = [], 0.0
        lr = self.optimizers["model"].param_groups[0]["lr"]
        self.optimizers["model"].zero_grad(set_to_none=True)
        for i, (batch, count) in enumerate(zip(batches, counts)):
            with self.autocast():
                loss, stats = self.micro_loss(batch)
            results.append(stats)
            scaled = loss * (count / total)
            if i < len(batches) - 1:
                self.accumulate("model", scaled)
            else:
                grad_norm = self.optimizer_step("model", scaled, self.model.parameters(),
                                                float(self.optim_opts["clip_norm"]), zero_grad=False)
        elapsed = time.perf_counter() - start
        out: dict[str, float] = {}
        for key in sorted({k for r in results for k in r}):
            pairs = [(r[key], c) for r, c in zip(results, counts) if key in r]
            if key.endswith("_frames"):
                out[key] = float(sum(v for v, _ in pairs))
            else:
                out[key] = float(sum(v * c for v, c in pairs) / max(sum(c for _, c in pairs), 1.0))
        out.update(grad_norm=grad_norm, lr=lr,
                   frames_per_s=sum(self.batch_frames(b) for b in batches) / max(elapsed, 1e-9))
        return out

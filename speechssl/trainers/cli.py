"""Command-line plumbing shared by the training programs (train_uasr, train_ctc, train_melhubert)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch
import yaml

from speechssl.utils.atomic import atomic_write
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def add_training_options(p: argparse.ArgumentParser, set_example: str) -> None:
    """--resume, --max-updates, --seed, --set, --num-threads and --log-level."""
    p.add_argument("--resume", default="auto",
                   help="auto: continue from <exp-dir>/checkpoint_last.pt if present; none: start over "
                        "(overwrites checkpoints); or a checkpoint path (default: %(default)s)")
    p.add_argument("--max-updates", type=int, default=None, help="override trainer.max_updates")
    p.add_argument("--seed", type=int, default=None, help="override trainer.seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override one configuration key, e.g. --set {set_example} (repeatable; values are YAML)")
    p.add_argument("--num-threads", type=int, default=0,
                   help="CPU threads of torch (0: torch's default); 1 per job is fastest on a shared machine")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")


def start_training(args: argparse.Namespace, exp_dir: Path, extra_overrides: list[str] = ()) -> tuple[int, list[str]]:
    """Threads and logging (rank 0 logs to ``<exp>/log/train.log``); returns the rank and the overrides."""
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    rank = int(os.environ.get("RANK", "0"))
    setup_logging(args.log_level if rank == 0 else "WARNING", exp_dir / "log" / "train.log" if rank == 0 else None)
    overrides = list(args.overrides) + list(extra_overrides)
    if args.max_updates is not None:
        overrides.append(f"trainer.max_updates={args.max_updates}")
    if args.seed is not None:
        overrides.append(f"trainer.seed={args.seed}")
    return rank, overrides


def run_training(trainer, config: dict[str, Any], exp_dir: Path, rank: int, resume: str) -> dict[str, Any]:
    """Save the resolved config (rank 0), train, write ``train_summary.json`` and close the trainer."""
    try:
        if rank == 0:
            with atomic_write(exp_dir / "config.yaml") as f:
                yaml.safe_dump(config, f, sort_keys=False)
        summary = trainer.fit(resume)
        trainer.write_summary(summary)
        log.info("finished at update %d; best %s = %s at update %s (%s)", summary["updates"], summary["best_metric"],
                 summary["best_value"], summary["best_update"], trainer.checkpoints.best)
        return summary
    finally:
        trainer.close()

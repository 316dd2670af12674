"""Pre-train MelHuBERT (masked prediction of k-means targets from log-Mel features).

Example (stage 1: targets from k-means of log-Mel; stage 2: of a stage-1 layer)::

    python -m speechssl.bin.train_melhubert --config conf/melhubert_tiny.yaml \\
        --feats dump/fbank/train --targets exp/kmeans_fbank/train.km \\
        --valid-feats dump/fbank/dev --valid-targets exp/kmeans_fbank/dev.km exp/melhubert_it1

Inputs: --feats / --valid-feats are dump_features directories of 40-dim fbank
normalised with the training set's mean and variance (--feat-type fbank
--num-mel-bins 40 --cmvn global --norm-vars true; --cmvn-from the training
dump for other sets); --targets files hold "<utt> c1 c2 ..." from
make_kmeans_targets (10 ms or model-rate targets are both accepted).

Outputs in <exp-dir>: checkpoint_last.pt and checkpoint_best.pt (lowest
validation masked cross-entropy; both load through load_upstream and
dump_features --feat-type ssl --upstream), config.yaml, model_info.json
(parameters, multiply-accumulates per second of audio), train_summary.json,
curves.png, tensorboard/, log/train.log, log/metrics.jsonl.  A killed run
resumes where it last saved with the same command (--resume auto); a
different configuration is refused.  Under ``torchrun --nproc-per-node N``
each process draws its own batches (the effective batch is N times larger).
Runs on CUDA with bf16 autocast when available.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from speechssl.trainers.melhubert import MelHuBERTTrainer, load_config
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="train_melhubert", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp_dir", help="experiment directory (checkpoints, logs, curves)")
    p.add_argument("--config", default=None,
                   help="YAML configuration (sections model, data, optim, trainer); keys left out keep the "
                        "defaults of the paper's 12-layer 20 ms model")
    p.add_argument("--feats", required=True, help="training fbank dump directory (feats.scp, utt2num_frames, "
                   "feat_info.json, cmvn_stats.npz)")
    p.add_argument("--targets", required=True, help="k-means targets of the training set (<utt> c1 c2 ...)")
    p.add_argument("--valid-feats", default=None, help="validation fbank dump directory (picks checkpoint_best.pt)")
    p.add_argument("--valid-targets", default=None, help="k-means targets of the validation set")
    p.add_argument("--resume", default="auto",
                   help="auto: continue from <exp-dir>/checkpoint_last.pt if present; none: start over; "
                        "or a checkpoint path (default: %(default)s)")
    p.add_argument("--max-updates", type=int, default=None, help="override trainer.max_updates")
    p.add_argument("--seed", type=int, default=None, help="override trainer.seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one configuration key, e.g. --set model.num_layers=6 (repeatable; values are YAML)")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    exp_dir = Path(args.exp_dir)
    rank = int(os.environ.get("RANK", "0"))
    setup_logging(args.log_level if rank == 0 else "WARNING", exp_dir / "log" / "train.log" if rank == 0 else None)
    overrides = list(args.overrides)
    if args.max_updates is not None:
        overrides.append(f"trainer.max_updates={args.max_updates}")
    if args.seed is not None:
        overrides.append(f"trainer.seed={args.seed}")
    config = load_config(args.config, overrides)
    trainer = MelHuBERTTrainer(config, exp_dir, args.feats, args.targets, args.valid_feats, args.valid_targets)
    try:
        if rank == 0:
            with atomic_write(exp_dir / "config.yaml") as f:
                yaml.safe_dump(config, f, sort_keys=False)
        summary = trainer.fit(args.resume)
        if rank == 0:
            with atomic_write(exp_dir / "train_summary.json") as f:
                json.dump({**summary, "best_checkpoint": str(trainer.checkpoints.best)}, f, indent=2)
                f.write("\n")
        log.info("finished at update %d; best validation %s = %s at update %s", summary["updates"],
                 summary["best_metric"], summary["best_value"], summary["best_update"])
    finally:
        trainer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

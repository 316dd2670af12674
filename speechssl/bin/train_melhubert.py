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
import sys
from pathlib import Path


from speechssl.trainers.melhubert import MelHuBERTTrainer, load_config
from speechssl.trainers.cli import add_training_options, run_training, start_training
from speechssl.utils.errors import cli_main


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
    add_training_options(p, "model.num_layers=6")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    exp_dir = Path(args.exp_dir)
    rank, overrides = start_training(args, exp_dir)
    config = load_config(args.config, overrides)
    trainer = MelHuBERTTrainer(config, exp_dir, args.feats, args.targets, args.valid_feats, args.valid_targets)
    run_training(trainer, config, exp_dir, rank, args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train a wav2vec-U / wav2vec-U 2.0 GAN on dumped features and unpaired phone text.

Example::

    python -m speechssl.bin.train_uasr --config conf/uasr_v2.yaml \\
        --feats dump/ssl_v2/train --valid-feats dump/ssl_v2/dev --text-dir data/text \\
        --valid-ref data/dev/utt2phones exp/uasr_v2

Inputs: --feats / --valid-feats are feature directories (feats.scp and
utt2num_frames, plus utt2aux when loss.aux_weight > 0; utt2dur or
feat_info.json's frame_rate for the selection guard); --text-dir holds
phones_sil.txt, dict.phn.txt and the phone LM named by selection.lm.

Outputs in <exp-dir>: checkpoint_last.pt, checkpoint_best.pt (by the
unsupervised selection.metric), config.yaml (the resolved configuration),
train_summary.json, curves.png, tensorboard/, log/train.log and
log/metrics.jsonl (valid lines carry oracle_per only with --valid-ref).
A killed run resumes where it last saved with the same command
(--resume auto); a different configuration is refused.  Under
``torchrun --nproc-per-node N`` the batch is split over N processes.

Sweeps: --seeds 1-4 and/or --grid key=v1,v2 (repeatable) train every seed
with every combination of grid values in this one process, each run in
<exp-dir>/seed<N>[_<key><value>...] (the directory a single run writes), with
updates interleaved and each run's random streams kept apart, so every run
follows the trajectory it would follow alone.  A run stops early on a NaN/inf
loss or when divergence signals persist (its train_summary.json says
"stopped: <reason>"); the ``sweep:`` section of the configuration sets the
signals and the memory policy (speechssl.trainers.multi_run).  The sweep
logs to <exp-dir>/log/sweep.log; pick the best run with
``python -m speechssl.bin.select_uasr_run <exp-dir>``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from speechssl.trainers.cli import add_training_options, run_training, start_training
from speechssl.trainers.config import load_nested_config
from speechssl.trainers.multi_run import (
    SWEEP_DEFAULTS, MultiRun, RunSpec, SweepConfig, expand_runs, parse_grid, parse_seeds,
)
from speechssl.trainers.uasr_gan import DEFAULT_CONFIG, UASRGANTrainer
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp_dir", help="experiment directory (checkpoints, logs, curves)")
    p.add_argument("--config", default=None,
                   help="YAML training configuration (sections model, loss, optim, data, trainer, selection); "
                        "keys left out keep fairseq's wav2vec-U defaults")
    p.add_argument("--feats", required=True, help="training feature directory (feats.scp, utt2num_frames)")
    p.add_argument("--valid-feats", default=None,
                   help="validation feature directory for model selection (without it no best checkpoint is chosen)")
    p.add_argument("--text-dir", required=True, help="directory with phones_sil.txt, dict.phn.txt and the phone LM")
    p.add_argument("--valid-ref", default=None,
                   help="utt2phones of the validation set: adds an ORACLE phone error rate to the logs "
                        "(never used for selection)")
    add_training_options(p, "loss.code_penalty=2")
    p.add_argument("--seeds", default=None,
                   help="train these seeds in one process (1-4, 1,2,3,4), each in <exp-dir>/seed<N>")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="also sweep a configuration key over values (repeatable; every combination with every "
                        "seed), e.g. --grid loss.code_penalty=2,4")
    return p


def load_configs(path, overrides: list[str]) -> tuple[dict, SweepConfig]:
    """The GAN configuration and, apart, its ``sweep:`` section (which never changes a run's trajectory)."""
    config = load_nested_config({**DEFAULT_CONFIG, "sweep": SWEEP_DEFAULTS}, path, overrides)
    return config, SweepConfig(**config.pop("sweep"))


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    exp_dir = Path(args.exp_dir)
    if args.seeds is None and not args.grid:
        rank, overrides = start_training(args, exp_dir)
        config, _ = load_configs(args.config, overrides)
        trainer = UASRGANTrainer(config, exp_dir, args.feats, args.valid_feats, args.text_dir, args.valid_ref)
        run_training(trainer, config, exp_dir, rank, args.resume)
        return 0
    if args.seed is not None and args.seeds is not None:
        raise SpeechSSLError("--seed and --seeds: give the seeds of a sweep with --seeds only")
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    setup_logging(args.log_level, exp_dir / "log" / "sweep.log")
    base = list(args.overrides) + ([] if args.max_updates is None else [f"trainer.max_updates={args.max_updates}"])
    config, sweep = load_configs(args.config, base)
    if args.seeds is not None:
        seeds = parse_seeds(args.seeds)
    else:
        seeds = [args.seed if args.seed is not None else int(config["trainer"]["seed"])]
    specs = expand_runs(seeds, parse_grid(args.grid))
    configs = {s.name: load_configs(args.config, base + s.overrides)[0] for s in specs}  # every grid value checked

    def make_trainer(spec: RunSpec, run_dir: Path) -> UASRGANTrainer:
        return UASRGANTrainer(configs[spec.name], run_dir, args.feats, args.valid_feats, args.text_dir,
                              args.valid_ref)

    MultiRun(exp_dir, specs, make_trainer, sweep, args.resume).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

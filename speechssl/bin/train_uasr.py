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
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from speechssl.trainers.uasr_gan import UASRGANTrainer, load_config
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


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
    p.add_argument("--resume", default="auto",
                   help="auto: continue from <exp-dir>/checkpoint_last.pt if present; none: start over "
                        "(overwrites checkpoints); or a checkpoint path (default: %(default)s)")
    p.add_argument("--max-updates", type=int, default=None, help="override trainer.max_updates")
    p.add_argument("--seed", type=int, default=None, help="override trainer.seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one configuration key, e.g. --set loss.code_penalty=2 (repeatable; values are YAML)")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    exp_dir = Path(args.exp_dir)
    rank = int(os.environ.get("RANK", "0"))
    setup_logging(args.log_level if rank == 0 else "WARNING",
                  exp_dir / "log" / "train.log" if rank == 0 else None)
    overrides = list(args.overrides)
    if args.max_updates is not None:
        overrides.append(f"trainer.max_updates={args.max_updates}")
    if args.seed is not None:
        overrides.append(f"trainer.seed={args.seed}")
    config = load_config(args.config, overrides)
    trainer = UASRGANTrainer(config, exp_dir, args.feats, args.valid_feats, args.text_dir, args.valid_ref)
    try:
        if rank == 0:
            with atomic_write(exp_dir / "config.yaml") as f:
                yaml.safe_dump(config, f, sort_keys=False)
        summary = trainer.fit(args.resume)
        trainer.write_summary(summary)
        log.info("finished at update %d; best %s = %s at update %s (%s)", summary["updates"], summary["best_metric"],
                 summary["best_value"], summary["best_update"], trainer.checkpoints.best)
    finally:
        trainer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
import sys
from pathlib import Path

from speechssl.trainers.cli import add_training_options, run_training, start_training
from speechssl.trainers.uasr_gan import UASRGANTrainer, load_config
from speechssl.utils.errors import cli_main


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
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    exp_dir = Path(args.exp_dir)
    rank, overrides = start_training(args, exp_dir)
    config = load_config(args.config, overrides)
    trainer = UASRGANTrainer(config, exp_dir, args.feats, args.valid_feats, args.text_dir, args.valid_ref)
    run_training(trainer, config, exp_dir, rank, args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())

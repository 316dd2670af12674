"""Train a CTC phone recognizer on frame features, with pseudo-labels (self-training) or gold labels.

Examples::

    # self-training round 1: targets from the GAN's pseudo-labels
    python -m speechssl.bin.train_ctc --config conf/ctc.yaml --labels pseudo \\
        --feats dump/mfcc/train --train-labels exp/self_train/round0/train/utt2pseudo \\
        --valid-feats dump/mfcc/dev --valid-labels exp/self_train/round0/dev/utt2pseudo \\
        --valid-ref data/dev/utt2phones --text-dir data/text exp/self_train/ctc_round1
    # supervised twin (upper bound): the same model on gold phones
    python -m speechssl.bin.train_ctc --config conf/ctc.yaml --labels gold \\
        --feats dump/mfcc/train --train-labels data/train/utt2phones \\
        --valid-feats dump/mfcc/dev --valid-ref data/dev/utt2phones --text-dir data/text exp/ctc_gold
    # the GAN generator's architecture trained with CTC on gold phones
    python -m speechssl.bin.train_ctc --config conf/ctc.yaml --set model.body=generator --labels gold ...

Labels are Kaldi tables ``utt p1 p2 ...`` whose phones are in
<text-dir>/dict.phn.txt (utt2phones, or utt2pseudo from
speechssl.bin.pseudo_label); <SIL> is removed unless data.keep_sil is true.
With --labels gold the validation labels default to --valid-ref.
Utterances without a label, or with more phones than the model has output
frames, are dropped and counted in the log.

Outputs in <exp-dir>: checkpoint_last.pt, checkpoint_best.pt (by
selection.metric on the validation set: loss or label_per against the
validation labels, or oracle_per against --valid-ref), config.yaml,
train_summary.json, curves.png, tensorboard/, log/train.log,
log/metrics.jsonl.  A killed run resumes exactly where it last saved with
the same command (--resume auto); a different configuration is refused.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


from speechssl.trainers.ctc import LABEL_KINDS, CTCTrainer, load_config
from speechssl.trainers.cli import add_training_options, run_training, start_training
from speechssl.utils.errors import SpeechSSLError, cli_main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp_dir", help="experiment directory (checkpoints, logs, curves)")
    p.add_argument("--config", default=None, help="YAML configuration (sections model, optim, data, trainer, "
                   "selection); keys left out keep the defaults of speechssl.trainers.ctc.DEFAULT_CONFIG")
    p.add_argument("--feats", required=True, help="training feature directory (feats.scp, utt2num_frames), "
                   "frame level (not segment-pooled)")
    p.add_argument("--text-dir", required=True, help="directory holding dict.phn.txt (the phone inventory)")
    p.add_argument("--labels", choices=LABEL_KINDS, required=True,
                   help="kind of --train-labels: pseudo (utt2pseudo, self-training) or gold (utt2phones, the "
                        "supervised upper bound); recorded as data.labels")
    p.add_argument("--train-labels", required=True, help="label table of the training utterances (utt p1 p2 ...)")
    p.add_argument("--valid-feats", default=None, help="validation feature directory (without it no best "
                   "checkpoint is chosen)")
    p.add_argument("--valid-labels", default=None, help="label table of the validation utterances, the targets of "
                   "the validation loss and label_per (default with --labels gold: --valid-ref)")
    p.add_argument("--valid-ref", default=None, help="utt2phones of the validation set: adds an ORACLE phone error "
                   "rate to the logs (used for selection only if selection.metric=oracle_per)")
    add_training_options(p, "model.lstm_hidden=128")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    exp_dir = Path(args.exp_dir)
    rank, overrides = start_training(args, exp_dir, [f"data.labels={args.labels}"])
    config = load_config(args.config, overrides)
    valid_labels = args.valid_labels or (args.valid_ref if args.labels == "gold" else None)
    if args.valid_feats and not valid_labels and config["selection"]["metric"] != "oracle_per":
        raise SpeechSSLError("--valid-feats without validation labels: give --valid-labels (e.g. the pseudo-labels "
                             "of the validation set), or --set selection.metric=oracle_per with --valid-ref")
    trainer = CTCTrainer(config, exp_dir, args.feats, args.text_dir, args.train_labels, args.valid_feats,
                         valid_labels, args.valid_ref)
    run_training(trainer, config, exp_dir, rank, args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Export a MelHuBERT training checkpoint as a small upstream file for load_upstream.

python -m speechssl.bin.export_upstream exp/melhubert_it2/checkpoint_best.pt exp/melhubert_it2/upstream.pt

The output keeps the weights (without the k-means prediction head unless
--keep-head true), the model configuration, the log-Mel options and the
training-set mean/std; optimizer state, RNG states and training
configuration are dropped.  Load it with
``speechssl.models.upstream.load_upstream(path)`` or give it to
``dump_features --feat-type ssl --upstream``.
"""
from __future__ import annotations

import argparse
import sys

import torch

from speechssl.models.upstream.melhubert import META_KEY, export_checkpoint
from speechssl.trainers.checkpoint import load_checkpoint
from speechssl.utils.atomic import atomic_write
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="export_upstream", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="train_melhubert checkpoint (checkpoint_best.pt or checkpoint_last.pt)")
    p.add_argument("out", help="exported upstream file (.pt)")
    p.add_argument("--keep-head", type=str2bool, default=False,
                   help="keep the k-means prediction head (needed only to continue masked prediction)")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    state = load_checkpoint(args.checkpoint)
    meta = state.get("extra", {}).get(META_KEY)
    if meta is None:
        raise SpeechSSLError(f"{args.checkpoint}: not a train_melhubert checkpoint (no {META_KEY!r} metadata)")
    weights = dict(state["modules"]["model"])
    if not args.keep_head:
        weights = {k: v for k, v in weights.items() if not k.startswith("final_proj.")}
    with atomic_write(args.out, "wb") as f:
        torch.save(export_checkpoint(meta, weights), f)
    log.info("exported %s (update %d, %d tensors) to %s", args.checkpoint, state["update"], len(weights), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

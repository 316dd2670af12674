"""Prepare Kaldi data directories and the unpaired text from a SpokenCOCO-layout corpus.

Example::

    python -m speechssl.bin.prepare_spokencoco --split original --text-fraction 0.5 \\
        downloads/ data/

writes data/train, data/dev, data/test (wav.scp, text, utt2spk, spk2utt,
utt2image, and utt2<name> tables from the corpus's side files, e.g. the
stand-in's utt2phones) and data/local/unpaired_text.txt: the captions of
the train images reserved for text (--text-fraction of them, chosen by a
seeded hash of the image path), whose audio is not used.  --split original
splits SpokenCOCO_val.json in two halves by image for dev and test;
--split karpathy reads the Karpathy split files.  Details:
speechssl/corpora/spokencoco.py.

A done-marker (data/local/.done.spokencoco.json) records the corpus files
and options: a rerun with the same ones is skipped, a changed one is refused
unless --redo true.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.corpora.spokencoco import (SET_NAMES, SPLITS, find_spokencoco_dir, prepare_spokencoco,
                                          write_prepared)
from speechssl.utils.atomic import atomic_dir
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging
from speechssl.utils.stage import StageMarker

UNPAIRED_TEXT = "local/unpaired_text.txt"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", help="directory holding SpokenCOCO/ (or the SpokenCOCO directory itself)")
    p.add_argument("out_dir", help="where the data directories are written (e.g. data/)")
    p.add_argument("--split", choices=SPLITS, default="original",
                   help="original (val halved by image into dev/test) or karpathy (default: %(default)s)")
    p.add_argument("--text-fraction", type=float, default=0.5,
                   help="fraction of the train images whose captions are unpaired text, not speech "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the image hash that picks them (default: 0)")
    p.add_argument("--drop-overlap", type=str2bool, default=True,
                   help="drop text captions identical to a spoken caption of train/dev/test (default: true)")
    p.add_argument("--redo", type=str2bool, default=False, help="discard and redo finished outputs")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    coco_dir = find_spokencoco_dir(args.corpus)
    out_dir = Path(args.out_dir)
    outputs = [out_dir / s for s in SET_NAMES] + [out_dir / UNPAIRED_TEXT]
    config = {"corpus": str(coco_dir.resolve()), "split": args.split, "text_fraction": args.text_fraction,
              "seed": args.seed, "drop_overlap": args.drop_overlap}
    inputs = sorted(coco_dir.glob("SpokenCOCO_*.json")) + sorted(coco_dir.glob("SpokenCOCO_*.*.txt"))
    marker = StageMarker(out_dir / "local" / ".done.spokencoco.json", "prepare_spokencoco", config, inputs)
    if not marker.needs_run(outputs, redo=args.redo):
        return 0
    prepared = prepare_spokencoco(coco_dir, args.split, args.text_fraction, args.seed, args.drop_overlap)
    with atomic_dir(out_dir / "train") as train, atomic_dir(out_dir / "dev") as dev, \
            atomic_dir(out_dir / "test") as test:
        write_prepared(prepared, {"train": train, "dev": dev, "test": test}, out_dir / UNPAIRED_TEXT)
    marker.write(outputs, prepared.counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Warn when the sets of a recipe did not get the same VAD treatment.

Reads the ``vad.json`` that compute_vad writes into each data directory (a
directory without one had no VAD) and compares every set with the first one
(the training set).  Prints one warning per mismatch; the exit status is 0
unless --strict is given.  Example::

    python -m speechssl.bin.check_vad_symmetry data/train_vad data/dev_vad data/test
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.audio.vad import check_vad_symmetry, read_vad_config
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", nargs="+", help="data directories; the first is the reference (training set)")
    p.add_argument("--strict", action="store_true", help="exit 1 when any set differs")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    configs = {str(d): read_vad_config(d) for d in args.dirs}
    warnings = check_vad_symmetry(configs, reference=str(args.dirs[0]))
    if not warnings:
        print(f"check_vad_symmetry: {len(args.dirs)} sets share the VAD treatment of {Path(args.dirs[0])}")
    return 1 if warnings and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())

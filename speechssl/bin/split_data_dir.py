"""Split a Kaldi data directory into N parts (python -m speechssl.bin.split_data_dir <data-dir> <N>)."""
from __future__ import annotations

import argparse
import sys

from speechssl.data.ops import split_data_dir
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="split_data_dir.sh",
        description="Split a data directory into <data-dir>/split<N>/1 ... <data-dir>/split<N>/<N>, each a "
        "complete data directory holding a contiguous run of utterances (in C order) of near-equal size. A split "
        "made from the same files with the same options is reused.",
    )
    p.add_argument("data", help="the data directory")
    p.add_argument("num_parts", type=int, help="number of parts N")
    p.add_argument("--per-spk", action="store_true",
                   help="keep all utterances of a speaker in the same part (parts are then balanced by "
                   "utterance count over whole speakers); needs at least N speakers")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    split_data_dir(args.data, args.num_parts, per_spk=args.per_spk)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Combine Kaldi data directories (python -m speechssl.bin.combine_data_dirs <dest> <src1> <src2> ...)."""
from __future__ import annotations

import argparse
import sys

from speechssl.data.ops import combine_data_dirs
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="combine_data.sh",
        description="Write to <dest> the union of the source data directories. Utterance ids must be unique "
        "across sources (use copy_data_dir.sh --utt-prefix/--spk-prefix first); recordings and speakers may be "
        "shared only with identical entries. A table missing from some source is left out with a warning; when "
        "only some sources have segments, the others get whole-recording segments.",
    )
    p.add_argument("dest", help="the output data directory (replaced if it is an older data directory)")
    p.add_argument("srcs", nargs="+", metavar="src", help="source data directories")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    combine_data_dirs(args.dest, args.srcs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

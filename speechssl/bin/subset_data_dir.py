"""Copy part of a Kaldi data directory (python -m speechssl.bin.subset_data_dir --first N <src> <dest>)."""
from __future__ import annotations

import argparse
import sys

from speechssl.data.ops import subset_data_dir
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def _count(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of utterances, got {value!r}; the count follows the option "
            "(--first 100 SRC DEST), unlike Kaldi's `--first SRC 100 DEST`"
        ) from None


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="subset_data_dir.sh",
        description="Write to <dest> the utterances of <src> chosen by exactly one selector, with the "
        "recordings and speakers they use; every table is filtered accordingly.",
    )
    p.add_argument("src", help="the source data directory")
    p.add_argument("dest", help="the output data directory (replaced if it is an older data directory)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--first", type=_count, metavar="N", help="the first N utterances in C order")
    how.add_argument("--last", type=_count, metavar="N", help="the last N utterances in C order")
    how.add_argument("--shortest", type=_count, metavar="N",
                     help="the N shortest utterances (needs utt2dur or segments; see compute_utt2dur)")
    how.add_argument("--random", type=_count, metavar="N", help="N utterances drawn at random (see --seed)")
    how.add_argument("--utt-list", metavar="FILE", help="the utterances whose ids are the first field of FILE's lines")
    how.add_argument("--spk-list", metavar="FILE",
                     help="all utterances of the speakers whose ids are the first field of FILE's lines")
    p.add_argument("--seed", type=int, default=0, help="random seed for --random (default: 0)")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    subset_data_dir(args.src, args.dest, first=args.first, last=args.last, utt_list=args.utt_list,
                    spk_list=args.spk_list, shortest=args.shortest, random=args.random, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

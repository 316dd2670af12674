"""Copy a Kaldi data directory, renaming ids (python -m speechssl.bin.copy_data_dir [opts] <src> <dest>)."""
from __future__ import annotations

import argparse
import sys

from speechssl.data.ops import copy_data_dir
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="copy_data_dir.sh",
        description="Copy a data directory, optionally adding a prefix/suffix to every utterance id and speaker "
        "id. With segments, recording ids are kept; without, wav.scp is keyed by utterance and renamed with it. "
        "Use the same prefix for utterances and speakers so utt2spk stays sorted by speaker.",
    )
    p.add_argument("src", help="the source data directory")
    p.add_argument("dest", help="the output data directory (replaced if it is an older data directory)")
    p.add_argument("--utt-prefix", default="", help="prefix added to every utterance id (e.g. 'sp1.1-')")
    p.add_argument("--utt-suffix", default="", help="suffix added to every utterance id")
    p.add_argument("--spk-prefix", default="", help="prefix added to every speaker id")
    p.add_argument("--spk-suffix", default="", help="suffix added to every speaker id")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    copy_data_dir(args.src, args.dest, utt_prefix=args.utt_prefix, utt_suffix=args.utt_suffix,
                  spk_prefix=args.spk_prefix, spk_suffix=args.spk_suffix)
    return 0


if __name__ == "__main__":
    sys.exit(main())

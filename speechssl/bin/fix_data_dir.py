"""Make a Kaldi data directory consistent in place (python -m speechssl.bin.fix_data_dir <data-dir>)."""
from __future__ import annotations

import argparse
import sys

from speechssl.data.ops import fix_data_dir
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fix_data_dir.sh",
        description="Keep only the utterances present in every utterance table (utt2spk, text, feats.scp, "
        "utt2dur, utt2num_frames, every other utt2* file, vad.scp, segments or wav.scp) that have a non-empty "
        "transcript and a sane segment; drop recordings and speaker entries nothing uses; merge repeated "
        "identical lines; sort every file in C order and rebuild spk2utt. What is dropped is reported with "
        "counts and reasons. The old files are copied to <data-dir>/.backup/ first.",
    )
    p.add_argument("data", help="the data directory (changed in place)")
    p.add_argument("--no-backup", action="store_true", help="do not copy the old files to <data-dir>/.backup/")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    fix_data_dir(args.data, backup=not args.no_backup)
    return 0


if __name__ == "__main__":
    sys.exit(main())

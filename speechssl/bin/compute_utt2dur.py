"""Write utt2dur and reco2dur of a Kaldi data directory (python -m speechssl.bin.compute_utt2dur <data-dir>)."""
from __future__ import annotations

import argparse
import sys

from speechssl.data.ops import compute_utt2dur
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compute_utt2dur",
        description="Write <data-dir>/reco2dur from the audio headers (soundfile; `cmd |` entries of wav.scp "
        "are run) and <data-dir>/utt2dur from segments when present, else from the recordings.",
    )
    p.add_argument("data", help="the data directory")
    p.add_argument("--force", action="store_true",
                   help="recompute even if utt2dur and reco2dur already cover every utterance")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    compute_utt2dur(args.data, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Download Mini LibriSpeech (OpenSLR 31: dev-clean-2, train-clean-5) and extract it.

Resumes partial downloads, verifies md5 checksums, and skips subsets that are
already extracted.  Example::

    python -m speechssl.bin.download_mini_librispeech downloads/
"""
from __future__ import annotations

import argparse
import sys

from speechssl.corpora.librispeech import MINI_LIBRISPEECH_URL, download_mini_librispeech
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dest", help="download directory; the corpus lands in <dest>/LibriSpeech")
    p.add_argument("--subsets", default="dev-clean-2,train-clean-5", help="comma-separated subsets")
    p.add_argument("--base-url", default=MINI_LIBRISPEECH_URL, help="mirror to download from")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    download_mini_librispeech(args.dest, [s for s in args.subsets.split(",") if s], base_url=args.base_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())

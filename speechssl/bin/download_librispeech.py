"""Download LibriSpeech subsets from OpenSLR and extract them.

The default subsets are Mini LibriSpeech (OpenSLR 31: dev-clean-2,
train-clean-5); any LibriSpeech subset (OpenSLR 12: train-clean-100,
dev-clean, ...) can be named.  Partial downloads are resumed, md5 checksums
verified, and subsets already extracted skipped.  Example::

    python -m speechssl.bin.download_librispeech downloads/
    python -m speechssl.bin.download_librispeech --subsets train-clean-100,dev-clean,test-clean /data
"""
from __future__ import annotations

import argparse
import sys

from speechssl.corpora.librispeech import MINI_LIBRISPEECH_SUBSETS, OPENSLR_URL, download_librispeech
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dest", help="download directory; the corpus lands in <dest>/LibriSpeech")
    p.add_argument("--subsets", default=",".join(MINI_LIBRISPEECH_SUBSETS), help="comma-separated subsets")
    p.add_argument("--base-url", default=OPENSLR_URL, help="OpenSLR mirror (archives at <url>/<resource>/<subset>.tar.gz)")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    download_librispeech(args.dest, [s for s in args.subsets.split(",") if s], base_url=args.base_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())

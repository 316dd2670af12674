"""Stage 0 of the Mini LibriSpeech recipes: put the corpus into <dest>/LibriSpeech.

--source download fetches Mini LibriSpeech (OpenSLR 31); --source standin
synthesizes the stand-in corpus (same layout, plus reference phones, pause
positions and unpaired text) from --standin-config; --source auto downloads
when openslr.org answers within a few seconds and synthesizes otherwise.
Example::

    python -m speechssl.bin.get_mini_librispeech --source auto \\
        --standin-config conf/standin.yaml --nj 2 downloads/
"""
from __future__ import annotations

import argparse
import sys

from speechssl.corpora.download import url_reachable
from speechssl.corpora.librispeech import LIBRISPEECH_ARCHIVES, MINI_LIBRISPEECH_SUBSETS, OPENSLR_URL, download_librispeech
from speechssl.corpora.standin import load_standin_config, synthesize_standin
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dest", help="directory that receives LibriSpeech/")
    p.add_argument("--source", choices=["auto", "download", "standin"], default="auto",
                   help="where the corpus comes from (default: %(default)s)")
    p.add_argument("--standin-config", default="conf/standin.yaml", help="YAML of the stand-in corpus")
    p.add_argument("--base-url", default=OPENSLR_URL, help="OpenSLR mirror for --source download/auto")
    p.add_argument("--nj", type=int, default=2, help="parallel synthesis processes")
    p.add_argument("--redo", type=str2bool, default=False, help="redo a finished stand-in with a changed config")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    source = args.source
    if source == "auto":
        resource = LIBRISPEECH_ARCHIVES[MINI_LIBRISPEECH_SUBSETS[0]][0]
        url = f"{args.base_url}/{resource}/{MINI_LIBRISPEECH_SUBSETS[0]}.tar.gz"
        source = "download" if url_reachable(url) else "standin"
        log.info("--source auto: %s", "openslr.org answers, downloading" if source == "download"
                 else f"{url} not reachable, synthesizing the stand-in corpus")
    if source == "download":
        download_librispeech(args.dest, MINI_LIBRISPEECH_SUBSETS, base_url=args.base_url)
    else:
        summary = synthesize_standin(args.dest, load_standin_config(args.standin_config), nj=args.nj, redo=args.redo)
        for name, sub in summary.get("subsets", {}).items():
            log.info("stand-in %s: %s", name, {k: sub[k] for k in ("speakers", "utterances", "hours") if k in sub})
    return 0


if __name__ == "__main__":
    sys.exit(main())

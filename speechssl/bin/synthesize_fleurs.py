"""Synthesize the FLEURS stand-in: espeak-ng voices reading Debian text, in FLEURS's layout.

Example::

    python -m speechssl.bin.synthesize_fleurs --config conf/standin.yaml --nj 2 downloads/fleurs

writes downloads/fleurs/data/<lang>/{train,dev,test}.tsv and audio/<split>.tar.gz
for each language of the config, as google/fleurs has them, plus reference
phones (<split>.phones.txt), unpaired text (unpaired_text.txt) and the
done-marker standin_manifest.json (formats: speechssl/corpora/standin/fleurs).
The same config gives the same files; a finished stand-in is not redone and a
changed config is refused unless --redo true.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from speechssl.corpora.standin.fleurs import load_fleurs_standin_config, synthesize_fleurs_standin
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", help="directory that receives data/<lang>/ (created if missing)")
    p.add_argument("--config", required=True, help="stand-in YAML config (e.g. egs/fleurs/uasr1/conf/standin.yaml)")
    p.add_argument("--nj", type=int, default=2, help="worker processes (default: %(default)s)")
    p.add_argument("--redo", type=str2bool, default=False, help="discard a finished stand-in and synthesize again")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    if args.nj < 1:
        raise SpeechSSLError(f"--nj must be at least 1, got {args.nj}")
    start = time.time()
    summary = synthesize_fleurs_standin(args.root, load_fleurs_standin_config(args.config), args.nj, args.redo)
    log.info("done in %.1f s: %s", time.time() - start, json.dumps(summary["langs"], sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

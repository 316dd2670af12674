"""Synthesize the stand-in corpus: espeak-ng speakers in Mini LibriSpeech's exact layout.

Example::

    python -m speechssl.bin.synthesize_standin --config conf/standin_mini.yaml --nj 2 downloads/

writes downloads/LibriSpeech/ with SPEAKERS.TXT, CHAPTERS.TXT and, per subset
of the config, <spk>/<chapter>/<spk>-<chapter>-<utt>.flac (16 kHz) and
<spk>-<chapter>.trans.txt, as in the real corpus.  Beside them: reference
phones (*.phones.txt), pause positions (*.pauses.txt), phone boundaries
(*.alignment.ctm), the voices (VOICES.TXT), text nobody speaks
(unpaired_text.txt) and the done-marker standin_manifest.json.  The file
formats are described in speechssl/corpora/standin/__init__.py.

The same config (seed included) gives byte-identical files whatever --nj.
A finished corpus is not redone; a changed config is refused unless
--redo true; a killed run resumes at the first unfinished chapter.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from speechssl.corpora.standin import load_standin_config, synthesize_standin
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", help="directory that receives LibriSpeech/ (created if missing)")
    p.add_argument("--config", required=True,
                   help="stand-in YAML config: sizes, voices, seed (e.g. egs/TEMPLATE/conf/standin_mini.yaml)")
    p.add_argument("--nj", type=int, default=2, help="number of worker processes (default: 2)")
    p.add_argument("--redo", type=str2bool, default=False,
                   help="true: discard a stand-in corpus already in ROOT and synthesize again (default: false)")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default: INFO)")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    if args.nj < 1:
        raise SpeechSSLError(f"--nj must be at least 1, got {args.nj}")
    config = load_standin_config(args.config)
    start = time.time()
    summary = synthesize_standin(args.root, config, nj=args.nj, redo=args.redo)
    log.info("done in %.1f s: %s", time.time() - start, json.dumps(summary["subsets"], sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

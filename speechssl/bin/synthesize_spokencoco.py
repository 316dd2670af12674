"""Synthesize the SpokenCOCO stand-in: espeak-ng readers of sentences posing as image captions.

Example::

    python -m speechssl.bin.synthesize_spokencoco --config conf/standin.yaml --nj 2 downloads/

writes downloads/SpokenCOCO/ in the real corpus's layout: SpokenCOCO_train.json
and SpokenCOCO_val.json (images, captions, speakers, utterance ids, wav
paths) and wavs/{train,val}/<n>/<uttid>.wav (16 kHz); beside them the phones
espeak-ng spoke (SpokenCOCO_{train,val}.phones.txt), the voices
(standin_speakers.txt) and the done-marker standin_manifest.json.  The
captions are sentences from Debian text packages (there are no MSCOCO
captions offline) and the images are names only.  See
speechssl/corpora/standin/spokencoco.py.

The same config gives byte-identical files whatever --nj.  A finished
stand-in is not redone; a changed config is refused unless --redo true; a
killed run resumes at the first unfinished image.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from speechssl.corpora.standin.spokencoco import load_coco_standin_config, synthesize_spokencoco
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", help="directory that receives SpokenCOCO/ (created if missing)")
    p.add_argument("--config", required=True, help="stand-in YAML: sizes, voices, seed (e.g. conf/standin.yaml)")
    p.add_argument("--nj", type=int, default=2, help="number of worker processes (default: 2)")
    p.add_argument("--redo", type=str2bool, default=False,
                   help="true: discard a stand-in already in ROOT and synthesize again (default: false)")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default: INFO)")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    if args.nj < 1:
        raise SpeechSSLError(f"--nj must be at least 1, got {args.nj}")
    config = load_coco_standin_config(args.config)
    start = time.time()
    summary = synthesize_spokencoco(args.root, config, nj=args.nj, redo=args.redo)
    log.info("done in %.1f s: %s", time.time() - start,
             json.dumps({s: summary[s] for s in ("train", "val")}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Stage 0 of the UA-Speech recipe: check the corpus in <dest>/UASpeech, or synthesize the stand-in there.

UA-Speech cannot be downloaded: its authors send it on request.  Put it (or a
link to it) at <dest>/UASpeech, or set UASPEECH in db.sh.  --source corpus
requires it; --source standin synthesizes the PIPELINE STAND-IN (espeak-ng
words in UA-Speech's layout; it does not model dysarthria) from
--standin-config; --source auto uses the corpus when <dest>/UASpeech/audio
exists and was not written by the stand-in, and synthesizes otherwise.
Example::

    python -m speechssl.bin.get_uaspeech --source auto --standin-config conf/standin.yaml --nj 2 downloads/
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.corpora.standin.uaspeech import (
    LABEL, MANIFEST, load_uaspeech_standin_config, synthesize_uaspeech_standin)
from speechssl.corpora.uaspeech import audio_root, find_uaspeech_dir, find_word_list
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dest", help="directory that holds (or receives) UASpeech/")
    p.add_argument("--source", choices=["auto", "corpus", "standin"], default="auto",
                   help="the real corpus, the stand-in, or whichever is there (default: %(default)s)")
    p.add_argument("--standin-config", default="conf/standin.yaml", help="YAML of the stand-in")
    p.add_argument("--audio-variant", default="", help="for --source corpus: subdirectory of audio/ to check")
    p.add_argument("--nj", type=int, default=2, help="parallel synthesis processes")
    p.add_argument("--redo", type=str2bool, default=False, help="redo a finished stand-in with a changed config")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    if args.nj < 1:
        raise SpeechSSLError(f"--nj must be at least 1, got {args.nj}")
    ua = Path(args.dest) / "UASpeech"
    source = args.source
    if source == "auto":
        real = (ua / "audio").is_dir() and not (ua / MANIFEST).is_file()
        source = "corpus" if real else "standin"
        log.info("--source auto: %s", f"using the corpus in {ua}" if real else f"no corpus in {ua}; {LABEL}")
    if source == "corpus":
        ua_dir = find_uaspeech_dir(args.dest)
        audio_root(ua_dir, args.audio_variant)
        try:
            log.info("UA-Speech found in %s (word list %s)", ua_dir, find_word_list(ua_dir))
        except SpeechSSLError as e:
            log.warning("UA-Speech found in %s, but %s", ua_dir, e)
        return 0
    summary = synthesize_uaspeech_standin(args.dest, load_uaspeech_standin_config(args.standin_config),
                                          nj=args.nj, redo=args.redo)
    log.info("%s: %d files, %.2f h", LABEL, summary["files"], summary["hours"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

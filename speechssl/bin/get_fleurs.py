"""Stage 0 of the FLEURS recipes: make sure <dest>/data/<lang>/ exists for each language.

--source corpus checks that the real corpus is there (it must be fetched by
hand: the google/fleurs dataset repository, data/<lang>/ of each language);
--source standin synthesizes the stand-in (same layout) from --standin-config;
--source auto uses the corpus when every language is there and synthesizes
otherwise.  Example::

    python -m speechssl.bin.get_fleurs --source auto --langs es_419 \\
        --standin-config conf/standin.yaml --nj 2 downloads/fleurs
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.corpora.fleurs_langs import parse_langs
from speechssl.corpora.standin.fleurs import MANIFEST, load_fleurs_standin_config, synthesize_fleurs_standin
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dest", help="directory that holds (or receives) data/<lang>/")
    p.add_argument("--langs", required=True, help="comma-separated FLEURS codes, e.g. es_419,de_de")
    p.add_argument("--source", choices=["auto", "corpus", "standin"], default="auto",
                   help="where the corpus comes from (default: %(default)s)")
    p.add_argument("--standin-config", default="conf/standin.yaml", help="YAML of the stand-in")
    p.add_argument("--nj", type=int, default=2, help="parallel synthesis processes")
    p.add_argument("--redo", type=str2bool, default=False, help="redo a finished stand-in with a changed config")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    dest = Path(args.dest)
    langs = parse_langs(args.langs)
    missing = [c for c in langs if not (dest / "data" / c / "train.tsv").is_file()]
    is_standin = (dest / MANIFEST).is_file()
    source = args.source
    if source == "auto":
        source = "corpus" if not missing and not is_standin else "standin"
        log.info("--source auto: %s", "the corpus is in place" if source == "corpus" else
                 f"no real corpus for {' '.join(langs)} in {dest}/data; using the synthesized stand-in")
    if source == "corpus":
        if missing:
            raise SpeechSSLError(f"{dest}/data: no {', '.join(missing)}; fetch data/<lang>/ of these languages from "
                                 "https://huggingface.co/datasets/google/fleurs by hand and set FLEURS in db.sh")
        return 0
    config = load_fleurs_standin_config(args.standin_config)
    if sorted(config.langs) != sorted(langs):
        raise SpeechSSLError(f"{args.standin_config}: langs {list(config.langs)} differ from the recipe's "
                             f"{langs}; make them agree")
    summary = synthesize_fleurs_standin(dest, config, args.nj, args.redo)
    for lang, s in summary["langs"].items():
        log.info("stand-in %s: %s", lang, s["splits"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

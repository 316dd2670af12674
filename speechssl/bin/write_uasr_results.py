"""Write a UASR recipe's RESULTS.md from what its stages left under exp/.

Run from the recipe directory.  Example::

    python -m speechssl.bin.write_uasr_results --title "Mini LibriSpeech (stand-in)" \\
        --sets "dev_clean_2 test_clean_2" --gan-dir exp/uasr_mfcc_v2 \\
        --table "Self-training=exp/uasr_mfcc_v2/self_training/rounds.md"
"""
from __future__ import annotations

import argparse
import sys

from speechssl.uasr.results import write_results
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--title", required=True, help="heading of RESULTS.md")
    p.add_argument("--sets", required=True, help="evaluation sets, space separated")
    p.add_argument("--gan-dir", required=True, help="seed-sweep directory of the GAN (runs.md, selected.json)")
    p.add_argument("--extra", action="append", default=[], metavar="TITLE=DIR",
                   help="another experiment directory with decode_<set>_* results (repeatable)")
    p.add_argument("--table", action="append", default=[], metavar="TITLE=FILE",
                   help="a markdown table written by a stage, included when present (repeatable)")
    p.add_argument("--tables", default="", metavar="TITLE=FILE;...", help="more --table items in one argument, "
                   "separated by ';' (the recipes' results_tables option)")
    p.add_argument("--note", action="append", default=[], help="a paragraph placed under the heading (repeatable)")
    p.add_argument("--command", default=None, help="the run.sh command line of this run")
    p.add_argument("--recipe-dir", default=".", help="recipe directory (default: current directory)")
    return p


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise SpeechSSLError(f"{option} {item!r}: expected TITLE=PATH")
        title, path = item.rsplit("=", 1)
        out[title] = path
    return out


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    out = write_results(args.recipe_dir, title=args.title, sets=args.sets.split(), command=args.command,
                        gan_dir=args.gan_dir, extra_dirs=_pairs(args.extra, "--extra"),
                        tables=_pairs(args.table + [t for t in args.tables.split(";") if t.strip()], "--table"), notes=args.note)
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

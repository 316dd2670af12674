"""Code-switching statistics of data directories (from their utt2word_langs).

For each data directory: words per language and their share, utterances per
language set, code-switched and monolingual utterances, switch points (per
utterance and per code-switched utterance), and the code-mixing index.
Writes <dir>/cs_stats.json for each and prints a Markdown table (or writes
it with --markdown).  Example::

    python -m speechssl.bin.codeswitch_stats data/engzul_train data/engzul_dev data/engzul_test
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from speechssl.data.scp import read_dict
from speechssl.text.codeswitch import check_language, cs_stats, stats_markdown
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import setup_logging


def dir_stats(data_dir: Path, table: str) -> dict:
    path = data_dir / table
    if not path.is_file():
        raise SpeechSSLError(f"{path}: missing; it holds one language tag per word (prepare_soapies writes it)")
    tags = {}
    for utt, value in read_dict(path).items():
        tags[utt] = value.split()
        for t in tags[utt]:
            check_language(t, f"{path}: {utt}")
    return cs_stats(tags)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dirs", nargs="+", help="data directories with a per-word language table")
    p.add_argument("--table", default="utt2word_langs", help="name of the per-word language table")
    p.add_argument("--markdown", default=None, help="write the Markdown table here instead of printing it")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    by_set = {}
    for d in map(Path, args.data_dirs):
        by_set[d.name] = dir_stats(d, args.table)
        with atomic_write(d / "cs_stats.json") as f:
            json.dump(by_set[d.name], f, indent=2, sort_keys=True)
            f.write("\n")
    table = stats_markdown(by_set)
    if args.markdown:
        with atomic_write(args.markdown) as f:
            f.write(table)
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

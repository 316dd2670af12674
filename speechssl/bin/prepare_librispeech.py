"""Prepare Kaldi data directories from a LibriSpeech-layout corpus.

Example::

    python -m speechssl.bin.prepare_librispeech --subsets train-clean-5,dev-clean-2 \\
        downloads/ data/

writes data/train_clean_5 and data/dev_clean_2 (wav.scp, text, utt2spk,
spk2utt, spk2gender, and utt2<name> tables from the corpus's side files).
Each output directory gets a done-marker; a rerun with the same corpus and
options is skipped, a changed one is refused unless --redo is given.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from speechssl.corpora.librispeech import find_librispeech_dir, kaldi_set_name, load_speakers, write_subset
from speechssl.utils.atomic import atomic_dir
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging
from speechssl.utils.stage import StageMarker


def corpus_listing_digest(subset_dir: Path) -> str:
    """Cheap fingerprint of a subset: names and sizes of its files (no content read)."""
    h = hashlib.sha256()
    for p in sorted(subset_dir.rglob("*")):
        if p.is_file():
            h.update(f"{p.relative_to(subset_dir)}\0{p.stat().st_size}\n".encode())
    return h.hexdigest()


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", help="directory holding LibriSpeech/ (or the LibriSpeech directory itself)")
    p.add_argument("out_dir", help="where the data directories are written (e.g. data/)")
    p.add_argument("--subsets", required=True, help="comma-separated subsets, e.g. train-clean-100,dev-clean")
    p.add_argument("--redo", default="false", choices=["true", "false"], help="discard and redo finished outputs")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    libri = find_librispeech_dir(args.corpus)
    speakers = load_speakers(libri)
    out_dir = Path(args.out_dir)
    for subset in [s for s in args.subsets.split(",") if s]:
        target = out_dir / kaldi_set_name(subset)
        config = {"corpus": str(libri.resolve()), "subset": subset,
                  "listing": corpus_listing_digest(libri / subset) if (libri / subset).is_dir() else None}
        marker = StageMarker(target / ".done.json", f"prepare_librispeech {subset}", config)
        if not marker.needs_run([target], redo=args.redo == "true"):
            continue
        with atomic_dir(target) as tmp:
            summary = write_subset(libri, subset, speakers, tmp)
            StageMarker(tmp / ".done.json", marker.stage, config).write([target], summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

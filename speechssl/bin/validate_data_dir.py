"""Check a Kaldi data directory; list every problem and exit 1 if there is one.

Usage: python -m speechssl.bin.validate_data_dir [options] <data-dir>
(or utils/validate_data_dir.sh, which accepts Kaldi's options as well).
"""
from __future__ import annotations

import argparse
import sys

from speechssl.data.validate import validate_data_dir
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="validate_data_dir.sh",
        description="Check a Kaldi data directory: the rules of Kaldi's utils/validate_data_dir.sh (sorted unique "
        "keys, utt2spk/spk2utt agreement, matching ids across files, legal text, segments) plus UTF-8, empty "
        "transcripts, segment bounds and the audio itself. Every problem is listed with file, line and key.",
    )
    p.add_argument("data", help="the data directory")
    feats = p.add_mutually_exclusive_group()
    feats.add_argument("--no-feats", dest="no_feats", action="store_true", default=True,
                       help="do not require feats.scp (the default; accepted for Kaldi compatibility). "
                       "feats.scp is still checked when present")
    feats.add_argument("--feats", dest="no_feats", action="store_false", help="require feats.scp")
    p.add_argument("--no-text", action="store_true", help="do not require text (still checked when present)")
    p.add_argument("--no-wav", action="store_true", help="do not require wav.scp (still checked when present)")
    p.add_argument("--no-spk-sort", action="store_true",
                   help="do not require utt2spk to be sorted by speaker as well as by utterance")
    p.add_argument("--non-print", action="store_true", help="accept non-printable characters in text")
    p.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                   help="the sample rate every recording must have (default: any)")
    p.add_argument("--no-audio-check", action="store_true",
                   help="do not open the audio (only the tables are checked)")
    p.add_argument("--full-audio-check", action="store_true",
                   help="decode every recording completely (default: read headers and the first and last samples)")
    p.add_argument("--check-pipes", action="store_true",
                   help="also run the `cmd |` entries of wav.scp and check their output (default: not run)")
    p.add_argument("--channel", type=int, default=None,
                   help="0-based channel the recipe reads from multi-channel audio (default: multi-channel "
                   "audio is an error)")
    p.add_argument("--max-overshoot", type=float, default=0.5, metavar="SECONDS",
                   help="how far a segment may end past the end of its recording (default: 0.5)")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    report = validate_data_dir(
        args.data, expected_sample_rate=args.sample_rate, check_audio=not args.no_audio_check,
        full_audio_check=args.full_audio_check, check_pipes=args.check_pipes, no_text=args.no_text,
        no_feats=args.no_feats, no_wav=args.no_wav, no_spk_sort=args.no_spk_sort, non_print=args.non_print,
        channel=args.channel, max_overshoot=args.max_overshoot,
    )
    for note in report.notes:
        print(f"NOTE: {note}", file=sys.stderr)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

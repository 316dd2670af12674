"""Score hypotheses against references: PER or WER with alignments, per speaker and in total.

Example::

    python -m speechssl.bin.score --metric PER --remove-tokens "<SIL>" \\
        --utt2spk data/test/utt2spk data/test/text.phn exp/decode_test/text exp/decode_test/score_per

Both inputs are Kaldi ``text`` files (``utt tok tok ...``).  Writes into the
output directory:

  ref.trn, hyp.trn   sclite trn files ('tok tok ... (spk-utt)'), to rerun sclite yourself:
                     sclite -r ref.trn trn -h hyp.trn trn -i rm -o sum pra
  result.txt         per-speaker Corr/Sub/Del/Ins/Err/S.Err table (as sclite -o sum) and a
                     Kaldi-style '%WER 12.34 [ 123 / 1000, 10 ins, 20 del, 93 sub ]' line
  result.pra         per-utterance alignments: REF:/HYP:/Eval: lines, '*' for the missing
                     side, S/D/I under each error
  scores.json        the same counts, machine-readable

The summary line is also printed on stdout.  Every hypothesis must belong to a
reference utterance, and every reference must have a hypothesis unless
--missing-hyp empty; empty references are an error.
"""
from __future__ import annotations

import argparse
import sys

from speechssl.data.scp import read_dict
from speechssl.scoring.align import COSTS
from speechssl.scoring.sclite import (compare_with_sclite, read_text_tokens, run_sclite, score_corpus,
                                      write_score_dir)
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the docstring layout and shows every option's default."""


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument("ref", help="reference Kaldi text file (utt tok tok ...), e.g. data/test/text or phone text")
    p.add_argument("hyp", help="hypothesis Kaldi text file, e.g. the 'text' written by decode_uasr")
    p.add_argument("out_dir", help="output directory for ref.trn, hyp.trn, result.txt, result.pra, scores.json")
    p.add_argument("--metric", default="WER", help="name of the rate in the reports (WER, PER, CER, UER ...)")
    p.add_argument("--utt2spk", default="", help="utt2spk file for the per-speaker table; without it the speaker "
                   "is the utterance id's text before the first '-' (what sclite assumes)")
    p.add_argument("--remove-tokens", default="", help="tokens removed from both sides before scoring, "
                   "space-separated (e.g. '<SIL>' for PER without silence)")
    p.add_argument("--costs", choices=sorted(COSTS), default="sclite", help="alignment costs: 'sclite' (sub 4, "
                   "del 3, ins 3, equal to sclite's counts) or 'levenshtein' (1, 1, 1: the minimum edit distance, "
                   "as Kaldi compute-wer); they differ only on rare inputs")
    p.add_argument("--missing-hyp", choices=("error", "empty"), default="error", help="a reference utterance "
                   "without a hypothesis: an error, or scored as an empty hypothesis (all deletions)")
    p.add_argument("--check-sclite", choices=("false", "true"), default="false", help="also run NIST sclite on "
                   "the trn files and fail if its totals differ from ours")
    p.add_argument("--log-level", default="INFO", help="logging level")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    remove = args.remove_tokens.split()
    refs = read_text_tokens(args.ref, remove)
    hyps = read_text_tokens(args.hyp, remove)
    utt2spk = read_dict(args.utt2spk) if args.utt2spk else None
    score = score_corpus(refs, hyps, utt2spk, metric=args.metric, costs=args.costs, missing_hyp=args.missing_hyp)
    paths = write_score_dir(args.out_dir, score, refs, hyps)
    log.info("wrote %s", " ".join(str(p) for p in paths))
    if args.check_sclite == "true":
        differences = compare_with_sclite(score, run_sclite(paths[0], paths[1]))
        if differences:
            raise SpeechSSLError(f"sclite's totals differ from ours ({'; '.join(differences)}); "
                                 f"inspect {paths[3]} against sclite's pra output")
        log.info("sclite agrees with our totals")
    print(score.summary_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())

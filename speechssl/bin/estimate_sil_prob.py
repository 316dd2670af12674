"""Estimate the text side's silence-insertion probability from the training audio.

Counts the internal pauses the VAD found (``vad_pauses`` of a compute_vad
output directory) and divides by an estimate of the number of word boundaries,
made from the speech duration (``utt2dur``) and a speaking rate in words per
second, so no transcript is used.  Prints the probability (for
``prepare_text --sil-prob``).  Example::

    python -m speechssl.bin.estimate_sil_prob --words-per-second 2.7 data/train_vad
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.audio.vad import estimate_silence_rate
from speechssl.data.scp import read_dict
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("vad_dir", help="output directory of compute_vad (vad_pauses, utt2dur)")
    p.add_argument("--words-per-second", type=float, default=2.7,
                   help="speaking-rate prior used to count word boundaries (default: %(default)s)")
    p.add_argument("--min-pause", type=float, default=0.0, help="ignore pauses shorter than this (s)")
    p.add_argument("--floor", type=float, default=0.01, help="smallest probability returned (default: %(default)s)")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    d = Path(args.vad_dir)
    for name in ("vad_pauses", "utt2dur"):
        if not (d / name).is_file():
            raise SpeechSSLError(f"{d / name} missing; run compute_vad on the training set and compute utt2dur")
    pauses = {u: [float(x) for x in v.split()[1:]] for u, v in read_dict(d / "vad_pauses").items()}
    words = {u: max(1, round(float(dur) * args.words_per_second)) for u, dur in read_dict(d / "utt2dur").items()}
    rate = max(args.floor, estimate_silence_rate(pauses, words, args.min_pause))
    log.info("%s: %d pauses in %d utterances; silence probability %.4f", d, sum(map(len, pauses.values())),
             len(pauses), rate)
    print(f"{rate:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

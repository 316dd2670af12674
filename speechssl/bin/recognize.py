"""Recognise raw audio with a packed UASR model (pack_uasr_model): phones and words in Kaldi text format.

Examples::

    python -m speechssl.bin.recognize exp/uasr_mfcc_v2/packed a.flac b.wav          # words to stdout
    python -m speechssl.bin.recognize --print phones_lm exp/uasr_mfcc_v2/packed a.flac
    python -m speechssl.bin.recognize --wav-scp data/test/wav.scp --out-dir exp/uasr_mfcc_v2/recognize_test \\
        exp/uasr_mfcc_v2/packed

Audio files may be in any format libsndfile reads (wav, flac, ogg, ...) and at
any sample rate (resampled to the model's); their ids are the file names
without extension.  wav.scp values may also be ``cmd |`` pipes.  Multi-channel
audio needs --channel (an index, or mean to downmix).  The model runs the
recipe's VAD, features, transform, generator and decoders on each file.

Outputs (``utt tok tok ...``, one line per utterance, C-sorted):
phones_greedy (argmax, repeats merged), phones_lm (beam search with the phone
n-gram) and words (lexicon beam search with the word n-gram); <SIL> is not
written.  With --out-dir all three go to <out-dir>/<output>.txt; otherwise the
one chosen by --print goes to stdout.  The log (stderr) gives the real-time
factor.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from speechssl.data.scp import kaldi_sort_key, read_dict
from speechssl.uasr.package import OUTPUTS, PackedModel, format_outputs
from speechssl.utils.atomic import atomic_write
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def _channel(value: str) -> int | str:
    if value == "mean":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a channel index or 'mean', got {value!r}") from None


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="packed model directory (pack_uasr_model)")
    p.add_argument("audio", nargs="*", help="audio files")
    p.add_argument("--wav-scp", default=None, help="Kaldi wav.scp of the audio to recognise (instead of, or besides, "
                   "files)")
    p.add_argument("--out-dir", default=None, help="write " + ", ".join(f"{o}.txt" for o in OUTPUTS) + " here")
    p.add_argument("--print", dest="output", default="words", choices=OUTPUTS,
                   help="without --out-dir: the output written to stdout (default: %(default)s)")
    p.add_argument("--channel", type=_channel, default=None, help="channel of multi-channel audio: an index, or "
                   "mean to downmix (default: multi-channel audio is an error)")
    p.add_argument("--batch-size", type=int, default=32, help="files processed together (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N "
                   "(default: %(default)s)")
    p.add_argument("--num-threads", type=int, default=0, help="CPU threads of torch (0: torch's default)")
    p.add_argument("--verify", type=str2bool, default=True, help="check every packed file against its SHA-256 "
                   "in manifest.json (default: %(default)s)")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return p


def _inputs(args) -> dict[str, str]:
    """Utterance id -> wav.scp value (file path or ``cmd |``), files first."""
    items: dict[str, str] = {}
    for path in args.audio:
        utt = Path(path).stem
        if utt in items:
            raise SpeechSSLError(f"{items[utt]} and {path} both have the id {utt!r}; rename one or use --wav-scp")
        items[utt] = path
    if args.wav_scp:
        for utt, value in read_dict(args.wav_scp).items():
            if utt in items:
                raise SpeechSSLError(f"{args.wav_scp}: utterance {utt!r} is also given as file {items[utt]}")
            items[utt] = value
    if not items:
        raise SpeechSSLError("no audio given: name audio files or a --wav-scp")
    return items


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    if args.batch_size < 1:
        raise SpeechSSLError(f"--batch-size {args.batch_size} must be at least 1")
    items = _inputs(args)
    start = time.perf_counter()
    model = PackedModel.load(args.model, device=args.device, verify=args.verify)
    log.info("loaded %s in %.2f s", args.model, time.perf_counter() - start)
    results = model.recognize(items, channel=args.channel, batch_size=args.batch_size)
    ordered = [results[u] for u in sorted(results, key=kaldi_sort_key)]
    if args.out_dir:
        for output in OUTPUTS:
            with atomic_write(Path(args.out_dir) / f"{output}.txt") as f:
                f.write(format_outputs(ordered, output))
        log.info("wrote %s to %s", ", ".join(f"{o}.txt" for o in OUTPUTS), args.out_dir)
    else:
        sys.stdout.write(format_outputs(ordered, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dump MFCC, fbank or SSL features of a data directory to ark/scp.

python -m speechssl.bin.dump_features [options] data/<set> exp/dump/<set>
"""
from __future__ import annotations

import argparse
import sys

from speechssl.features.dump import CMVN_MODES, DTYPES, DumpOptions, FeatureDumper
from speechssl.utils.cli import add_config_option, parse_args, str2bool
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dump_features",
        description="Extract features of every utterance of a data directory (segments honoured) into Kaldi "
        "ark/scp files. The work is cut into --nj jobs of contiguous utterances; --job J runs one of them (for "
        "a cluster), without --job all jobs run here and are then merged into feats.scp and utt2num_frames in a "
        "copy of the data directory. Finished jobs are skipped on a rerun. MFCC/fbank go to <out>/, SSL layer L "
        "to <out>/layer<L>/. Runs on CUDA (bf16 autocast) when available, else on CPU.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("data", help="input data directory (wav.scp, optional segments, utt2spk)")
    p.add_argument("out", help="output directory, e.g. exp/dump/<set>")
    p.add_argument("--feat-type", choices=["mfcc", "fbank", "ssl"], default="mfcc",
                   help="Kaldi-compatible MFCC or log-Mel filterbank (torchaudio.compliance.kaldi, no dither), "
                   "or hidden states of an SSL model")
    p.add_argument("--upstream", help="SSL model (ssl only): a transformers save_pretrained directory or a "
                   "fairseq wav2vec 2.0 / HuBERT .pt checkpoint; never downloaded")
    p.add_argument("--layers", help="SSL layers (ssl only): one index (14), a comma list (6,12) or 'all'; "
                   "0 = transformer input (projected CNN features), i = output of transformer layer i; "
                   "negative counts from the last. fairseq's --layer N is our N+1")
    p.add_argument("--cmvn", choices=CMVN_MODES, default=None,
                   help="mean (and variance) normalisation: per utterance, global (statistics of this set, "
                   "or of --cmvn-from), or none. Default: utt for mfcc/fbank, none for ssl")
    p.add_argument("--norm-vars", type=str2bool, default=False,
                   help="also normalise variances (Kaldi apply-cmvn --norm-vars)")
    p.add_argument("--cmvn-from", metavar="DIR",
                   help="with --cmvn global: apply the statistics saved in this dump directory of the training "
                   "set (its cmvn_stats.npz) instead of computing them on this set")
    p.add_argument("--dtype", choices=list(DTYPES), default="float32",
                   help="stored precision; float16 arks hold numpy arrays that kaldiio reads and Kaldi does not")
    p.add_argument("--batch-seconds", type=float, default=200.0,
                   help="SSL batch size as padded seconds of audio (utterances are sorted by length first)")
    p.add_argument("--sample-rate", type=int, default=16000,
                   help="sample rate the audio must have for mfcc/fbank (SSL models use their own)")
    p.add_argument("--num-ceps", type=int, default=13, help="MFCC cepstra")
    p.add_argument("--num-mel-bins", type=int, default=None, help="Mel bins (default 23 for MFCC, 80 for fbank)")
    p.add_argument("--deltas", type=str2bool, default=False,
                   help="append Kaldi add-deltas first and second differences (39-dim MFCC)")
    p.add_argument("--nj", type=int, default=1, help="number of jobs the data is cut into")
    p.add_argument("--job", type=int, default=None, help="run only job J (1..nj), without merging")
    p.add_argument("--merge-only", action="store_true", help="only merge finished jobs into feats.scp")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where the SSL model runs; auto = cuda if available")
    p.add_argument("--redo", type=str2bool, default=False,
                   help="discard outputs made with another configuration instead of refusing to run")
    p.add_argument("--log-file", default=None, help="also write the log here")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(add_config_option(get_parser()), argv)
    setup_logging(log_file=args.log_file)
    opts = DumpOptions(
        feat_type=args.feat_type, upstream=args.upstream, layers=args.layers, cmvn=args.cmvn,
        norm_vars=args.norm_vars, cmvn_from=args.cmvn_from, dtype=args.dtype, batch_seconds=args.batch_seconds,
        sample_rate=args.sample_rate, num_ceps=args.num_ceps, num_mel_bins=args.num_mel_bins,
        deltas=args.deltas, device=args.device,
    )
    FeatureDumper(args.data, args.out, opts).run(nj=args.nj, job=args.job, merge_only=args.merge_only,
                                                 redo=args.redo)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run a trained GAN (train_uasr) or CTC (train_ctc) checkpoint over a feature directory and write its logits.

Example::

    python -m speechssl.bin.export_logits exp/uasr_v2/checkpoint_best.pt dump/mfcc_v2/test exp/uasr_v2/logits_test
    python -m speechssl.bin.decode_uasr exp/uasr_v2/logits_test/logits.scp exp/uasr_v2/logits_test/tokens.txt \\
        exp/uasr_v2/decode_test --ref data/test/utt2phones --metric PER
    # a CTC model: add --blank '<blank>' to decode_uasr (its last column)

Writes OUT_DIR/logits.ark, logits.scp (one T' x V float32 log-probability
matrix per utterance, C-sorted) and tokens.txt (the symbol of each column:
the phones of dict.phn.txt, then <blank> for CTC models).  GAN outputs are the
generator's per-frame logits before segment pooling; decoding merges repeats
as the segmenter does.  The directory is replaced atomically; a done-marker
records the checkpoint and features, so a rerun with the same inputs is
skipped and one with other inputs is refused unless --redo true.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from speechssl.trainers.base import pick_device
from speechssl.uasr.data import FEATS_SCP, FeatureSet
from speechssl.uasr.pseudo_label import LOGITS_SCP, TOKENS_FILE, compute_logprobs, load_uasr_model, write_logits
from speechssl.utils.errors import cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="checkpoint_best.pt / checkpoint_last.pt of train_uasr or train_ctc")
    p.add_argument("feats", help="feature directory (feats.scp, utt2num_frames) of the kind the model was "
                   "trained on")
    p.add_argument("out_dir", help="output directory (logits.ark, logits.scp, tokens.txt)")
    p.add_argument("--batch-size", type=int, default=32, help="utterances per forward pass (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N "
                   "(default: %(default)s)")
    p.add_argument("--redo", choices=("false", "true"), default="false", help="discard outputs made from other "
                   "inputs (default: %(default)s)")
    p.add_argument("--num-threads", type=int, default=0, help="CPU threads of torch (0: torch's default, all cores); "
                   "1 is fastest for small LSTMs on a shared machine")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    setup_logging(args.log_level)
    out_dir = Path(args.out_dir)
    marker = StageMarker(out_dir.parent / f".done.export_logits.{out_dir.name}.json", "export_logits",
                         {"batch_size": args.batch_size}, [args.checkpoint, Path(args.feats) / FEATS_SCP])
    outputs = [out_dir / LOGITS_SCP, out_dir / TOKENS_FILE]
    if not marker.needs_run(outputs, redo=args.redo == "true"):
        return 0
    device = pick_device(args.device)
    model = load_uasr_model(args.checkpoint, device)
    features = FeatureSet(args.feats)
    matrices = dict(compute_logprobs(model, features, args.batch_size, device))
    write_logits(out_dir, model, matrices)
    marker.write(outputs, {"utterances": len(matrices), "kind": model.kind, "columns": len(model.tokens)})
    hint = f" --blank '{model.blank}'" if model.blank else ""
    log.info("decode with: python -m speechssl.bin.decode_uasr%s %s %s <decode-dir>", hint, out_dir / LOGITS_SCP,
             out_dir / TOKENS_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pack a trained UASR model into one directory that recognises raw audio (see speechssl.uasr.package).

Examples (what run.sh's stage 10 runs, in the recipe directory): the selected GAN, and the last
self-training round's CTC model (frame features, no transform: "-"; the insertion bonus its round matched and
the output biases it decoded with)::

    python -m speechssl.bin.pack_uasr_model --vad-config conf/vad.yaml --feats-config conf/feats_mfcc.yaml \\
        --feat-type mfcc --decode-config conf/decode.yaml \\
        exp/uasr_mfcc_v2/selected.json exp/transform_mfcc_v2 data/text exp/uasr_mfcc_v2/packed
    python -m speechssl.bin.pack_uasr_model --vad-config conf/vad.yaml --feats-config conf/feats_mfcc.yaml \\
        --feat-type mfcc --decode-config conf/decode.yaml --insertion-bonus 2 \\
        --token-bias exp/decipher_mfcc/self_training/round3/token_bias.txt \\
        exp/decipher_mfcc/self_training/ctc_round3/checkpoint_best.pt - data/text \\
        exp/decipher_mfcc/self_training/packed
    python -m speechssl.bin.recognize exp/uasr_mfcc_v2/packed a.flac b.wav

The arguments are those of the stages that made the model: the VAD options of
stage 2, the feature options of stage 4 (config file plus --feat-type,
--upstream and --layers; the SSL checkpoint is copied into the package), the
transform of stage 5 and the GAN of stage 6 (its selected.json or a checkpoint),
or a CTC checkpoint of self-training (stage 8) without a transform,
the text directory (token list, phone 6-gram, lexicon, word 4-gram) and the
decode options of stage 7.  The pieces are checked against each other before
anything is written; the directory is replaced atomically and gets a
manifest.json (versions, SHA-256 of every file, sources, this command).  A
rerun with the same inputs is skipped; other inputs are refused unless --redo true.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from speechssl.uasr.package import TEXT_FILES, pack_model, resolve_checkpoint
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import cli_main
from speechssl.utils.log import setup_logging
from speechssl.utils.stage import StageMarker


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("gan", metavar="model", help="the sweep's selected.json (select_uasr_run), a GAN checkpoint of train_uasr, or "
                   "a CTC checkpoint of train_ctc (self-training)")
    p.add_argument("transform_dir", help="fitted feature transform of a GAN (fit_feature_transform), e.g. "
                   "exp/transform_mfcc_v2; '-' for a CTC model, which reads the frame features")
    p.add_argument("text_dir", help="text directory of prepare_text (dict.phn.txt, "
                   + ", ".join(TEXT_FILES.values()) + ")")
    p.add_argument("out_dir", help="the packed model directory to write (replaced atomically)")
    p.add_argument("--vad-config", default=None, help="compute_vad config of stage 2; none: the model was trained "
                   "on audio without VAD")
    p.add_argument("--feats-config", default=None, help="dump_features config of stage 4 (e.g. conf/feats_mfcc.yaml)")
    p.add_argument("--feat-type", default=None, choices=["mfcc", "fbank", "ssl"], help="as given to dump_features")
    p.add_argument("--upstream", default=None, help="SSL checkpoint (ssl features; copied into the package)")
    p.add_argument("--layers", default=None, help="SSL layer (ssl features; one layer)")
    p.add_argument("--cmvn-stats", default=None, help="the training set's cmvn_stats.npz (only for cmvn: global)")
    p.add_argument("--word-lexicon", default=None, help="lexicon of the word decoder (default: the text "
                   "directory's lexicon_filtered.lst)")
    p.add_argument("--word-lm", default=None, help="word n-gram of the word decoder (default: the text directory's "
                   "lm.words.4.bin; empty: none)")
    p.add_argument("--decode-config", default=None, help="decode_uasr config of stage 7 (e.g. conf/decode.yaml)")
    p.add_argument("--insertion-bonus", type=float, default=None, help="replaces the decode config's insertion "
                   "bonus (e.g. the one a self-training round matched: summary of its .done.pseudo_label.json)")
    p.add_argument("--token-bias", default=None, help="token_bias.txt of the self-training round whose CTC model "
                   "is packed, when its labels were decoded with pseudo_label --match-unigram")
    p.add_argument("--redo", type=str2bool, default=False, help="pack again although a package made from other "
                   "inputs exists (default: %(default)s)")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return p


@cli_main
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    feat_options = [x for name in ("feat_type", "upstream", "layers") if getattr(args, name) is not None
                    for x in (f"--{name.replace('_', '-')}", getattr(args, name))]
    text = Path(args.text_dir)
    defaults = {"lexicon": args.word_lexicon, "word_lm": args.word_lm}
    transform = None if args.transform_dir == "-" else Path(args.transform_dir)
    inputs = [resolve_checkpoint(args.gan), *([transform] if transform else []), text / "dict.phn.txt",
              *(text / name if defaults.get(key) is None else Path(defaults[key])
                for key, name in TEXT_FILES.items() if defaults.get(key) != "")]
    inputs += [Path(x) for x in (args.vad_config, args.feats_config, args.upstream, args.cmvn_stats,
                                 args.decode_config, args.token_bias) if x]
    config = {k: v for k, v in vars(args).items() if k not in ("out_dir", "redo", "log_level")}
    for key in ("insertion_bonus", "token_bias"):  # recorded only when given: packages made before still match
        if config[key] is None:
            del config[key]
    out = Path(args.out_dir)
    marker = StageMarker(out / ".done.json", "pack_uasr_model", config, inputs)
    if not marker.needs_run([out], redo=args.redo):
        return 0
    pack_model(out, args.gan, transform, text, feats_config=args.feats_config, feat_options=feat_options,
               vad_config=args.vad_config, decode_config=args.decode_config, insertion_bonus=args.insertion_bonus,
               token_bias=args.token_bias, cmvn_stats=args.cmvn_stats,
               word_lexicon=args.word_lexicon, word_lm=args.word_lm,
               command="python -m speechssl.bin.pack_uasr_model " + shlex.join(argv))
    marker.write([out])
    return 0


if __name__ == "__main__":
    sys.exit(main())

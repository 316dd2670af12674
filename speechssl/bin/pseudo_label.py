"""Pseudo-label feature directories with a trained GAN or CTC model, score them, and record a self-training round.

Example (round 0 labels from the selected GAN, rescored with the phone LM;
then each CTC round labels the data for the next one)::

    python -m speechssl.bin.pseudo_label exp/uasr_v1/checkpoint_best.pt exp/self_train/round0 \\
        --set train=dump/mfcc_v1/train --set dev=dump/mfcc_v1/dev --set test=dump/mfcc_v1/test \\
        --ref dev=data/dev/utt2phones --ref test=data/test/utt2phones \\
        --decoder beam --lm data/text/lm.phones.4.bin --lm-weight 1.0 --round 0-gan
    python -m speechssl.bin.train_ctc --labels pseudo --train-labels exp/self_train/round0/train/utt2pseudo ... \\
        exp/self_train/ctc_round1
    python -m speechssl.bin.pseudo_label exp/self_train/ctc_round1/checkpoint_best.pt exp/self_train/round1 \\
        --set train=dump/mfcc/train --set dev=dump/mfcc/dev ... --round 1-ctc

For every --set NAME=FEATS_DIR, writes into OUT_DIR/NAME:
  logits/        logits.ark, logits.scp, tokens.txt (the decoding contract, see speechssl.bin.export_logits)
  utt2pseudo     the decoded phones, 'utt p1 p2 ...' with <SIL> kept (train_ctc removes it unless data.keep_sil)
  scoring/       with --ref NAME=utt2phones: oracle PER (<SIL> removed), sclite-style files (see speechssl.bin.score)
With --match-unigram, OUT_DIR/token_bias.txt holds the output biases every set
was decoded with (see speechssl.uasr.token_bias; the logits are the model's own).
With --round, the set PERs become one row (replaced if the round exists) of
ROUNDS_DIR/rounds.json and rounds.md.  A done-marker per set records the
checkpoint, features and decoding options (with --match-length: the labels
matched and the bonus chosen; with --match-unigram: the text's counts); a
rerun with the same ones only rescores, one with other ones is refused unless
--redo true.  Each set's logits are computed once, also for the sets whose
length or phone frequencies are matched.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

from speechssl.decoding import BeamConfig
from speechssl.decoding.beam import MERGES
from speechssl.text.lm import load_lm
from speechssl.trainers.base import pick_device
from speechssl.uasr.data import FEATS_SCP, FeatureSet
from speechssl.uasr.pseudo_label import (LABEL_TABLE, compute_logprobs, decode_labels, load_uasr_model,
                                         match_insertion_bonus, read_phone_table, score_labels,
                                         update_rounds_table, write_label_table, write_logits)
from speechssl.uasr.token_bias import (TOKEN_BIAS, add_token_bias, describe_token_bias, fit_token_bias,
                                       text_frequencies, write_token_bias)
from speechssl.utils.cli import add_config_option, parse_args
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="checkpoint of train_uasr (GAN) or train_ctc (CTC)")
    p.add_argument("out_dir", help="output directory; one subdirectory per --set")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=FEATS_DIR", required=True,
                   help="a feature directory to label, of the kind the model was trained on (repeatable)")
    p.add_argument("--ref", dest="refs", action="append", default=[], metavar="NAME=UTT2PHONES",
                   help="references of set NAME for the oracle PER (repeatable; never used for labelling)")
    p.add_argument("--decoder", choices=("greedy", "beam"), default="greedy",
                   help="greedy (argmax, merge repeats, drop blanks) or beam (prefix beam search with --lm)")
    p.add_argument("--lm", default="", help="phone n-gram (KenLM ARPA or binary) for --decoder beam")
    p.add_argument("--lm-weight", type=float, default=1.0, help="weight of the LM's natural-log probability")
    p.add_argument("--insertion-bonus", type=float, default=0.0, help="score added per output phone")
    p.add_argument("--match-length", default="", metavar="NAME=UTT2PSEUDO",
                   help="with --decoder beam: pick the insertion bonus of --bonus-grid whose output on --set NAME "
                        "has as many phones as these labels (e.g. the labels the model was trained on) and use it "
                        "for every set, instead of --insertion-bonus; no references involved")
    p.add_argument("--bonus-grid", default="0,0.5,1,1.5,2,3,4", help="insertion bonuses --match-length tries")
    p.add_argument("--match-unigram", default="", metavar="NAME=DICT",
                   help="fit a bias per output phone so that the greedy output on --set NAME has the phone "
                        "frequencies of DICT (dict.phn.txt of the unpaired text) and decode every set with them "
                        "(before --match-length); keeps self-training from starving rare phones")
    p.add_argument("--unigram-iters", type=int, default=6, help="updates of the --match-unigram biases")
    p.add_argument("--unigram-step", type=float, default=0.5, help="step of each --match-unigram update")
    p.add_argument("--beam", type=int, default=10, help="hypotheses kept per frame")
    p.add_argument("--beam-threshold", type=float, default=50.0, help="drop hypotheses this far below the best")
    p.add_argument("--merge", choices=MERGES, default="max", help="combine paths to one hypothesis by max or sum")
    p.add_argument("--batch-size", type=int, default=32, help="utterances per forward pass and per beam batch")
    p.add_argument("--nj", type=int, default=1, help="processes that decode the batches side by side (the labels "
                   "are the same for any number)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    p.add_argument("--round", default="", help="name of this self-training round (e.g. 0-gan, 1-ctc, gold-ctc); "
                   "records the PERs in the rounds table")
    p.add_argument("--rounds-dir", default="", help="directory of rounds.json/rounds.md (default: OUT_DIR's parent)")
    p.add_argument("--redo", choices=("false", "true"), default="false", help="discard outputs made with other "
                   "options or inputs")
    p.add_argument("--num-threads", type=int, default=0, help="CPU threads of torch (0: torch's default, all cores); "
                   "1 is fastest for small LSTMs on a shared machine")
    p.add_argument("--log-level", default="INFO", help="logging level")
    return p


def parse_pairs(items: list[str], option: str) -> dict[str, Path]:
    """``NAME=PATH`` strings -> {NAME: PATH}; malformed or repeated names are errors."""
    out: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path or "/" in name:
            raise SpeechSSLError(f"{option} {item!r}: expected NAME=PATH (NAME without '/')")
        if name in out:
            raise SpeechSSLError(f"{option} {name} given twice")
        out[name] = Path(path)
    return out


def describe_decoder(args, insertion_bonus: float) -> str:
    biases = describe_token_bias(args.match_unigram.partition("=")[0]) if args.match_unigram else ""
    if args.decoder == "greedy":
        return f"greedy ({biases})" if biases else "greedy"
    lm = f"{Path(args.lm).name}, weight {args.lm_weight:g}" if args.lm else "no LM"
    matched = "/".join(Path(args.match_length.partition("=")[2]).parts[-3:-1])   # e.g. round0/dev_clean_2
    bonus = f", bonus {insertion_bonus:g} matched to {matched}" if args.match_length else ""
    return f"beam {args.beam} ({lm}{bonus}{', ' + biases if biases else ''})"


def _load(args, device: torch.device):
    """The model, its output tokens and the phone LM (None without --lm)."""
    model = load_uasr_model(args.checkpoint, device)
    tokens = model.output_tokens()
    lm = load_lm(args.lm, [s for s, e in zip(tokens.symbols, tokens.emittable) if e]) if args.lm else None
    return model, tokens, lm


def _bonus_grid(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise SpeechSSLError(f"--bonus-grid {text!r}: expected numbers separated by commas") from None


def _matched_bonus(name: str, labels_path: Path, grid: list[float], logprobs: dict, tokens, lm, beam: BeamConfig,
                   batch_size: int, nj: int) -> float:
    """--match-length: the insertion bonus whose output length on set ``name`` (``logprobs``) matches the labels."""
    bonus, _ = match_insertion_bonus(logprobs, tokens, lm, beam, read_phone_table(labels_path), grid, batch_size,
                                     nj)
    log.info("insertion bonus %g: its output on %s is closest in length to %s", bonus, name, labels_path)
    return bonus


@cli_main
def main(argv=None) -> int:
    args = parse_args(add_config_option(get_parser()), argv)
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    if args.nj < 1:
        raise SpeechSSLError(f"--nj {args.nj}: at least one decoding process is needed")
    out_dir = Path(args.out_dir)
    setup_logging(args.log_level, out_dir / "log" / "pseudo_label.log")
    sets, refs = parse_pairs(args.sets, "--set"), parse_pairs(args.refs, "--ref")
    unknown = sorted(set(refs) - set(sets))
    if unknown:
        raise SpeechSSLError(f"--ref {unknown[0]}: no --set of that name")
    if args.decoder == "beam" and not args.lm:
        log.warning("--decoder beam without --lm: acoustic-only beam search")
    beam = BeamConfig(args.beam, args.beam_threshold, args.lm_weight, args.insertion_bonus, args.merge)
    beam.check()
    options = {k: getattr(args, k) for k in ("decoder", "lm", "lm_weight", "beam", "beam_threshold", "merge")}
    options["insertion_bonus"] = args.insertion_bonus
    match_inputs = []
    if args.match_length:
        (match_set, match_labels), = parse_pairs([args.match_length], "--match-length").items()
        if args.decoder != "beam":
            raise SpeechSSLError("--match-length tunes the insertion bonus of --decoder beam")
        if match_set not in sets:
            raise SpeechSSLError(f"--match-length {match_set}: no --set of that name")
        grid = _bonus_grid(args.bonus_grid)
        options["insertion_bonus"] = {"match_length": match_set, "grid": grid}
        match_inputs = [match_labels]
    if args.match_unigram:
        (unigram_set, unigram_dict), = parse_pairs([args.match_unigram], "--match-unigram").items()
        if unigram_set not in sets:
            raise SpeechSSLError(f"--match-unigram {unigram_set}: no --set of that name")
        options["token_bias"] = {"match_unigram": unigram_set, "iters": args.unigram_iters,
                                 "step": args.unigram_step}
        match_inputs.append(unigram_dict)
    markers = {name: StageMarker(out_dir / name / ".done.pseudo_label.json", f"pseudo_label {name}", options,
                                 [args.checkpoint, feats_dir / FEATS_SCP] + ([args.lm] if args.lm else [])
                                 + match_inputs)
               for name, feats_dir in sets.items()}
    todo = [name for name in sets if markers[name].needs_run([out_dir / name / LABEL_TABLE],
                                                              redo=args.redo == "true")]
    model = None
    first_done = markers[next(iter(sets))].read()["summary"] if not todo else None   # what a finished run recorded
    if todo:
        device = pick_device(args.device)
        model, tokens, lm = _load(args, device)
        logprobs = {}       # each set's log-probabilities, computed once
        bias = None
        if args.match_unigram:
            logprobs[unigram_set] = dict(compute_logprobs(model, FeatureSet(sets[unigram_set]), args.batch_size,
                                                          device))
            bias = fit_token_bias(logprobs[unigram_set], tokens, text_frequencies(unigram_dict, tokens),
                                  args.unigram_iters, args.unigram_step)
            write_token_bias(out_dir / TOKEN_BIAS, tokens.symbols, bias)
            log.info("output biases matched to the phone frequencies of %s on %s: %s", unigram_dict, unigram_set,
                     out_dir / TOKEN_BIAS)
        biased = (lambda m: add_token_bias(m, bias)) if bias is not None else (lambda m: m)
        if args.match_length:
            if match_set not in logprobs:
                logprobs[match_set] = dict(compute_logprobs(model, FeatureSet(sets[match_set]), args.batch_size,
                                                            device))
            bonus = _matched_bonus(match_set, match_labels, grid, biased(logprobs[match_set]), tokens, lm, beam,
                                   args.batch_size, args.nj)
            beam = dataclasses.replace(beam, insertion_bonus=bonus)
            for name in set(sets) - set(todo):      # sets already labelled by a killed run of this command
                if markers[name].read()["summary"]["insertion_bonus"] != beam.insertion_bonus:
                    raise SpeechSSLError(f"{out_dir / name}: labelled with another insertion bonus than the "
                                         f"{beam.insertion_bonus:g} matched now; rerun with --redo true")
    elif args.match_length:     # every set done: the bonus they were decoded with
        beam = dataclasses.replace(beam, insertion_bonus=first_done["insertion_bonus"])
    for name in todo:
        set_dir = out_dir / name
        matrices = logprobs.pop(name, None)
        if matrices is None:
            matrices = dict(compute_logprobs(model, FeatureSet(sets[name]), args.batch_size, device))
        write_logits(set_dir / "logits", model, matrices)
        labels = decode_labels(biased(matrices), tokens, args.decoder, lm, beam, args.batch_size, args.nj)
        write_label_table(set_dir / LABEL_TABLE, labels)
        markers[name].write([set_dir / LABEL_TABLE], {"utterances": len(labels), "kind": model.kind,
                                                      "insertion_bonus": beam.insertion_bonus,
                                                      "empty": sum(not v for v in labels.values())})
        log.info("%s: %d pseudo-labelled utterances in %s", name, len(labels), set_dir / LABEL_TABLE)
    per = {}
    for name, ref in refs.items():
        per[name] = score_labels(read_phone_table(out_dir / name / LABEL_TABLE), read_phone_table(ref),
                                 out_dir / name / "scoring")["per"]
        log.info("%s: oracle PER %.2f%%", name, per[name])
    if args.round:
        kind = model.kind if model is not None else first_done["kind"]
        row = {"round": args.round, "model": kind, "checkpoint": str(args.checkpoint),
               "decoder": describe_decoder(args, beam.insertion_bonus), "per": per,
               "references": sorted({Path(r).name for r in refs.values()})}
        update_rounds_table(Path(args.rounds_dir) if args.rounds_dir else out_dir.parent, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())

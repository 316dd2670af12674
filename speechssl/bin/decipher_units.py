"""Unsupervised phone labels by decipherment: segment the audio, cluster the segments into units, and learn
P(unit | phone) by EM under the unpaired text's phone trigram (speechssl.uasr.decipher), coarse to fine:
--restarts random starts over --coarse-units pooled units, the most likely one refined over --n-units
(and, with --refine-units, over that many finer units).  With --runs N, N such decipherments (each its
own k-means units and starts) are joined: their units become N streams of the same segments, and
--joint-iters iterations of EM share one E-step over all of them; with --keep K only the K runs of highest
final log-likelihood are joined.

Example (round 0 of self-training from decipherment instead of the GAN)::

    python -m speechssl.bin.decipher_units --config conf/decipher.yaml --text-dir data/text \\
        --train train=dump/mfcc/train --set dev=dump/mfcc/dev --set test=dump/mfcc/test \\
        --ref dev=data/dev/utt2phones --ref test=data/test/utt2phones \\
        --round 0-decipher exp/decipher_mfcc/round0

Input features are frame level (dump/<feat>/<set>); the segmentation compares
the first --dims dimensions (13: the static cepstra of 39-dim MFCC; 0: all).
With --bounds-dir every set keeps the segments another decipherment found
(e.g. on MFCC, for SSL features whose own segmentation finds too few), and with
--speaker-norm true the segment vectors are made of frames normalised per
speaker (utt2spk of the feature directory), so that the units cluster phones
rather than voices.

Writes into OUT_DIR:
  model.npz        seeds: the seeds of the runs whose labels go on (one, or the joined ones); for each of them,
                   seed<N>.<name>: its unit inventory (standardisation, whitening, centroids, coarse parents,
                   refine centroids and their parents) and P(unit | phone) of its finest units (after the joint EM)
  tokens.txt       the phone order of the emission rows
  NAME/utt2pseudo  for the training set and every --set: one phone per segment, repeats merged, <SIL> kept
  token_bias.txt   with --unigram-iters: the phone biases the labels were decoded with (fitted on the training set)
  NAME/utt2bounds  the segment boundaries in frames (utt 0 b1 ... num_frames)
  NAME/scoring/    with --ref NAME=utt2phones: the oracle PER (never used for any choice)
  log/decipher.log every run's progress (with --num-threads > 1, each run's is in its own directory)
  runs/seed<N>/    every run's EM state and curves (curves.png, tensorboard/, log/metrics.jsonl: log-likelihood
                   per unit by EM iteration, the coarse starts, fine and refine stage as separate curves); with
                   --runs > 1 also its own labels of every set (NAME/utt2pseudo, scored with --ref)
  curves.png, joint_state.pt  with --runs > 1: the joint EM's curve and state
  runs.md          with --runs > 1 and --ref: every run's final log-likelihood and oracle PER (and whether it was
                   joined) beside the joint's
With --round the PERs become a row of ROUNDS_DIR/rounds.{json,md}.  EM saves
its state after every iteration: a killed run resumes there; a done-marker
records the options and inputs, so a rerun skips finished work and a changed
configuration is refused unless --redo true.  Every EM run's saved state is
named by the computation that made it (segmentation, EM options, seed, training
features and text), so a --redo that changes only how runs are joined (--keep,
--joint-iters) or how they label (--unigram-*, --set) reuses the finished runs;
remove OUT_DIR to recompute them all.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import faiss
import numpy as np
import torch
from tqdm import tqdm

from speechssl.audio.features import speaker_cmvn
from speechssl.bin.pseudo_label import parse_pairs
from speechssl.data.scp import read_dict, write_table
from speechssl.decoding import OutputTokens
from speechssl.trainers.curves import CurveLogger
from speechssl.uasr.data import FEATS_SCP, FeatureSet, PhoneText, PhoneVocab
from speechssl.uasr.decipher import DecipherConfig, EMState, TrigramHMM, UnitInventory, decipher_em, \
    JointState, joint_em, phone_trigram, run_config, total_em_iterations
from speechssl.uasr.pseudo_label import LABEL_TABLE, decode_labels, read_phone_table, score_labels, \
    update_rounds_table, write_label_table
from speechssl.uasr.segmentation import SegmentationConfig, read_bounds, segment_thirds, spectral_boundaries
from speechssl.uasr.token_bias import TOKEN_BIAS, add_token_bias, describe_token_bias, fit_token_bias, \
    text_frequencies, write_token_bias
from speechssl.utils.atomic import atomic_write
from speechssl.utils.cli import add_config_option, parse_args, str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)
STATE = "em_state.pt"
JOINT_STATE = "joint_state.pt"
RUNS = "runs"          # the EM states, curves and labels of every run of a multi-run decipherment


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="output directory")
    p.add_argument("--train", required=True, metavar="NAME=FEATS_DIR", help="frame features EM learns from")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=FEATS_DIR",
                   help="another feature directory to label (repeatable)")
    p.add_argument("--ref", dest="refs", action="append", default=[], metavar="NAME=UTT2PHONES",
                   help="references of set NAME for the oracle PER (repeatable; never used for learning)")
    p.add_argument("--text-dir", required=True, help="directory of dict.phn.txt and phones_sil.txt (stage 3)")
    for f in dataclasses.fields(SegmentationConfig):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                       help=f"segmentation: {f.name} (default {f.default})")
    for f in dataclasses.fields(DecipherConfig):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                       help=f"units and EM: {f.name} (default {f.default})")
    p.add_argument("--bounds-dir", default="", help="take every set's segment boundaries from "
                   "BOUNDS_DIR/NAME/utt2bounds (another decipherment's output directory, e.g. of MFCC features), "
                   "rescaled to these features' frame rate, instead of segmenting them (the segmentation options "
                   "are then unused)")
    p.add_argument("--speaker-norm", type=str2bool, default=False, help="normalise each speaker's frames to zero "
                   "mean and unit variance (utt2spk of the feature directory) before making the segment vectors "
                   "(default %(default)s)")
    p.add_argument("--unigram-iters", type=int, default=0, help="labels: fit a bias per phone in this many "
                   "iterations so that the training set's labels have the text's phone frequencies (dict.phn.txt; "
                   "speechssl.uasr.token_bias), and label every set with it; 0: no biases (default %(default)s)")
    p.add_argument("--unigram-step", type=float, default=0.5, help="labels: step of each bias iteration "
                   "(default %(default)s)")
    p.add_argument("--round", default="", help="name of this round in the rounds table (e.g. 0-decipher)")
    p.add_argument("--rounds-dir", default="", help="directory of rounds.json/rounds.md (default: OUT_DIR's parent)")
    p.add_argument("--num-threads", type=int, default=0, help="CPU threads of torch (0: torch's default); with "
                   "--runs > 1 the runs go in this many processes of one thread each")
    p.add_argument("--redo", choices=("false", "true"), default="false", help="discard outputs made with other "
                   "options or inputs (EM states of unchanged runs are reused)")
    p.add_argument("--log-level", default="INFO", help="logging level")
    return p


def segment_set(name: str, feats_dir: Path, seg: SegmentationConfig, bounds_path: Path | None = None,
                speaker_norm: bool = False) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Utterance ids, boundaries and segment vectors of one feature directory; the boundaries read from
    ``bounds_path`` (a utt2bounds table) if given, and the vectors of speaker-normalised frames if
    ``speaker_norm``."""
    fs = FeatureSet(feats_dir)
    if bounds_path is not None:
        bounds, merged = read_bounds(bounds_path, fs.utts, [len(m) for m in fs.feats])
        log.info("%s: boundaries from %s (%d segments merged where the frame rate is coarser)", name, bounds_path,
                 merged)
    else:
        if seg.dims > fs.dim:
            raise SpeechSSLError(f"{feats_dir}: features have {fs.dim} dimensions; --dims {seg.dims} asks for more")
        bounds = [spectral_boundaries(m, seg) for m in tqdm(fs.feats, desc=f"segment {name}", unit="utt",
                                                            leave=False)]
    feats = fs.feats
    if speaker_norm:
        feats = speaker_cmvn(feats, speakers_of(feats_dir, fs.utts))
    vectors = [segment_thirds(m, b) for m, b in zip(feats, bounds)]
    n_seg = sum(len(v) for v in vectors)
    frames = sum(len(m) for m in fs.feats)
    log.info("%s: %d utterances, %d segments (%.1f per utterance, %.1f frames each)", name, len(fs.utts), n_seg,
             n_seg / len(fs.utts), frames / n_seg)
    return list(fs.utts), bounds, vectors


def speakers_of(feats_dir: Path, utts: list[str]) -> list[str]:
    """The speaker of every utterance, from FEATS_DIR/utt2spk."""
    path = feats_dir / "utt2spk"
    if not path.is_file():
        raise SpeechSSLError(f"{path}: missing; --speaker-norm needs every utterance's speaker (a feature "
                             "directory of dump_features has it)")
    utt2spk = read_dict(path)
    missing = [u for u in utts if u not in utt2spk]
    if missing:
        raise SpeechSSLError(f"{path}: no speaker for {len(missing)} utterances (first {missing[0]!r})")
    return [utt2spk[u] for u in utts]


def vector_options(args: argparse.Namespace) -> dict:
    """How the segment vectors are made beyond the segmentation options: only the options that are set, so that
    outputs made before they existed keep their identity."""
    return {k: v for k, v in {"bounds_dir": args.bounds_dir, "speaker_norm": args.speaker_norm}.items() if v}


def run_em(hmm: TrigramHMM, units: list[np.ndarray], cfg: DecipherConfig, parent: np.ndarray | None,
           out_dir: Path, digest: str, refined: list[np.ndarray] | None = None,
           refine_parent: np.ndarray | None = None) -> EMState:
    """Coarse-to-fine EM with its state saved in OUT_DIR after every iteration; resumes from a state of the same
    run, else starts afresh.  Returns the final state."""
    curves = CurveLogger(out_dir)
    state = _load_state(out_dir / STATE, digest, EMState) or EMState()
    curves.truncate_after(state.step)
    total_iters = total_em_iterations(cfg, parent is not None)
    if parent is None and cfg.coarse_units:
        log.info("no coarse EM stage: coarse_units %d is not below n_units %d", cfg.coarse_units, cfg.n_units)
    n_segments = sum(len(u) for u in units)
    bar = tqdm(total=total_iters, initial=state.step, desc=f"EM seed {cfg.seed}", unit="iter")

    def on_iter(st: EMState, stage: str, loglik: float) -> None:
        per_unit = loglik / n_segments
        usage = float((st.emis.argmax(0).bincount(minlength=hmm.n_phones) > 0).float().mean())
        log.info("EM iteration %d (%s): log-likelihood %.1f (%.4f per unit), phones owning a unit %.2f",
                 st.step, stage, loglik, per_unit, usage)
        key = {"fine": "loglik_per_unit", "refine": "refine_loglik_per_unit"}.get(stage, "coarse_loglik_per_unit")
        curves.log("train", st.step, {key: per_unit, "phone_usage": usage})
        if stage.startswith("coarse") and st.step % cfg.coarse_iters == 0:
            log.info("coarse start %s ends at log-likelihood %.1f (best so far %.1f)", stage.split()[1],
                     st.logliks[-1], st.best_loglik)
        _save_state(out_dir / STATE, digest, st)
        bar.update(1)

    decipher_em(hmm, units, cfg, parent, state, on_iter, refined, refine_parent)
    bar.close()
    curves.plot()
    curves.close()
    return state


def em_digest(seg: SegmentationConfig, cfg: DecipherConfig, inputs: dict[str, str], vectors: dict | None = None) \
        -> str:
    """The identity of one EM run but its seed: the segmentation, how the segment vectors are made
    (:func:`vector_options`), the options of a single run (not how runs are joined) and the fingerprints of the
    training features, their boundaries if read and the text (``inputs``)."""
    single = dataclasses.replace(cfg, seed=0, runs=1, joint_iters=0, keep=0)
    blob = {"segmentation": dataclasses.asdict(seg), "em": dataclasses.asdict(single), "inputs": inputs}
    if vectors:
        blob["vectors"] = vectors
    blob = json.dumps(blob, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def seeded_digest(run_digest: str, seed: int) -> str:
    """The name of one seeded EM run's saved state: :func:`em_digest` and the run's seed."""
    return f"{run_digest}:seed{seed}"


def _load_state(path: Path, digest: str, kind: type):
    """The EM state saved at ``path`` by a run of the same configuration (``digest``), else None."""
    if not path.is_file():
        return None
    saved = torch.load(path, weights_only=True)
    try:
        if saved["digest"] != digest:
            raise KeyError("digest")
        state = kind(**saved["state"])
    except (KeyError, TypeError):
        log.warning("%s belongs to another configuration or version; starting EM afresh", path)
        return None
    log.info("resuming EM after iteration %d (%s)", state.step, path)
    return state


def _save_state(path: Path, digest: str, state) -> None:
    with atomic_write(path, "wb") as f:
        torch.save({"digest": digest, "state": dataclasses.asdict(state)}, f)


def decipher_runs(hmm: TrigramHMM, vectors: list[np.ndarray], cfg: DecipherConfig, out_dir: Path, run_digest: str,
                  workers: int = 1, log_level: str = "INFO") -> list[tuple[int, UnitInventory, torch.Tensor, float]]:
    """``cfg.runs`` whole decipherments (seeds cfg.seed, cfg.seed + 1, ...), each fitting its own units and running
    coarse-to-fine EM in OUT_DIR/runs/seed<N> (resumable), in ``workers`` processes of one thread each when
    ``workers`` > 1; returns every run's seed, unit inventory, P(finest unit | phone) and final log-likelihood."""
    args = [(hmm, vectors, cfg, run, out_dir, run_digest, log_level if workers > 1 else "")
            for run in range(cfg.runs)]
    if workers > 1:
        with ProcessPoolExecutor(min(workers, cfg.runs), mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_single_run, *zip(*args)))
    else:
        results = [_single_run(*a) for a in args]
    n_segments = sum(len(v) for v in vectors)
    for seed, _, _, loglik in results:
        log.info("run seed %d: log-likelihood %.4f per unit", seed, loglik / n_segments)
    return [(seed, UnitInventory.from_state_dict(inv), emis, loglik) for seed, inv, emis, loglik in results]


def _single_run(hmm: TrigramHMM, vectors: list[np.ndarray], cfg: DecipherConfig, run: int, out_dir: Path,
                run_digest: str, worker_log_level: str) -> tuple[int, dict, torch.Tensor, float]:
    """Run ``run`` of :func:`decipher_runs`; in a worker process (``worker_log_level`` set) with one thread and its
    own log file."""
    rc = run_config(cfg, run)
    run_dir = out_dir / RUNS / f"seed{rc.seed}"
    if worker_log_level:
        torch.set_num_threads(1)
        faiss.omp_set_num_threads(1)
        setup_logging(worker_log_level, run_dir / "log" / "decipher.log")
    inventory = UnitInventory.fit(np.concatenate(vectors), rc)
    units = [inventory.assign(v) for v in vectors]
    log.info("run seed %d: %d of %d units used", rc.seed, np.unique(np.concatenate(units)).size, rc.n_units)
    refined = None
    if rc.has_refine_stage:
        refined = [inventory.assign_refined(v) for v in vectors]
        log.info("run seed %d: %d of %d refine units used", rc.seed, np.unique(np.concatenate(refined)).size,
                 rc.refine_units)
    state = run_em(hmm, units, rc, inventory.parent, run_dir, seeded_digest(run_digest, rc.seed), refined,
                   inventory.refine_parent)
    return rc.seed, inventory.state_dict(), state.emis, state.loglik


def run_joint_em(hmm: TrigramHMM, streams: list[list[np.ndarray]], cfg: DecipherConfig,
                 emissions: list[torch.Tensor], out_dir: Path, digest: str) -> list[torch.Tensor]:
    """Joint EM over the runs' unit streams (:func:`speechssl.uasr.decipher.joint_em`) from the runs' own
    ``emissions``, its state saved in OUT_DIR after every iteration (a killed run resumes there)."""
    state_path = out_dir / JOINT_STATE
    state = _load_state(state_path, digest, JointState) or JointState(emissions=list(emissions))
    curves = CurveLogger(out_dir)
    curves.truncate_after(state.step)
    n_segments = sum(len(u) for u in streams[0])
    bar = tqdm(total=cfg.joint_iters, initial=state.step, desc=f"joint EM of {len(streams)} runs", unit="iter")

    def on_iter(st: JointState) -> None:
        log.info("joint EM iteration %d: log-likelihood %.1f (%.4f per unit)", st.step, st.loglik,
                 st.loglik / n_segments)
        curves.log("train", st.step, {"joint_loglik_per_unit": st.loglik / n_segments})
        _save_state(state_path, digest, st)
        bar.update(1)

    joint_em(hmm, streams, cfg, state, on_iter)
    bar.close()
    curves.plot()
    curves.close()
    return state.emissions


def configs_of(args: argparse.Namespace) -> tuple[SegmentationConfig, DecipherConfig]:
    """The segmentation and decipherment options of parsed arguments, checked."""
    seg, cfg = (kind(**{f.name: getattr(args, f.name) for f in dataclasses.fields(kind)})
                for kind in (SegmentationConfig, DecipherConfig))
    seg.check()
    cfg.check()
    return seg, cfg


@cli_main
def main(argv=None) -> int:
    args = parse_args(add_config_option(get_parser()), argv)
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    out_dir = Path(args.out_dir)
    setup_logging(args.log_level, out_dir / "log" / "decipher.log")
    seg, cfg = configs_of(args)
    (train_name, train_dir), = parse_pairs([args.train], "--train").items()
    sets = {train_name: train_dir, **parse_pairs(args.sets, "--set")}
    if len(sets) != len(args.sets) + 1:
        raise SpeechSSLError("--set repeats the name of --train")
    refs = parse_pairs(args.refs, "--ref")
    unknown = sorted(set(refs) - set(sets))
    if unknown:
        raise SpeechSSLError(f"--ref {unknown[0]}: no --train or --set of that name")
    text_dir = Path(args.text_dir)
    text_inputs = [text_dir / "dict.phn.txt", text_dir / "phones_sil.txt"]
    bounds = {name: Path(args.bounds_dir) / name / "utt2bounds" for name in sets} if args.bounds_dir else {}
    missing = [str(p) for p in bounds.values() if not p.is_file()]
    if missing:
        raise SpeechSSLError(f"--bounds-dir: {missing[0]} is missing; run decipher_units on the other features with "
                             "the same set names first")
    inputs = text_inputs + [d / FEATS_SCP for d in sets.values()] + list(bounds.values())
    if args.unigram_iters < 0 or args.unigram_step <= 0:
        raise SpeechSSLError(f"--unigram-iters must be >= 0 and --unigram-step > 0 (got {args.unigram_iters}, "
                             f"{args.unigram_step})")
    unigram = (args.unigram_iters, args.unigram_step) if args.unigram_iters else None
    options = {"segmentation": dataclasses.asdict(seg), "decipher": dataclasses.asdict(cfg), "sets": sorted(sets),
               "unigram": list(unigram or ()), **vector_options(args)}
    marker = StageMarker(out_dir / ".done.decipher.json", "decipher_units", options, inputs)
    outputs = [out_dir / "model.npz"] + [out_dir / n / LABEL_TABLE for n in sets]
    if marker.needs_run(outputs, redo=args.redo == "true"):
        em_inputs = text_inputs + [train_dir / FEATS_SCP] + ([bounds[train_name]] if bounds else [])
        run_digest = em_digest(seg, cfg, {str(p): marker.inputs[str(p)] for p in em_inputs}, vector_options(args))
        summary = decipher(sets, train_name, text_dir, seg, cfg, out_dir, marker.digest, run_digest,
                           max(args.num_threads, 1), args.log_level, unigram, bounds, args.speaker_norm)
        marker.write(outputs, summary)
    per = score_sets(out_dir, refs)
    if cfg.runs > 1 and refs:
        write_runs_table(out_dir, (marker.read() or {}).get("summary", {}).get("runs", []), refs, per)
    if args.round:
        finest = cfg.refine_units if cfg.has_refine_stage else cfg.n_units
        joined = ""
        if cfg.runs > 1:
            joined = (f", {cfg.runs} runs joined" if cfg.joined_runs == cfg.runs
                      else f", the {cfg.joined_runs} most likely of {cfg.runs} runs joined")
        biased = f", {describe_token_bias(train_name)}" if unigram else ""
        row = {"round": args.round, "model": "decipher", "checkpoint": str(out_dir / "model.npz"),
               "decoder": f"trigram HMM posteriors ({finest} units{joined}{biased})", "per": per,
               "references": sorted({Path(r).name for r in refs.values()})}
        update_rounds_table(Path(args.rounds_dir) if args.rounds_dir else out_dir.parent, row)
    return 0


def score_sets(label_dir: Path, refs: dict[str, str], what: str = "") -> dict[str, float]:
    """Oracle PER of LABEL_DIR/NAME/utt2pseudo for every --ref set NAME (scoring details in NAME/scoring)."""
    per = {}
    for name, ref in refs.items():
        per[name] = score_labels(read_phone_table(label_dir / name / LABEL_TABLE), read_phone_table(ref),
                                 label_dir / name / "scoring")["per"]
        log.info("%s%s: oracle PER %.2f%%", what, name, per[name])
    return per


def write_runs_table(out_dir: Path, runs: list[dict], refs: dict[str, str], joint_per: dict[str, float]) -> None:
    """OUT_DIR/runs.md: every run's final log-likelihood, oracle PER and whether it was joined, and the joint
    labels' PER."""
    names = list(refs)
    lines = ["| run | log-likelihood per unit | joined | " + " | ".join(f"{n} PER %" for n in names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for r in runs:
        per = score_sets(out_dir / RUNS / f"seed{r['seed']}", refs, f"run seed {r['seed']}, ")
        lines.append(f"| seed {r['seed']} alone | {r['loglik_per_unit']:.4f} | {'yes' if r['joined'] else 'no'} | "
                     + " | ".join(f"{per[n]:.2f}" for n in names) + " |")
    joined = sum(r["joined"] for r in runs)
    lines.append(f"| the {joined} runs joined | | | " + " | ".join(f"**{joint_per[n]:.2f}**" for n in names) + " |")
    with atomic_write(out_dir / "runs.md") as f:
        f.write("Oracle error rates (references: utt2phones, <SIL> removed) of every decipherment run alone and of "
                "the runs joined (the labels that go on).\n\n" + "\n".join(lines) + "\n")


def decipher(sets: dict[str, Path], train_name: str, text_dir: Path, seg: SegmentationConfig, cfg: DecipherConfig,
             out_dir: Path, digest: str, run_digest: str, workers: int = 1, log_level: str = "INFO",
             unigram: tuple[int, float] | None = None, bounds: dict[str, Path] | None = None,
             speaker_norm: bool = False) -> dict:
    """Segment every set, fit units and emissions on the training set, label every set; returns a summary.
    Every run goes through :func:`decipher_runs` (its EM state under ``run_digest`` and its seed, in
    OUT_DIR/runs/seed<N>); with ``cfg.runs`` > 1 they go in ``workers`` processes and the most likely
    ``cfg.joined_runs`` are joined by a joint EM whose state is saved under ``digest``.
    ``unigram`` (iterations, step): label with phone biases fitted to the text's frequencies (:class:`Labelling`);
    ``bounds`` and ``speaker_norm``: how every set is segmented and its vectors made (:func:`segment_set`)."""
    vocab = PhoneVocab.from_dict_file(text_dir / "dict.phn.txt")
    labelling = Labelling(vocab, train_name, text_dir / "dict.phn.txt", unigram)
    text = PhoneText(text_dir / "phones_sil.txt", vocab)
    segmented = {name: segment_set(name, d, seg, (bounds or {}).get(name), speaker_norm) for name, d in sets.items()}
    hmm = TrigramHMM(phone_trigram(text.sentences, len(vocab), cfg.backoff), cfg.stay)
    summary = {}
    runs = decipher_runs(hmm, segmented[train_name][2], cfg, out_dir, run_digest, workers, log_level)
    streams = {name: [_finest_units(inv, vectors, cfg) for _, inv, _, _ in runs]
               for name, (_, _, vectors) in segmented.items()}
    if cfg.runs > 1:
        n_segments = sum(len(u) for u in streams[train_name][0])
        for r, (seed, _, emis, _) in enumerate(runs):       # every run's own labels, for the runs table
            labelling.write(hmm, [emis], {n: [s[r]] for n, s in streams.items()}, segmented, cfg,
                            out_dir / RUNS / f"seed{seed}")
        joined = most_likely(runs, cfg.joined_runs)
        summary["runs"] = [{"seed": seed, "loglik_per_unit": round(ll / n_segments, 5), "joined": r in joined}
                           for r, (seed, _, _, ll) in enumerate(runs)]
        if len(joined) < len(runs):
            log.info("joining the %d most likely runs (seeds %s), leaving out seeds %s", len(joined),
                     " ".join(str(runs[r][0]) for r in joined),
                     " ".join(str(s) for r, (s, *_) in enumerate(runs) if r not in joined))
        runs = [runs[r] for r in joined]
        streams = {name: [s[r] for r in joined] for name, s in streams.items()}
        emissions = run_joint_em(hmm, streams[train_name], cfg, [emis for _, _, emis, _ in runs], out_dir, digest)
    else:
        emissions = [runs[0][2]]
    model = {"seeds": np.array([seed for seed, *_ in runs])}
    for (seed, inv, _, _), emis in zip(runs, emissions):
        model.update({f"seed{seed}.{k}": v for k, v in {"emissions": emis.numpy(), **inv.state_dict()}.items()})
    with atomic_write(out_dir / "model.npz", "wb") as f:
        np.savez(f, **model, segmentation=np.array(repr(dataclasses.asdict(seg))))
    with atomic_write(out_dir / "tokens.txt") as f:
        f.write("".join(t + "\n" for t in vocab.tokens))
    labelling.write(hmm, emissions, streams, segmented, cfg, out_dir)
    for name, (utts, bounds, _) in segmented.items():
        write_table(out_dir / name / "utt2bounds", ((u, " ".join(map(str, b))) for u, b in zip(utts, bounds)))
        summary[name] = {"utterances": len(utts), "segments": int(sum(len(b) - 1 for b in bounds))}
    return summary


def most_likely(runs: list[tuple[int, UnitInventory, torch.Tensor, float]], keep: int) -> list[int]:
    """Indices of the ``keep`` runs of highest final log-likelihood, in run order."""
    ranked = sorted(range(len(runs)), key=lambda r: -runs[r][3])      # stable: the earlier seed wins a tie
    return sorted(ranked[:keep])


def _finest_units(inventory: UnitInventory, vectors: list[np.ndarray], cfg: DecipherConfig) -> list[np.ndarray]:
    assign = inventory.assign_refined if cfg.has_refine_stage else inventory.assign
    return [assign(v) for v in vectors]


class Labelling:
    """Labels of every set: the most probable phone of every segment under the joint posteriors, repeats merged,
    ``<SIL>`` kept.  With ``unigram`` (iterations, step), a bias per phone is first added to the log-posteriors
    so that the training set's labels have the text's phone frequencies (:mod:`speechssl.uasr.token_bias`;
    EM learns rare phones poorly and its labels starve them)."""

    def __init__(self, vocab: PhoneVocab, train_name: str, dict_path: Path, unigram: tuple[int, float] | None):
        self.train_name, self.unigram = train_name, unigram
        self.tokens = OutputTokens.build(vocab.tokens, drop=())
        self.counted = OutputTokens.build(vocab.tokens)       # <SIL> left out of the frequencies
        self.target = text_frequencies(dict_path, self.counted) if unigram else None

    def write(self, hmm: TrigramHMM, emissions: list[torch.Tensor], streams: dict[str, list[list[np.ndarray]]],
              segmented: dict, cfg: DecipherConfig, out_dir: Path) -> None:
        """OUT_DIR/NAME/utt2pseudo of every set, and with biases OUT_DIR/token_bias.txt."""
        logpost = {}
        for name, (utts, _, _) in segmented.items():
            _, post = hmm.joint_posteriors(emissions, streams[name], cfg.batch_size)
            logpost[name] = {u: p.clamp_min(1e-30).log().numpy() for u, p in zip(utts, post)}
        bias = np.zeros(self.tokens.size, dtype=np.float32)
        if self.unigram:
            bias = fit_token_bias(logpost[self.train_name], self.counted, self.target, *self.unigram)
            out_dir.mkdir(parents=True, exist_ok=True)
            write_token_bias(out_dir / TOKEN_BIAS, self.tokens.symbols, bias)
        for name, lp in logpost.items():
            (out_dir / name).mkdir(parents=True, exist_ok=True)
            write_label_table(out_dir / name / LABEL_TABLE, decode_labels(add_token_bias(lp, bias), self.tokens))


if __name__ == "__main__":
    sys.exit(main())

"""Unsupervised model selection for the GAN (no transcripts), plus an oracle PER where references exist.

From the greedy outputs of a validation set (argmax per frame, repeats merged):

- ``lm_ppl``: perplexity of the phone 4-gram (KenLM) on the outputs.  fairseq
  drops ``<SIL>`` first because its LM is trained on phones without silence;
  ours (``lm.phones.4.bin``) is trained on ``phones_sil.txt``, the very text
  the discriminator sees as real, so ``<SIL>`` is kept by default
  (``selection.lm_keep_sil``) and the outputs are scored against the
  distribution the GAN is asked to match.
- ``vocab_usage``: fraction of the token dictionary (``<SIL>`` included) that
  appears in the outputs.
- ``weighted_lm_ppl = lm_ppl / vocab_usage ** vocab_usage_power`` (fairseq, power 2).
- An audio guard.  ``weighted_lm_ppl`` alone rewards outputs that are
  text-like but unrelated to the audio (a previous trial: PER 110-130 %,
  half the phones, chosen by the metric).  Such outputs have the wrong
  length for the audio, so the guard compares the number of non-silence
  phones output with the number expected from the audio duration at
  ``selection.phone_rate`` phones per second: ``length_ratio = output /
  expected``; outside ``[1/tolerance, tolerance]`` the metric is multiplied
  by ``(max(r, 1/r) / tolerance) ** length_power``.  The result,
  ``guarded_weighted_lm_ppl``, is the default selection metric.  The
  correlation between output length and duration across utterances
  (``length_duration_corr``) is logged as a diagnostic.
- ``oracle_per``: phone error rate against references (``utt2phones``),
  ``<SIL>`` removed from both sides.  It is never used for selection and
  always carries the word "oracle".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import editdistance
import numpy as np

from speechssl.data.scp import read_dict
from speechssl.text.lm import lm_perplexity
from speechssl.text.silence import SIL
from speechssl.utils.errors import SpeechSSLError

SELECTION_METRICS = ("guarded_weighted_lm_ppl", "weighted_lm_ppl", "lm_ppl")


@dataclass
class SelectionConfig:
    metric: str = "guarded_weighted_lm_ppl"
    #: Phone LM file, relative to the text directory unless absolute.
    lm: str = "lm.phones.4.bin"
    lm_keep_sil: bool = True
    vocab_usage_power: float = 2.0
    #: Expected non-silence phones per second of audio (the guard); null disables the guard.
    phone_rate: float | None = 12.0
    length_tolerance: float = 1.3
    length_power: float = 2.0
    #: Validate on at most this many utterances (null: all).
    max_utts: int | None = None

    def __post_init__(self) -> None:
        if self.metric not in SELECTION_METRICS:
            raise SpeechSSLError(f"selection.metric {self.metric!r}: choose one of {', '.join(SELECTION_METRICS)}")
        if self.length_tolerance < 1.0:
            raise SpeechSSLError(f"selection.length_tolerance {self.length_tolerance} must be at least 1")


def length_penalty(ratio: float, tolerance: float, power: float) -> float:
    """1 inside ``[1/tolerance, tolerance]``, else ``(max(r, 1/r) / tolerance) ** power`` (inf for r = 0)."""
    if ratio <= 0:
        return math.inf
    off = max(ratio, 1.0 / ratio)
    return 1.0 if off <= tolerance else (off / tolerance) ** power


def phone_error_rate(hyps: dict[str, Sequence[str]], refs: dict[str, Sequence[str]]) -> tuple[float, int, int]:
    """Oracle PER over the utterances that have a reference: ``(per, errors, reference_length)``."""
    errors = length = 0
    for utt, hyp in hyps.items():
        if utt not in refs:
            continue
        ref = [p for p in refs[utt] if p != SIL]
        errors += editdistance.eval([p for p in hyp if p != SIL], ref)
        length += len(ref)
    if length == 0:
        raise SpeechSSLError("oracle PER: no validation utterance has a non-empty reference")
    return errors / length, errors, length


#: Word separator of reference phone tables (the stand-in writes ``p p | p p``); not a phone.
WORD_SEPARATOR = "|"


def read_references(path: str | Path) -> dict[str, list[str]]:
    """``utt2phones``: ``utt p1 p2 ...`` (space-separated phones; ``|`` word separators dropped)."""
    return {utt: [p for p in value.split() if p != WORD_SEPARATOR] for utt, value in read_dict(path).items()}


def selection_metrics(hyps: dict[str, list[str]], tokens: Sequence[str], lm, cfg: SelectionConfig,
                      durations: dict[str, float] | None = None,
                      refs: dict[str, list[str]] | None = None) -> dict[str, float]:
    """All selection metrics (and the oracle PER when ``refs`` is given) for greedy outputs ``hyps``."""
    if not hyps:
        raise SpeechSSLError("model selection: no validation outputs")
    scored = [" ".join(h if cfg.lm_keep_sil else [p for p in h if p != SIL]) for h in hyps.values()]
    ppl = lm_perplexity(lm, scored)
    used = {p for h in hyps.values() for p in h}
    usage = len(used & set(tokens)) / len(tokens)
    weighted = ppl / usage ** cfg.vocab_usage_power if usage > 0 else math.inf
    n_phones = np.array([sum(p != SIL for p in h) for h in hyps.values()], dtype=float)
    metrics = {"lm_ppl": ppl, "vocab_usage": usage, "weighted_lm_ppl": weighted,
               "phones_per_utt": float(n_phones.mean())}
    guarded = weighted
    if durations is not None:
        secs = np.array([durations[u] for u in hyps], dtype=float)
        metrics["phones_per_second"] = float(n_phones.sum() / max(secs.sum(), 1e-9))
        if len(secs) > 2 and n_phones.std() > 0 and secs.std() > 0:
            metrics["length_duration_corr"] = float(np.corrcoef(n_phones, secs)[0, 1])
        if cfg.phone_rate:
            ratio = metrics["phones_per_second"] / cfg.phone_rate
            metrics["length_ratio"] = ratio
            guarded = weighted * length_penalty(ratio, cfg.length_tolerance, cfg.length_power)
    metrics["guarded_weighted_lm_ppl"] = guarded
    if refs is not None:
        metrics["oracle_per"] = phone_error_rate(hyps, refs)[0]
    return metrics

"""Frame-synchronous prefix beam search with a token (phone) n-gram LM.

A hypothesis is a collapsed token prefix with two acoustic scores: the best
(or summed) log-probability of the frame paths that reach it ending in a blank,
``b``, and ending in its last token, ``nb``.  At each frame a hypothesis either
stays (a blank, or its last token repeated) or is extended by a new token ``v``;
extending by its own last token needs a blank in between (only ``b`` counts).
For no-blank (GAN) outputs ``b`` is minus infinity after the first frame, so
every frame emits a token and repeats are merged, exactly as greedy decoding
collapses them.

Scores are natural logs: ``acoustic + lm_weight * ln P_lm + insertion_bonus * n_tokens``,
plus ``lm_weight * ln P(</s>)`` at the end.  ``merge="max"`` combines paths that
reach the same prefix by their maximum (Viterbi, as flashlight's decoders do by
default), ``"sum"`` by log-add-exp (CTC prefix search).  With ``merge="max"``,
``lm_weight=0``, no bonus and ``beam=1`` the result is the greedy path.

The acoustic part is vectorised: every frame, the candidate scores of all
hypotheses of all utterances in the batch are one ``(hypotheses x V)`` numpy
operation.  The LM part is cached per KenLM state: the first time a state is
seen, the LM scores of every token after it (and the next states) are computed
once, as a vector added to the candidate matrix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from speechssl.decoding.greedy import OutputTokens
from speechssl.text.lm import begin_sentence, score_token
from speechssl.utils.errors import SpeechSSLError
MERGES = ("max", "sum")


@dataclass(frozen=True)
class BeamConfig:
    """Search options shared by the phone and lexicon decoders."""

    beam: int = 10
    beam_threshold: float = 50.0
    lm_weight: float = 1.0
    insertion_bonus: float = 0.0
    merge: str = "max"

    def check(self) -> None:
        if self.beam < 1:
            raise SpeechSSLError(f"beam size {self.beam} must be at least 1")
        if self.beam_threshold <= 0:
            raise SpeechSSLError(f"beam threshold {self.beam_threshold} must be positive")
        if self.merge not in MERGES:
            raise SpeechSSLError(f"merge={self.merge!r}: choose one of {', '.join(MERGES)}")


@dataclass(frozen=True)
class Hypothesis:
    """A decoding result: token ids (or words for the lexicon decoder) and the total score."""

    ids: tuple
    score: float


def combine(merge: str, x, y):
    """Combine two path scores (log domain) by max or log-add-exp."""
    return np.maximum(x, y) if merge == "max" else np.logaddexp(x, y)


class TokenLM:
    """KenLM scores of output tokens, weighted and cached per LM state.

    ``vector(state)`` is ``lm_weight * ln P(v | state) + bonus`` for every
    column ``v`` (minus infinity for columns that cannot be emitted);
    ``next_state(state, v)`` is the state after ``v``.  Without a model the
    vector is the bonus alone and the states are ``None``.
    """

    def __init__(self, model, tokens: OutputTokens, lm_weight: float, bonus: float):
        self.model, self.tokens, self.lm_weight = model, tokens, lm_weight
        self.emit_ids = np.flatnonzero(tokens.emittable)
        self.base = np.full(tokens.size, -np.inf, dtype=np.float64)
        self.base[self.emit_ids] = bonus
        self._cache: dict = {}

    def start(self):
        return None if self.model is None else begin_sentence(self.model)

    def _entry(self, state):
        entry = self._cache.get(state)
        if entry is None:
            vec = self.base.copy()
            nexts = {}
            for v in self.emit_ids:
                logp, nexts[int(v)] = score_token(self.model, state, self.tokens.symbols[v])
                vec[v] += self.lm_weight * logp
            entry = self._cache[state] = (vec, nexts)
        return entry

    def vector(self, state) -> np.ndarray:
        return self.base if state is None else self._entry(state)[0]

    def next_state(self, state, v: int):
        return None if state is None else self._entry(state)[1][v]

    def end_score(self, state) -> float:
        return 0.0 if state is None else self.lm_weight * score_token(self.model, state, "</s>")[0]

    def clear(self) -> None:
        self._cache.clear()


@dataclass
class _Hyp:
    prefix: tuple
    last: int
    b: float          # best/summed score of the paths ending in a blank (LM and bonuses included)
    nb: float         # ... ending in the last token
    state: object     # KenLM state after the prefix (None without LM)


def frame_candidates(b: np.ndarray, nb: np.ndarray, last: np.ndarray, frame: np.ndarray, step: np.ndarray,
                     blank: int | None, merge: str, shared: np.ndarray | None = None):
    """Scores of one frame's candidates for ``N`` hypotheses, all numpy.

    ``frame`` holds each hypothesis's frame log-probabilities ``(N, V)``;
    ``step`` the LM/bonus score of appending each token ``(N, V)``, minus
    infinity where not allowed.  Returns ``extend (N, V)`` (append token ``v``),
    and ``stay_b``, ``stay_nb`` (N,) (keep the prefix through a blank or a
    repeat of the last token).  Appending the last token again needs a blank
    first, except for hypotheses flagged in ``shared`` (a run of frames may
    then end one unit and start the next).
    """
    total = combine(merge, b, nb)
    extend = total[:, None] + frame
    rows = np.flatnonzero(last >= 0)
    blocked = rows if shared is None else rows[~shared[rows]]
    extend[blocked, last[blocked]] = b[blocked] + frame[blocked, last[blocked]]
    extend += step
    stay_b = total + frame[:, blank] if blank is not None else np.full(len(b), -np.inf)
    stay_nb = np.full(len(b), -np.inf)
    stay_nb[rows] = nb[rows] + frame[rows, last[rows]]
    return extend, stay_b, stay_nb


def search_frames(logprobs: Sequence[np.ndarray], hyps: list[list], steps, advance, blank: int | None,
                  merge: str, shared=None) -> list[list]:
    """Run the frames of a batch: one numpy candidate computation per frame over every utterance's hypotheses.

    ``steps(hyps) -> (N, V)`` gives the appending scores of a flat hypothesis
    list; ``advance(hyps, extend, stay_b, stay_nb)`` turns one utterance's
    candidates into its next hypotheses; ``shared(hyps)``, if given, flags the
    hypotheses whose last token may be appended again without a blank.
    Hypotheses have ``b``, ``nb`` and ``last``.
    """
    for t in range(max((len(m) for m in logprobs), default=0)):
        active = [u for u, m in enumerate(logprobs) if t < len(m)]
        flat = [h for u in active for h in hyps[u]]
        frame = np.stack([logprobs[u][t] for u in active for _ in hyps[u]]).astype(np.float64)
        extend, stay_b, stay_nb = frame_candidates(np.array([h.b for h in flat]), np.array([h.nb for h in flat]),
                                                   np.array([h.last for h in flat]), frame, steps(flat), blank, merge,
                                                   None if shared is None else shared(flat))
        start = 0
        for u in active:
            sl = slice(start, start + len(hyps[u]))
            start = sl.stop
            hyps[u] = advance(hyps[u], extend[sl], stay_b[sl], stay_nb[sl])
    return hyps


def select_candidates(extend: np.ndarray, stay: np.ndarray, k: int, threshold: float) -> tuple[np.ndarray, list]:
    """Stays within ``threshold`` of the best candidate, and the ``k`` best extensions within it as ``(i, v)``."""
    best = max(float(extend.max()), float(stay.max()))
    stays = np.flatnonzero((stay > -np.inf) & (stay >= best - threshold))
    flat = extend.ravel()
    idx = np.argpartition(-flat, k - 1)[:k] if flat.size > k else np.arange(flat.size)
    idx = idx[(flat[idx] > -np.inf) & (flat[idx] >= best - threshold)]
    return stays, [divmod(int(j), extend.shape[1]) for j in idx]


def prune(merged, k: int, merge: str) -> list:
    """The ``k`` best hypotheses of a dict of merged hypotheses."""
    return sorted(merged.values(), key=lambda h: -float(combine(merge, h.b, h.nb)))[:k]


def beam_search(logprobs: Sequence[np.ndarray], tokens: OutputTokens, lm=None, config: BeamConfig = BeamConfig()
                ) -> list[Hypothesis]:
    """Decode a batch of normalised ``T_i x V`` log-probability matrices with an optional KenLM token LM.

    ``lm`` is a ``kenlm.Model`` over the token symbols (e.g. from
    :func:`speechssl.text.lm.load_lm`), or None for acoustic-only search.
    """
    config.check()
    scorer = TokenLM(lm, tokens, config.lm_weight, config.insertion_bonus)

    def advance(hyps, extend, stay_b, stay_nb):
        stays, extensions = select_candidates(extend, combine(config.merge, stay_b, stay_nb), config.beam,
                                              config.beam_threshold)
        merged = {}
        for i in stays:
            h = hyps[i]
            merged[h.prefix] = _Hyp(h.prefix, h.last, float(stay_b[i]), float(stay_nb[i]), h.state)
        for i, v in extensions:
            h = hyps[i]
            prefix = h.prefix + (v,)
            old = merged.get(prefix)
            if old is None:
                merged[prefix] = _Hyp(prefix, v, -np.inf, float(extend[i, v]), scorer.next_state(h.state, v))
            else:
                old.nb = float(combine(config.merge, old.nb, extend[i, v]))
        return prune(merged, config.beam, config.merge)

    hyps = [[_Hyp((), -1, 0.0, -np.inf, scorer.start())] for _ in logprobs]
    hyps = search_frames(logprobs, hyps, lambda flat: np.stack([scorer.vector(h.state) for h in flat]), advance,
                         tokens.blank, config.merge)
    results = []
    for final in hyps:
        score, best = max(((float(combine(config.merge, h.b, h.nb)) + scorer.end_score(h.state), h) for h in final),
                          key=lambda sh: sh[0])
        results.append(Hypothesis(best.prefix, score))
    scorer.clear()
    return results

"""Edit-distance alignment of a hypothesis against a reference, with backtrace.

The alignment minimises a weighted edit cost.  ``"sclite"`` costs (the
default) are those of NIST sclite: correct 0, substitution 4, deletion 3,
insertion 3, so our counts equal sclite's; ``"levenshtein"`` costs (1, 1, 1)
give the plain minimum edit distance (Kaldi ``compute-wer``, ``editdistance``).
The two differ only on rare inputs where sclite trades a few substitutions for
an insertion-deletion pair.  Ties in cost are broken towards fewer edits.

The dynamic programme runs row by row in numpy: within a row the insertion
recursion ``D[j] = min(X[j], D[j-1] + ins)`` is a running minimum of
``X[k] - k * ins``, so no per-cell Python loop is needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from speechssl.utils.errors import SpeechSSLError

# (substitution, deletion, insertion) costs; a correct word costs 0.
COSTS = {"sclite": (4, 3, 3), "levenshtein": (1, 1, 1)}

CORRECT, SUBSTITUTION, DELETION, INSERTION = "C", "S", "D", "I"


@dataclass(frozen=True)
class ErrorCounts:
    """Correct, substituted, deleted and inserted tokens (and sentences, and sentences with an error)."""

    corr: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0
    sentences: int = 0
    sentence_errors: int = 0

    @property
    def ref_len(self) -> int:
        return self.corr + self.sub + self.dele

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    def rate(self, count: int) -> float:
        """``count`` as a percentage of the reference length."""
        return 100.0 * count / self.ref_len if self.ref_len else 0.0

    @property
    def error_rate(self) -> float:
        """(S + D + I) / N in percent: the WER or PER."""
        return self.rate(self.errors)

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(self.corr + other.corr, self.sub + other.sub, self.dele + other.dele,
                           self.ins + other.ins, self.sentences + other.sentences,
                           self.sentence_errors + other.sentence_errors)


@dataclass(frozen=True)
class Alignment:
    """A reference/hypothesis alignment: ``(op, ref_token, hyp_token)`` triples in order.

    ``op`` is one of C, S, D, I; the missing side of a deletion or insertion is None.
    """

    pairs: tuple[tuple[str, str | None, str | None], ...]

    @property
    def counts(self) -> ErrorCounts:
        ops = [p[0] for p in self.pairs]
        c, s, d, i = (ops.count(x) for x in (CORRECT, SUBSTITUTION, DELETION, INSERTION))
        return ErrorCounts(c, s, d, i, sentences=1, sentence_errors=int(s + d + i > 0))


def align(ref: Sequence[str], hyp: Sequence[str], costs: str = "sclite") -> Alignment:
    """Align ``hyp`` to ``ref`` (token sequences) with minimum weighted edit cost."""
    if costs not in COSTS:
        raise SpeechSSLError(f"unknown alignment costs {costs!r}; choose one of {', '.join(COSTS)}")
    sub_cost, del_cost, ins_cost = COSTS[costs]
    n, m = len(ref), len(hyp)
    # One scalar per cell orders by (cost, number of edits): every edit adds `scale * cost + 1`.
    scale = n + m + 1
    sub, dele, ins = sub_cost * scale + 1, del_cost * scale + 1, ins_cost * scale + 1
    vocab = {tok: k for k, tok in enumerate(set(ref) | set(hyp))}
    ref_ids = np.array([vocab[t] for t in ref], dtype=np.int64)
    hyp_ids = np.array([vocab[t] for t in hyp], dtype=np.int64)
    cols = np.arange(m + 1, dtype=np.int64)
    table = np.empty((n + 1, m + 1), dtype=np.int64)
    table[0] = cols * ins
    for i in range(1, n + 1):
        prev = table[i - 1]
        x = np.empty(m + 1, dtype=np.int64)
        x[0] = prev[0] + dele
        x[1:] = np.minimum(prev[:-1] + np.where(hyp_ids == ref_ids[i - 1], 0, sub), prev[1:] + dele)
        table[i] = np.minimum.accumulate(x - cols * ins) + cols * ins
    return Alignment(tuple(_backtrace(table, ref, hyp, sub, dele, ins)))


def _backtrace(table: np.ndarray, ref: Sequence[str], hyp: Sequence[str], sub: int, dele: int, ins: int):
    i, j = len(ref), len(hyp)
    pairs = []
    while i > 0 or j > 0:
        here = table[i, j]
        if i > 0 and j > 0:
            same = ref[i - 1] == hyp[j - 1]
            if here == table[i - 1, j - 1] + (0 if same else sub):
                pairs.append((CORRECT if same else SUBSTITUTION, ref[i - 1], hyp[j - 1]))
                i, j = i - 1, j - 1
                continue
        if i > 0 and here == table[i - 1, j] + dele:
            pairs.append((DELETION, ref[i - 1], None))
            i -= 1
        else:
            pairs.append((INSERTION, None, hyp[j - 1]))
            j -= 1
    pairs.reverse()
    return pairs

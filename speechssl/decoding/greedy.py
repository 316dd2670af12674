"""The output-token inventory of a model, log-probability batches, and greedy decoding.

A model writes one ``T x V`` matrix per utterance; column ``v`` is the token on
line ``v`` of the token list (first field of each line, so a ``dict.phn.txt``
whose lines are exactly the model's columns, or an ESPnet-style ``tokens.txt``,
both work).  Two kinds of output are supported:

* **no blank** (GAN generators, wav2vec-U): every frame or segment emits a
  token and runs of the same token are merged;
* **CTC**: a blank column (``blank=`` its symbol) separates tokens; runs are
  merged first, then blanks removed, so ``a <b> a`` gives ``a a``.

Special symbols (``<s> </s> <unk> <pad> <eps> <blank>``) other than the blank
are never emitted: their columns are masked before normalisation.  Tokens in
``drop`` (by default ``<SIL>``) are emitted and merged like any other token,
then removed from the output text.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from speechssl.data.scp import read_lines
from speechssl.text.tokens import RESERVED_TOKENS
from speechssl.utils.errors import SpeechSSLError

SIL = "<SIL>"


@dataclass(frozen=True)
class OutputTokens:
    """Symbols of a model's output columns, which column is the blank, and which are never emitted or dropped."""

    symbols: tuple[str, ...]
    blank: int | None = None
    masked: frozenset[int] = frozenset()
    drop: frozenset[int] = frozenset()

    @classmethod
    def build(cls, symbols: Sequence[str], blank: str = "", drop: Iterable[str] = (SIL,),
              where: str = "token list") -> "OutputTokens":
        """Index ``symbols``; ``blank`` ('' for none) must be one of them; absent ``drop`` tokens are ignored."""
        symbols = tuple(symbols)
        index = {}
        for v, s in enumerate(symbols):
            if s in index:
                raise SpeechSSLError(f"{where}: token {s!r} appears twice (lines {index[s] + 1} and {v + 1})")
            index[s] = v
        if not symbols:
            raise SpeechSSLError(f"{where}: the token list is empty")
        if blank and blank not in index:
            raise SpeechSSLError(f"{where}: the blank symbol {blank!r} is not in the token list; give the symbol "
                                 "of the model's blank column, or no blank for GAN outputs")
        blank_id = index[blank] if blank else None
        masked = frozenset(v for v, s in enumerate(symbols) if s in RESERVED_TOKENS and v != blank_id)
        if len(masked) + (blank_id is not None) == len(symbols):
            raise SpeechSSLError(f"{where}: only special symbols, nothing can be emitted")
        return cls(symbols, blank_id, masked, frozenset(index[s] for s in drop if s in index))

    @classmethod
    def read(cls, path: str | Path, blank: str = "", drop: Iterable[str] = (SIL,)) -> "OutputTokens":
        """Read a token list: the first field of each non-empty line is the symbol of the next column."""
        symbols = [line.split()[0] for line in read_lines(path) if line.strip()]
        return cls.build(symbols, blank, drop, where=str(path))

    @property
    def size(self) -> int:
        return len(self.symbols)

    @property
    def emittable(self) -> np.ndarray:
        """Boolean mask of the columns that can become output tokens (not blank, not masked)."""
        mask = np.ones(self.size, dtype=bool)
        mask[list(self.masked)] = False
        if self.blank is not None:
            mask[self.blank] = False
        return mask

    def to_symbols(self, ids: Iterable[int]) -> list[str]:
        """Symbols of a decoded id sequence, without the ``drop`` tokens."""
        return [self.symbols[i] for i in ids if i not in self.drop]


def normalize_logprobs(matrix, tokens: OutputTokens, name: str = "utterance") -> np.ndarray:
    """Check a ``T x V`` matrix (numpy or torch) and return masked, log-softmax-normalised float32 log-probabilities.

    Log-softmax leaves log-probabilities unchanged, so raw logits and
    log-probabilities are both accepted.
    """
    if hasattr(matrix, "detach"):
        matrix = matrix.detach().cpu().numpy()
    x = np.array(matrix, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != tokens.size:
        raise SpeechSSLError(f"{name}: log-probability matrix has shape {tuple(x.shape)}, expected (frames, "
                             f"{tokens.size}) for the {tokens.size}-token list; use the token list of this model")
    if not np.isfinite(x[:, tokens.emittable]).all():
        bad = int((~np.isfinite(x[:, tokens.emittable])).any(axis=1).sum())
        raise SpeechSSLError(f"{name}: {bad} frame(s) contain NaN or infinite scores; the model diverged or the "
                             "features are broken (decode with a checkpoint that gives finite outputs)")
    if tokens.masked:
        x[:, list(tokens.masked)] = -np.inf
    if x.shape[0] == 0:
        return x
    peak = x.max(axis=1, keepdims=True)
    return x - (peak + np.log(np.exp(x - peak).sum(axis=1, keepdims=True)))


def unpad(batch, lengths: Sequence[int]) -> list[np.ndarray]:
    """Split a padded ``B x T x V`` batch (numpy or torch) into per-utterance ``T_i x V`` arrays."""
    if hasattr(batch, "detach"):
        batch = batch.detach().cpu().numpy()
    if len(lengths) != len(batch):
        raise SpeechSSLError(f"unpad: {len(lengths)} lengths for a batch of {len(batch)}")
    return [np.asarray(batch[b, : int(n)]) for b, n in enumerate(lengths)]


def collapse(ids: np.ndarray, tokens: OutputTokens) -> list[int]:
    """Merge runs of equal ids, then remove blank and masked ids (CTC or no-blank collapsing)."""
    ids = np.asarray(ids)
    if ids.size == 0:
        return []
    keep = np.ones(ids.size, dtype=bool)
    keep[1:] = ids[1:] != ids[:-1]
    kept = ids[keep]
    return [int(v) for v in kept[tokens.emittable[kept]]]


def greedy_decode(logprobs: Sequence[np.ndarray], tokens: OutputTokens) -> list[list[int]]:
    """Best token per frame, then :func:`collapse`, for a batch of ``T_i x V`` matrices.

    The argmax runs once over the concatenated frames of the whole batch.
    Returns id sequences; :meth:`OutputTokens.to_symbols` drops ``<SIL>``.
    """
    if not logprobs:
        return []
    lengths = [len(m) for m in logprobs]
    frames = np.concatenate([np.asarray(m).reshape(-1, tokens.size) for m in logprobs])
    if tokens.masked:
        frames = frames.copy()
        frames[:, list(tokens.masked)] = -np.inf
    best = frames.argmax(axis=1) if len(frames) else np.zeros(0, dtype=np.int64)
    return [collapse(part, tokens) for part in np.split(best, np.cumsum(lengths)[:-1])]

"""Output biases that give a model's phones the unpaired text's frequencies.

Self-training on its own labels starves a model of rare phones: each round
emits them less often than the last (on the mini stand-in ``ɐ``, ``ɔ`` and
``ɔː`` lost half their labels per round).  The unpaired text says how often
every phone should occur, so a per-token bias added to the model's
log-probabilities can be fitted without references: decode a set greedily,
compare its phone frequencies with the text's, and move each phone's bias by
``step`` times the log of their ratio; repeat.  The blank and ``<SIL>`` keep
a bias of 0.

- :func:`text_frequencies`: the target, from the text's ``dict.phn.txt`` counts.
- :func:`fit_token_bias` / :func:`add_token_bias`: fit the biases, apply them.
- :func:`describe_token_bias`: how a rounds table names the biases.
- :func:`write_token_bias` / :func:`read_token_bias`: ``token_bias.txt``
  (``token bias`` per line, in the model's column order), which a packed
  model applies as the self-training round that fitted it did.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from speechssl.decoding import OutputTokens
from speechssl.text.silence import SIL
from speechssl.text.tokens import read_token_dict
from speechssl.uasr.pseudo_label import decode_labels
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

TOKEN_BIAS = "token_bias.txt"


def _fitted_columns(tokens: OutputTokens) -> np.ndarray:
    """Columns that get a bias: the emitted phones (not the blank, not ``<SIL>``: the text's silences are not
    the audio's)."""
    cols = [i for i, e in enumerate(tokens.emittable) if e and tokens.symbols[i] != SIL]
    return np.array(cols, dtype=np.int64)


def text_frequencies(dict_path: str | Path, tokens: OutputTokens) -> np.ndarray:
    """Relative frequency (add-one smoothed) of every biased column's phone in the text's ``dict.phn.txt``
    (``phone count`` lines of prepare_text); a phone the text never has counts as 1."""
    counts = read_token_dict(dict_path)
    freq = np.array([counts.get(tokens.symbols[i], 0) + 1 for i in _fitted_columns(tokens)], dtype=np.float64)
    return freq / freq.sum()


def add_token_bias(logprobs: Mapping[str, np.ndarray], bias: np.ndarray) -> dict[str, np.ndarray]:
    """``logprobs`` with ``bias`` added to every frame (decoders renormalise them)."""
    return {u: m + bias for u, m in logprobs.items()}


def _frequencies(labels: Mapping[str, Sequence[str]], tokens: OutputTokens, cols: np.ndarray) -> np.ndarray:
    index = {tokens.symbols[i]: k for k, i in enumerate(cols)}
    counts = np.ones(len(cols), dtype=np.float64)
    for phones in labels.values():
        for p in phones:
            k = index.get(p)
            if k is not None:
                counts[k] += 1
    return counts / counts.sum()


def fit_token_bias(logprobs: Mapping[str, np.ndarray], tokens: OutputTokens, target: np.ndarray,
                   iters: int = 6, step: float = 0.5) -> np.ndarray:
    """Per-column biases (float32, 0 for the blank and ``<SIL>``) after ``iters`` updates
    ``bias += step * log(target / greedy output frequency)`` on ``logprobs``; ``target`` from
    :func:`text_frequencies`."""
    cols = _fitted_columns(tokens)
    if len(target) != len(cols):
        raise SpeechSSLError(f"token bias: {len(target)} target frequencies for {len(cols)} output phones")
    if iters < 1 or step <= 0:
        raise SpeechSSLError(f"token bias: iterations must be >= 1 and the step > 0 (got {iters}, {step})")
    bias = np.zeros(tokens.size, dtype=np.float32)
    for it in range(iters):
        freq = _frequencies(decode_labels(add_token_bias(logprobs, bias), tokens, "greedy"), tokens, cols)
        log.info("token bias, iteration %d: KL(text || output) %.4f", it, float((target * np.log(target / freq)).sum()))
        bias[cols] += (step * np.log(target / freq)).astype(np.float32)
    return bias


def describe_token_bias(set_name: str) -> str:
    """The phrase a decoder description uses for biases fitted on the set ``set_name``."""
    return f"phone biases matched to the text on {set_name}"


def write_token_bias(path: str | Path, symbols: Sequence[str], bias: np.ndarray) -> None:
    """Write ``token bias`` lines in column order (atomically)."""
    with atomic_write(path) as f:
        f.write("".join(f"{s} {float(b)!r}\n" for s, b in zip(symbols, bias)))


def read_token_bias(path: str | Path, symbols: Sequence[str]) -> np.ndarray:
    """The biases of ``path`` for the columns ``symbols`` (every one listed, in that order)."""
    path = Path(path)
    try:
        rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise SpeechSSLError(f"{path}: cannot read the token biases ({e})") from None
    if [r[0] if r else "" for r in rows] != list(symbols) or any(len(r) != 2 for r in rows):
        raise SpeechSSLError(f"{path}: expected one 'token bias' line for each of the model's {len(symbols)} "
                             "tokens, in its column order; these biases belong to another model")
    try:
        return np.array([float(r[1]) for r in rows], dtype=np.float32)
    except ValueError as e:
        raise SpeechSSLError(f"{path}: a bias is not a number ({e})") from None

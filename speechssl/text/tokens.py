"""Token dictionaries (``dict.phn.txt``): ``token count`` lines, fairseq ``dict`` format.

The file lists only the real output tokens, sorted by count (descending) then
token in C order.  ``<SIL>`` is a normal token (the silence "phone").  Special
symbols are **not** written: a model adds its own in front (fairseq's
``<s> <pad> </s> <unk>``, a CTC blank, ...), and KenLM reserves ``<s> </s> <unk>``.
A token equal to one of :data:`RESERVED_TOKENS` is therefore an error.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping

from speechssl.text.lexicon import by_count, read_counts, write_counts
from speechssl.utils.errors import SpeechSSLError

RESERVED_TOKENS = ("<s>", "</s>", "<unk>", "<pad>", "<eps>", "<blank>")


def count_tokens(lines: Iterable[str]) -> Counter:
    """Count whitespace-separated tokens over all lines."""
    counts: Counter = Counter()
    for line in lines:
        counts.update(line.split())
    return counts


def check_tokens(tokens: Iterable[str], where: str) -> None:
    """Raise if a token is a reserved special symbol."""
    clash = sorted(set(tokens) & set(RESERVED_TOKENS))
    if clash:
        raise SpeechSSLError(f"{where}: token(s) {' '.join(clash)} are reserved special symbols; "
                             "rename them in the lexicon")


def write_token_dict(path: str | Path, counts: Mapping[str, int]) -> None:
    """Write ``token count`` lines, most frequent first (ties in C order)."""
    check_tokens(counts, str(path))
    write_counts(path, by_count(counts))


def read_token_dict(path: str | Path) -> dict[str, int]:
    """Read a token dictionary written by :func:`write_token_dict` (file order kept)."""
    counts = read_counts(path)
    if not counts:
        raise SpeechSSLError(f"{path}: the token dictionary is empty")
    check_tokens(counts, str(path))
    return counts

"""Word counts, word lists with a frequency threshold, and pronunciation lexicons.

File formats (UTF-8, one entry a line):

* word list ``words.txt``: ``word count``, sorted by count (descending) then
  word in C order.
* lexicon ``lexicon.lst``: ``word p1 p2 ...`` (the fairseq/Kaldi ``lexicon.txt``
  layout), sorted by word in C order.  A word listed twice keeps its first
  pronunciation; the others are counted and reported.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from speechssl.data.scp import kaldi_sort_key, read_lines
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

Lexicon = dict[str, tuple[str, ...]]
PHONE_COUNT_BASES = ("lexicon", "corpus")


def count_words(sentences: Iterable[str]) -> Counter:
    """Count whitespace-separated words over all sentences."""
    counts: Counter = Counter()
    for sentence in sentences:
        counts.update(sentence.split())
    return counts


def by_count(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Items sorted by count (descending), ties by key in C order."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kaldi_sort_key(kv[0])))


def select_words(counts: Mapping[str, int], min_count: int) -> list[tuple[str, int]]:
    """The words seen at least ``min_count`` times, most frequent first."""
    if min_count < 1:
        raise SpeechSSLError(f"word min count {min_count} must be at least 1")
    return [(w, c) for w, c in by_count(counts) if c >= min_count]


def write_counts(path: str | Path, items: Iterable[tuple[str, int]]) -> None:
    """Write ``key count`` lines atomically in the given order."""
    with atomic_write(path) as f:
        for key, count in items:
            f.write(f"{key} {count}\n")


def read_counts(path: str | Path) -> dict[str, int]:
    """Read a ``key count`` file (word list or token dictionary), keeping file order."""
    out: dict[str, int] = {}
    for n, line in enumerate(read_lines(path), start=1):
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise SpeechSSLError(f"{path}:{n}: expected 'token count', got {line!r}")
        if parts[0] in out:
            raise SpeechSSLError(f"{path}:{n}: duplicate entry {parts[0]!r}")
        out[parts[0]] = int(parts[1])
    return out


def read_lexicon(path: str | Path) -> Lexicon:
    """Read ``word p1 p2 ...`` lines; the first pronunciation of a word wins."""
    lexicon: Lexicon = {}
    extra = 0
    for n, line in enumerate(read_lines(path), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise SpeechSSLError(f"{path}:{n}: word {parts[0]!r} has no phones; lexicon lines are 'word p1 p2 ...'")
        if parts[0] in lexicon:
            extra += 1
            continue
        lexicon[parts[0]] = tuple(parts[1:])
    if not lexicon:
        raise SpeechSSLError(f"{path}: the lexicon is empty")
    if extra:
        log.warning("%s: %d alternative pronunciations ignored (the first one of each word is used)", path, extra)
    return lexicon


def write_lexicon(path: str | Path, lexicon: Mapping[str, Iterable[str]]) -> None:
    """Write a lexicon atomically, sorted by word in C order."""
    with atomic_write(path) as f:
        for word in sorted(lexicon, key=kaldi_sort_key):
            f.write(f"{word} {' '.join(lexicon[word])}\n")


def phone_counts(lexicon: Mapping[str, Iterable[str]], word_counts: Mapping[str, int] | None = None) -> Counter:
    """Phone occurrences over the lexicon entries, each weighted by its word count if given."""
    counts: Counter = Counter()
    for word, phones in lexicon.items():
        weight = 1 if word_counts is None else word_counts.get(word, 0)
        for p in phones:
            counts[p] += weight
    return counts


@dataclass
class RarePhoneFilter:
    """Result of :func:`filter_rare_phones`."""

    lexicon: Lexicon
    phone_counts: Counter
    threshold: float
    rare_phones: dict[str, int]
    words_dropped: list[str]


def filter_rare_phones(lexicon: Lexicon, min_count: int = 0, min_fraction: float = 0.0,
                       word_counts: Mapping[str, int] | None = None) -> RarePhoneFilter:
    """Drop the words that use a rare phone.

    A phone is rare when its count is below ``max(min_count, min_fraction * total)``,
    counted over lexicon entries (fairseq's ``min_phones``), or over corpus
    tokens when ``word_counts`` is given.
    """
    if min_count < 0 or not 0.0 <= min_fraction < 1.0:
        raise SpeechSSLError(f"rare-phone threshold: min_count={min_count} must be >= 0 and "
                             f"min_fraction={min_fraction} in [0, 1)")
    counts = phone_counts(lexicon, word_counts)
    threshold = max(float(min_count), min_fraction * sum(counts.values()))
    rare = {p: c for p, c in by_count(counts) if c < threshold}
    kept = {w: ph for w, ph in lexicon.items() if not any(p in rare for p in ph)}
    dropped = sorted(set(lexicon) - set(kept), key=kaldi_sort_key)
    if rare:
        log.info("rare phones (count < %.1f): %s; %d of %d words use one and are dropped",
                 threshold, " ".join(f"{p}:{c}" for p, c in rare.items()), len(dropped), len(lexicon))
    return RarePhoneFilter(kept, counts, threshold, rare, dropped)

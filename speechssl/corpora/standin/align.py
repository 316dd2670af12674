"""From espeak-ng's events to word phones, phone boundaries and pauses.

espeak-ng reports the sample at which each phone starts, so consecutive
events give every phone's segment, and the segments tile the audio exactly.
Its events need three corrections, measured on espeak-ng 1.51:

* A phone with an empty IPA symbol is either a pause (``_``, ``_:``: digital
  silence, or only the voice's echo) or the glide that links a vowel to a
  following vowel (``;``, as loud as speech).  A segment whose RMS is more
  than :data:`PAUSE_DB` below the utterance's RMS is a pause (``SIL``); the
  other kind is added to the phone before it.
* espeak-ng reads some word pairs as one word ("of the", "to be", "should
  not") and reports a word event for the first only.  The phones of such a
  group are split between its words where they best match each word's
  pronunciation on its own (edit distance).
* Word events whose text position is not inside a word, or that go back to
  an earlier word, are ignored.

Some phones start where the next one starts: espeak-ng says them inside the
phone before (mostly a post-vocalic ``l``, as in "old": 0.3% of phones).  They
are kept, with a segment of no duration, so the word phones equal espeak-ng's
own phonemization of the sentence.
"""
from __future__ import annotations

from dataclasses import dataclass
import editdistance
import numpy as np

from speechssl.corpora.standin.espeak import PhoneEvent, Synthesis, WordEvent
from speechssl.text.sentences import words_of

SIL = "SIL"
#: An empty-symbol segment this far (dB) below the utterance's RMS is a pause.
PAUSE_DB = -12.0


@dataclass
class Segment:
    """Samples ``[start, end)`` hold ``phone`` (``SIL`` for silence) of word ``word`` (-1 for silence).

    ``start == end`` for a phone said inside the one before it.
    """

    start: int
    end: int
    phone: str
    word: int


@dataclass
class Alignment:
    """Phones per word, segments tiling the audio, and the silence (samples) after each word but the last."""

    word_phones: list[list[str]]
    segments: list[Segment]
    gaps: list[int]
    linked: int  # vowel-linking glides added to the phone before them
    regrouped: int  # words that shared one espeak-ng word and were split by pronunciation


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def _split_group(phones: list[str], prons: list[list[str]]) -> list[int]:
    """Bounds ``[0, c1, ..., n]`` splitting ``phones`` among words with pronunciations ``prons``.

    Dynamic programming over cut points: the split with the smallest total
    edit distance wins; every word gets at least one phone when there are
    enough phones.
    """
    n, k = len(phones), len(prons)
    step = 1 if n >= k else 0  # the fewest phones per word
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(k + 1)]
    back = [[0] * (n + 1) for _ in range(k + 1)]
    cost[0][0] = 0
    for i in range(1, k + 1):
        for j in range(n + 1):
            for m in range(j - step + 1):
                if cost[i - 1][m] == inf:
                    continue
                c = cost[i - 1][m] + editdistance.eval(phones[m:j], prons[i - 1])
                if c < cost[i][j]:
                    cost[i][j], back[i][j] = c, m
    bounds = [n]
    for i in range(k, 0, -1):
        bounds.append(back[i][bounds[-1]])
    return bounds[::-1]


def align_events(sentence: str, synthesis: Synthesis) -> Alignment:
    """Turn the events of ``synthesis`` (of the cleaned ``sentence``) into an :class:`Alignment`."""
    spans = words_of(sentence)
    samples = synthesis.samples.astype(np.float64)
    total = len(samples)
    floor = _rms(samples) * 10 ** (PAUSE_DB / 20)

    def word_at(pos: int) -> int | None:
        for i, (a, b) in enumerate(spans):
            if a <= pos < b:
                return i
        return None

    # Phone events with the word they belong to (by the last word event before them).
    phones: list[tuple[int, str, int]] = []
    current = 0
    for ev in synthesis.events:
        if isinstance(ev, WordEvent):
            w = word_at(ev.text_position)
            if w is not None and w > current:
                current = w
        elif isinstance(ev, PhoneEvent):
            phones.append((min(max(ev.sample, 0), total), ev.phone, current))

    # Segments: leading silence, then one per phone event; empty symbols become SIL or join a neighbour.
    segments: list[Segment] = []
    linked = 0
    glide_start: int | None = None  # a linking glide with no phone before it joins the next segment
    starts = [s for s, _, _ in phones] + [total]
    if phones and phones[0][0] > 0:
        segments.append(Segment(0, phones[0][0], SIL, -1))
    for i, (start, phone, word) in enumerate(phones):
        end = max(starts[i + 1], start)
        if end == start and phone == "":
            continue
        if phone == "":
            if _rms(samples[start:end]) >= floor:
                linked += 1
                if segments and segments[-1].phone != SIL:
                    segments[-1].end = end
                elif glide_start is None:
                    glide_start = start
                continue
            phone, word = SIL, -1
        if glide_start is not None:
            start, glide_start = glide_start, None
        if phone == SIL and segments and segments[-1].phone == SIL:
            segments[-1].end = end
        else:
            segments.append(Segment(start, end, phone, word))
    if not segments:
        segments.append(Segment(0, total, SIL, -1))

    # Regroup words espeak-ng merged: phones of a word event belong to that word and the words after it
    # that got no event; split them by each word's own pronunciation.
    n_words = len(spans)
    anchors = sorted({s.word for s in segments if s.word >= 0})
    regrouped = 0
    if anchors and anchors[0] > 0:  # words before the first word event join the first group
        for s in segments:
            if s.word == anchors[0]:
                s.word = 0
        anchors[0] = 0
    for a_i, anchor in enumerate(anchors):
        end_word = anchors[a_i + 1] if a_i + 1 < len(anchors) else n_words
        group = list(range(anchor, end_word))
        if len(group) == 1:
            continue
        regrouped += len(group) - 1
        segs = [s for s in segments if s.word == anchor]
        prons = [synthesis.word_prons[w] if w < len(synthesis.word_prons) else [] for w in group]
        cuts = _split_group([s.phone for s in segs], prons)
        for g, w in enumerate(group):
            for s in segs[cuts[g]:cuts[g + 1]]:
                s.word = w

    word_phones: list[list[str]] = [[] for _ in range(n_words)]
    for s in segments:
        if s.word >= 0:
            word_phones[s.word].append(s.phone)

    # Silence after word k: SIL between the last phone of words <= k and the first phone of a later word.
    gaps = [0] * max(n_words - 1, 0)
    last_word, pending = -1, 0
    for s in segments:
        if s.phone == SIL:
            pending += s.end - s.start
            continue
        if s.word > last_word:
            if last_word >= 0 and pending:
                gaps[s.word - 1] += pending
            last_word = s.word
        pending = 0
    return Alignment(word_phones, segments, gaps, linked, regrouped)

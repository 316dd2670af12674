"""Word sentences -> phone sentences, with optional ``<SIL>`` tokens.

``<SIL>`` is inserted between two words with probability ``sil_prob`` (one
Bernoulli draw per word gap, from a numpy Generator seeded by the caller, so
the same seed gives the same corpus) and, when ``surround`` is set, at both
ends of every sentence.  wav2vec-U uses 0.25 (v1) and 0.5 (v2); a rate
measured from the pauses in the audio can be passed instead.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from speechssl.utils.errors import SpeechSSLError

SIL = "<SIL>"
SIL_PROB_PRESETS = {"v1": 0.25, "v2": 0.5}
OOV_POLICIES = ("drop_line", "skip_word")


def parse_sil_prob(value: str | float) -> float:
    """A probability in [0, 1], or a preset name (``v1`` = 0.25, ``v2`` = 0.5)."""
    if isinstance(value, str) and value in SIL_PROB_PRESETS:
        return SIL_PROB_PRESETS[value]
    try:
        prob = float(value)
    except ValueError:
        raise SpeechSSLError(f"silence probability {value!r} is neither a number in [0, 1] nor one of "
                             f"{', '.join(SIL_PROB_PRESETS)}") from None
    if not 0.0 <= prob <= 1.0:
        raise SpeechSSLError(f"silence probability {prob} must be in [0, 1]")
    return prob


def insert_silence(words: Sequence[Sequence[str]], sil_prob: float, rng: np.random.Generator,
                   surround: bool = True, sil: str = SIL) -> list[str]:
    """Join the phone sequences of ``words`` with ``sil`` between words at rate ``sil_prob``."""
    if not words:
        return []
    gaps = rng.random(len(words) - 1) < sil_prob
    phones = [sil] if surround else []
    for i, word in enumerate(words):
        if i and gaps[i - 1]:
            phones.append(sil)
        phones.extend(word)
    if surround:
        phones.append(sil)
    return phones


@dataclass
class PhoneSentence:
    """One kept sentence: its in-lexicon words, phones, and phones with silence."""

    words: list[str]
    phones: list[str]
    phones_sil: list[str]


@dataclass
class PhonemizeStats:
    """Counts from :class:`SentencePhonemizer`."""

    lines_in: int = 0
    lines_kept: int = 0
    words_kept: int = 0
    words_oov: int = 0
    sil_between_words: int = 0
    word_gaps: int = 0
    dropped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        rate = self.sil_between_words / self.word_gaps if self.word_gaps else 0.0
        return {"lines_in": self.lines_in, "lines_kept": self.lines_kept, "words_kept": self.words_kept,
                "words_oov": self.words_oov, "sil_between_words": self.sil_between_words,
                "word_gaps": self.word_gaps, "sil_rate_realised": round(rate, 6),
                "lines_dropped": dict(sorted(self.dropped.items()))}


class SentencePhonemizer:
    """Converts word sentences to phone sentences through a lexicon.

    ``oov="drop_line"`` drops a sentence with any word missing from the
    lexicon (as wav2vec-U does); ``"skip_word"`` leaves such words out and drops
    only sentences with no word left.  Drops are counted in ``stats``.
    """

    def __init__(self, lexicon: Mapping[str, Sequence[str]], sil_prob: float, seed: int,
                 surround: bool = True, oov: str = "drop_line", sil: str = SIL):
        if oov not in OOV_POLICIES:
            raise SpeechSSLError(f"OOV policy {oov!r} is not one of {', '.join(OOV_POLICIES)}")
        if any(sil in phones for phones in lexicon.values()):
            raise SpeechSSLError(f"the lexicon uses the silence token {sil!r} as a phone; rename that phone")
        self.lexicon = lexicon
        self.sil_prob = parse_sil_prob(sil_prob)
        self.rng = np.random.default_rng(seed)
        self.surround = surround
        self.oov = oov
        self.sil = sil
        self.stats = PhonemizeStats()

    def convert(self, sentence: str) -> PhoneSentence | None:
        """Phone sentence for ``sentence``, or ``None`` if it is dropped."""
        self.stats.lines_in += 1
        words = sentence.split()
        known = [w for w in words if w in self.lexicon]
        n_oov = len(words) - len(known)
        if not known:
            self.stats.dropped["all_words_oov" if words else "empty"] += 1
            self.stats.words_oov += n_oov
            return None
        if n_oov and self.oov == "drop_line":
            self.stats.dropped["has_oov_word"] += 1
            self.stats.words_oov += n_oov
            return None
        self.stats.words_oov += n_oov
        prons = [self.lexicon[w] for w in known]
        phones = [p for pron in prons for p in pron]
        phones_sil = insert_silence(prons, self.sil_prob, self.rng, self.surround, self.sil)
        self.stats.lines_kept += 1
        self.stats.words_kept += len(known)
        self.stats.word_gaps += len(known) - 1
        self.stats.sil_between_words += len(phones_sil) - len(phones) - (2 if self.surround else 0)
        return PhoneSentence(known, phones, phones_sil)

    def convert_all(self, sentences: Iterable[str]) -> Iterator[PhoneSentence]:
        """Yield the kept phone sentences in input order."""
        for sentence in sentences:
            out = self.convert(sentence)
            if out is not None:
                yield out

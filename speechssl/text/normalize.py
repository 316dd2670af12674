"""Per-language text normalisation and sentence filtering for unpaired LM text.

A line is turned into space-separated words by these rules, in order:

1. Unicode normalisation (``NFKC`` by default, so ligatures and full-width
   forms become plain letters) and case mapping (lower, upper or keep).
2. Typographic apostrophes (’ ʼ ` ´) become ``'`` when ``'`` is a word-internal
   character.
3. Each character is classified: letters (Unicode L*) are kept; combining
   marks (M*) are kept when ``keep_marks`` (needed for Indic, Arabic, ... scripts);
   numbers (N*) are digits, handled by the ``digits`` policy; characters of
   ``extra_chars`` are kept; characters of ``word_internal`` (apostrophe,
   hyphen) are kept only inside a word; anything else is punctuation, which
   either splits words (``punctuation="split"``) or is deleted (``"remove"``).
4. If ``alphabet`` is given, a line with any letter outside it is dropped
   (text in another script or language).
5. Words with digits: ``keep``, ``drop_word`` or ``drop_line``.
6. Sentences with fewer than ``min_words`` or more than ``max_words`` words are
   dropped; every drop is counted by reason.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from speechssl.utils.errors import SpeechSSLError

CASES = ("lower", "upper", "keep")
DIGIT_POLICIES = ("keep", "drop_word", "drop_line")
PUNCTUATION_POLICIES = ("split", "remove")
UNICODE_FORMS = ("NFC", "NFKC", "NFD", "NFKD")
APOSTROPHE_VARIANTS = "\u2019\u02bc`\u00b4"

# Reasons a line can be dropped (keys of NormalizeStats.dropped).
DROP_EMPTY = "no_valid_word"
DROP_ALPHABET = "letter_outside_alphabet"
DROP_DIGITS = "has_digits"
DROP_SHORT = "too_few_words"
DROP_LONG = "too_many_words"


@dataclass(frozen=True)
class NormalizeConfig:
    """Normalisation rules for one language (see the module docstring)."""

    case: str = "lower"
    unicode_form: str = "NFKC"
    keep_marks: bool = True
    word_internal: str = "'-"
    extra_chars: str = ""
    alphabet: str = ""
    digits: str = "drop_line"
    punctuation: str = "split"
    min_words: int = 1
    max_words: int = 0  # 0: no upper bound

    def __post_init__(self) -> None:
        for name, value, allowed in (("case", self.case, CASES), ("digits", self.digits, DIGIT_POLICIES),
                                     ("punctuation", self.punctuation, PUNCTUATION_POLICIES),
                                     ("unicode_form", self.unicode_form, UNICODE_FORMS)):
            if value not in allowed:
                raise SpeechSSLError(f"text normalisation: {name}={value!r} is not one of {', '.join(allowed)}")
        if self.min_words < 1:
            raise SpeechSSLError(f"text normalisation: min_words={self.min_words} must be at least 1")
        if self.max_words and self.max_words < self.min_words:
            raise SpeechSSLError(f"text normalisation: max_words={self.max_words} is below min_words={self.min_words}")
        bad = [c for c in self.word_internal + self.extra_chars if c.isspace()]
        if bad:
            raise SpeechSSLError("text normalisation: word_internal/extra_chars must not contain whitespace")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class NormalizeStats:
    """Counts of what normalisation kept and dropped."""

    lines_in: int = 0
    lines_kept: int = 0
    words_dropped_digits: int = 0
    dropped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"lines_in": self.lines_in, "lines_kept": self.lines_kept,
                "words_dropped_digits": self.words_dropped_digits, "lines_dropped": dict(sorted(self.dropped.items()))}


class Normalizer:
    """Applies a :class:`NormalizeConfig` to lines; keeps counts in ``stats``."""

    def __init__(self, config: NormalizeConfig):
        self.config = config
        self.stats = NormalizeStats()
        self._alphabet = set(self._case(unicodedata.normalize(config.unicode_form, config.alphabet)))
        self._apostrophe = str.maketrans({c: "'" for c in APOSTROPHE_VARIANTS}) if "'" in config.word_internal else {}

    def _case(self, text: str) -> str:
        if self.config.case == "lower":
            return text.lower()
        if self.config.case == "upper":
            return text.upper()
        return text

    def _split_words(self, text: str) -> tuple[list[str], str | None]:
        """Characters -> candidate words; returns (words, drop reason or None)."""
        cfg = self.config
        gap = " " if cfg.punctuation == "split" else ""
        chars = []
        for c in text:
            cat = unicodedata.category(c)
            if c.isspace():
                chars.append(" ")
            elif c in cfg.extra_chars or c in cfg.word_internal:
                chars.append(c)
            elif cat[0] == "L":
                if self._alphabet and c not in self._alphabet:
                    return [], DROP_ALPHABET
                chars.append(c)
            elif cat[0] == "M":
                if cfg.keep_marks:
                    chars.append(c)
            elif cat[0] == "N":
                chars.append(c)
            else:
                chars.append(gap)
        words = []
        for token in "".join(chars).split():
            token = token.strip(cfg.word_internal)
            if token and any(unicodedata.category(c)[0] in "LN" or c in cfg.extra_chars for c in token):
                words.append(token)
        return words, None

    def normalize(self, line: str) -> str | None:
        """Normalise one line; ``None`` if it is dropped (the reason is counted)."""
        cfg = self.config
        self.stats.lines_in += 1
        text = self._case(unicodedata.normalize(cfg.unicode_form, line)).translate(self._apostrophe)
        words, reason = self._split_words(text)
        if reason is None and cfg.digits != "keep":
            with_digits = [w for w in words if any(unicodedata.category(c)[0] == "N" for c in w)]
            if with_digits and cfg.digits == "drop_line":
                reason = DROP_DIGITS
            elif with_digits:
                self.stats.words_dropped_digits += len(with_digits)
                words = [w for w in words if w not in with_digits]
        if reason is None:
            if not words:
                reason = DROP_EMPTY
            elif len(words) < cfg.min_words:
                reason = DROP_SHORT
            elif cfg.max_words and len(words) > cfg.max_words:
                reason = DROP_LONG
        if reason is not None:
            self.stats.dropped[reason] += 1
            return None
        self.stats.lines_kept += 1
        return " ".join(words)

    def normalize_lines(self, lines: Iterable[str]) -> Iterator[str]:
        """Yield the normalised lines that survive filtering."""
        for line in lines:
            out = self.normalize(line)
            if out is not None:
                yield out


def normalize_sentences(lines: Iterable[str], config: NormalizeConfig) -> tuple[list[str], NormalizeStats]:
    """Normalise and filter ``lines``; returns the kept sentences and the counts."""
    norm = Normalizer(config)
    kept = list(norm.normalize_lines(lines))
    return kept, norm.stats


def iter_text_lines(path: str | Path) -> Iterator[str]:
    """Stream the lines of a UTF-8 text file (no newline); bad UTF-8 names the line."""
    path = Path(path)
    if not path.is_file():
        raise SpeechSSLError(f"{path}: no such text file")
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise SpeechSSLError(f"{path}:{n}: text is not valid UTF-8 (byte 0x{raw[e.start]:02x}); convert "
                                     "the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None

"""Sentences in other languages than English, from Debian fortune packages, cleaned for espeak-ng.

Each stand-in language needs real text in that language; the installed
Debian packages that have some (``fortunes-es``, ``fortunes-de``,
``fortunes-it``, ``fortunes-br``) give fortune-cookie entries: proverbs,
quotations, jokes, separated by ``%`` lines.  Attribution lines (starting with
``--``) and what follows them are cut, and the ``off`` (offensive) subdirectory
is not read.

A raw entry is kept when it can be spoken exactly as transcribed
(:func:`clean_sentence`): after Unicode NFC and mapping typographic quotes and
dashes, it may hold only letters of the language's alphabet (ASCII letters
plus its own, e.g. ``ñ`` or ``ß``), apostrophes, hyphens, double quotes,
spaces and the punctuation ``, . ; : ? ! ¿ ¡``, no digits, and ``min_words``
to ``max_words`` words.  The FLEURS-style normalised transcription
(:func:`normalize_sentence`) is its words in lower case, separated by spaces.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from speechssl.text.sentences import fortune_file_entries
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

FORTUNES = Path("/usr/share/games/fortunes")


@dataclass(frozen=True)
class TextSource:
    """Fortune files of one language: a file or directory, its Debian package and extra letters."""

    path: Path
    package: str
    letters: str


#: FLEURS languages that have a stand-in text source on Debian.
TEXT_SOURCES = {
    "es_419": TextSource(FORTUNES / "es", "fortunes-es", "áéíóúüñ"),
    "de_de": TextSource(FORTUNES / "de", "fortunes-de", "äöüß"),
    "it_it": TextSource(FORTUNES / "it", "fortunes-it", "àèéìíîòóùú"),
    "pt_br": TextSource(FORTUNES / "brasil", "fortunes-br", "áâãàçéêíóôõú"),
}

_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"',
                              "\u00bb": '"', "\u2013": " - ", "\u2014": " - ", "\u2026": ".", "`": "'",
                              "\t": " ", "\n": " ", "\u00a0": " "})
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_PUNCT = ",.;:?!"
_SKIP = "\"-¿¡ '"
_TOKEN = re.compile(r"([^\W\d_]+(?:'[^\W\d_]+)*)'?\s*([" + re.escape(_PUNCT) + r"]*)")


def fortune_entries(source: TextSource) -> Iterator[str]:
    """Entries of the source's fortune files (sorted by name; symlinks, ``.dat`` and ``off/`` skipped)."""
    if source.path.is_file():
        files = [source.path]
    elif source.path.is_dir():
        files = sorted(p for p in source.path.iterdir()
                       if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8"))
    else:
        files = []
    if not files:
        raise SpeechSSLError(f"{source.path}: no fortune files; apt-get install {source.package}")
    for path in files:
        yield from fortune_file_entries(path)


def clean_sentence(raw: str, letters: str, min_words: int, max_words: int) -> tuple[str | None, str]:
    """The speakable form of ``raw`` (``Word word, word.``) or ``(None, reason)``."""
    text = unicodedata.normalize("NFC", raw).translate(_TYPOGRAPHIC)
    if any(c.isdigit() for c in text):
        return None, "digits"
    alphabet = set("abcdefghijklmnopqrstuvwxyz" + letters)
    if any(c.isalpha() and c.lower() not in alphabet for c in text):
        return None, "foreign_letters"
    tokens, pos = [], 0
    for m in _TOKEN.finditer(text):
        if text[pos:m.start()].strip(_SKIP + _PUNCT):
            return None, "symbols"
        word, marks = m.group(1), m.group(2)
        if len(word) > 1 and word.isupper():
            word = word.lower()  # espeak-ng spells out capitalised words
        tokens.append(word + marks[:1])
        pos = m.end()
    if text[pos:].strip(_SKIP + _PUNCT):
        return None, "symbols"
    if len(tokens) < min_words:
        return None, "too_few_words"
    if len(tokens) > max_words:
        return None, "too_many_words"
    sentence = " ".join(tokens)
    sentence = sentence[0].upper() + sentence[1:]
    return (sentence if sentence[-1] in _PUNCT else sentence + "."), ""


def normalize_sentence(sentence: str) -> str:
    """FLEURS-style normalised transcription: the words, lower case, single spaces."""
    return " ".join(w.lower() for w in _WORD.findall(sentence))


def word_spans(sentence: str) -> list[tuple[int, int]]:
    """Character spans of the words of a cleaned sentence."""
    return [m.span() for m in _WORD.finditer(sentence)]


def load_sentences(lang: str, min_words: int = 5, max_words: int = 20) -> list[str]:
    """Cleaned sentences of ``lang``'s source, de-duplicated by transcription, in file order."""
    if lang not in TEXT_SOURCES:
        raise SpeechSSLError(f"no stand-in text source for {lang!r}; languages with one: {', '.join(TEXT_SOURCES)}")
    source = TEXT_SOURCES[lang]
    seen: set[str] = set()
    out: list[str] = []
    dropped: Counter[str] = Counter()
    for raw in fortune_entries(source):
        sentence, reason = clean_sentence(raw, source.letters, min_words, max_words)
        if sentence is None:
            dropped[reason] += 1
            continue
        key = normalize_sentence(sentence)
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        out.append(sentence)
    log.info("%s sentences from %s: kept %d, dropped %s", lang, source.package, len(out), dict(sorted(dropped.items())))
    return out

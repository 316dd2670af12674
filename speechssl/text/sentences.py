"""English sentences from Debian text packages, cleaned for speech synthesis.

Sources (both are Debian packages, read from their installed files):

``wordnet``
    ``wordnet-base``: the quoted example sentences inside the glosses of
    ``/usr/share/wordnet/data.{noun,verb,adj,adv}`` (e.g. ``"the dog barked"``).
``fortunes``
    ``fortunes`` / ``fortunes-min``: every entry of the fortune files in
    ``/usr/share/games/fortunes`` (entries are separated by a line holding ``%``);
    an attribution line starting with ``--`` and everything after it is cut.

A raw sentence is kept only if it can be spoken exactly as it is transcribed
(:func:`clean_sentence`): it must be ASCII after mapping typographic quotes and
dashes, hold only letters, apostrophes, hyphens, spaces, double quotes and the
punctuation ``, . ; : ? !``, and have ``min_words`` to ``max_words`` words.
**Sentences with digits are dropped** (numbers are never spelled out), as are
those with any other symbol (``$ % & ( ) / * ...``).  The result keeps case and
clause punctuation, because espeak-ng pauses at punctuation and treats a period
before a lower-case word as an abbreviation, not a sentence end.

:func:`normalize_transcript` turns a cleaned sentence into a LibriSpeech-style
transcript: upper case, words of letters and apostrophes separated by single
spaces, no punctuation; hyphens separate words.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

WORDNET_DIR = Path("/usr/share/wordnet")
FORTUNES_DIR = Path("/usr/share/games/fortunes")
#: The English files of Debian's ``fortunes`` and ``fortunes-min``.  Other language packages
#: (fortunes-it, fortunes-br, ...) put their files in the same directory: reading every file there
#: would make the English text depend on which of them are installed.
ENGLISH_FORTUNE_FILES = (
    "art", "ascii-art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs", "education",
    "ethnic", "food", "fortunes", "goedel", "humorists", "kids", "knghtbrd", "law", "linux", "linuxcookie",
    "literature", "love", "magic", "medicine", "men-women", "miscellaneous", "news", "paradoxum", "people",
    "perl", "pets", "platitudes", "politics", "pratchett", "riddles", "science", "songs-poems", "sports",
    "startrek", "tao", "translate-me", "wisdom", "work", "zippy",
)
SOURCES = ("wordnet", "fortunes")
_INSTALL_HINT = {"wordnet": "apt-get install wordnet-base", "fortunes": "apt-get install fortunes"}

_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                              "\u2014": " - ", "\u2026": ".", "`": "'", "\t": " ", "\n": " "})
_ALLOWED = re.compile(r"^[A-Za-z' \-\",.;:?!]*$")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
_PUNCT = ",.;:?!"
# A word (letters, inner apostrophes) followed by optional clause punctuation.
_TOKEN = re.compile(r"([A-Za-z]+(?:'[A-Za-z]+)*)'?\s*([" + re.escape(_PUNCT) + r"]*)")


def clean_sentence(raw: str, min_words: int = 5, max_words: int = 20) -> tuple[str | None, str]:
    """Clean one raw sentence into its speakable form.

    Returns ``(sentence, "")`` or ``(None, reason)``.  The speakable form is
    ``word word, word. Word?``: words of letters with inner apostrophes,
    single spaces, clause punctuation glued to the word before it (a run of
    marks keeps its first one), hyphens and double quotes turned into spaces,
    all-capital words of two or more letters lower-cased (so espeak-ng reads
    them as words, not letter by letter), the first letter capitalised and a
    final period added when the sentence ends without punctuation.
    """
    text = unicodedata.normalize("NFKC", raw).translate(_TYPOGRAPHIC)
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        if not text.isascii():
            return None, "non_ascii"
    if any(c.isdigit() for c in text):
        return None, "digits"
    if not _ALLOWED.match(text):
        return None, "symbols"
    text = text.replace('"', " ").replace("-", " ")
    tokens = []
    pos = 0
    for m in _TOKEN.finditer(text):
        gap = text[pos:m.start()]
        if gap.strip(" '" + _PUNCT):
            return None, "symbols"
        word, marks = m.group(1), m.group(2)
        if len(word) > 1 and word.isupper():
            word = word.lower()
        tokens.append(word + marks[:1])
        pos = m.end()
    if text[pos:].strip(" '" + _PUNCT):
        return None, "symbols"
    if len(tokens) < min_words:
        return None, "too_few_words"
    if len(tokens) > max_words:
        return None, "too_many_words"
    sentence = " ".join(tokens)
    sentence = sentence[0].upper() + sentence[1:]
    if sentence[-1] not in _PUNCT:
        sentence += "."
    return sentence, ""


def normalize_transcript(sentence: str) -> str:
    """LibriSpeech-style transcript of a sentence: ``HELLO WORLD IT'S ME``.

    Upper case; words of letters and apostrophes; everything else separates
    words.  Raises :class:`SpeechSSLError` for a sentence with digits, since
    numbers are not spelled out (:func:`clean_sentence` drops such sentences).
    """
    if any(c.isdigit() for c in sentence):
        raise SpeechSSLError(f"cannot normalise {sentence!r}: it has digits, and numbers are not spelled out; "
                             "drop the sentence (clean_sentence does)")
    return " ".join(_WORD.findall(sentence.replace("-", " "))).upper()


def words_of(sentence: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the words of a cleaned sentence, in order."""
    return [m.span() for m in _WORD.finditer(sentence)]


def wordnet_examples(wordnet_dir: Path = WORDNET_DIR) -> Iterator[str]:
    """Quoted example sentences from the glosses of WordNet's data files, in file order."""
    files = [wordnet_dir / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SpeechSSLError(f"WordNet data files missing: {', '.join(missing)}; {_INSTALL_HINT['wordnet']}")
    quoted = re.compile(r'"([^"]+)"')
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header
                gloss = line.split("|", 1)[1]
                yield from (m.group(1) for m in quoted.finditer(gloss))


def fortune_file_entries(path: Path) -> Iterator[str]:
    """The entries of one fortune file (split on ``%`` lines), each on one line, attribution lines cut."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    for entry in re.split(r"\n%\n", text):
        lines = []
        for line in entry.split("\n"):
            if line.strip().startswith("--") or line.strip() == "%":
                break
            lines.append(line.strip())
        yield " ".join(lines)


def fortune_entries(fortunes_dir: Path = FORTUNES_DIR) -> Iterator[str]:
    """Entries of the English fortune files (:data:`ENGLISH_FORTUNE_FILES`, sorted), attribution lines cut."""
    if not fortunes_dir.is_dir():
        raise SpeechSSLError(f"{fortunes_dir}: no fortune files; {_INSTALL_HINT['fortunes']}")
    files = sorted(fortunes_dir / n for n in ENGLISH_FORTUNE_FILES if (fortunes_dir / n).is_file())
    if not files:
        raise SpeechSSLError(f"{fortunes_dir}: no fortune files; {_INSTALL_HINT['fortunes']}")
    for path in files:
        yield from fortune_file_entries(path)


_READERS = {"wordnet": wordnet_examples, "fortunes": fortune_entries}


def load_sentences(sources: Sequence[str] = SOURCES, min_words: int = 5, max_words: int = 20) -> list[str]:
    """Cleaned, de-duplicated sentences from ``sources``, in a fixed order.

    The order is source by source (as given), then file order; a sentence
    whose transcript (:func:`normalize_transcript`) was already seen is a
    duplicate and dropped.  Drops are counted in the log by reason.
    """
    unknown = [s for s in sources if s not in _READERS]
    if unknown:
        raise SpeechSSLError(f"unknown sentence source(s) {', '.join(unknown)}; choose from {', '.join(SOURCES)}")
    if min_words < 1 or max_words < min_words:
        raise SpeechSSLError(f"need 1 <= min_words <= max_words, got min_words={min_words} max_words={max_words}")
    seen: set[str] = set()
    out: list[str] = []
    for source in sources:
        dropped: Counter[str] = Counter()
        kept = 0
        for raw in _READERS[source]():
            sentence, reason = clean_sentence(raw, min_words, max_words)
            if sentence is None:
                dropped[reason] += 1
                continue
            key = normalize_transcript(sentence)
            if key in seen:
                dropped["duplicate"] += 1
                continue
            seen.add(key)
            out.append(sentence)
            kept += 1
        log.info("sentences from %s: kept %d, dropped %s", source, kept, dict(sorted(dropped.items())) or "none")
    return out


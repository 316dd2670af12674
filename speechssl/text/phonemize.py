"""Grapheme-to-phoneme conversion of a word list with espeak-ng (via phonemizer).

Each unique word is phonemized once, in batches, so the result depends only on
the word and the espeak-ng voice (espeak-ng is deterministic).  Phones are
separated by spaces; a word that espeak-ng reads as several words (numbers,
hyphenated or spelled-out tokens) gets the phones of all of them, with an
explicit word separator so that phones at the word boundary are never glued
together (``Separator(word=None)`` would turn "forty two" into ``... ɾ it uː``).
"""
from __future__ import annotations

import logging
from typing import Sequence

from tqdm import tqdm

from speechssl.text.lexicon import Lexicon
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

_WORD_SEP = " | "
_HOW_TO_LIST = ("list the available voices with `espeak-ng --voices` (language codes in the second column) or "
                "`python -c \"from phonemizer.backend import EspeakBackend; "
                "print(EspeakBackend.supported_languages())\"`")


def _backend_class():
    from phonemizer.backend import EspeakBackend

    if not EspeakBackend.is_available():
        raise SpeechSSLError("espeak-ng is not installed (phonemizer cannot find it); install it with "
                             "`apt-get install espeak-ng` (or set PHONEMIZER_ESPEAK_LIBRARY to libespeak-ng.so), "
                             "or give a lexicon file instead")
    return EspeakBackend


def espeak_languages() -> dict[str, str]:
    """Language codes of the installed espeak-ng voices, mapped to their names."""
    return dict(_backend_class().supported_languages())


def check_espeak_language(language: str) -> None:
    """Raise a :class:`SpeechSSLError` if espeak-ng has no voice for ``language``."""
    languages = espeak_languages()
    if language not in languages:
        close = sorted(code for code in languages if code.split("-")[0] == language.split("-")[0])
        hint = f" Codes of the same language: {', '.join(close)}." if close else ""
        raise SpeechSSLError(f"espeak-ng has no voice for language code {language!r}.{hint} To check, "
                             f"{_HOW_TO_LIST}; or give a lexicon file ('word p1 p2 ...') instead.")


def phonemize_words(words: Sequence[str], language: str, batch_size: int = 1000, njobs: int = 1,
                    with_stress: bool = False) -> tuple[Lexicon, list[str]]:
    """Phonemize ``words`` with espeak-ng.

    Returns the lexicon of words that got phones and the list of words for
    which espeak-ng produced nothing.
    """
    from phonemizer.separator import Separator

    if batch_size < 1 or njobs < 1:
        raise SpeechSSLError(f"phonemize: batch_size={batch_size} and njobs={njobs} must be positive")
    check_espeak_language(language)
    backend = _backend_class()(language, with_stress=with_stress, language_switch="remove-flags",
                               logger=logging.getLogger("speechssl.phonemizer"))
    separator = Separator(phone=" ", word=_WORD_SEP, syllable=None)
    lexicon: Lexicon = {}
    failed: list[str] = []
    word_sep = _WORD_SEP.strip()
    with tqdm(total=len(words), desc=f"phonemize ({language})", unit="word", disable=None) as bar:
        for start in range(0, len(words), batch_size):
            batch = list(words[start:start + batch_size])
            outputs = backend.phonemize(batch, separator=separator, strip=True, njobs=njobs)
            if len(outputs) != len(batch):
                raise SpeechSSLError(f"phonemizer returned {len(outputs)} lines for {len(batch)} words "
                                     f"(batch starting at {batch[0]!r}); check the espeak-ng installation")
            for word, out in zip(batch, outputs):
                phones = tuple(p for p in out.split() if p != word_sep)
                if phones:
                    lexicon[word] = phones
                else:
                    failed.append(word)
            bar.update(len(batch))
    if failed:
        log.info("espeak-ng (%s) gave no phones for %d of %d words, e.g. %s", language, len(failed), len(words),
                 " ".join(failed[:10]))
    return lexicon, failed

"""Reference token sequences of transcribed utterances, for oracle error rates.

A corpus that comes with word transcripts but no phone transcripts gets its
reference table (``utt2phones``: ``utt p1 p2 | p3 ...``, words separated by
``|``) from the same pronunciations the text side uses: each transcript is
normalised with the text side's rules, each word looked up in the text-side
lexicon (``data/text/lexicon.lst``), and words the lexicon lacks are
phonemized with espeak-ng in the text side's language.  So references and
the GAN's targets share one phone inventory and one convention.  With
subword units (``token_type: spm``) the lexicon maps words to pieces and the
words it lacks are encoded with the text side's sentencepiece model.
"""
from __future__ import annotations

from typing import Mapping

from speechssl.text.normalize import NormalizeConfig, Normalizer
from pathlib import Path

from speechssl.text.phonemize import phonemize_words
from speechssl.text.subword import encode_words
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

WORD_SEPARATOR = "|"


def normalize_transcripts(texts: Mapping[str, str], config: NormalizeConfig) -> dict[str, list[str]]:
    """Normalise each transcript into words; an utterance left without words is an error naming it."""
    norm = Normalizer(NormalizeConfig(**{**config.to_dict(), "min_words": 1, "max_words": 0, "alphabet": "",
                                         "digits": "keep" if config.digits == "drop_line" else config.digits}))
    out, empty = {}, []
    for utt, text in texts.items():
        line = norm.normalize(text)
        if line is None:
            empty.append(utt)
        else:
            out[utt] = line.split()
    if empty:
        raise SpeechSSLError(f"{len(empty)} transcript(s) have no word after normalisation: {' '.join(empty[:10])}; "
                             "fix or remove these utterances (speechssl.bin.subset_data_dir)")
    return out


def transcripts_to_tokens(words: Mapping[str, list[str]], lexicon: Mapping[str, tuple[str, ...]],
                          lang: str = "", spm_model: str | Path | None = None
                          ) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Map each utterance's words to tokens with ``|`` between words.

    Words missing from ``lexicon`` are encoded with the sentencepiece model
    ``spm_model`` when one is given (subword units), else phonemized with
    espeak-ng ``lang``; without either, or when they give nothing, they are an
    error naming the word and an utterance that has it.  Returns the table and counts.
    """
    missing = sorted({w for ws in words.values() for w in ws if w not in lexicon})
    extra: dict[str, tuple[str, ...]] = {}
    if missing and spm_model:
        extra, missing = encode_words(spm_model, missing)
    elif missing and lang:
        extra, missing = phonemize_words(missing, lang)
    if missing:
        where = next(u for u, ws in words.items() if missing[0] in ws)
        raise SpeechSSLError(f"{len(missing)} transcript word(s) have no pronunciation (e.g. {missing[0]!r} in "
                             f"utterance {where}): add them to the lexicon"
                             + ("" if lang else ", or give the espeak-ng language of the text side"))
    table = {}
    for utt, ws in words.items():
        tokens: list[str] = []
        for k, w in enumerate(ws):
            tokens += ([WORD_SEPARATOR] if k else []) + list(lexicon.get(w) or extra[w])
        table[utt] = tokens
    n_words = sum(len(ws) for ws in words.values())
    counts = {"utterances": len(table), "words": n_words,
              "words_not_in_lexicon": sum(w in extra for ws in words.values() for w in ws)}
    return table, counts

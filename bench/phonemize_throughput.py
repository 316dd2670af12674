"""Phonemization throughput of the text side, in sentences per second.

Sentences are WordNet glosses (/usr/share/wordnet/data.{noun,verb,adj,adv},
Debian package wordnet-base), a seeded sample of --num-sentences.  Two ways
are timed:

* ``lexicon``: what ``speechssl.bin.prepare_text`` does: normalise, phonemize
  each unique word once with espeak-ng, then map sentences through the lexicon
  (with seeded <SIL> insertion);
* ``sentence``: phonemizer on every whole sentence (the naive alternative).

Usage: tools/venv/bin/python bench/phonemize_throughput.py [--num-sentences 2000]
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from speechssl.text.lexicon import count_words
from speechssl.text.normalize import NormalizeConfig, normalize_sentences
from speechssl.text.phonemize import phonemize_words
from speechssl.text.silence import SentencePhonemizer

WORDNET = Path("/usr/share/wordnet")


def wordnet_glosses() -> list[str]:
    """The first definition of every synset gloss (text after '|', up to ';')."""
    glosses = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(WORDNET / f"data.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or " | " not in line:
                    continue
                gloss = line.split(" | ", 1)[1].split(";")[0].strip()
                if len(gloss.split()) >= 3:
                    glosses.append(gloss)
    return glosses


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-sentences", type=int, default=2000)
    p.add_argument("--lang", default="en-us")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nj", type=int, default=1, help="phonemizer processes")
    args = p.parse_args()

    pool = wordnet_glosses()
    rng = np.random.default_rng(args.seed)
    raw = [pool[i] for i in rng.choice(len(pool), size=min(args.num_sentences, len(pool)), replace=False)]

    t0 = time.perf_counter()
    sentences, _ = normalize_sentences(raw, NormalizeConfig(digits="drop_word"))
    words = sorted(count_words(sentences))
    lexicon, failed = phonemize_words(words, args.lang, njobs=args.nj)
    converter = SentencePhonemizer(lexicon, 0.5, args.seed, oov="skip_word")
    n_out = sum(1 for _ in converter.convert_all(sentences))
    t_lexicon = time.perf_counter() - t0

    from phonemizer.backend import EspeakBackend
    from phonemizer.separator import Separator

    t0 = time.perf_counter()
    backend = EspeakBackend(args.lang, language_switch="remove-flags")
    backend.phonemize(sentences, separator=Separator(phone=" ", word=" | "), strip=True, njobs=args.nj)
    t_sentence = time.perf_counter() - t0

    print(json.dumps({
        "sentences": len(sentences), "sentences_out": n_out, "unique_words": len(words),
        "words_without_phones": len(failed), "nj": args.nj,
        "lexicon_seconds": round(t_lexicon, 3), "lexicon_sentences_per_s": round(len(sentences) / t_lexicon, 1),
        "sentence_seconds": round(t_sentence, 3), "sentence_sentences_per_s": round(len(sentences) / t_sentence, 1),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

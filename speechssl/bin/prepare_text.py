"""Prepare the unpaired text for UASR: normalised words, lexicon, phone text with <SIL>, token list, n-gram LMs.

Example::

    python -m speechssl.bin.prepare_text --lang en-us --sil-prob v2 \\
        data/local/lm_text.txt data/text

reads one sentence per line and writes into data/text:

  text.norm.txt            normalised sentences that pass the length/character filters
  words.txt                'word count' for words seen at least --word-min-count times
  lexicon.lst              'word p1 p2 ...' (espeak-ng and/or --lexicon)
  lexicon_filtered.lst     the same without words that use a rare phone
  sentences.txt            kept sentences (words), line-parallel to the next two
  phones.txt, phones_sil.txt   their phones, without and with <SIL>
  dict.phn.txt             'phone count', most frequent first; <SIL> is a normal
                           token and no special symbols are listed
  stats.json               counts of everything kept and dropped
  lm.phones.4.{arpa,bin}   phone 4-gram on phones_sil.txt (model selection)
  lm.phones.6.{arpa,bin}   phone 6-gram on phones_sil.txt (decoding)
  lm.words.4.{arpa,bin}    word 4-gram on sentences.txt

With --token-type spm the tokens are SentencePiece subwords learnt from this
text (no espeak-ng, no lexicon file): spm.model is written too, lexicon.lst
maps each word to its pieces (each word encoded alone), and phones.txt,
phones_sil.txt, dict.phn.txt and lm.phones.* hold pieces, so every later
stage runs unchanged:

    python -m speechssl.bin.prepare_text --token-type spm --spm-vocab-size 300 \\
        data/local/lm_text.txt data/text_spm

Two done-markers (.done.text.json, .done.lm.json) record the options and
inputs: a rerun with the same ones is skipped, a changed one is refused
unless --redo true is given.  The KenLM programs come from tools/kenlm/bin
(bash tools/install_kenlm.sh) or PATH.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.text.lexicon import PHONE_COUNT_BASES
from speechssl.text.normalize import CASES, DIGIT_POLICIES, PUNCTUATION_POLICIES, UNICODE_FORMS, NormalizeConfig
from speechssl.text.prepare import (LEXICON_FILTERED, PHONE_DICT, PHONES_SIL, SENTENCES, LMConfig, TextPrepConfig,
                                    build_text_lms, prepare_phone_text)
from speechssl.text.silence import OOV_POLICIES, parse_sil_prob
from speechssl.text.subword import SPM_MODEL_TYPES, TOKEN_TYPES
from speechssl.utils.cli import add_config_option, parse_args, str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)


def int_list(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.replace(",", " ").split())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {value!r}") from None


def with_recorded(marker: StageMarker, outputs: list[Path]) -> list[Path]:
    """``outputs`` plus those a previous run recorded, so --redo also removes stale ones (e.g. an old LM order)."""
    old = [Path(o) for o in (marker.read() or {}).get("outputs", [])]
    return outputs + [o for o in old if o not in outputs]


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the docstring layout and shows every option's default."""


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument("text", help="unpaired text, UTF-8, one sentence per line")
    p.add_argument("out_dir", help="output directory (e.g. data/text)")
    g = p.add_argument_group("token type")
    g.add_argument("--token-type", choices=TOKEN_TYPES, default="phones",
                   help="phones (espeak-ng and/or --lexicon) or spm (SentencePiece subwords trained on this text)")
    g.add_argument("--spm-vocab-size", type=int, default=500, help="token-type spm: number of pieces")
    g.add_argument("--spm-model-type", choices=SPM_MODEL_TYPES, default="unigram",
                   help="token-type spm: SentencePiece algorithm")
    g = p.add_argument_group("pronunciations (token-type phones)")
    g.add_argument("--lang", default="", help="espeak-ng language code (e.g. en-us, fr-fr, sw); list them with "
                   "`espeak-ng --voices`. Optional when --lexicon covers every word")
    g.add_argument("--lexicon", default="", help="lexicon file 'word p1 p2 ...' (first pronunciation of a word is "
                   "used); it wins over espeak-ng, which fills in the words it lacks when --lang is given")
    g.add_argument("--stress", type=str2bool, default=False, help="keep espeak-ng stress marks on vowels")
    g.add_argument("--batch-size", type=int, default=1000, help="words per phonemizer call")
    g.add_argument("--nj", type=int, default=1, help="phonemizer worker processes")
    g = p.add_argument_group("normalisation")
    g.add_argument("--case", choices=CASES, default="lower", help="case mapping")
    g.add_argument("--unicode-form", choices=UNICODE_FORMS, default="NFKC", help="Unicode normalisation form")
    g.add_argument("--keep-marks", type=str2bool, default=True,
                   help="keep combining marks (Unicode M*; needed for Indic/Arabic/... scripts)")
    g.add_argument("--word-internal", default="'-", help="characters kept only inside words (apostrophe, hyphen)")
    g.add_argument("--extra-chars", default="", help="other characters kept as parts of words")
    g.add_argument("--alphabet", default="", help="if set, lines with a letter outside these letters are dropped "
                   "(e.g. foreign-script lines); given in the --case of the output")
    g.add_argument("--digits", choices=DIGIT_POLICIES, default="drop_line",
                   help="what to do with words containing digits")
    g.add_argument("--punctuation", choices=PUNCTUATION_POLICIES, default="split",
                   help="punctuation becomes a word break (split) or is deleted (remove)")
    g.add_argument("--min-words", type=int, default=1, help="drop sentences with fewer words")
    g.add_argument("--max-words", type=int, default=0, help="drop sentences with more words (0: no limit)")
    g = p.add_argument_group("word list, lexicon filter and phone sentences")
    g.add_argument("--word-min-count", type=int, default=2, help="keep words seen at least this often")
    g.add_argument("--min-phone-count", type=int, default=0,
                   help="words using a phone counted fewer times are dropped (fairseq min_phones)")
    g.add_argument("--min-phone-fraction", type=float, default=0.001,
                   help="the same as a fraction of all phone counts; the larger threshold applies")
    g.add_argument("--phone-count-by", choices=PHONE_COUNT_BASES, default="lexicon",
                   help="count phones once per lexicon entry (fairseq) or per corpus token")
    g.add_argument("--oov", choices=OOV_POLICIES, default="drop_line",
                   help="sentences with a word outside the filtered lexicon: drop them, or skip the word")
    g.add_argument("--sil-prob", default="v2", help="probability of <SIL> between two words: a number in [0, 1] "
                   "(e.g. a pause rate measured on the audio) or v1 (0.25) / v2 (0.5), the wav2vec-U values")
    g.add_argument("--surround", type=str2bool, default=True, help="put <SIL> at both ends of every sentence")
    g.add_argument("--seed", type=int, default=0, help="seed of the silence insertion")
    g = p.add_argument_group("n-gram LMs (KenLM lmplz)")
    g.add_argument("--phone-lm-orders", type=int_list, default=(4, 6),
                   help="orders of the phone LMs on phones_sil.txt, comma-separated (empty: none)")
    g.add_argument("--word-lm-order", type=int, default=4, help="order of the word LM (0: none)")
    g.add_argument("--word-lm-prune", type=int_list, default=(0, 0, 0, 3),
                   help="lmplz --prune counts per order for the word LM (unigrams must be 0)")
    g.add_argument("--discount-fallback", type=str2bool, default=True,
                   help="lmplz --discount_fallback (needed on small text)")
    g.add_argument("--lm-memory", default="10%", help="lmplz -S memory budget")
    p.add_argument("--redo", type=str2bool, default=False, help="discard finished outputs and redo them")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = parse_args(add_config_option(get_parser()), argv)
    out_dir = Path(args.out_dir)
    setup_logging(args.log_level, out_dir / "log" / "prepare_text.log")
    norm_cfg = NormalizeConfig(case=args.case, unicode_form=args.unicode_form, keep_marks=args.keep_marks,
                               word_internal=args.word_internal, extra_chars=args.extra_chars,
                               alphabet=args.alphabet, digits=args.digits, punctuation=args.punctuation,
                               min_words=args.min_words, max_words=args.max_words)
    cfg = TextPrepConfig(language=args.lang, lexicon=args.lexicon, word_min_count=args.word_min_count,
                         min_phone_count=args.min_phone_count, min_phone_fraction=args.min_phone_fraction,
                         phone_count_by=args.phone_count_by, sil_prob=parse_sil_prob(args.sil_prob),
                         surround=args.surround, oov=args.oov, seed=args.seed, with_stress=args.stress,
                         token_type=args.token_type, spm_vocab_size=args.spm_vocab_size,
                         spm_model_type=args.spm_model_type, batch_size=args.batch_size, njobs=args.nj)
    lm_cfg = LMConfig(phone_orders=args.phone_lm_orders, word_order=args.word_lm_order,
                      word_prune=args.word_lm_prune if args.word_lm_order else (),
                      discount_fallback=args.discount_fallback, memory=args.lm_memory)
    if not Path(args.text).is_file():
        raise SpeechSSLError(f"{args.text}: no such text file")

    text_inputs = [args.text] + ([args.lexicon] if args.lexicon else [])
    text_config = {"normalize": norm_cfg.to_dict(), **cfg.result_config()}
    text_marker = StageMarker(out_dir / ".done.text.json", "prepare_text: phones", text_config, text_inputs)
    text_outputs = [out_dir / name for name in cfg.outputs()]
    if text_marker.needs_run(with_recorded(text_marker, text_outputs), redo=args.redo):
        stats = prepare_phone_text(args.text, out_dir, norm_cfg, cfg)
        text_marker.write(text_outputs, {"sentences_kept": stats["sentences"]["lines_kept"],
                                         "phone_types": stats["phone_tokens"]["types"]})

    lm_outputs = lm_cfg.outputs(out_dir)
    lm_inputs = [out_dir / name for name in (PHONES_SIL, SENTENCES, PHONE_DICT, LEXICON_FILTERED)]
    lm_marker = StageMarker(out_dir / ".done.lm.json", "prepare_text: LMs", lm_cfg.result_config(), lm_inputs)
    if lm_outputs and lm_marker.needs_run(with_recorded(lm_marker, lm_outputs), redo=args.redo):
        summary = build_text_lms(out_dir, lm_cfg)
        lm_marker.write(lm_outputs, summary)
    log.info("text side ready in %s", out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

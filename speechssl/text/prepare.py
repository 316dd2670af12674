"""The whole UASR text side: unpaired sentences -> lexicon, phone text, token list, n-gram LMs.

Two steps, each a function that writes into one output directory:

:func:`prepare_phone_text`
    ``text.norm.txt`` (normalised, filtered sentences), ``words.txt`` (``word
    count``, words with count >= threshold), ``lexicon.lst`` (espeak-ng and/or a
    user lexicon), ``lexicon_filtered.lst`` (words with rare phones removed),
    ``sentences.txt`` / ``phones.txt`` / ``phones_sil.txt`` (the kept sentences
    as words, phones, and phones with ``<SIL>``; line-parallel), ``dict.phn.txt``
    (token counts) and ``stats.json`` (what was dropped, and why).  With
    ``token_type="spm"`` the tokens are SentencePiece subwords instead of phones
    (:mod:`speechssl.text.subword`): ``spm.model`` is trained on the normalised
    text, the lexicon maps each word to its pieces, and every file above keeps
    its name and format.
:func:`build_text_lms`
    ``lm.phones.<N>.{arpa,bin}`` on ``phones_sil.txt`` (4-gram for model
    selection, 6-gram for decoding) and ``lm.words.<N>.{arpa,bin}`` on
    ``sentences.txt``, each loaded back and checked against its token list.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from speechssl.text.lexicon import (PHONE_COUNT_BASES, Lexicon, count_words, filter_rare_phones, read_lexicon,
                                    select_words, write_counts, write_lexicon)
from speechssl.text.lm import load_lm, lm_perplexity, train_ngram
from speechssl.text.normalize import NormalizeConfig, Normalizer, iter_text_lines
from speechssl.text.phonemize import check_espeak_language, phonemize_words
from speechssl.text.silence import OOV_POLICIES, SentencePhonemizer, parse_sil_prob
from speechssl.text.subword import SPM_MODEL, TOKEN_TYPES, SpmConfig, encode_words, train_spm
from speechssl.text.tokens import count_tokens, read_token_dict, write_token_dict
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

NORM_TEXT = "text.norm.txt"
WORDS = "words.txt"
LEXICON = "lexicon.lst"
LEXICON_FILTERED = "lexicon_filtered.lst"
SENTENCES = "sentences.txt"
PHONES = "phones.txt"
PHONES_SIL = "phones_sil.txt"
PHONE_DICT = "dict.phn.txt"
STATS = "stats.json"
TEXT_OUTPUTS = (NORM_TEXT, WORDS, LEXICON, LEXICON_FILTERED, SENTENCES, PHONES, PHONES_SIL, PHONE_DICT, STATS)


@dataclass(frozen=True)
class TextPrepConfig:
    """Options of :func:`prepare_phone_text` (normalisation is a separate :class:`NormalizeConfig`).

    At least one of ``language`` (an espeak-ng voice code) and ``lexicon`` (a
    ``word p1 p2 ...`` file) is needed; with both, the lexicon file wins and
    espeak-ng phonemizes the words it lacks.  ``token_type="spm"`` needs
    neither: the tokens are SentencePiece pieces (``spm_vocab_size``,
    ``spm_model_type``) learnt from the text.
    """

    language: str = ""
    lexicon: str = ""
    word_min_count: int = 2
    min_phone_count: int = 0
    min_phone_fraction: float = 0.001
    phone_count_by: str = "lexicon"
    sil_prob: float = 0.5
    surround: bool = True
    oov: str = "drop_line"
    seed: int = 0
    with_stress: bool = False
    token_type: str = "phones"
    spm_vocab_size: int = 500
    spm_model_type: str = "unigram"
    batch_size: int = field(default=1000, compare=False)
    njobs: int = field(default=1, compare=False)

    def __post_init__(self) -> None:
        if self.token_type not in TOKEN_TYPES:
            raise SpeechSSLError(f"token_type={self.token_type!r} is not one of {', '.join(TOKEN_TYPES)}")
        if self.token_type == "spm":
            if self.language or self.lexicon:
                raise SpeechSSLError("token type spm learns its units from the text: drop --lang and --lexicon "
                                     "(they give phones)")
            self.spm_config()  # validates the subword options
        elif not self.language and not self.lexicon:
            raise SpeechSSLError("text preparation needs an espeak-ng language code (--lang) or a lexicon file "
                                 "(--lexicon), or both")
        if self.phone_count_by not in PHONE_COUNT_BASES:
            raise SpeechSSLError(f"phone_count_by={self.phone_count_by!r} is not one of {', '.join(PHONE_COUNT_BASES)}")
        if self.oov not in OOV_POLICIES:
            raise SpeechSSLError(f"oov={self.oov!r} is not one of {', '.join(OOV_POLICIES)}")
        parse_sil_prob(self.sil_prob)

    def spm_config(self) -> SpmConfig:
        return SpmConfig(self.spm_vocab_size, self.spm_model_type, self.seed)

    def result_config(self) -> dict:
        """The options that change the outputs (for done-markers); the subword
        options appear only for ``token_type="spm"``, so phone markers stay as they were."""
        d = asdict(self)
        for speed_only in ("batch_size", "njobs"):
            d.pop(speed_only)
        if self.token_type == "phones":
            for subword_only in ("token_type", "spm_vocab_size", "spm_model_type"):
                d.pop(subword_only)
        return d

    def outputs(self) -> tuple[str, ...]:
        """Names of the files :func:`prepare_phone_text` writes."""
        return TEXT_OUTPUTS + ((SPM_MODEL,) if self.token_type == "spm" else ())


@dataclass(frozen=True)
class LMConfig:
    """Options of :func:`build_text_lms`; an order of 0 (or no phone orders) skips that LM."""

    phone_orders: tuple[int, ...] = (4, 6)
    word_order: int = 4
    word_prune: tuple[int, ...] = (0, 0, 0, 3)
    discount_fallback: bool = True
    memory: str = field(default="10%", compare=False)

    def result_config(self) -> dict:
        d = asdict(self)
        d.pop("memory")
        return d

    def outputs(self, out_dir: str | Path) -> list[Path]:
        out_dir = Path(out_dir)
        prefixes = [f"lm.phones.{o}" for o in self.phone_orders] + ([f"lm.words.{self.word_order}"]
                                                                    if self.word_order else [])
        return [out_dir / f"{p}.{ext}" for p in prefixes for ext in ("arpa", "bin")]


def _normalise(text_path: Path, out_dir: Path, norm_cfg: NormalizeConfig) -> tuple[dict, dict[str, int]]:
    normalizer = Normalizer(norm_cfg)
    with atomic_write(out_dir / NORM_TEXT) as f:
        for sentence in normalizer.normalize_lines(tqdm(iter_text_lines(text_path), desc="normalise",
                                                        unit="line", disable=None)):
            f.write(sentence + "\n")
    stats = normalizer.stats.to_dict()
    log.info("normalisation: %d of %d lines kept; dropped: %s", stats["lines_kept"], stats["lines_in"],
             stats["lines_dropped"] or "none")
    if stats["lines_kept"] == 0:
        raise SpeechSSLError(f"{text_path}: no sentence is left after normalisation ({stats['lines_in']} lines read, "
                             f"dropped: {stats['lines_dropped'] or 'none'}); check the file and the normalisation "
                             "options (--alphabet, --digits, --min-words)")
    return stats, count_words(iter_text_lines(out_dir / NORM_TEXT))


def _build_subword_lexicon(words: list[str], out_dir: Path, cfg: TextPrepConfig) -> tuple[Lexicon, dict]:
    model = train_spm(iter_text_lines(out_dir / NORM_TEXT), out_dir / SPM_MODEL, cfg.spm_config())
    lexicon, failed = encode_words(model, words)
    stats = {"from_spm": len(lexicon), "no_pronunciation": len(failed), "no_pronunciation_examples": failed[:20],
             "spm": {"vocab_size": cfg.spm_vocab_size, "model_type": cfg.spm_model_type}}
    log.info("lexicon: %d words encoded with %s (%s, %d pieces), %d hit <unk>", len(lexicon), model,
             cfg.spm_model_type, cfg.spm_vocab_size, len(failed))
    return lexicon, stats


def _build_lexicon(words: list[str], cfg: TextPrepConfig) -> tuple[Lexicon, dict]:
    user: Lexicon = read_lexicon(cfg.lexicon) if cfg.lexicon else {}
    lexicon = {w: user[w] for w in words if w in user}
    todo = [w for w in words if w not in user]
    failed: list[str] = todo
    if cfg.language and todo:
        espeak, failed = phonemize_words(todo, cfg.language, cfg.batch_size, cfg.njobs, cfg.with_stress)
        lexicon.update(espeak)
    stats = {"from_user_lexicon": len(words) - len(todo), "from_espeak": len(todo) - len(failed),
             "no_pronunciation": len(failed), "no_pronunciation_examples": failed[:20]}
    log.info("lexicon: %d words from the lexicon file, %d from espeak-ng, %d without pronunciation",
             stats["from_user_lexicon"], stats["from_espeak"], stats["no_pronunciation"])
    return lexicon, stats


def prepare_phone_text(text_path: str | Path, out_dir: str | Path, norm_cfg: NormalizeConfig,
                       cfg: TextPrepConfig) -> dict:
    """Run normalisation, word list, lexicon, rare-phone filter and phonemization; returns the stats."""
    text_path, out_dir = Path(text_path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.language:
        check_espeak_language(cfg.language)
    norm_stats, word_counts = _normalise(text_path, out_dir, norm_cfg)

    selected = select_words(word_counts, cfg.word_min_count)
    write_counts(out_dir / WORDS, selected)
    word_stats = {"types": len(word_counts), "tokens": sum(word_counts.values()), "types_kept": len(selected),
                  "tokens_kept": sum(c for _, c in selected), "min_count": cfg.word_min_count}
    log.info("word list: %d of %d word types have count >= %d (%d of %d tokens)", word_stats["types_kept"],
             word_stats["types"], cfg.word_min_count, word_stats["tokens_kept"], word_stats["tokens"])

    if cfg.token_type == "spm":
        lexicon, lexicon_stats = _build_subword_lexicon([w for w, _ in selected], out_dir, cfg)
    else:
        lexicon, lexicon_stats = _build_lexicon([w for w, _ in selected], cfg)
    write_lexicon(out_dir / LEXICON, lexicon)
    rare = filter_rare_phones(lexicon, cfg.min_phone_count, cfg.min_phone_fraction,
                              word_counts if cfg.phone_count_by == "corpus" else None)
    if not rare.lexicon:
        raise SpeechSSLError(f"{out_dir / LEXICON}: no word has a pronunciation left after the rare-phone filter "
                             f"(threshold {rare.threshold:.1f}); lower --min-phone-count/--min-phone-fraction or "
                             "give more text")
    write_lexicon(out_dir / LEXICON_FILTERED, rare.lexicon)
    lexicon_stats.update({"words": len(lexicon), "words_kept": len(rare.lexicon),
                          "words_dropped_rare_phone": len(rare.words_dropped),
                          "rare_phone_threshold": rare.threshold, "rare_phones": rare.rare_phones})

    converter = SentencePhonemizer(rare.lexicon, cfg.sil_prob, cfg.seed, cfg.surround, cfg.oov)
    with atomic_write(out_dir / SENTENCES) as fw, atomic_write(out_dir / PHONES) as fp, \
            atomic_write(out_dir / PHONES_SIL) as fs:
        for sent in converter.convert_all(tqdm(iter_text_lines(out_dir / NORM_TEXT), desc="phone sentences",
                                               unit="line", total=norm_stats["lines_kept"], disable=None)):
            fw.write(" ".join(sent.words) + "\n")
            fp.write(" ".join(sent.phones) + "\n")
            fs.write(" ".join(sent.phones_sil) + "\n")
    sentence_stats = converter.stats.to_dict()
    log.info("phone sentences: %d of %d kept; dropped: %s; <SIL> between words %d of %d gaps",
             sentence_stats["lines_kept"], sentence_stats["lines_in"], sentence_stats["lines_dropped"] or "none",
             sentence_stats["sil_between_words"], sentence_stats["word_gaps"])
    if sentence_stats["lines_kept"] == 0:
        raise SpeechSSLError(f"{out_dir / NORM_TEXT}: every sentence has a word outside {LEXICON_FILTERED}; "
                             "lower --word-min-count, use --oov skip_word, or give more text")

    token_counts = count_tokens(iter_text_lines(out_dir / PHONES_SIL))
    write_token_dict(out_dir / PHONE_DICT, token_counts)
    stats = {"normalisation": norm_stats, "words": word_stats, "lexicon": lexicon_stats,
             "sentences": sentence_stats, "phone_tokens": {"types": len(token_counts),
                                                           "tokens": sum(token_counts.values())}}
    with atomic_write(out_dir / STATS) as f:
        json.dump(stats, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return stats


def build_text_lms(out_dir: str | Path, cfg: LMConfig) -> dict:
    """Build the phone and word n-gram LMs from the outputs of :func:`prepare_phone_text`.

    Returns, per LM, its binary path and its perplexity on its training text.
    """
    out_dir = Path(out_dir)
    phone_tokens = list(read_token_dict(out_dir / PHONE_DICT))
    words = list(read_lexicon(out_dir / LEXICON_FILTERED))
    jobs = [(f"lm.phones.{o}", out_dir / PHONES_SIL, o, (), phone_tokens, True) for o in cfg.phone_orders]
    if cfg.word_order:
        jobs.append((f"lm.words.{cfg.word_order}", out_dir / SENTENCES, cfg.word_order, cfg.word_prune, words, False))
    summary = {}
    for name, text, order, prune, tokens, exact in jobs:
        _, binary = train_ngram(text, out_dir / name, order, discount_fallback=cfg.discount_fallback,
                                prune=prune, memory=cfg.memory)
        model = load_lm(binary, tokens, exact=exact)
        ppl = lm_perplexity(model, iter_text_lines(text))
        log.info("%s: %d-gram on %s, training-text perplexity %.2f", binary, order, text.name, ppl)
        summary[name] = {"path": str(binary), "order": order, "train_perplexity": round(ppl, 4)}
    return summary

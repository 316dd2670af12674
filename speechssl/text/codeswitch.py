"""Code-switched text: per-word language tags, word-by-word phonemization, switching statistics.

Languages are ISO 639-3 codes: ``eng`` (English), ``zul`` (isiZulu), ``xho``
(isiXhosa), ``sot`` (Sesotho), ``tsn`` (Setswana).  A code-switched utterance
is a list of words with one language tag per word.

Phonemization is done word by word in the word's own language:

* English with espeak-ng's ``en-gb`` voice (through phonemizer).  South
  African English is non-rhotic and its vowels are closer to British than to
  American English, so ``en-gb`` is the nearer of espeak-ng's voices.
* isiZulu, isiXhosa and Setswana with epitran (``zul-Latn``, ``xho-Latn``,
  ``tsn-Latn``), which works offline.  epitran has no Sesotho: Sesotho uses
  ``tsn-Latn`` (both are Sotho-Tswana languages with close spelling
  conventions; Sesotho's own spellings such as ``ts``/``tj`` get Setswana's
  reading).

Both sides are mapped to one IPA convention by :func:`common_ipa`: stress,
length and tie bars are removed, ASCII ``g`` becomes ``ɡ``, espeak-ng's ``-``
marks are dropped, combining marks and modifier letters (``ʰ``, ``ʼ``, the
breathy-voice ``̤``) stay on their base phone, and affricates are split into
stop + fricative (``ts`` -> ``t s``, ``tʃ`` -> ``t ʃ``), because epitran writes
them both ways.

Statistics (:func:`cs_stats`): words per language, switch points (positions
where a word's language differs from the previous word's), monolingual and
code-switched utterances, and the code-mixing index (CMI, Das and Gambäck
2014: ``100 * (1 - max_lang_words / words)`` per utterance, 0 when monolingual).
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Language:
    """A language of the corpus: how its text is phonemized and (for the stand-in) spoken."""

    code: str
    name: str
    epitran: str  # epitran code of the text side; "" for espeak-ng
    espeak: str  # espeak-ng voice of the text side (English) and of the stand-in's speech


ENGLISH_VOICE = "en-gb"
LANGUAGES = {
    "eng": Language("eng", "English", "", ENGLISH_VOICE),
    "zul": Language("zul", "isiZulu", "zul-Latn", "sw"),
    "xho": Language("xho", "isiXhosa", "xho-Latn", "sw"),
    "sot": Language("sot", "Sesotho", "tsn-Latn", "tn"),
    "tsn": Language("tsn", "Setswana", "tsn-Latn", "tn"),
}
PAIRS = ("engzul", "engxho", "engsot", "engtsn")
POOLED = "pooled"

_DROP = {"ˈ", "ˌ", "ː", "ˑ", "\u0361", "\u035c", "‿", "-", "_", "'"}
_STOPS = set("tdkpbc")
_FRICATIVES = set("sʃzʒɬɮxfvχ")


def check_language(code: str, where: str = "") -> Language:
    """The :class:`Language` of ``code``, or a clear error."""
    if code not in LANGUAGES:
        raise SpeechSSLError(f"{where + ': ' if where else ''}unknown language tag {code!r}; "
                             f"known: {', '.join(LANGUAGES)}")
    return LANGUAGES[code]


def pair_languages(pair: str) -> tuple[str, ...]:
    """``engzul`` -> ``("eng", "zul")``; ``pooled`` -> every language."""
    if pair == POOLED:
        return tuple(LANGUAGES)
    if pair not in PAIRS:
        raise SpeechSSLError(f"unknown language pair {pair!r}; choose from {', '.join(PAIRS)} or {POOLED}")
    return pair[:3], pair[3:]


def _attaches(c: str) -> bool:
    """A combining mark or modifier letter (ʰ ʼ ʷ ̤ ...) belongs to the phone before it."""
    return unicodedata.combining(c) > 0 or unicodedata.category(c) in ("Lm", "Mn", "Me", "Sk")


def common_ipa(phone: str) -> list[str]:
    """Map one phone (from espeak-ng or epitran) to the common IPA convention; may give 0-2 phones."""
    chars = [c for c in unicodedata.normalize("NFD", phone) if c not in _DROP and not c.isspace()]
    chars = ["ɡ" if c == "g" else c for c in chars]
    units: list[str] = []  # base characters with their marks
    for c in chars:
        if units and _attaches(c):
            units[-1] += c
        elif _attaches(c):
            continue  # a stray mark with nothing to attach to
        else:
            units.append(c)
    if len(units) == 2 and units[0][0] in _STOPS and units[1][0] in _FRICATIVES:
        return [unicodedata.normalize("NFC", u) for u in units]
    out = unicodedata.normalize("NFC", "".join(units))
    return [out] if out else []


def common_phones(phones: Iterable[str]) -> list[str]:
    """:func:`common_ipa` over a phone sequence, with stray marks joined to the phone before."""
    out: list[str] = []
    for p in phones:
        if out and p and all(_attaches(c) for c in unicodedata.normalize("NFD", p)):
            out[-1] = unicodedata.normalize("NFC", out[-1] + p)
            continue
        out.extend(common_ipa(p))
    return out


def utt_lang(langs: Sequence[str]) -> str:
    """The language set of an utterance: ``eng``, ``zul`` or ``eng+zul`` (codes in :data:`LANGUAGES` order)."""
    present = set(langs)
    return "+".join(c for c in LANGUAGES if c in present)


def switch_points(langs: Sequence[str]) -> int:
    """Number of word boundaries where the language changes."""
    return sum(a != b for a, b in zip(langs, langs[1:]))


def parse_tags(value: str, n_words: int, where: str) -> list[str]:
    """A line of language tags (one per word), checked against the word count and :data:`LANGUAGES`."""
    tags = value.split()
    if len(tags) != n_words:
        raise SpeechSSLError(f"{where}: {len(tags)} language tags for {n_words} words; give one tag per word")
    for t in tags:
        check_language(t, where)
    return tags


def cs_stats(word_langs: Mapping[str, Sequence[str]]) -> dict:
    """Code-switching statistics of a set (utterance id -> language tag of each word)."""
    words: Counter = Counter()
    lang_sets: Counter = Counter()
    switches = cs_utts = 0
    cmi_sum = 0.0
    max_switches = 0
    for tags in word_langs.values():
        words.update(tags)
        lang_sets[utt_lang(tags)] += 1
        s = switch_points(tags)
        switches += s
        max_switches = max(max_switches, s)
        if len(set(tags)) > 1:
            cs_utts += 1
            cmi_sum += 100.0 * (1 - max(Counter(tags).values()) / len(tags))
    n_utts = len(word_langs)
    n_words = sum(words.values())
    return {
        "utterances": n_utts,
        "words": n_words,
        "words_per_language": dict(sorted(words.items())),
        "share_of_words": {k: round(v / max(n_words, 1), 4) for k, v in sorted(words.items())},
        "utterances_per_language_set": dict(sorted(lang_sets.items())),
        "code_switched_utterances": cs_utts,
        "monolingual_utterances": n_utts - cs_utts,
        "switch_points": switches,
        "switch_points_per_utterance": round(switches / max(n_utts, 1), 4),
        "switch_points_per_code_switched_utterance": round(switches / max(cs_utts, 1), 4),
        "max_switch_points": max_switches,
        "cmi_all_utterances": round(cmi_sum / max(n_utts, 1), 2),
        "cmi_code_switched_utterances": round(cmi_sum / max(cs_utts, 1), 2),
    }


def stats_markdown(stats_by_set: Mapping[str, dict]) -> str:
    """A Markdown table of :func:`cs_stats` results, one row per set."""
    langs = sorted({k for s in stats_by_set.values() for k in s["share_of_words"]})
    head = ["set", "utts", "words", *[f"% {l}" for l in langs], "CS utts", "switches/utt", "CMI (CS utts)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in stats_by_set.items():
        shares = [f"{100 * s['share_of_words'].get(l, 0):.1f}" for l in langs]
        lines.append("| " + " | ".join([name, str(s["utterances"]), str(s["words"]), *shares,
                                        str(s["code_switched_utterances"]), f"{s['switch_points_per_utterance']:.2f}",
                                        f"{s['cmi_code_switched_utterances']:.1f}"]) + " |")
    return "\n".join(lines) + "\n"


class TaggedPhonemizer:
    """Word-by-word phonemization in each word's own language (see the module docstring).

    Results are cached per (word, language); :meth:`prime` phonemizes many
    English words in one espeak-ng batch.
    """

    def __init__(self, english_voice: str = ENGLISH_VOICE):
        self.english_voice = english_voice
        self._epitran: dict[str, object] = {}
        self._cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self.failed: Counter = Counter()

    def _epi(self, code: str):
        if code not in self._epitran:
            try:
                import epitran
            except ImportError:
                raise SpeechSSLError("epitran is not installed; `pip install epitran` (pinned in "
                                     "tools/requirements.txt) to phonemize Bantu-language words") from None
            self._epitran[code] = epitran.Epitran(code)
        return self._epitran[code]

    def prime(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Phonemize the (word, language) pairs not yet cached; English in one espeak-ng batch."""
        todo = sorted({(w, l) for w, l in pairs if (w, l) not in self._cache})
        english = [w for w, l in todo if l == "eng"]
        if english:
            from speechssl.text.phonemize import phonemize_words

            lexicon, failed = phonemize_words(english, self.english_voice)
            for w in english:
                self._cache[(w, "eng")] = tuple(common_phones(lexicon.get(w, ())))
            self.failed["eng"] += len(failed)
        for w, l in todo:
            if l == "eng":
                continue
            lang = check_language(l)
            phones = tuple(common_phones(self._epi(lang.epitran).trans_list(w)))
            if not phones:
                self.failed[l] += 1
            self._cache[(w, l)] = phones

    def word(self, word: str, lang: str) -> tuple[str, ...]:
        """Phones of one word in its language (empty when the phonemizer gave none)."""
        if (word, lang) not in self._cache:
            self.prime([(word, lang)])
        return self._cache[(word, lang)]

    def utterance(self, words: Sequence[str], langs: Sequence[str]) -> tuple[list[list[str]], list[list[str]]]:
        """Phones of each word and the language tag of each phone (words with no phones are empty)."""
        phones = [list(self.word(w, l)) for w, l in zip(words, langs)]
        return phones, [[l] * len(p) for p, l in zip(phones, langs)]


def build_lexicon(sentences: Iterable[tuple[Sequence[str], Sequence[str]]],
                  phonemizer: TaggedPhonemizer) -> tuple[dict[str, tuple[str, ...]], dict]:
    """A ``word -> phones`` lexicon of tagged sentences, each word phonemized in its language.

    A word spelled the same in two languages gets the phones of the language it
    is tagged with most often (ties: :data:`LANGUAGES` order); such words are
    counted in the returned statistics.
    """
    tag_counts: dict[str, Counter] = {}
    for words, langs in sentences:
        for w, l in zip(words, langs):
            tag_counts.setdefault(w, Counter())[l] += 1
    order = {c: i for i, c in enumerate(LANGUAGES)}
    chosen = {w: min(c, key=lambda l: (-c[l], order[l])) for w, c in tag_counts.items()}
    phonemizer.prime(chosen.items())
    lexicon = {}
    no_phones: Counter = Counter()
    for w, l in chosen.items():
        phones = phonemizer.word(w, l)
        if phones:
            lexicon[w] = phones
        else:
            no_phones[l] += 1
    ambiguous = sorted(w for w, c in tag_counts.items() if len(c) > 1)
    stats = {"words": len(tag_counts), "with_phones": len(lexicon),
             "words_per_language": dict(sorted(Counter(chosen.values()).items())),
             "no_phones_per_language": dict(sorted(no_phones.items())),
             "tagged_in_two_languages": len(ambiguous), "tagged_in_two_languages_examples": ambiguous[:20]}
    log.info("lexicon: %d words (%s), %d tagged in more than one language, %d without phones",
             len(tag_counts), stats["words_per_language"], len(ambiguous), sum(no_phones.values()))
    return lexicon, stats

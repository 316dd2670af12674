"""UA-Speech (Kim et al., "Dysarthric speech database for universal access research", Interspeech 2008;
University of Illinois): data preparation from the real on-disk layout.

UA-Speech is distributed on request by its authors (no download URL): fetch it
by hand and point the recipe's ``db.sh`` (``UASPEECH``) at the directory that
holds ``UASpeech/`` (or at ``UASpeech/`` itself).  Layout read::

    UASpeech/audio/<SPK>/<SPK>_<BLOCK>_<WORD>_<MIC>.wav            dysarthric speakers (F02, M04, ...)
    UASpeech/audio/control/<CSPK>/<CSPK>_<BLOCK>_<WORD>_<MIC>.wav  control speakers (CF02, CM04, ...)
    UASpeech/doc/speaker_wordlist.xls                              sheet "Word_filename": WORD, FILE NAME

e.g. ``audio/F02/F02_B1_C1_M2.wav`` is speaker F02 saying computer command C1
("command") in block B1 into microphone M2.  Later releases split the audio
into processed copies (``audio/original/<SPK>/``, ``audio/noisereduce/<SPK>/``,
``audio/normalized/<SPK>/``, controls beside the dysarthric speakers): pick one
with ``audio_variant`` (e.g. ``noisereduce``).  Speaker directories are those
named like a speaker id, directly under the audio directory or under its
``control/``.

Word codes (the FILE NAME column; each speaker says each in every block,
except the uncommon words, which differ by block): digits ``D0``-``D9``, radio
alphabet ``LA``-``LZ``, computer commands ``C1``-``C19``, common words
``CW1``-``CW100``, uncommon words ``UW1``-``UW100``, whose word-list key
carries the block (``B1_UW1`` .. ``B3_UW100``).  One block is 155 repeated +
100 uncommon = 255 words, 765 per speaker over three blocks, times the 7 array
microphones (M2-M8; M1 when present).

The word list is read from (first found) ``doc/word_list.txt`` (``KEY WORD``
lines), ``doc/word_list.csv`` (a CSV export of the "Word_filename" sheet with
its WORD and FILE NAME header; Excel or LibreOffice "Save as CSV"), or
``doc/speaker_wordlist.xls`` through the optional reader ``xlrd`` (pinned
2.0.2: ``pip install xlrd==2.0.2``).  The same three names are also looked
for at the top of ``UASpeech/``.

Splits (the usual protocol of Christensen et al. 2012 and the Kaldi recipes of
Sheffield, Xiong et al. 2019): blocks B1 and B3 are the training data, block B2
the test data, for the same speakers.  A development set for model selection
is carved out of the training blocks: a seeded ``dev_fraction`` of the
recordings (a speaker, block and word, with all its microphones, so one
recording is never on both sides).  Control speakers are in every set (turn
them off with ``include_control``); the group breakdown keeps them apart.

Each data directory has, beside ``wav.scp``, ``text`` (the word, upper case),
``utt2spk`` and ``spk2gender``: ``utt2group`` (intelligibility group of the
speaker: very_low, low, mid, high, or control), ``utt2block`` (B1-B3),
``utt2mic`` (M2-M8), ``utt2wordtype`` (digit, letter, command, common,
uncommon) and ``utt2wordkey`` (the word-list key, e.g. ``CW12``, ``B2_UW7``).
Utterance ids are the file names without ``.wav`` (they start with the
speaker id).  Empty files (a header and no samples; the real corpus has a
handful) are dropped and counted.  Some files of M01 and F04 are known to have
broken headers; soundfile reports them when the recipe computes durations.

Our stand-in corpus (``speechssl.corpora.standin.uaspeech``) adds
``UASpeech/standin/phones.txt`` (``<SPK>_<BLOCK>_<WORD> p p ...``, the phones
espeak-ng spoke); when present it becomes ``utt2phones`` for every microphone.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from speechssl.data.datadir import DataDir
from speechssl.data.scp import read_lines, read_table
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

#: Intelligibility of the 15 distributed dysarthric speakers: (group, percent of words understood by
#: naive listeners).  Source: the "Speaker" sheet of UASpeech/doc/speaker_wordlist.xls (the corpus
#: documentation), groups as defined there: very low 0-25 %, low 26-50 %, mid 51-75 %, high 76-100 %.
SPEAKER_INTELLIGIBILITY: dict[str, tuple[str, float]] = {
    "M04": ("very_low", 2.0), "F03": ("very_low", 6.0), "M12": ("very_low", 7.4), "M01": ("very_low", 15.0),
    "M07": ("low", 28.0), "F02": ("low", 29.0), "M16": ("low", 43.0),
    "M05": ("mid", 58.0), "F04": ("mid", 62.0), "M11": ("mid", 62.0),
    "M09": ("high", 86.0), "M14": ("high", 90.4), "M08": ("high", 93.0), "M10": ("high", 93.0),
    "F05": ("high", 95.0),
}
#: The 13 distributed control speakers (no dysarthria).
CONTROL_SPEAKERS = ("CF02", "CF03", "CF04", "CF05", "CM01", "CM04", "CM05", "CM06", "CM08", "CM09", "CM10",
                    "CM12", "CM13")
GROUPS = ("very_low", "low", "mid", "high")
CONTROL = "control"
BLOCKS = ("B1", "B2", "B3")
TEST_BLOCKS = ("B2",)  # B1 and B3 are training data
SET_NAMES = ("train", "dev", "test")
AUDIO_VARIANTS = ("original", "noisereduce", "normalized")
WORD_LIST_NAMES = ("word_list.txt", "word_list.csv", "speaker_wordlist.xls")
STANDIN_PHONES = Path("standin") / "phones.txt"

SPEAKER_RE = re.compile(r"^C?[FM]\d{2}$")
#: word code pattern -> type; CW must be tried before C.
WORD_TYPES = ((r"CW\d+", "common"), (r"UW\d+", "uncommon"), (r"C\d+", "command"), (r"D\d+", "digit"),
              (r"L[A-Z]", "letter"))
_WORD_CODE = "|".join(p for p, _ in WORD_TYPES)
FILE_RE = re.compile(rf"^(?P<spk>C?[FM]\d{{2}})_(?P<block>B[1-3])_(?P<word>{_WORD_CODE})_(?P<mic>M\d+)$")
#: Word-list keys: uncommon words only with their block.
WORD_KEY_RE = re.compile(r"^(B[1-3]_UW\d+|CW\d+|C\d+|D\d+|L[A-Z])$")
#: A RIFF/WAVE header with no samples.
_EMPTY_WAV_BYTES = 44


def word_type(code: str) -> str:
    """``digit``, ``letter``, ``command``, ``common`` or ``uncommon`` for a word code (``D3``, ``LA``, ``CW12``...)."""
    for pattern, kind in WORD_TYPES:
        if re.fullmatch(pattern, code):
            return kind
    raise SpeechSSLError(f"{code!r} is not a UA-Speech word code (D0-D9, LA-LZ, C1-C19, CW1-CW100, UW1-UW100)")


def word_key(block: str, code: str) -> str:
    """The word-list key of a word code said in ``block``: uncommon words carry the block (``B2_UW7``)."""
    return f"{block}_{code}" if code.startswith("UW") else code


def speaker_group(spk: str) -> str:
    """Intelligibility group of a UA-Speech speaker id, ``control`` for the control speakers."""
    if spk in CONTROL_SPEAKERS:
        return CONTROL
    if spk.startswith("C"):
        raise SpeechSSLError(f"speaker {spk} is not one of the 13 control speakers of UA-Speech "
                             f"({', '.join(CONTROL_SPEAKERS)}); remove its directory or add it to CONTROL_SPEAKERS "
                             "in speechssl/corpora/uaspeech.py")
    if spk not in SPEAKER_INTELLIGIBILITY:
        raise SpeechSSLError(f"speaker {spk} is not one of the 15 dysarthric speakers of UA-Speech "
                             f"({', '.join(sorted(SPEAKER_INTELLIGIBILITY))}), so its intelligibility group is "
                             "unknown; remove its directory or add it to SPEAKER_INTELLIGIBILITY in "
                             "speechssl/corpora/uaspeech.py")
    return SPEAKER_INTELLIGIBILITY[spk][0]


def find_uaspeech_dir(root: str | Path) -> Path:
    """The ``UASpeech`` directory at or below ``root`` (the one holding ``audio/``)."""
    root = Path(root)
    for cand in (root / "UASpeech", root):
        if (cand / "audio").is_dir():
            return cand
    raise SpeechSSLError(f"{root}: no UA-Speech corpus here (expected {root}/UASpeech/audio/<speaker>/*.wav); "
                         "set UASPEECH in the recipe's db.sh to the directory holding UASpeech/")


def find_word_list(ua_dir: Path) -> Path:
    """The first word list found in ``ua_dir/doc`` or ``ua_dir`` (see :data:`WORD_LIST_NAMES`)."""
    for d in (ua_dir / "doc", ua_dir):
        for name in WORD_LIST_NAMES:
            if (d / name).is_file():
                return d / name
    raise SpeechSSLError(f"{ua_dir}: no word list found (looked for {', '.join(WORD_LIST_NAMES)} in doc/ and at "
                         "the top); give one with --word-list (a 'KEY WORD' text file, a CSV export of the "
                         "Word_filename sheet, or speaker_wordlist.xls)")


def _add_word(words: dict[str, str], key: str, word: str, where: str) -> None:
    key, word = key.strip(), " ".join(word.split()).upper()
    if not WORD_KEY_RE.match(key):
        raise SpeechSSLError(f"{where}: {key!r} is not a UA-Speech word key (D0-D9, LA-LZ, C1-C19, CW1-CW100, "
                             "B1_UW1-B3_UW100)")
    if not word or " " in word:
        raise SpeechSSLError(f"{where}: key {key} needs exactly one word, got {word!r}")
    if key in words and words[key] != word:
        raise SpeechSSLError(f"{where}: key {key} listed twice ({words[key]} and {word})")
    words[key] = word


def _read_word_csv(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise SpeechSSLError(f"{path}: empty word list")
    header = [h.strip().upper() for h in rows[0]]
    if "WORD" not in header or "FILE NAME" not in header:
        raise SpeechSSLError(f"{path}:1: expected a header with the columns WORD and FILE NAME (the "
                             f"Word_filename sheet of speaker_wordlist.xls), got {rows[0]}")
    wi, ki = header.index("WORD"), header.index("FILE NAME")
    words: dict[str, str] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(wi, ki):
            raise SpeechSSLError(f"{path}:{n}: expected the WORD and FILE NAME columns, got {row}")
        _add_word(words, row[ki], row[wi], f"{path}:{n}")
    return words


def _read_word_xls(path: Path) -> dict[str, str]:
    try:
        import xlrd
    except ImportError:
        raise SpeechSSLError(f"{path}: reading .xls needs the xlrd package (pip install xlrd==2.0.2); or export "
                             "its Word_filename sheet as CSV to doc/word_list.csv") from None
    book = xlrd.open_workbook(str(path))
    try:
        sheet = book.sheet_by_name("Word_filename")
    except xlrd.biffh.XLRDError:
        raise SpeechSSLError(f"{path}: no sheet named Word_filename (sheets: {book.sheet_names()})") from None
    rows = [[str(c.value) for c in sheet.row(r)] for r in range(sheet.nrows)]
    header = [h.strip().upper() for h in rows[0]] if rows else []
    if "WORD" not in header or "FILE NAME" not in header:
        raise SpeechSSLError(f"{path}: sheet Word_filename lacks the WORD / FILE NAME header row")
    wi, ki = header.index("WORD"), header.index("FILE NAME")
    words: dict[str, str] = {}
    for n, row in enumerate(rows[1:], start=2):
        if row[ki].strip():
            _add_word(words, row[ki], row[wi], f"{path}: sheet Word_filename row {n}")
    return words


def read_word_list(path: str | Path) -> dict[str, str]:
    """Word-list key -> word (upper case), from a ``KEY WORD`` text file, a CSV export or the .xls."""
    path = Path(path)
    if not path.is_file():
        raise SpeechSSLError(f"{path}: no such word list")
    if path.suffix.lower() == ".xls":
        words = _read_word_xls(path)
    elif path.suffix.lower() == ".csv":
        words = _read_word_csv(path)
    else:
        words = {}
        for n, line in enumerate(read_lines(path), start=1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if len(parts) != 2:
                raise SpeechSSLError(f"{path}:{n}: expected 'KEY WORD' (e.g. 'CW1 THE'), got {line!r}")
            _add_word(words, parts[0], parts[1], f"{path}:{n}")
    if not words:
        raise SpeechSSLError(f"{path}: the word list is empty")
    return words


def audio_root(ua_dir: Path, variant: str = "") -> Path:
    """The directory holding the speaker directories (``audio/`` or ``audio/<variant>/``)."""
    root = ua_dir / "audio" / variant if variant else ua_dir / "audio"
    if not root.is_dir():
        raise SpeechSSLError(f"{root}: no such audio directory; audio variants here: "
                             f"{[p.name for p in sorted((ua_dir / 'audio').iterdir()) if p.name in AUDIO_VARIANTS]}")
    if not speaker_dirs(root):
        found = [v for v in AUDIO_VARIANTS if (root / v).is_dir()]
        hint = f"; this release has the variants {found}: choose one with --audio-variant" if found else ""
        raise SpeechSSLError(f"{root}: no speaker directories (F02, CM04, ...) here or under control/{hint}")
    return root


def speaker_dirs(root: Path) -> dict[str, Path]:
    """Speaker id -> directory, for directories named like a speaker id in ``root`` and ``root/control``."""
    out: dict[str, Path] = {}
    for parent in (root, root / "control"):
        if parent.is_dir():
            for p in sorted(parent.iterdir()):
                if p.is_dir() and SPEAKER_RE.match(p.name):
                    if p.name in out:
                        raise SpeechSSLError(f"speaker {p.name} has two directories: {out[p.name]} and {p}")
                    out[p.name] = p
    return out


def recording_id(utt: str) -> str:
    """``F02_B1_C1_M2`` -> ``F02_B1_C1``: the recording a microphone channel belongs to."""
    return utt.rsplit("_", 1)[0]


def is_dev_recording(rec: str, fraction: float, seed: int) -> bool:
    """Seeded, order-free choice of the development recordings (``fraction`` of them, by hash)."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{rec}".encode()).digest()[:8], "big")
    return h / 2 ** 64 < fraction


@dataclass(frozen=True)
class PrepareOptions:
    """What goes into which set: see the module docstring."""

    audio_variant: str = ""
    mics: tuple[str, ...] = ()  # empty: every microphone
    dev_fraction: float = 0.1
    seed: int = 0
    include_control: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.dev_fraction < 1:
            raise SpeechSSLError(f"dev_fraction must be in [0, 1), got {self.dev_fraction}")
        bad = [m for m in self.mics if not re.fullmatch(r"M\d+", m)]
        if bad:
            raise SpeechSSLError(f"microphones are named M1-M8, got {bad}")
        if self.audio_variant and "/" in self.audio_variant:
            raise SpeechSSLError(f"audio_variant is a directory name under audio/ (e.g. noisereduce), "
                                 f"got {self.audio_variant!r}")


def _set_of(block: str, rec: str, options: PrepareOptions) -> str:
    if block in TEST_BLOCKS:
        return "test"
    return "dev" if is_dev_recording(rec, options.dev_fraction, options.seed) else "train"


def collect_sets(ua_dir: Path, words: dict[str, str], options: PrepareOptions) -> tuple[dict[str, DataDir], Counter]:
    """Scan the audio and build the train/dev/test data directories; return them and the drop counts."""
    root = audio_root(ua_dir, options.audio_variant)
    phones_file = ua_dir / STANDIN_PHONES
    phones = {k: v for k, v, _ in read_table(phones_file, allow_empty_value=True)} if phones_file.is_file() else {}
    sets = {name: DataDir(text={}, spk2gender={}) for name in SET_NAMES}
    tables = {name: {t: {} for t in ("utt2group", "utt2block", "utt2mic", "utt2wordtype", "utt2wordkey")}
              for name in SET_NAMES}
    utt2phones: dict[str, dict[str, str]] = {name: {} for name in SET_NAMES}
    dropped: Counter = Counter()
    bad_examples: list[str] = []
    for spk, spk_dir in speaker_dirs(root).items():
        group = speaker_group(spk)
        if group == CONTROL and not options.include_control:
            dropped["control_excluded"] += sum(1 for _ in spk_dir.glob("*.wav"))
            continue
        for wav in sorted(spk_dir.glob("*.wav")):
            m = FILE_RE.match(wav.stem)
            if not m or m["spk"] != spk:
                dropped["bad_name"] += 1
                bad_examples.append(str(wav))
                continue
            if options.mics and m["mic"] not in options.mics:
                dropped["mic_not_selected"] += 1
                continue
            if wav.stat().st_size <= _EMPTY_WAV_BYTES:
                log.warning("%s is empty (no samples); utterance dropped", wav)
                dropped["empty"] += 1
                continue
            key = word_key(m["block"], m["word"])
            if key not in words:
                log.warning("%s: word %s is not in the word list; utterance dropped", wav, key)
                dropped["no_word"] += 1
                continue
            utt, rec = wav.stem, recording_id(wav.stem)
            name = _set_of(m["block"], rec, options)
            d, t = sets[name], tables[name]
            d.wav_scp[utt] = str(wav.resolve())
            d.text[utt] = words[key]
            d.utt2spk[utt] = spk
            d.spk2gender[spk] = spk.lstrip("C")[0].lower()
            t["utt2group"][utt] = group
            t["utt2block"][utt] = m["block"]
            t["utt2mic"][utt] = m["mic"]
            t["utt2wordtype"][utt] = word_type(m["word"])
            t["utt2wordkey"][utt] = key
            if rec in phones:
                utt2phones[name][utt] = phones[rec]
    if bad_examples:
        log.warning("%d .wav files are not named <SPK>_<B1-3>_<word code>_<M#> after their speaker directory "
                    "and were dropped, e.g. %s", len(bad_examples), ", ".join(bad_examples[:3]))
    for name in SET_NAMES:
        sets[name].extra.update(tables[name])
        if phones:
            missing = len(sets[name].utt2spk) - len(utt2phones[name])
            if missing:
                log.warning("%s: %s lacks %d of %d utterances", name, STANDIN_PHONES, missing,
                            len(sets[name].utt2spk))
            sets[name].extra["utt2phones"] = utt2phones[name]
    return sets, dropped


def set_summary(d: DataDir) -> dict:
    """Utterance, speaker and per-group counts of one data directory."""
    return {"utterances": len(d.utt2spk), "speakers": len(set(d.utt2spk.values())),
            "groups": dict(sorted(Counter(d.extra.get("utt2group", {}).values()).items()))}


# --- The text side: the isolated-word lexicon and unpaired isolated words -------------------------------------

WAMERICAN = Path("/usr/share/dict/american-english")


def vocabulary(words: dict[str, str]) -> list[str]:
    """The distinct words of a word list, lower case (as the text side writes them), sorted."""
    return sorted({w.lower() for w in words.values()})


def word_lexicon(vocab: list[str], lang: str = "en-us") -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """The isolated-word lexicon: each word's espeak-ng phones said on its own; and the words it could not say."""
    from speechssl.text.phonemize import phonemize_words

    return phonemize_words(vocab, lang)


def isolated_word_arpa(vocab: list[str]) -> str:
    """A bigram ARPA LM in which every sentence is one word of ``vocab``, all alike.

    ``<s> w`` has probability 1/V and ``w </s>`` probability 1; a word after a
    word is reached only through a back-off of 10^-99.  With it, the lexicon
    decoder outputs exactly one vocabulary word per utterance (or none).
    """
    if not vocab:
        raise SpeechSSLError("the isolated-word LM needs at least one word")
    uni = math.log10(1.0 / (len(vocab) + 1))
    first = math.log10(1.0 / len(vocab))
    lines = ["\\data\\", f"ngram 1={len(vocab) + 3}", f"ngram 2={2 * len(vocab)}", "", "\\1-grams:",
             "-99\t<s>\t0", f"{uni:.6f}\t</s>", "-99\t<unk>\t0"]
    lines += [f"{uni:.6f}\t{w}\t-99" for w in vocab]
    lines += ["", "\\2-grams:"] + [f"{first:.6f}\t<s> {w}" for w in vocab] + [f"0\t{w} </s>" for w in vocab]
    return "\n".join(lines + ["", "\\end\\", ""])


@functools.lru_cache(maxsize=2)
def english_word_counts(sources: tuple[str, ...] = ("wordnet",), dictionary: Path = WAMERICAN) -> Counter:
    """Word counts (lower case) over the Debian sentence sources, keeping words of the wamerican word list.

    The dictionary filter drops foreign words and fragments (some fortune files are Italian).  The
    result is cached: do not modify it.
    """
    from speechssl.text.sentences import load_sentences, normalize_transcript

    if not dictionary.is_file():
        raise SpeechSSLError(f"{dictionary} missing: apt-get install wamerican")
    english = {w.strip().lower() for w in dictionary.read_text(encoding="utf-8", errors="replace").splitlines()}
    counts: Counter = Counter()
    for sentence in load_sentences(sources, 1, 1000):
        counts.update(w for w in normalize_transcript(sentence).lower().split() if w in english)
    return counts


def isolated_word_text(counts: Counter, num_lines: int, seed: int, exponent: float = 0.5) -> list[str]:
    """``num_lines`` lines of one word each, drawn with replacement in proportion to ``count ** exponent``.

    UA-Speech has no text beyond its 455-word list, so the UASR text side is
    isolated English words, like the audio: one word between two silences.
    Its word list is mostly uncommon words said once, so the default exponent
    0.5 flattens the text's frequencies (1: as in running text; 0: every word alike).
    """
    import numpy as np

    if num_lines < 1 or not counts:
        raise SpeechSSLError(f"need at least one line and one word, got {num_lines} lines and {len(counts)} words")
    if exponent < 0:
        raise SpeechSSLError(f"the frequency exponent must not be negative, got {exponent}")
    vocab = sorted(counts)
    p = np.array([counts[w] for w in vocab], dtype=np.float64) ** exponent
    picks = np.random.default_rng(seed).choice(len(vocab), size=num_lines, p=p / p.sum())
    return [vocab[i] for i in picks]

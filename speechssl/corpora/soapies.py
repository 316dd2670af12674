"""South African code-switched soap opera speech ("Soapies"): data preparation.

The corpus: van der Westhuizen and Niesler, "A first South African corpus of
multilingual code-switched soap opera speech" (LREC 2018), four language-balanced
sub-corpora of English with isiZulu, isiXhosa, Sesotho and Setswana.  The
version targeted is the SADiLaR release of 28 February 2020 (handle
20.500.12185/545, "Code-Switch project deliverable"): per pair an audio
archive ``balanced_<pair>.zip`` (WAV, 32 kHz, 16-bit mono), an annotation file
``balanced_<pair>.xml``, and ``soapies_dev_and_test_set_utterance_ids.zip``.
Fetch them by hand (they need a SADiLaR account) and lay them out as::

    <root>/balanced_<pair>.xml                  pair: engzul engxho engsot engtsn
    <root>/balanced_<pair>/audio/<stem>.wav     (unzip balanced_<pair>.zip -d <root>/balanced_<pair>)
    <root>/splits/cs_<pair>_balanced/transcriptions/<pair>_dev_set_utterance_ids.txt
    <root>/splits/cs_<pair>_balanced/transcriptions/<pair>_tst_set_utterance_ids.txt
                                                (unzip soapies_dev_and_test_set_utterance_ids.zip -d <root>/splits)

The split lists hold one audio stem per line; train is every other utterance
of the XML.  What is established about the XML (from public data-preparation
code that reads it): ``<utterance>`` elements with ``<speaker_id>``, ``<audio>``
(the WAV file name) and ``<transcription>`` text.  **How the release marks
the language of each word could not be established**; this reader supports,
and the stand-in writes, a ``lang`` (or ``xml:lang``) attribute with a code of
``eng zul xho sot tsn``, on ``<transcription>`` itself or on elements inside
it; each word takes the tag of the innermost tagged element around it::

    <utterance>
      <speaker_id>THABO</speaker_id>
      <audio>THABO_150_530.wav</audio>
      <transcription><seg lang="eng">so where is</seg> <seg lang="zul">umama wakho</seg></transcription>
    </utterance>

A word with no tag is an error naming the utterance, unless ``default_lang``
is given.  Words are lower-cased; characters other than letters, ``'`` and
``-`` separate words.  Audio at another rate than 16 kHz is resampled by a
``sox ... |`` pipe in ``wav.scp``.

Data directories ``<pair>_<split>`` (split: train, dev, test) hold wav.scp,
text, utt2spk, spk2utt, ``utt2lang`` (the utterance's language set, e.g.
``eng+zul``, or ``eng``/``zul`` when monolingual), ``utt2word_langs`` (one tag
per word), ``utt2phones`` (IPA phones, ``|`` between words) and
``utt2phone_langs`` (one tag per phone of utt2phones, ``|`` excluded), and
``cs_stats.json`` (:func:`speechssl.text.codeswitch.cs_stats`).  Reference
phones come from the corpus's side files ``balanced_<pair>.phones.txt`` and
``balanced_<pair>.phone_langs.txt`` when present (the stand-in's: what
espeak-ng spoke), otherwise from the text, word by word in each word's
language (:class:`~speechssl.text.codeswitch.TaggedPhonemizer`).  The pooled
sets ``pooled_<split>`` join the four pairs.  Speaker ids are
``<pair>-<speaker_id>`` and utterance ids ``<pair>-<speaker_id>-<stem>``.

Pooled unlabelled audio.  The semi-supervised work on this corpus (Biswas,
Yilmaz, de Wet, van der Westhuizen and Niesler, Interspeech 2019 and
arXiv:2003.03135) adds about 11 hours, later more, of untranscribed,
automatically segmented soap-opera speech from the same shows.  That audio is
**not** in the SADiLaR release (its README lists only ``balanced_<pair>`` and
``5lang``), and how it was distributed, if at all, could not be established.
**The layout read here is an assumption**, the plainest one::

    <root>/unlabelled/<episode>/<segment>.wav   any rate (resampled like the transcribed sets), any name

Each episode directory (a show's episode, or any grouping) is one
pseudo-speaker, ``unlab-<episode>``: the speakers are unknown, and per-speaker
steps (CMVN) then normalise per episode.  Utterance ids are
``unlab-<episode>-<segment>`` (characters other than letters, digits and
``_`` become ``_``).  The data directory (:func:`prepare_unlabelled`) has
wav.scp, utt2spk, spk2utt and utt2dur (from the WAV header), no text; empty
and unreadable files are dropped and counted, a WAV directly in
``unlabelled/`` (no episode directory) is an error naming it.
"""
from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from speechssl.data.datadir import DataDir
from speechssl.data.scp import read_lines, read_table
from speechssl.text.codeswitch import PAIRS, POOLED, TaggedPhonemizer, check_language, cs_stats, utt_lang
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

SPLITS = ("train", "dev", "test")
_LIST_NAME = {"dev": "dev", "test": "tst"}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_SPEAKER = re.compile(r"[^A-Za-z0-9_]+")
SAMPLE_RATE = 16000


def xml_path(root: Path, pair: str) -> Path:
    return Path(root) / f"balanced_{pair}.xml"


def audio_dir(root: Path, pair: str) -> Path:
    return Path(root) / f"balanced_{pair}" / "audio"


def split_list_path(root: Path, pair: str, split: str) -> Path:
    return Path(root) / "splits" / f"cs_{pair}_balanced" / "transcriptions" / f"{pair}_{_LIST_NAME[split]}_set_utterance_ids.txt"


def side_table_path(root: Path, pair: str, name: str) -> Path:
    return Path(root) / f"balanced_{pair}.{name}.txt"


def parse_set_name(name: str) -> tuple[str, str]:
    """``engzul_train`` -> ``("engzul", "train")``; also ``pooled_<split>``."""
    pair, _, split = name.partition("_")
    if pair not in PAIRS + (POOLED,) or split not in SPLITS:
        raise SpeechSSLError(f"set name {name!r} is not <pair>_<split> with pair in {', '.join(PAIRS)} or "
                             f"{POOLED} and split in {', '.join(SPLITS)}")
    return pair, split


@dataclass(frozen=True)
class SoapUtterance:
    """One annotated utterance of a pair's XML."""

    stem: str  # audio file name without .wav
    speaker: str
    words: tuple[str, ...]
    langs: tuple[str, ...]


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).lower().replace("\u2019", "'")
    cleaned = "".join(c if c.isalpha() or c in "'-" else " " for c in text)
    return [w.strip("'-") for w in cleaned.split() if w.strip("'-")]


def _tagged_words(elem: ET.Element, lang: str | None, where: str) -> list[tuple[str, str | None]]:
    """Words under ``elem`` with the tag of the innermost tagged element around each."""
    lang = elem.get("lang") or elem.get(_XML_LANG) or lang
    if lang is not None:
        check_language(lang, where)
    out = [(w, lang) for w in _words(elem.text or "")]
    for child in elem:
        out.extend(_tagged_words(child, lang, where))
        out.extend((w, lang) for w in _words(child.tail or ""))
    return out


def read_pair_xml(path: Path, default_lang: str | None = None) -> list[SoapUtterance]:
    """Parse ``balanced_<pair>.xml`` (see the module docstring for what is read)."""
    if not path.is_file():
        raise SpeechSSLError(f"{path}: annotation file missing; fetch balanced_<pair>.xml from SADiLaR "
                             "(handle 20.500.12185/545) into the corpus root set in db.sh")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise SpeechSSLError(f"{path}: not well-formed XML ({e})") from None
    utts, seen = [], set()
    for n, u in enumerate(root.iter("utterance"), start=1):
        where = f"{path}: utterance {n}"
        fields = {}
        for tag in ("speaker_id", "audio", "transcription"):
            e = u.find(tag)
            if e is None:
                raise SpeechSSLError(f"{where}: no <{tag}> element (each <utterance> needs speaker_id, audio, "
                                     "transcription)")
            fields[tag] = e
        audio = (fields["audio"].text or "").strip()
        if not audio.lower().endswith(".wav"):
            raise SpeechSSLError(f"{where}: <audio> is {audio!r}, expected a .wav file name")
        stem = Path(audio).stem
        where = f"{path}: utterance {n} ({stem})"
        if stem in seen:
            raise SpeechSSLError(f"{where}: audio file {audio} is listed twice")
        seen.add(stem)
        speaker = _SPEAKER.sub("_", (fields["speaker_id"].text or "").strip()).strip("_")
        if not speaker:
            raise SpeechSSLError(f"{where}: empty <speaker_id>")
        tagged = _tagged_words(fields["transcription"], None, where)
        if not tagged:
            raise SpeechSSLError(f"{where}: empty transcription")
        untagged = [w for w, l in tagged if l is None]
        if untagged and default_lang is None:
            raise SpeechSSLError(f"{where}: words without a language tag ({' '.join(untagged[:5])}); tag them with "
                                 "lang=\"eng|zul|xho|sot|tsn\" or pass --default-lang")
        utts.append(SoapUtterance(stem, speaker, tuple(w for w, _ in tagged),
                                  tuple(l or default_lang for _, l in tagged)))
    if not utts:
        raise SpeechSSLError(f"{path}: no <utterance> elements")
    return utts


def read_split_list(path: Path) -> list[str]:
    if not path.is_file():
        raise SpeechSSLError(f"{path}: split list missing; unzip soapies_dev_and_test_set_utterance_ids.zip "
                             "into <root>/splits (see the module docstring for the layout)")
    return [Path(line.strip()).stem for line in read_lines(path) if line.strip()]


def _wav_entry(wav: Path) -> str:
    import soundfile as sf

    try:
        rate = sf.info(str(wav)).samplerate
    except RuntimeError as e:
        raise SpeechSSLError(f"{wav}: cannot read the audio ({e})") from None
    if rate == SAMPLE_RATE:
        return str(wav.resolve())
    return f"sox {wav.resolve()} -t wav -r {SAMPLE_RATE} -b 16 -c 1 - |"


UNLABELLED_SPEAKER_PREFIX = "unlab"


def unlabelled_dir(root: Path) -> Path:
    return Path(root) / "unlabelled"


def unlabelled_wavs(root: Path) -> list[Path]:
    """The segments of the unlabelled audio, sorted (see the module docstring for the assumed layout)."""
    udir = unlabelled_dir(root)
    if not udir.is_dir():
        raise SpeechSSLError(f"{udir}: no unlabelled audio; put it there as <episode>/<segment>.wav (an assumed "
                             "layout: the SADiLaR release has no untranscribed audio; see egs/soapies/uasr1/README.md)")
    loose = sorted(p for p in udir.iterdir() if p.suffix.lower() == ".wav")
    if loose:
        raise SpeechSSLError(f"{loose[0]}: a WAV file directly in {udir}; move it into an episode directory "
                             f"({udir}/<episode>/<segment>.wav): the episode is its pseudo-speaker")
    wavs = sorted(p for p in udir.glob("*/*") if p.suffix.lower() == ".wav" and p.is_file())
    if not wavs:
        raise SpeechSSLError(f"{udir}: no <episode>/<segment>.wav files")
    return wavs


def prepare_unlabelled(root: str | Path) -> tuple[DataDir, dict]:
    """Data directory of the pooled unlabelled audio (no text): ``(DataDir, counts)``."""
    import soundfile as sf

    d = DataDir(utt2dur={})
    counts = {"unreadable": 0, "empty": 0}
    for wav in unlabelled_wavs(Path(root)):
        try:
            info = sf.info(str(wav))
        except RuntimeError as e:
            log.warning("%s: cannot read the audio (%s); dropped", wav, e)
            counts["unreadable"] += 1
            continue
        if info.frames == 0:
            log.warning("%s: no samples; dropped", wav)
            counts["empty"] += 1
            continue
        spk = f"{UNLABELLED_SPEAKER_PREFIX}-{_SPEAKER.sub('_', wav.parent.name).strip('_') or 'x'}"
        utt = f"{spk}-{_SPEAKER.sub('_', wav.stem).strip('_') or 'x'}"
        if utt in d.utt2spk:
            raise SpeechSSLError(f"{wav}: utterance id {utt} repeats (another file's name differs only in "
                                 "characters other than letters, digits and _); rename one of them")
        same = info.samplerate == SAMPLE_RATE and info.channels == 1
        d.wav_scp[utt] = str(wav.resolve()) if same else \
            f"sox {wav.resolve()} -t wav -r {SAMPLE_RATE} -b 16 -c 1 - |"
        d.utt2spk[utt] = spk
        d.utt2dur[utt] = f"{info.frames / info.samplerate:.3f}"
    if not d.utt2spk:
        raise SpeechSSLError(f"{unlabelled_dir(Path(root))}: no readable, non-empty segments (dropped {counts})")
    counts.update(utterances=len(d.utt2spk), speakers=len(set(d.utt2spk.values())),
                  hours=round(sum(float(v) for v in d.utt2dur.values()) / 3600, 4))
    log.info("unlabelled: %d segments, %d episodes, %.2f h, dropped %s", counts["utterances"], counts["speakers"],
             counts["hours"], {k: counts[k] for k in ("unreadable", "empty")})
    return d, counts


def _side_tables(root: Path, pair: str) -> dict[str, dict[str, str]] | None:
    paths = {n: side_table_path(root, pair, n) for n in ("phones", "phone_langs")}
    present = [p for p in paths.values() if p.is_file()]
    if not present:
        return None
    if len(present) == 1:
        raise SpeechSSLError(f"{present[0]}: found without {[p for p in paths.values() if p not in present][0]}; "
                             "reference phones need both tables (or neither)")
    return {n: {k: v for k, v, _ in read_table(p)} for n, p in paths.items()}


def _check_ref(utt: str, phones: str, tags: str, where: str) -> None:
    n_phones = sum(1 for p in phones.split() if p != "|")
    if len(tags.split()) != n_phones:
        raise SpeechSSLError(f"{where}: {utt}: {len(tags.split())} phone tags for {n_phones} phones")


def prepare_pair(root: str | Path, pair: str, splits=SPLITS, default_lang: str | None = None,
                 ref_phones: str = "auto", phonemizer: TaggedPhonemizer | None = None) -> dict[str, tuple[DataDir, dict]]:
    """Data directories of one pair: ``{split: (DataDir, counts)}``.

    ``ref_phones``: ``corpus`` (side files, required), ``g2p`` (word by word
    from the text), ``auto`` (side files if present, else g2p) or ``none``.
    """
    root = Path(root)
    if pair not in PAIRS:
        raise SpeechSSLError(f"unknown pair {pair!r}; choose from {', '.join(PAIRS)}")
    utts = read_pair_xml(xml_path(root, pair), default_lang)
    adir = audio_dir(root, pair)
    if not adir.is_dir():
        raise SpeechSSLError(f"{adir}: audio directory missing; unzip balanced_{pair}.zip -d {adir.parent}")
    by_stem = {u.stem: u for u in utts}
    held = {s: read_split_list(split_list_path(root, pair, s)) for s in ("dev", "test")}
    for s, stems in held.items():
        unknown = [x for x in stems if x not in by_stem]
        if unknown:
            log.warning("%s: %d utterance ids not in the XML (e.g. %s); ignored", split_list_path(root, pair, s),
                        len(unknown), unknown[0])
    overlap = set(held["dev"]) & set(held["test"])
    if overlap:
        raise SpeechSSLError(f"{pair}: {len(overlap)} utterances are in both the dev and the test list, "
                             f"e.g. {sorted(overlap)[0]}")
    split_of = {x: s for s, stems in held.items() for x in stems}
    side = _side_tables(root, pair) if ref_phones in ("auto", "corpus") else None
    if ref_phones == "corpus" and side is None:
        raise SpeechSSLError(f"--ref-phones corpus: {side_table_path(root, pair, 'phones')} missing")
    use_g2p = ref_phones == "g2p" or (ref_phones == "auto" and side is None)
    if use_g2p:
        phonemizer = phonemizer or TaggedPhonemizer()
        phonemizer.prime((w, l) for u in utts for w, l in zip(u.words, u.langs))
    out = {}
    for split in splits:
        d = DataDir(text={})
        tables = {n: {} for n in ("utt2lang", "utt2word_langs", "utt2phones", "utt2phone_langs")}
        counts = {"no_audio": 0, "no_reference_phones": 0}
        for u in utts:
            if split_of.get(u.stem, "train") != split:
                continue
            wav = adir / f"{u.stem}.wav"
            if not wav.is_file():
                log.warning("%s: no audio for utterance %s; dropped", wav, u.stem)
                counts["no_audio"] += 1
                continue
            spk = f"{pair}-{u.speaker}"
            utt = f"{spk}-{u.stem}"
            if side is not None:
                if u.stem not in side["phones"] or u.stem not in side["phone_langs"]:
                    counts["no_reference_phones"] += 1
                    log.warning("%s: no reference phones for %s; dropped", side_table_path(root, pair, "phones"), u.stem)
                    continue
                phones, tags = side["phones"][u.stem], side["phone_langs"][u.stem]
                _check_ref(u.stem, phones, tags, str(side_table_path(root, pair, "phone_langs")))
            elif use_g2p:
                word_phones, phone_tags = phonemizer.utterance(u.words, u.langs)
                phones = " | ".join(" ".join(p) for p in word_phones if p)
                tags = " ".join(t for ts in phone_tags for t in ts)
                if not phones:
                    counts["no_reference_phones"] += 1
                    continue
            d.wav_scp[utt] = _wav_entry(wav)
            d.utt2spk[utt] = spk
            d.text[utt] = " ".join(u.words)
            tables["utt2lang"][utt] = utt_lang(u.langs)
            tables["utt2word_langs"][utt] = " ".join(u.langs)
            if side is not None or use_g2p:
                tables["utt2phones"][utt] = phones
                tables["utt2phone_langs"][utt] = tags
        if not d.utt2spk:
            raise SpeechSSLError(f"{pair}_{split}: no utterances (check {xml_path(root, pair)}, {adir} and the "
                                 "split lists)")
        d.extra = {k: v for k, v in tables.items() if v}
        counts.update(utterances=len(d.utt2spk), speakers=len(set(d.utt2spk.values())))
        log.info("%s_%s: %d utterances, %d speakers, dropped %s", pair, split, counts["utterances"],
                 counts["speakers"], {k: counts[k] for k in ("no_audio", "no_reference_phones")})
        out[split] = (d, counts)
    return out


def pool(dirs: list[DataDir]) -> DataDir:
    """The union of data directories with disjoint utterance ids (the pooled set)."""
    out = DataDir(text={})
    for d in dirs:
        clash = set(out.utt2spk) & set(d.utt2spk)
        if clash:
            raise SpeechSSLError(f"pooling: utterance ids repeat across pairs, e.g. {sorted(clash)[0]}")
        out.wav_scp.update(d.wav_scp)
        out.utt2spk.update(d.utt2spk)
        out.text.update(d.text)
        for name, table in d.extra.items():
            out.extra.setdefault(name, {}).update(table)
    for name, table in out.extra.items():
        if len(table) != len(out.utt2spk):
            raise SpeechSSLError(f"pooling: {name} is present for some pairs only; prepare every pair alike")
    return out


def set_stats(d: DataDir) -> dict:
    """:func:`cs_stats` of a prepared set (from its utt2word_langs)."""
    return cs_stats({u: v.split() for u, v in d.extra["utt2word_langs"].items()})

"""Synthesized stand-in for the Soapies corpus: code-switched espeak-ng speech in its layout.

Writes the layout of :mod:`speechssl.corpora.soapies` (XML with a ``lang``
attribute on each language segment, WAV files, dev/test lists) at 16 kHz, plus::

    balanced_<pair>.phones.txt       "<stem> p p | p ...": the phones espeak-ng spoke, in the common IPA
                                     convention (speechssl.text.codeswitch.common_ipa), "|" between words
    balanced_<pair>.phone_langs.txt  "<stem> eng eng zul ...": the language of each of those phones
    unpaired/<pair>.txt, .langs      synthetic code-switched sentences nobody speaks, and their word tags
    standin_manifest.<pair>.json     done-marker of each pair: configuration and summary
    unlabelled/<episode>/<seg>.wav   with ``unlabelled_segments`` > 0: the pooled untranscribed audio (the
                                     assumed layout of speechssl.corpora.soapies), code-switched speech of
                                     every pair of the config by speakers of their own, sentences spoken in
                                     no transcribed set and absent from the unpaired text
    standin_manifest.unlabelled.json its done-marker (the pairs' markers do not depend on it)

**The sentences are synthetic.**  English comes from Debian's wordnet and
fortunes (:mod:`speechssl.text.sentences`); isiZulu, isiXhosa, Sesotho and
Setswana phrases are LibreOffice's user-interface strings from the Debian
packages ``libreoffice-l10n-{zu,xh,st,tn}`` (``*.mo`` files; words with
non-ASCII letters, capitals inside a word, or English words of 3+ letters
are left out).  Each sentence is English only, Bantu only, or code-switched
(a Bantu phrase inserted into an English sentence, English words inserted
into Bantu phrases, or one language after the other).

espeak-ng has no isiZulu, isiXhosa or Sesotho voice: each language segment is
synthesized on its own, with ``sw`` (Swahili) for isiZulu and isiXhosa, ``tn``
for Sesotho and Setswana, and ``en-gb`` for English, in the speaker's voice
variant, pitch and rate, and the segments are joined.  So the stand-in's
Bantu speech is Swahili/Setswana-accented reading: no clicks (``x`` is read
``k s``, ``q`` ``k``), no implosive ``ɓ``, ``hl`` as ``h l``.  The text side
(epitran) has those sounds; the manifest's ``text_side_mismatch`` gives the
phone error rate of the epitran/espeak-ng lexicon against the spoken phones
per language.
"""
from __future__ import annotations

import functools
import multiprocessing
import re
import struct
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import editdistance
import numpy as np
import soundfile as sf
import yaml
from scipy.signal import resample_poly

from speechssl.corpora.soapies import (SPLITS, audio_dir, side_table_path, split_list_path, unlabelled_dir,
                                       xml_path)
from speechssl.corpora.standin.align import align_events
from speechssl.corpora.standin.chapter import engine
from speechssl.text.codeswitch import LANGUAGES, PAIRS, TaggedPhonemizer, common_phones, cs_stats, pair_languages
from speechssl.text.sentences import load_sentences, words_of
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)

L10N_DIR = "/usr/lib/libreoffice/program/resource"
L10N_CODE = {"zul": "zu", "xho": "xh", "sot": "st", "tsn": "tn"}
SAMPLE_RATE = 16000
KINDS = ("english", "bantu", "code_switched")
UNLABELLED_KEYS = ("unlabelled_segments", "unlabelled_episodes")  # not options of the pairs' outputs
UNLABELLED_SEED = 1000  # the unlabelled set's random stream: [seed, UNLABELLED_SEED] (the pairs use [seed, 0..3])


@dataclass(frozen=True)
class SoapiesStandinConfig:
    """Everything that determines the stand-in (the same config gives the same bytes).

    Per pair: ``speakers`` and ``utterances`` per split (speakers are disjoint
    across splits and pairs), ``unpaired_sentences`` for the text side.
    ``mix``: probabilities of English-only, Bantu-only and code-switched
    sentences.  ``l10n_dir``: where ``<zu|xh|st|tn>/LC_MESSAGES/*.mo`` are.
    ``unlabelled_segments`` (0: none) untranscribed segments spread over
    ``unlabelled_episodes`` episode directories, the pairs taking turns.
    """

    pairs: tuple[str, ...] = PAIRS
    seed: int = 1
    speakers: dict = field(default_factory=lambda: {"train": 6, "dev": 2, "test": 2})
    utterances: dict = field(default_factory=lambda: {"train": 300, "dev": 50, "test": 50})
    unpaired_sentences: int = 3000
    mix: tuple[float, float, float] = (0.15, 0.15, 0.7)
    max_words: int = 14
    variants: tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "f4", "f5")
    pitch: tuple[int, int] = (30, 70)
    rate: tuple[int, int] = (140, 180)
    padding_s: tuple[float, float] = (0.1, 0.3)
    noise_dbfs: float | None = -60.0
    l10n_dir: str = L10N_DIR
    unlabelled_segments: int = 0
    unlabelled_episodes: int = 4

    def __post_init__(self) -> None:
        for p in self.pairs:
            pair_languages(p)
        for key in ("speakers", "utterances"):
            table = getattr(self, key)
            if set(table) != set(SPLITS) or any(int(v) < 1 for v in table.values()):
                raise SpeechSSLError(f"stand-in config: {key}: give a positive count for each of {', '.join(SPLITS)}")
        if len(self.mix) != 3 or min(self.mix) < 0 or not abs(sum(self.mix) - 1) < 1e-6:
            raise SpeechSSLError(f"stand-in config: mix: three probabilities ({', '.join(KINDS)}) summing to 1")
        if self.max_words < 3:
            raise SpeechSSLError("stand-in config: max_words must be at least 3")
        if self.unlabelled_segments < 0 or self.unlabelled_episodes < 1:
            raise SpeechSSLError("stand-in config: unlabelled_segments must be >= 0 and unlabelled_episodes >= 1")


def load_soapies_config(path: str | Path) -> SoapiesStandinConfig:
    """Read the stand-in configuration from YAML, naming unknown keys."""
    path = Path(path)
    if not path.is_file():
        raise SpeechSSLError(f"{path}: no such stand-in config file")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {f.name for f in fields(SoapiesStandinConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SpeechSSLError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key in ("pairs", "mix", "variants", "pitch", "rate", "padding_s"):
        if key in raw:
            raw[key] = tuple(raw[key])
    try:
        return SoapiesStandinConfig(**raw)
    except TypeError as e:
        raise SpeechSSLError(f"{path}: {e}") from None


def read_mo(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a GNU gettext ``.mo`` file."""
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if endian is None:
        raise SpeechSSLError(f"{path}: not a gettext .mo file")
    n, orig, trans = struct.unpack(endian + "3I", data[8:20])
    out = []
    for i in range(n):
        lo, oo = struct.unpack(endian + "2I", data[orig + 8 * i:orig + 8 * i + 8])
        lt, ot = struct.unpack(endian + "2I", data[trans + 8 * i:trans + 8 * i + 8])
        out.append((data[oo:oo + lo].decode("utf-8", "replace"), data[ot:ot + lt].decode("utf-8", "replace")))
    return out


_WORD = re.compile(r"^[A-Za-z]+$")


def bantu_phrases(lang: str, l10n_dir: str | Path, english: set[str], max_words: int = 6) -> list[tuple[str, ...]]:
    """Distinct phrases of 1-``max_words`` words from the LibreOffice translations of ``lang``."""
    mo_dir = Path(l10n_dir) / L10N_CODE[lang] / "LC_MESSAGES"
    files = sorted(mo_dir.glob("*.mo"))
    if not files:
        raise SpeechSSLError(f"{mo_dir}: no LibreOffice translations; install libreoffice-l10n-{L10N_CODE[lang]} or "
                             f"extract it (`apt-get download libreoffice-l10n-{L10N_CODE[lang]} && dpkg-deb -x "
                             "<deb> <dir>`) and set l10n_dir to <dir>/usr/lib/libreoffice/program/resource")
    phrases: dict[tuple[str, ...], None] = {}
    for f in files:
        for msgid, msgstr in read_mo(f):
            if not msgid or not msgstr or msgstr == msgid or re.search(r"[%$<>{}\\/@#_0-9=]", msgstr):
                continue
            for frag in re.split(r"[.,;:!?()\[\]\"\n\t…]+", msgstr.replace("~", "").replace("&", "")):
                raw = frag.split()
                if not raw or len(raw) > max_words:
                    continue
                if not all(_WORD.match(w) and (w[1:].islower() or len(w) == 1) for w in raw):
                    continue
                words = tuple(w.lower() for w in raw)
                if any(len(w) >= 3 and w in english for w in words):
                    continue
                phrases[words] = None
    if len(phrases) < 50:
        raise SpeechSSLError(f"{mo_dir}: only {len(phrases)} usable phrases; is the package complete?")
    return list(phrases)


@functools.cache  # read once per process: the pairs and the unlabelled set share it (callers only index it)
def _english_word_lists() -> list[tuple[str, ...]]:
    return [tuple(s[a:b].lower() for a, b in words_of(s)) for s in load_sentences(("wordnet", "fortunes"), 3, 12)]


def make_sentence(kind: str, bantu: str, rng: np.random.Generator, english: list[tuple[str, ...]],
                  phrases: list[tuple[str, ...]], max_words: int) -> list[tuple[str, str]]:
    """One synthetic sentence as (word, language) pairs."""
    def eng() -> list[tuple[str, str]]:
        return [(w, "eng") for w in english[rng.integers(len(english))][:max_words]]

    def bnt(n_phrases: int) -> list[tuple[str, str]]:
        out = []
        for _ in range(n_phrases):
            out.extend((w, bantu) for w in phrases[rng.integers(len(phrases))])
        return out

    if kind == "english":
        return eng()
    if kind == "bantu":
        return bnt(int(rng.integers(1, 4)))[:max_words]
    style = rng.integers(3)
    if style == 0:  # a Bantu phrase inserted into an English sentence
        e, b = eng(), bnt(1)
        cut = int(rng.integers(1, len(e))) if len(e) > 1 else 1
        words = e[:cut] + b + e[cut:]
    elif style == 1:  # English words inserted into Bantu phrases
        b = bnt(2)
        e = eng()
        start = int(rng.integers(len(e)))
        chunk = e[start:start + int(rng.integers(1, 4))]
        cut = int(rng.integers(1, len(b))) if len(b) > 1 else 1
        words = b[:cut] + chunk + b[cut:]
    else:  # one language after the other
        parts = [eng()[:max_words // 2], bnt(1)]
        words = parts[0] + parts[1] if rng.random() < 0.5 else parts[1] + parts[0]
    return words[:max_words]


@dataclass(frozen=True)
class StandinSpeaker:
    name: str
    pair: str
    split: str
    variant: str
    pitch: int
    rate: int


@dataclass(frozen=True)
class UttJob:
    stem: str
    speaker: StandinSpeaker
    words: tuple[tuple[str, str], ...]
    wav: Path
    seed: tuple[int, ...]
    padding_s: tuple[float, float]
    noise_dbfs: float | None


def _segments(words) -> list[tuple[str, list[str]]]:
    segs: list[tuple[str, list[str]]] = []
    for w, l in words:
        if segs and segs[-1][0] == l:
            segs[-1][1].append(w)
        else:
            segs.append((l, [w]))
    return segs


_voices: dict[str, str] = {}


def _voice(lang: str) -> str:
    """espeak-ng voice name of a language's stand-in speech (cached per process)."""
    if lang not in _voices:
        _voices[lang] = engine().resolve_accent(LANGUAGES[lang].espeak)
    return _voices[lang]


def synthesize_utterance(job: UttJob) -> dict:
    """Write one WAV file; return its reference phones, phone tags and duration."""
    eng = engine()
    chunks, word_phones, rate = [], [], None
    for lang, words in _segments(job.words):
        voice = _voice(lang) + "+" + job.speaker.variant
        text = " ".join(words)
        syn = eng.synthesize(text, voice, job.speaker.pitch, job.speaker.rate, words)
        al = align_events(text, syn)
        rate = syn.sample_rate
        chunks.append(syn.samples.astype(np.float64))
        word_phones.extend((common_phones(p), lang) for p in al.word_phones)
    rng = np.random.default_rng(list(job.seed))
    speech = resample_poly(np.concatenate(chunks), SAMPLE_RATE, rate)
    lead, trail = (int(round(rng.uniform(*job.padding_s) * SAMPLE_RATE)) for _ in range(2))
    audio = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
    if job.noise_dbfs is not None:
        audio += rng.normal(0.0, 32767 * 10 ** (job.noise_dbfs / 20), len(audio))
    audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    with atomic_write(job.wav, "wb") as f:
        sf.write(f, audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return {"stem": job.stem, "phones": " | ".join(" ".join(p) for p, _ in word_phones if p),
            "phone_langs": " ".join(l for p, l in word_phones for _ in p),
            "word_phones": [" ".join(p) for p, _ in word_phones], "seconds": len(audio) / SAMPLE_RATE}


def _plan(config: SoapiesStandinConfig, pair: str, english: list, phrases: list,
          adir: Path) -> tuple[list[UttJob], list, dict]:
    """Speakers, spoken utterances and unpaired sentences of one pair, from the seed and the pair alone."""
    genders = {v: engine().variant_gender(v) for v in config.variants}
    pi = PAIRS.index(pair)
    bantu = pair_languages(pair)[1]
    rng = np.random.default_rng([config.seed, pi])
    order = rng.permutation(len(english))
    n_spoken = sum(config.utterances.values())
    spoken_eng = [english[i] for i in order[:n_spoken * 2]]
    text_eng = [english[i] for i in order[n_spoken * 2:]]
    kinds_p = np.array(config.mix)
    jobs, speakers, used = [], {}, set()
    for split in SPLITS:
        spks = []
        for k in range(config.speakers[split]):
            sex = "F" if k % 2 else "M"
            pool = [v for v in config.variants if genders[v] == sex] or list(config.variants)
            spks.append(StandinSpeaker(f"{pair.upper()}{split.upper()}{k + 1:02d}", pair, split,
                                       pool[rng.integers(len(pool))],
                                       int(rng.integers(config.pitch[0], config.pitch[1] + 1)),
                                       int(rng.integers(config.rate[0], config.rate[1] + 1))))
        speakers[split] = spks
        for i in range(config.utterances[split]):
            spk = spks[i % len(spks)]
            kind = KINDS[rng.choice(3, p=kinds_p)]
            words = tuple(make_sentence(kind, bantu, rng, spoken_eng, phrases, config.max_words))
            used.add(words)
            stem = f"{spk.name}_{i:04d}"
            jobs.append(UttJob(stem, spk, words, adir / f"{stem}.wav", (config.seed, pi, len(jobs)),
                               config.padding_s, config.noise_dbfs))
    unpaired = []
    for _ in range(config.unpaired_sentences * 3):
        if len(unpaired) == config.unpaired_sentences:
            break
        kind = KINDS[rng.choice(3, p=kinds_p)]
        words = tuple(make_sentence(kind, bantu, rng, text_eng, phrases, config.max_words))
        if words not in used:
            used.add(words)
            unpaired.append(words)
    return jobs, unpaired, speakers


def _write_xml(path: Path, pair: str, jobs: list[UttJob]) -> None:
    root = ET.Element("corpus", name=f"balanced_{pair}", note="speechssl stand-in (espeak-ng), synthetic sentences")
    for j in sorted(jobs, key=lambda j: j.stem):
        u = ET.SubElement(root, "utterance")
        ET.SubElement(u, "speaker_id").text = j.speaker.name
        ET.SubElement(u, "audio").text = f"{j.stem}.wav"
        t = ET.SubElement(u, "transcription")
        segs = _segments(j.words)
        for k, (lang, words) in enumerate(segs):
            s = ET.SubElement(t, "seg", lang=lang)
            s.text = " ".join(words)
            if k + 1 < len(segs):
                s.tail = " "
    ET.indent(root)
    with atomic_write(path, "wb") as f:
        ET.ElementTree(root).write(f, encoding="utf-8", xml_declaration=True)


def _mismatch(results: list[dict], jobs: list[UttJob], phonemizer: TaggedPhonemizer) -> dict:
    """Phone error rate (%) of the text-side lexicon against the phones espeak-ng spoke, per language."""
    phonemizer.prime((w, l) for j in jobs for w, l in j.words)
    errors, totals = Counter(), Counter()
    for r, j in zip(results, jobs):
        for spoken, (w, l) in zip(r["word_phones"], j.words):
            ref = spoken.split()
            errors[l] += editdistance.eval(ref, list(phonemizer.word(w, l)))
            totals[l] += len(ref)
    return {l: round(100 * errors[l] / max(totals[l], 1), 2) for l in sorted(totals)}


def manifest_path(root: Path, pair: str) -> Path:
    return Path(root) / f"standin_manifest.{pair}.json"


def _synthesize_pair(root: Path, pair: str, config: SoapiesStandinConfig, english: list, phrases: list,
                     phonemizer: TaggedPhonemizer, nj: int) -> dict:
    adir = audio_dir(root, pair)
    adir.mkdir(parents=True, exist_ok=True)
    jobs, unpaired, speakers = _plan(config, pair, english, phrases, adir)
    log.info("%s: synthesizing %d utterances with %d jobs", pair, len(jobs), nj)
    if nj > 1:
        with multiprocessing.get_context("fork").Pool(nj) as p:
            results = p.map(synthesize_utterance, jobs, chunksize=8)
    else:
        results = [synthesize_utterance(j) for j in jobs]
    _write_xml(xml_path(root, pair), pair, jobs)
    order = sorted(range(len(jobs)), key=lambda i: jobs[i].stem)
    for split in ("dev", "test"):
        with atomic_write(split_list_path(root, pair, split)) as f:
            f.writelines(f"{jobs[i].stem}\n" for i in order if jobs[i].speaker.split == split)
    for name in ("phones", "phone_langs"):
        with atomic_write(side_table_path(root, pair, name)) as f:
            f.writelines(f"{results[i]['stem']} {results[i][name]}\n" for i in order)
    with atomic_write(root / "unpaired" / f"{pair}.txt") as ft, atomic_write(root / "unpaired" / f"{pair}.langs") as fl:
        for words in unpaired:
            ft.write(" ".join(w for w, _ in words) + "\n")
            fl.write(" ".join(l for _, l in words) + "\n")
    summary = {
        "espeak_ng": engine().version, "sample_rate": SAMPLE_RATE, "bantu_phrases": len(phrases),
        "english_sentences": len(english),
        "splits": {s: {"speakers": len(speakers[s]), "utterances": sum(1 for j in jobs if j.speaker.split == s),
                       "hours": round(sum(r["seconds"] for j, r in zip(jobs, results) if j.speaker.split == s) / 3600,
                                      4)} for s in SPLITS},
        "spoken": cs_stats({j.stem: [l for _, l in j.words] for j in jobs}),
        "unpaired": cs_stats({str(i): [l for _, l in s] for i, s in enumerate(unpaired)}),
        "text_side_mismatch_per": _mismatch(results, jobs, phonemizer),
    }
    log.info("%s: hours %s; text-side phone mismatch (PER %%) %s", pair,
             {s: v["hours"] for s, v in summary["splits"].items()}, summary["text_side_mismatch_per"])
    return summary


def synthesize_soapies(root: str | Path, config: SoapiesStandinConfig, pairs=None, nj: int = 2,
                       redo: bool = False) -> dict[str, dict]:
    """Write the stand-in of ``pairs`` (default: the config's) under ``root``; return each pair's summary.

    Each pair has its own done-marker and depends only on the seed and its own
    options, so pairs can be added later; a finished pair with the same
    configuration is skipped, a changed one refused unless ``redo``.
    """
    root = Path(root)
    pairs = list(pairs or config.pairs)
    missing = [p for p in pairs if p not in config.pairs]
    if missing:
        raise SpeechSSLError(f"stand-in config: pairs {missing} are not in its 'pairs' {list(config.pairs)}")
    if any(root.glob("balanced_*.xml")) and not any(root.glob("standin_manifest.*.json")):
        raise SpeechSSLError(f"{root} holds balanced_*.xml but no standin_manifest.<pair>.json: it may be the real "
                             "corpus; give another directory for the stand-in")
    options = {k: v for k, v in asdict(config).items() if k not in ("pairs", "l10n_dir") + UNLABELLED_KEYS}
    summaries, english, phrases, phonemizer = {}, None, {}, TaggedPhonemizer()
    eng = engine()
    for lang in LANGUAGES:  # resolved before the workers fork
        _voice(lang)
    for pair in pairs:
        marker = StageMarker(manifest_path(root, pair), f"synthesize_soapies {pair}", {**options, "pair": pair,
                                                                                      "format": 1})
        outputs = [xml_path(root, pair), side_table_path(root, pair, "phones"), root / "unpaired" / f"{pair}.txt"]
        if not marker.needs_run(outputs, redo=redo):
            summaries[pair] = marker.read()["summary"]
            continue
        if english is None:
            english = _english_word_lists()
        bantu = pair_languages(pair)[1]
        if bantu not in phrases:
            phrases[bantu] = bantu_phrases(bantu, config.l10n_dir, {w for s in english for w in s})
        summaries[pair] = _synthesize_pair(root, pair, config, english, phrases[bantu], phonemizer, nj)
        marker.write(outputs, summaries[pair])
    log.info("stand-in in %s (espeak-ng %s): %s", root, eng.version, ", ".join(pairs))
    return summaries


def _plan_unlabelled(config: SoapiesStandinConfig, english: list, phrases: dict, used: set,
                     udir: Path) -> list[UttJob]:
    """Segments of the unlabelled set: pairs in turn, episodes in turn, two speakers of its own per pair."""
    genders = {v: engine().variant_gender(v) for v in config.variants}
    rng = np.random.default_rng([config.seed, UNLABELLED_SEED])
    speakers = {}
    for pair in config.pairs:
        speakers[pair] = []
        for k, sex in enumerate("MF"):
            pool = [v for v in config.variants if genders[v] == sex] or list(config.variants)
            speakers[pair].append(StandinSpeaker(f"{pair.upper()}UNLAB{k + 1:02d}", pair, "unlabelled",
                                                 pool[rng.integers(len(pool))],
                                                 int(rng.integers(config.pitch[0], config.pitch[1] + 1)),
                                                 int(rng.integers(config.rate[0], config.rate[1] + 1))))
    jobs = []
    for i in range(config.unlabelled_segments):
        pair = config.pairs[i % len(config.pairs)]
        spk = speakers[pair][int(rng.integers(2))]
        bantu = pair_languages(pair)[1]
        for _ in range(100):
            kind = KINDS[rng.choice(3, p=np.array(config.mix))]
            words = tuple(make_sentence(kind, bantu, rng, english, phrases[bantu], config.max_words))
            if words not in used:
                break
        else:
            raise SpeechSSLError(f"stand-in: no new sentence for unlabelled segment {i} in 100 draws")
        used.add(words)
        episode = f"episode{i % config.unlabelled_episodes + 1:02d}"
        stem = f"seg{i:04d}"
        jobs.append(UttJob(stem, spk, words, udir / episode / f"{stem}.wav", (config.seed, UNLABELLED_SEED, i),
                           config.padding_s, config.noise_dbfs))
    return jobs


def synthesize_unlabelled(root: str | Path, config: SoapiesStandinConfig, nj: int = 2, redo: bool = False) -> dict:
    """Write the stand-in's unlabelled set (``unlabelled_segments`` > 0) under ``root``; return its summary.

    Its sentences are drawn anew and kept only when no pair of the config
    speaks them or has them as unpaired text (the pairs' plans are recomputed,
    nothing of theirs is rewritten).  Its own done-marker
    ``standin_manifest.unlabelled.json``: a rerun with the same configuration
    is skipped, a changed one refused unless ``redo``.
    """
    root = Path(root)
    if config.unlabelled_segments < 1:
        raise SpeechSSLError("stand-in config: unlabelled_segments is 0; set it to synthesize the unlabelled set")
    if any(root.glob("balanced_*.xml")) and not any(root.glob("standin_manifest.*.json")):
        raise SpeechSSLError(f"{root} holds balanced_*.xml but no standin_manifest.<pair>.json: it may be the real "
                             "corpus; give another directory for the stand-in")
    udir = unlabelled_dir(root)
    options = {k: v for k, v in asdict(config).items() if k != "l10n_dir"}
    marker = StageMarker(manifest_path(root, "unlabelled"), "synthesize_soapies unlabelled",
                         {**options, "format": 1})
    if not marker.needs_run([udir], redo=redo):
        return marker.read()["summary"]
    english = _english_word_lists()
    vocab = {w for s in english for w in s}
    phrases = {}
    for pair in config.pairs:
        bantu = pair_languages(pair)[1]
        if bantu not in phrases:
            phrases[bantu] = bantu_phrases(bantu, config.l10n_dir, vocab)
    used = set()
    for pair in config.pairs:
        jobs, unpaired, _ = _plan(config, pair, english, phrases[pair_languages(pair)[1]], audio_dir(root, pair))
        used.update(j.words for j in jobs)
        used.update(unpaired)
    for lang in LANGUAGES:  # resolved before the workers fork
        _voice(lang)
    jobs = _plan_unlabelled(config, english, phrases, used, udir)
    for episode in {j.wav.parent for j in jobs}:
        episode.mkdir(parents=True, exist_ok=True)
    log.info("unlabelled: synthesizing %d segments in %d episodes with %d jobs", len(jobs),
             min(config.unlabelled_episodes, len(jobs)), nj)
    if nj > 1:
        with multiprocessing.get_context("fork").Pool(nj) as p:
            results = p.map(synthesize_utterance, jobs, chunksize=8)
    else:
        results = [synthesize_utterance(j) for j in jobs]
    summary = {"espeak_ng": engine().version, "sample_rate": SAMPLE_RATE, "segments": len(jobs),
               "episodes": len({j.wav.parent.name for j in jobs}),
               "hours": round(sum(r["seconds"] for r in results) / 3600, 4),
               "segments_per_pair": dict(Counter(j.speaker.pair for j in jobs)),
               "spoken": cs_stats({j.wav.parent.name + "/" + j.stem: [l for _, l in j.words] for j in jobs})}
    marker.write([udir], summary)
    log.info("unlabelled: %d segments, %.3f h, per pair %s", summary["segments"], summary["hours"],
             summary["segments_per_pair"])
    return summary

"""A PIPELINE STAND-IN for UA-Speech, synthesized with espeak-ng.  It does NOT model dysarthria.

It writes UA-Speech's layout (see ``speechssl.corpora.uaspeech``) so that the
preparation and the whole recipe can run without the real corpus::

    UASpeech/audio/<SPK>/<SPK>_<BLOCK>_<WORD>_<MIC>.wav          "dysarthric" speakers (16 kHz, 16-bit)
    UASpeech/audio/control/<CSPK>/<CSPK>_<BLOCK>_<WORD>_<MIC>.wav control speakers
    UASpeech/doc/word_list.csv      the word list (WORD, FILE NAME: the Word_filename sheet as CSV)
    UASpeech/standin/README.txt     what this is, and what it is not
    UASpeech/standin/phones.txt     '<SPK>_<BLOCK>_<WORD> p p ...': the IPA phones espeak-ng spoke (en-us),
                                    "|" between espeak-ng words (x-ray), no silence tokens
    UASpeech/standin/voices.csv     speaker, group, espeak-ng voice, pitch, rate and the effects applied
    UASpeech/standin_manifest.json  done-marker: the configuration and a summary

Speakers take real UA-Speech ids (F02, M04, CM04, ...), so the corpus's own
intelligibility table gives their groups.  What differs by group is only a
crude caricature: very low, low, mid and high intelligibility speak ever
faster and steadier (espeak-ng rate, a playback slow-down that also lowers the
pitch, amplitude tremolo and a slow unsteady gain; parameters in
:data:`GROUP_STYLE`), controls speak plainly.  Real dysarthric speech differs
in articulation, voicing and prosody in ways none of this imitates: results on
the stand-in say that the pipeline runs, nothing about dysarthric speech.

Microphones are copies of one synthesis per recording, each with its own
low-pass filter, gain and noise level (:func:`mic_style`), like the channels of
the real array.  Words: digits (D0-D9), the radio alphabet (LA-LZ) and the 19
computer commands (C1-C19) as in the corpus; the 100 common words (CW) are the
100 most frequent words of the Debian WordNet examples, and the 300 uncommon
words (B1_UW1 .. B3_UW100) rare long words of the same text, not the corpus's
own lists.  Each speaker says ``words_per_block`` of a block's 255 words,
drawn from the seed.
"""
from __future__ import annotations

import csv
import io
import json
import multiprocessing
import shutil
import zlib
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfilt

from speechssl.corpora.standin.align import align_events
from speechssl.corpora.standin.chapter import SAMPLE_RATE, WORD_SEP, engine
from speechssl.corpora.uaspeech import (
    BLOCKS, CONTROL, GROUPS, SPEAKER_INTELLIGIBILITY, english_word_counts, speaker_group, word_key)
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.yaml_file import read_yaml
from speechssl.utils.log import get_logger
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)

MANIFEST = "standin_manifest.json"
_WORK = ".uaspeech_standin_work"  # per-speaker records of an unfinished run, beside UASpeech/
LABEL = "PIPELINE STAND-IN (espeak-ng): does not model dysarthria"

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
RADIO_ALPHABET = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
                  "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
                  "uniform", "victor", "whiskey", "x-ray", "yankee", "zulu")
COMMANDS = ("command", "backspace", "delete", "enter", "tab", "escape", "alt", "control", "shift", "line",
            "paragraph", "sentence", "paste", "cut", "copy", "upward", "downward", "left", "right")

#: Per group: espeak-ng rate range (words/min), pitch range, playback speed (< 1 slows down and lowers the
#: pitch), tremolo depth (amplitude modulation at 4-6 Hz) and unsteadiness (depth of a slow random gain).
GROUP_STYLE: dict[str, dict[str, Any]] = {
    CONTROL: {"rate": (150, 175), "pitch": (35, 65), "speed": 1.0, "tremolo": 0.0, "unsteady": 0.0},
    "high": {"rate": (125, 140), "pitch": (30, 50), "speed": 0.95, "tremolo": 0.15, "unsteady": 0.1},
    "mid": {"rate": (105, 120), "pitch": (25, 45), "speed": 0.9, "tremolo": 0.25, "unsteady": 0.2},
    "low": {"rate": (95, 105), "pitch": (20, 40), "speed": 0.85, "tremolo": 0.35, "unsteady": 0.3},
    "very_low": {"rate": (80, 95), "pitch": (15, 35), "speed": 0.8, "tremolo": 0.45, "unsteady": 0.4},
}


def mic_style(mic: str) -> dict[str, float]:
    """Low-pass cut-off (Hz), gain and white-noise level (dBFS) of a microphone ``M1``..``M8``."""
    k = int(mic[1:])
    return {"lowpass_hz": 7600.0 - 350.0 * k, "gain": 0.95 - 0.04 * k, "noise_dbfs": -62.0 + 3.0 * k}


@dataclass(frozen=True)
class UASpeechStandinConfig:
    """Everything that determines the stand-in; the same config gives the same bytes.

    ``speakers``: group -> speaker ids (real UA-Speech ids of that group; controls
    start with C).  ``words_per_block``: block -> words each speaker says in it.
    ``padding_s``: range of the silence before and after each word.
    """

    speakers: dict[str, tuple[str, ...]]
    mics: tuple[str, ...] = ("M2", "M5")
    words_per_block: dict[str, int] = field(default_factory=lambda: {"B1": 30, "B2": 10, "B3": 30})
    seed: int = 1
    accent: str = "en-us"
    padding_s: tuple[float, float] = (0.25, 0.5)
    where: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        where = self.where or "stand-in config"
        known = set(GROUPS) | {CONTROL}
        for group, spks in self.speakers.items():
            if group not in known:
                raise SpeechSSLError(f"{where}: speakers: unknown group {group!r}; use {sorted(known)}")
            for spk in spks:
                try:
                    actual = speaker_group(spk)
                except SpeechSSLError:
                    actual = None
                if actual != group:
                    raise SpeechSSLError(f"{where}: speakers: {spk} is not a UA-Speech speaker of group {group} "
                                         f"(ids by group: {_ids_by_group()}; controls are C[FM]NN)")
        ids = [s for spks in self.speakers.values() for s in spks]
        if not ids or len(set(ids)) != len(ids):
            raise SpeechSSLError(f"{where}: speakers: give distinct speaker ids, got {ids}")
        if not self.mics or any(not (len(m) == 2 and m[0] == "M" and m[1] in "12345678") for m in self.mics):
            raise SpeechSSLError(f"{where}: mics: give microphones M1..M8, got {list(self.mics)}")
        if set(self.words_per_block) != set(BLOCKS) or not all(1 <= n <= 255 for n in self.words_per_block.values()):
            raise SpeechSSLError(f"{where}: words_per_block: give B1, B2 and B3 with 1..255 words each, "
                                 f"got {self.words_per_block}")
        a, b = self.padding_s
        if not 0 <= a <= b:
            raise SpeechSSLError(f"{where}: padding_s: need 0 <= min <= max, got [{a}, {b}]")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("where")
        return d


def _ids_by_group() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spk, (group, _) in sorted(SPEAKER_INTELLIGIBILITY.items()):
        out.setdefault(group, []).append(spk)
    return out


def load_uaspeech_standin_config(path: str | Path) -> UASpeechStandinConfig:
    """Read the stand-in configuration from YAML, naming bad keys."""
    path = Path(path)
    raw = read_yaml(path, "stand-in config file")
    if not isinstance(raw, dict) or "speakers" not in raw:
        raise SpeechSSLError(f"{path}: expected a mapping with at least 'speakers' (group: [ids])")
    known = {"speakers", "mics", "words_per_block", "seed", "accent", "padding_s"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SpeechSSLError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        kwargs: dict[str, Any] = {"speakers": {str(g): tuple(str(s) for s in v) for g, v in raw["speakers"].items()}}
        if "mics" in raw:
            kwargs["mics"] = tuple(str(m) for m in raw["mics"])
        if "words_per_block" in raw:
            kwargs["words_per_block"] = {str(b): int(n) for b, n in raw["words_per_block"].items()}
        if "padding_s" in raw:
            kwargs["padding_s"] = tuple(float(x) for x in raw["padding_s"])
        for key, kind in (("seed", int), ("accent", str)):
            if key in raw:
                kwargs[key] = kind(raw[key])
    except (AttributeError, TypeError, ValueError) as e:
        raise SpeechSSLError(f"{path}: bad value ({e}); see conf/standin.yaml of egs/uaspeech/uasr1") from None
    return UASpeechStandinConfig(**kwargs, where=str(path))


def standin_word_list(seed: int) -> dict[str, str]:
    """Word-list key -> word (lower case) of the stand-in: see the module docstring."""
    words = {f"D{i}": w for i, w in enumerate(DIGITS)}
    words.update({f"L{chr(ord('A') + i)}": w for i, w in enumerate(RADIO_ALPHABET)})
    words.update({f"C{i + 1}": w for i, w in enumerate(COMMANDS)})
    counts = english_word_counts()
    taken = set(words.values())
    by_count = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    common = [w for w, _ in by_count if w.isalpha() and w not in taken][:100]
    words.update({f"CW{i + 1}": w for i, w in enumerate(common)})
    taken |= set(common)
    rare = sorted(w for w, c in counts.items() if c <= 2 and len(w) >= 8 and w.isalpha() and w not in taken)
    picks = np.random.default_rng(seed).choice(len(rare), size=300, replace=False)
    for i, j in enumerate(picks):
        words[f"B{i // 100 + 1}_UW{i % 100 + 1}"] = rare[j]
    return words


@dataclass(frozen=True)
class SpeakerJob:
    spk: str
    group: str
    voice: str  # espeak-ng voice with variant
    pitch: int
    rate: int
    recordings: tuple[tuple[str, str, str], ...]  # (block, word code, word)
    spk_dir: Path
    record: Path  # written last: the speaker is done when it exists
    mics: tuple[str, ...]
    seed: int
    padding_s: tuple[float, float]


def _seed(*parts: Any) -> list[int]:
    return [zlib.crc32(str(p).encode()) for p in parts]


def _voice_effects(x: np.ndarray, style: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Slow down (lower pitch), tremolo and a slow unsteady gain: the group's caricature."""
    if style["speed"] != 1.0:
        r = Fraction(style["speed"]).limit_denominator(20)
        x = resample_poly(x, r.denominator, r.numerator)
    t = np.arange(len(x)) / SAMPLE_RATE
    if style["tremolo"]:
        f = rng.uniform(4.0, 6.0)
        x = x * (1.0 - style["tremolo"] * 0.5 * (1.0 + np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))))
    if style["unsteady"]:
        knots = rng.standard_normal(max(int(t[-1] * 3) + 2, 2)) if len(t) else np.zeros(2)
        slow = np.interp(t, np.linspace(0, t[-1] if len(t) else 1, len(knots)), knots)
        x = x * np.clip(1.0 + style["unsteady"] * 0.5 * slow, 0.2, 1.8)
    return x


def _mic_copy(x: np.ndarray, mic: str, rng: np.random.Generator) -> np.ndarray:
    s = mic_style(mic)
    y = sosfilt(butter(4, s["lowpass_hz"], fs=SAMPLE_RATE, output="sos"), x) * s["gain"]
    y = y + rng.normal(0.0, 32767 * 10 ** (s["noise_dbfs"] / 20), len(y))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def synthesize_speaker(job: SpeakerJob) -> dict:
    """Write one speaker's recordings on every microphone; return (and record) their phones and durations."""
    eng = engine()
    style = GROUP_STYLE[job.group]
    out: dict = {"phones": {}, "seconds": 0.0, "files": 0}
    for block, code, word in job.recordings:
        rec = f"{job.spk}_{block}_{code}"
        syn = eng.synthesize(word, job.voice, job.pitch, job.rate, [word])
        al = align_events(word, syn)
        out["phones"][rec] = f" {WORD_SEP} ".join(" ".join(p) for p in al.word_phones if p)
        rng = np.random.default_rng(_seed(job.seed, rec))
        speech = resample_poly(syn.samples.astype(np.float64), SAMPLE_RATE, syn.sample_rate)
        speech = _voice_effects(speech, style, rng)
        lead, trail = (int(round(rng.uniform(*job.padding_s) * SAMPLE_RATE)) for _ in range(2))
        audio = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
        for mic in job.mics:
            samples = _mic_copy(audio, mic, np.random.default_rng(_seed(job.seed, rec, mic)))
            with atomic_write(job.spk_dir / f"{rec}_{mic}.wav", "wb") as f:
                sf.write(f, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")
            out["seconds"] += len(samples) / SAMPLE_RATE
            out["files"] += 1
    with atomic_write(job.record) as f:
        json.dump(out, f, sort_keys=True)
    return out


def plan_speakers(config: UASpeechStandinConfig, words: dict[str, str], ua_dir: Path, work: Path) -> list[SpeakerJob]:
    """Voices and recordings of every speaker, drawn from the seed."""
    eng = engine()
    voice = eng.resolve_accent(config.accent)
    variants = {"F": ["f1", "f2", "f3", "f4", "f5"], "M": ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]}
    jobs = []
    for group in [*GROUPS, CONTROL]:
        for spk in config.speakers.get(group, ()):
            rng = np.random.default_rng(_seed(config.seed, spk))
            style = GROUP_STYLE[group]
            variant = variants[spk.lstrip("C")[0]][rng.integers(len(variants[spk.lstrip("C")[0]]))]
            pitch = int(rng.integers(style["pitch"][0], style["pitch"][1] + 1))
            rate = int(rng.integers(style["rate"][0], style["rate"][1] + 1))
            recordings = []
            for block in BLOCKS:
                codes = sorted({k for k in words if "_" not in k} | {k.split("_")[1] for k in words
                                                                     if k.startswith(f"{block}_")})
                chosen = rng.choice(len(codes), size=config.words_per_block[block], replace=False)
                recordings += [(block, codes[i], words[word_key(block, codes[i])]) for i in sorted(chosen)]
            spk_dir = ua_dir / "audio" / ("control" if group == CONTROL else "") / spk
            jobs.append(SpeakerJob(spk, group, f"{voice}+{variant}", pitch, rate, tuple(recordings), spk_dir,
                                   work / f"{spk}.json", config.mics, config.seed, config.padding_s))
    return jobs


def _write_tables(ua_dir: Path, words: dict[str, str], jobs: list[SpeakerJob], records: dict[str, dict],
                  config: UASpeechStandinConfig) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["WORD", "FILE NAME"])
    writer.writerows([w.upper(), k] for k, w in words.items())
    with atomic_write(ua_dir / "doc" / "word_list.csv") as f:
        f.write(buf.getvalue())
    with atomic_write(ua_dir / "standin" / "phones.txt") as f:
        for spk in sorted(records):
            f.writelines(f"{rec} {p}\n" for rec, p in sorted(records[spk]["phones"].items()))
    with atomic_write(ua_dir / "standin" / "voices.csv") as f:
        f.write("speaker,group,espeak_voice,pitch,rate,speed,tremolo,unsteady\n")
        for j in sorted(jobs, key=lambda j: j.spk):
            s = GROUP_STYLE[j.group]
            f.write(f"{j.spk},{j.group},{j.voice},{j.pitch},{j.rate},{s['speed']},{s['tremolo']},{s['unsteady']}\n")
    with atomic_write(ua_dir / "standin" / "README.txt") as f:
        f.write(f"{LABEL}.\n\nSynthesized by speechssl (speechssl/corpora/standin/uaspeech.py) in the layout of "
                "UA-Speech so that its recipe can run without the real corpus.\nThe 'dysarthric' speakers are "
                "espeak-ng voices slowed down, with tremolo and an unsteady gain; this\nimitates nothing of real "
                "dysarthric speech.  Numbers measured on it say that the pipeline runs.\n"
                f"Configuration: {json.dumps(config.to_dict(), sort_keys=True)}\n")


def synthesize_uaspeech_standin(root: str | Path, config: UASpeechStandinConfig, nj: int = 2,
                                redo: bool = False) -> dict:
    """Write the stand-in under ``<root>/UASpeech`` and return its summary.

    A finished stand-in with the same configuration is not redone; another
    configuration is refused unless ``redo``; an interrupted run resumes at the
    first unfinished speaker.  A ``UASpeech`` directory we did not write (no
    manifest) is never touched.
    """
    root = Path(root)
    ua_dir, work = root / "UASpeech", root / _WORK
    marker = StageMarker(ua_dir / MANIFEST, "synthesize_uaspeech_standin", {**config.to_dict(), "format": 1})
    ours = (ua_dir / MANIFEST).is_file() or work.is_dir()
    if ua_dir.exists() and not ours:
        raise SpeechSSLError(f"{ua_dir} exists and was not written by the stand-in synthesizer (no {MANIFEST}); "
                             "it may be the real corpus. Give another root directory")
    if redo and ours:
        log.info("--redo: removing the stand-in in %s", ua_dir)
        marker.clear([ua_dir, work])
    elif (work / "config.json").is_file() and not (ua_dir / MANIFEST).is_file():
        if json.loads((work / "config.json").read_text()).get("hash") != marker.digest:
            raise SpeechSSLError(f"{root} holds an unfinished stand-in made with another configuration; rerun with "
                                 "--redo true to discard it, or give another root directory")
    if not marker.needs_run([ua_dir / "doc" / "word_list.csv", ua_dir / "standin" / "phones.txt"]):
        return marker.read()["summary"]

    words = standin_word_list(config.seed)
    jobs = plan_speakers(config, words, ua_dir, work)
    with atomic_write(work / "config.json") as f:
        json.dump({"hash": marker.digest}, f)
    pending = [j for j in jobs if not j.record.is_file()]
    for j in pending:
        j.spk_dir.mkdir(parents=True, exist_ok=True)
    log.info("%s: synthesizing %d speakers (%d pending) x %d recordings x %d mics with %d jobs", LABEL, len(jobs),
             len(pending), sum(len(j.recordings) for j in jobs) // max(len(jobs), 1), len(config.mics), nj)
    if nj <= 1 or len(pending) <= 1:
        for j in pending:
            synthesize_speaker(j)
    else:  # fork: workers inherit the loaded modules and the initialised espeak-ng engine
        with multiprocessing.get_context("fork").Pool(min(nj, len(pending))) as pool:
            pool.map(synthesize_speaker, pending, chunksize=1)
    records = {j.spk: json.loads(j.record.read_text()) for j in jobs}
    _write_tables(ua_dir, words, jobs, records, config)
    summary = {"label": LABEL, "espeak_ng": engine().version, "speakers": {j.spk: j.group for j in jobs},
               "files": sum(r["files"] for r in records.values()),
               "hours": round(sum(r["seconds"] for r in records.values()) / 3600, 4),
               "recordings": sum(len(r["phones"]) for r in records.values())}
    marker.write([ua_dir / "doc" / "word_list.csv", ua_dir / "standin" / "phones.txt"], summary)
    shutil.rmtree(work)
    log.info("stand-in: %d speakers, %d files, %.2f h (all microphones)", len(jobs), summary["files"],
             summary["hours"])
    return summary

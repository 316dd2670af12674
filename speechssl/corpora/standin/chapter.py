"""Synthesize one chapter: its FLAC files, transcript and side files (run in worker processes)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from speechssl.corpora.standin.align import SIL, Segment, align_events
from speechssl.corpora.standin.espeak import EspeakEngine
from speechssl.corpora.standin.plan import Chapter
from speechssl.text.sentences import words_of
from speechssl.utils.atomic import atomic_write

SAMPLE_RATE = 16000
#: Word boundary token in ``*.phones.txt``.
WORD_SEP = "|"

_engine: EspeakEngine | None = None


def engine() -> EspeakEngine:
    """This process's espeak-ng engine (created on first use)."""
    global _engine
    if _engine is None:
        _engine = EspeakEngine()
    return _engine


@dataclass(frozen=True)
class ChapterJob:
    chapter: Chapter
    chapter_dir: Path  # <root>/LibriSpeech/<subset>/<spk>/<chapter>
    record: Path  # per-chapter statistics, written last: the chapter is done when it exists
    seed: int
    padding_s: tuple[float, float]
    noise_dbfs: float | None
    min_pause_ms: float


def _resample_segments(segments: list[Segment], ratio: float, total: int, lead: int) -> list[Segment]:
    """Move segment bounds to the output rate and shift them by the leading padding.

    Silences that become empty are dropped; phones are kept even with no duration.
    """
    out: list[Segment] = []
    for s in segments:
        start, end = lead + min(round(s.start * ratio), total), lead + min(round(s.end * ratio), total)
        if end > start or s.phone != SIL:
            out.append(Segment(start, end, s.phone, s.word))
    return out


def _pad_segments(segments: list[Segment], lead: int, total: int) -> list[Segment]:
    """Extend (or add) the silence at both ends so the segments tile ``[0, total)``."""
    if segments and segments[0].phone == SIL:
        segments[0].start = 0
    elif lead > 0 or not segments:
        segments.insert(0, Segment(0, lead, SIL, -1))
    if segments[-1].phone == SIL:
        segments[-1].end = total
    elif segments[-1].end < total:
        segments.append(Segment(segments[-1].end, total, SIL, -1))
    return segments


def _seconds(samples: int) -> str:
    """Exact seconds of a sample count at 16 kHz (at most 7 decimals)."""
    return f"{samples / SAMPLE_RATE:.7f}".rstrip("0").rstrip(".") or "0"


def synthesize_chapter(job: ChapterJob) -> dict:
    """Write the chapter's audio and text files; return (and record) its statistics."""
    chapter, spk = job.chapter, job.chapter.speaker
    eng = engine()
    trans, phones, pauses, ctm = [], [], [], []
    stats: dict = {"utts": {}, "linked": 0, "regrouped": 0, "words": 0, "words_as_said_alone": 0}
    min_pause = job.min_pause_ms / 1000 * SAMPLE_RATE
    for utt in chapter.utterances:
        words = [utt.sentence[a:b].lower() for a, b in words_of(utt.sentence)]
        syn = eng.synthesize(utt.sentence, spk.espeak_voice, spk.pitch, spk.rate, words)
        al = align_events(utt.sentence, syn)
        rng = np.random.default_rng([job.seed, spk.id, chapter.chapter_id, int(utt.utt_id.rsplit("-", 1)[1])])
        lead, trail = (int(round(rng.uniform(*job.padding_s) * SAMPLE_RATE)) for _ in range(2))
        speech = resample_poly(syn.samples.astype(np.float64), SAMPLE_RATE, syn.sample_rate)
        audio = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
        if job.noise_dbfs is not None:
            audio += rng.normal(0.0, 32767 * 10 ** (job.noise_dbfs / 20), len(audio))
        audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
        ratio = SAMPLE_RATE / syn.sample_rate
        segments = _pad_segments(_resample_segments(al.segments, ratio, len(speech), lead), lead, len(audio))

        with atomic_write(job.chapter_dir / f"{utt.utt_id}.flac", "wb") as f:
            sf.write(f, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        trans.append(f"{utt.utt_id} {utt.transcript}\n")
        phones.append(f"{utt.utt_id} " + f" {WORD_SEP} ".join(" ".join(p) for p in al.word_phones) + "\n")
        after = [k + 1 for k, g in enumerate(al.gaps) if g * ratio >= min_pause]
        pauses.append(" ".join([utt.utt_id, str(len(after)), *map(str, after)]) + "\n")
        ctm.extend(f"{utt.utt_id} {_seconds(s.start)} {_seconds(s.end - s.start)} {s.phone}\n" for s in segments)
        stats["utts"][utt.utt_id] = {"seconds": len(audio) / SAMPLE_RATE, "words": len(words),
                                     "pauses_after": after}
        stats["linked"] += al.linked
        stats["regrouped"] += al.regrouped
        stats["words"] += len(words)
        stats["words_as_said_alone"] += sum(p == q for p, q in zip(al.word_phones, syn.word_prons))

    stem = chapter.stem
    for suffix, lines in ((".phones.txt", phones), (".pauses.txt", pauses), (".alignment.ctm", ctm),
                          (".trans.txt", trans)):
        with atomic_write(job.chapter_dir / f"{stem}{suffix}") as f:
            f.writelines(lines)
    with atomic_write(job.record) as f:
        json.dump(stats, f, sort_keys=True)
    return stats

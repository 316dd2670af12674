"""LibriSpeech's top-level tables (SPEAKERS.TXT, CHAPTERS.TXT) and our VOICES.TXT, for the stand-in."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from speechssl.corpora.standin.plan import Chapter, Speaker
from speechssl.data.scp import read_lines
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError

_PROJECT = "speechssl stand-in corpus (espeak-ng)"


def write_speakers(path: Path, speakers: Sequence[Speaker], minutes: Mapping[int, float], seed: int) -> None:
    """SPEAKERS.TXT: ``;`` comments, then ``ID | SEX | SUBSET | MINUTES | NAME`` rows sorted by ID."""
    with atomic_write(path) as f:
        f.write(f"; Readers of the {_PROJECT}, synthesized with seed {seed}.\n")
        f.write("; They are espeak-ng voices, not people; VOICES.TXT gives each one's accent, variant, pitch and rate.\n")
        f.write(";ID  |SEX| SUBSET           |MINUTES| NAME\n")
        for s in sorted(speakers, key=lambda s: s.id):
            f.write(f"{s.id:<5}| {s.sex} | {s.subset:<17}| {minutes[s.id]:6.2f}| {s.name}\n")


def write_chapters(path: Path, chapters: Sequence[Chapter], minutes: Mapping[int, float], sources: Sequence[str]) -> None:
    """CHAPTERS.TXT: ``ID | READER | MINUTES | SUBSET | PROJ. | BOOK ID | CH. TITLE | PROJECT TITLE``.

    PROJ. and BOOK ID repeat the chapter and reader ids (the stand-in has no books).
    """
    with atomic_write(path) as f:
        f.write(f"; Chapters of the {_PROJECT}; sentences from {', '.join(sources)}.\n")
        f.write(";ID    |READER|MINUTES| SUBSET           | PROJ.  |BOOK ID| CH. TITLE             | PROJECT TITLE\n")
        for c in sorted(chapters, key=lambda c: c.chapter_id):
            s = c.speaker
            f.write(f"{c.chapter_id:<7}| {s.id:<5}| {minutes[c.chapter_id]:6.2f}| {s.subset:<17}| "
                    f"{c.chapter_id:<7}| {s.id:<6}| Chapter {c.chapter_id:<14}| {_PROJECT}\n")


def write_voices(path: Path, speakers: Sequence[Speaker]) -> None:
    """VOICES.TXT (ours): ``ID | SEX | SUBSET | ACCENT | VARIANT | PITCH | RATE`` per speaker."""
    with atomic_write(path) as f:
        f.write(f"; espeak-ng voices of the readers of SPEAKERS.TXT ({_PROJECT}).\n")
        f.write("; ACCENT is the espeak-ng language of the audio and of the reference phones (*.phones.txt);\n")
        f.write("; VARIANT is the voice variant (+m1, +f3, ...), PITCH espeak-ng's -p (0-99), RATE its -s (words/min).\n")
        f.write(";ID  |SEX| SUBSET           | ACCENT         | VARIANT | PITCH | RATE\n")
        for s in sorted(speakers, key=lambda s: s.id):
            f.write(f"{s.id:<5}| {s.sex} | {s.subset:<17}| {s.accent:<15}| {s.variant:<8}| {s.pitch:<6}| {s.rate}\n")


def read_voices(path: str | Path) -> dict[str, dict[str, str]]:
    """Parse VOICES.TXT into ``{speaker id: {sex, subset, accent, variant, pitch, rate}}``."""
    keys = ("sex", "subset", "accent", "variant", "pitch", "rate")
    voices = {}
    for n, line in enumerate(read_lines(path), start=1):
        if not line.strip() or line.startswith(";"):
            continue
        fields = [x.strip() for x in line.split("|")]
        if len(fields) != len(keys) + 1:
            raise SpeechSSLError(f"{path}:{n}: expected 'ID | SEX | SUBSET | ACCENT | VARIANT | PITCH | RATE'")
        voices[fields[0]] = dict(zip(keys, fields[1:]))
    return voices

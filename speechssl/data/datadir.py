"""A Kaldi data directory as a Python object.

Files understood (all optional except ``wav.scp`` and ``utt2spk`` for a
complete directory): ``wav.scp``, ``segments``, ``text``, ``utt2spk``,
``spk2utt``, ``utt2dur``, ``utt2num_frames``, ``feats.scp``, ``reco2dur``,
``spk2gender``, plus any per-utterance table of our own (``utt2phones``,
``utt2lang``, ...) kept in ``extra``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from speechssl.data.scp import kaldi_sort_key, read_dict, write_table
from speechssl.utils.errors import SpeechSSLError

#: Tables keyed by utterance id (beside utt2spk and text).
UTT_TABLES = ("text", "utt2dur", "utt2num_frames", "feats.scp")
#: Tables keyed by recording id.
RECO_TABLES = ("wav.scp", "reco2dur")
#: Tables keyed by speaker id.
SPK_TABLES = ("spk2gender",)
#: Further Kaldi tables carried along when present, by what they are keyed by.
UTT_EXTRA_FILES = ("vad.scp",)
RECO_EXTRA_FILES = ("reco2file_and_channel",)
SPK_EXTRA_FILES = ("cmvn.scp", "spk2warp")


def parse_segment(value: str, utt: str) -> tuple[str, float, float]:
    """Split a segments value ``<recording> <start> <end>`` (seconds) into its parts."""
    parts = value.split()
    try:
        if len(parts) != 3:
            raise ValueError
        start, end = float(parts[1]), float(parts[2])
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError
    except ValueError:
        raise SpeechSSLError(
            f"segments: utterance {utt!r} has {value!r}; expected `<recording-id> <start-seconds> <end-seconds>`"
        ) from None
    return parts[0], start, end


def spk2utt_from_utt2spk(utt2spk: dict[str, str]) -> dict[str, str]:
    """Invert utt2spk into spk2utt values (utterances in C order)."""
    spk: dict[str, list[str]] = {}
    for utt in sorted(utt2spk, key=kaldi_sort_key):
        spk.setdefault(utt2spk[utt], []).append(utt)
    return {s: " ".join(u) for s, u in spk.items()}


@dataclass
class DataDir:
    """In-memory tables of a Kaldi data directory (values kept as raw strings)."""

    wav_scp: dict[str, str] = field(default_factory=dict)
    utt2spk: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] | None = None
    segments: dict[str, str] | None = None
    utt2dur: dict[str, str] | None = None
    utt2num_frames: dict[str, str] | None = None
    feats_scp: dict[str, str] | None = None
    reco2dur: dict[str, str] | None = None
    spk2gender: dict[str, str] | None = None
    extra: dict[str, dict[str, str]] = field(default_factory=dict)
    reco_extra: dict[str, dict[str, str]] = field(default_factory=dict)
    spk_extra: dict[str, dict[str, str]] = field(default_factory=dict)

    _ATTR = {
        "wav.scp": "wav_scp", "utt2spk": "utt2spk", "text": "text", "segments": "segments",
        "utt2dur": "utt2dur", "utt2num_frames": "utt2num_frames", "feats.scp": "feats_scp",
        "reco2dur": "reco2dur", "spk2gender": "spk2gender",
    }

    @property
    def utts(self) -> list[str]:
        """Utterance ids in C order."""
        return sorted(self.utt2spk, key=kaldi_sort_key)

    def spk2utt(self) -> dict[str, str]:
        return spk2utt_from_utt2spk(self.utt2spk)

    def tables(self) -> dict[str, dict[str, str]]:
        """Every present table by file name (spk2utt excluded: it is derived)."""
        out = {}
        for name, attr in self._ATTR.items():
            value = getattr(self, attr)
            if value is not None and (value or name == "utt2spk"):
                out[name] = value
        out.update(self.extra)
        out.update(self.reco_extra)
        out.update(self.spk_extra)
        return out

    @classmethod
    def load(
        cls,
        path: str | Path,
        extra: tuple[str, ...] | None = None,
        reader: Callable[[Path, bool], dict[str, str]] | None = None,
    ) -> "DataDir":
        """Read a data directory.  ``extra`` names additional utterance tables to load;
        by default every other regular file whose name starts with ``utt2`` is loaded,
        and ``vad.scp``.  The recording and speaker tables in ``RECO_EXTRA_FILES`` and
        ``SPK_EXTRA_FILES`` are loaded when present.  ``reader(file, allow_empty_value)``
        replaces :func:`read_dict` (e.g. to tolerate duplicate keys)."""
        path = Path(path)
        if not path.is_dir():
            raise SpeechSSLError(f"{path}: no such data directory")
        read = reader or read_dict
        d = cls()
        for name, attr in cls._ATTR.items():
            f = path / name
            if f.is_file():
                setattr(d, attr, read(f, name == "text"))
        if extra is None:
            extra = tuple(
                p.name for p in sorted(path.iterdir())
                if p.is_file() and p.name.startswith("utt2") and p.name not in cls._ATTR
            ) + UTT_EXTRA_FILES
        for name in extra:
            if (path / name).is_file():
                d.extra[name] = read(path / name, True)
        for names, target in ((RECO_EXTRA_FILES, d.reco_extra), (SPK_EXTRA_FILES, d.spk_extra)):
            for name in names:
                if (path / name).is_file():
                    target[name] = read(path / name, False)
        return d

    def save(self, path: str | Path) -> None:
        """Write every table sorted in C order, plus spk2utt derived from utt2spk."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables().items():
            write_table(path / name, table)
        write_table(path / "spk2utt", self.spk2utt())

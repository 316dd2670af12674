"""Fixtures: tiny Kaldi data directories with real audio written by soundfile."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

SR = 16000


def tone(seconds: float, sr: int = SR, channels: int = 1, freq: float = 220.0) -> np.ndarray:
    """A quiet sine wave, ``(frames,)`` or ``(frames, channels)``."""
    t = np.arange(int(round(seconds * sr))) / sr
    x = (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return x if channels == 1 else np.stack([x * (c + 1) / channels for c in range(channels)], axis=1)


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture
def make_audio(tmp_path: Path) -> Callable[..., Path]:
    """``make_audio(name, seconds=0.5, sr=16000, channels=1)``: write ``audio/<name>`` (format from suffix)."""

    def make(name: str, seconds: float = 0.5, sr: int = SR, channels: int = 1, freq: float = 220.0) -> Path:
        path = tmp_path / "audio" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(seconds, sr, channels, freq), sr, subtype="PCM_16")
        return path

    return make


@pytest.fixture
def data_dir(tmp_path: Path, make_audio: Callable[..., Path]) -> Path:
    """A valid directory: 2 speakers x 2 utterances, flac and wav files, 0.5 s each (0.75 s for spkB-u2)."""
    d = tmp_path / "data" / "train"
    d.mkdir(parents=True)
    utts = {"spkA-u1": "flac", "spkA-u2": "wav", "spkB-u1": "flac", "spkB-u2": "wav"}
    wav = [f"{u} {make_audio(f'{u}.{ext}', 0.75 if u == 'spkB-u2' else 0.5)}" for u, ext in utts.items()]
    write_lines(d / "wav.scp", wav)
    write_lines(d / "text", ["spkA-u1 hello world", "spkA-u2 good morning", "spkB-u1 hello again",
                             "spkB-u2 see you"])
    write_lines(d / "utt2spk", [f"{u} {u.split('-')[0]}" for u in utts])
    write_lines(d / "spk2utt", ["spkA spkA-u1 spkA-u2", "spkB spkB-u1 spkB-u2"])
    return d


@pytest.fixture
def seg_data_dir(tmp_path: Path, make_audio: Callable[..., Path]) -> Path:
    """A valid directory with segments: recordings recA (2.0 s) and recB (1.0 s), three utterances."""
    d = tmp_path / "data" / "seg"
    d.mkdir(parents=True)
    write_lines(d / "wav.scp", [f"recA {make_audio('recA.wav', 2.0, freq=300.0)}",
                                f"recB {make_audio('recB.flac', 1.0, freq=500.0)}"])
    write_lines(d / "segments", ["s1-a recA 0.00 0.50", "s1-b recA 1.00 2.00", "s2-a recB 0.25 0.75"])
    write_lines(d / "text", ["s1-a one", "s1-b two", "s2-a three"])
    write_lines(d / "utt2spk", ["s1-a s1", "s1-b s1", "s2-a s2"])
    write_lines(d / "spk2utt", ["s1 s1-a s1-b", "s2 s2-a"])
    return d

"""Reading the audio that a Kaldi ``wav.scp`` entry names.

A wav.scp value is either a file path (any format libsndfile reads: wav, flac,
ogg, ...) or a shell command ending in ``|`` whose standard output is an audio
file, e.g. ``sox in.mp3 -t wav - |`` or ``flac -c -d -s in.flac |``.  Commands
run through ``bash``.  Utterances listed in ``segments`` are cut out of their
recording by start and end time in seconds.

Waveforms are returned as mono ``float32`` numpy arrays in [-1, 1].
"""
from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from speechssl.data.datadir import DataDir, parse_segment
from speechssl.utils.errors import SpeechSSLError

#: How far (seconds) a segment may end past the end of its recording; within
#: this tolerance it is cut at the end of the recording (Kaldi's
#: extract-segments uses the same default), beyond it it is an error.
MAX_OVERSHOOT = 0.5

_PROBE_FRAMES = 1024
_BLOCK_FRAMES = 1 << 16


@dataclass(frozen=True)
class AudioInfo:
    """What an audio header says: sample rate, length in samples, channel count."""

    sample_rate: int
    num_frames: int
    channels: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.sample_rate


def is_pipe(value: str) -> bool:
    """True if a wav.scp value is a command (``... |``) rather than a file path."""
    return value.rstrip().endswith("|")


def _label(name: str | None) -> str:
    return f"recording {name!r}: " if name else ""


def run_pipe(value: str, name: str | None = None) -> bytes:
    """Run the command of a ``cmd |`` wav.scp value through bash; return its stdout."""
    cmd = value.rstrip()[:-1].strip()
    if not cmd:
        raise SpeechSSLError(f"{_label(name)}wav.scp value {value!r} is a pipe with no command before '|'")
    proc = subprocess.run(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    stderr = proc.stderr.decode("utf-8", "replace").strip()[-500:]
    if proc.returncode != 0:
        raise SpeechSSLError(
            f"{_label(name)}command `{cmd}` failed with exit status {proc.returncode}"
            + (f": {stderr}" if stderr else "") + "; run it by hand to see why"
        )
    if not proc.stdout:
        raise SpeechSSLError(
            f"{_label(name)}command `{cmd}` wrote no audio to its standard output"
            + (f" (its stderr: {stderr})" if stderr else "")
            + "; it must write a wav file to stdout, e.g. `sox in.flac -t wav - |`"
        )
    return proc.stdout


def _describe(value: str) -> str:
    return f"the output of `{value.rstrip()[:-1].strip()}`" if is_pipe(value) else f"audio file {value}"


def _decode_error(value: str, name: str | None, err: Exception) -> SpeechSSLError:
    return SpeechSSLError(
        f"{_label(name)}cannot decode {_describe(value)} ({err}); the file is corrupt or in a format "
        "libsndfile cannot read: re-create it, or convert it with a pipe in wav.scp such as "
        "`sox FILE -t wav - |`"
    )


def _open(value: str, name: str | None) -> sf.SoundFile:
    """Open a wav.scp value for reading (a pipe is run and buffered in memory)."""
    if is_pipe(value):
        source: str | io.BytesIO = io.BytesIO(run_pipe(value, name))
    else:
        source = value.strip()
        if not Path(source).is_file():
            raise SpeechSSLError(
                f"{_label(name)}audio file {source} does not exist; fix the path in wav.scp "
                "(paths are relative to the directory you run from) or remove the recording "
                "and run utils/fix_data_dir.sh"
            )
    try:
        return sf.SoundFile(source)
    except (sf.SoundFileError, RuntimeError) as e:
        raise _decode_error(value, name, e) from None


def _check_rate(sr: int, expected: int | None, value: str, name: str | None) -> None:
    if expected is not None and sr != expected:
        raise SpeechSSLError(
            f"{_label(name)}{_describe(value)} has sample rate {sr} Hz but {expected} Hz is expected; "
            f"resample it (e.g. wav.scp value `sox FILE -r {expected} -t wav - |`) or change the recipe's sample rate"
        )


def _frame_range(
    start: float | None, end: float | None, sr: int, frames: int, name: str | None, max_overshoot: float
) -> tuple[int, int]:
    """First and one-past-last sample of ``[start, end)`` seconds within ``frames`` samples."""
    duration = frames / sr
    if start is not None and start < 0:
        raise SpeechSSLError(f"{_label(name)}segment start {start} is negative")
    if start is not None and end is not None and end <= start:
        raise SpeechSSLError(f"{_label(name)}segment end {end} is not after its start {start}")
    first = 0 if start is None else int(round(start * sr))
    last = frames if end is None else int(round(end * sr))
    if last > frames:
        if (last - frames) / sr > max_overshoot:
            raise SpeechSSLError(
                f"{_label(name)}segment ends at {end:.3f} s, past the end of the recording ({duration:.3f} s) "
                f"by more than {max_overshoot} s; fix the end time in segments"
            )
        last = frames
    if first >= last:
        raise SpeechSSLError(
            f"{_label(name)}segment [{start}, {end}] s holds no samples of the {duration:.3f} s recording"
        )
    return first, last


def _select_channel(data: np.ndarray, channel: int | None, name: str | None) -> np.ndarray:
    """Reduce ``(frames, channels)`` to one channel; several channels need ``channel`` chosen."""
    num = data.shape[1]
    if num == 1 and channel in (None, 0):
        return np.ascontiguousarray(data[:, 0])
    if channel is None:
        raise SpeechSSLError(
            f"{_label(name)}audio has {num} channels; choose one (channel=0 for the first) or select it "
            "in wav.scp with a pipe such as `sox FILE -t wav - remix 1 |`"
        )
    if not 0 <= channel < num:
        raise SpeechSSLError(f"{_label(name)}channel {channel} requested but the audio has {num} channel(s)")
    return np.ascontiguousarray(data[:, channel])


def read_audio(
    value: str,
    start: float | None = None,
    end: float | None = None,
    *,
    channel: int | None = None,
    expected_sample_rate: int | None = None,
    name: str | None = None,
    max_overshoot: float = MAX_OVERSHOOT,
) -> tuple[np.ndarray, int]:
    """Read a wav.scp value (path or ``cmd |``), optionally only ``[start, end)`` seconds.

    Returns ``(waveform, sample_rate)`` with a mono float32 waveform.  ``name``
    (the recording id) is used in error messages.  Missing files, undecodable
    or empty audio, an unexpected sample rate and multi-channel audio without
    a chosen ``channel`` raise :class:`SpeechSSLError`.
    """
    with _open(value, name) as f:
        sr, frames = f.samplerate, f.frames
        _check_rate(sr, expected_sample_rate, value, name)
        if frames == 0:
            raise SpeechSSLError(f"{_label(name)}{_describe(value)} is empty (0 samples); remove it from the data")
        first, last = _frame_range(start, end, sr, frames, name, max_overshoot)
        try:
            f.seek(first)
            data = f.read(last - first, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as e:
            raise _decode_error(value, name, e) from None
    if len(data) == 0:
        raise SpeechSSLError(f"{_label(name)}{_describe(value)} holds no decodable samples")
    return _select_channel(data, channel, name), sr


def audio_info(value: str, *, name: str | None = None) -> AudioInfo:
    """Header of a wav.scp value (sample rate, samples, channels); pipes are run."""
    with _open(value, name) as f:
        return AudioInfo(f.samplerate, f.frames, f.channels)


def probe_audio(value: str, *, name: str | None = None, full: bool = False) -> AudioInfo:
    """Read the header of a wav.scp value and check that its audio decodes.

    By default only the first and last samples are decoded (cheap, and catches
    most corruption); ``full`` decodes everything and also rejects NaN or
    infinite samples.  Pipes are run.  Raises :class:`SpeechSSLError`.
    """
    with _open(value, name) as f:
        info = AudioInfo(f.samplerate, f.frames, f.channels)
        try:
            if full:
                for block in f.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
                    if not np.isfinite(block).all():
                        raise SpeechSSLError(f"{_label(name)}{_describe(value)} contains NaN or infinite samples")
            elif info.num_frames > 0:
                f.read(min(_PROBE_FRAMES, info.num_frames), dtype="float32")
                f.seek(max(0, info.num_frames - _PROBE_FRAMES))
                f.read(_PROBE_FRAMES, dtype="float32")
        except (sf.SoundFileError, RuntimeError) as e:
            raise _decode_error(value, name, e) from None
    return info


def _decode_whole(value: str, name: str, expected_sample_rate: int | None) -> tuple[np.ndarray, int]:
    """Decode a whole recording as ``(frames, channels)`` float32."""
    with _open(value, name) as f:
        _check_rate(f.samplerate, expected_sample_rate, value, name)
        try:
            data = f.read(dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as e:
            raise _decode_error(value, name, e) from None
        if len(data) == 0:
            raise SpeechSSLError(f"{_label(name)}{_describe(value)} is empty (0 samples); remove it from the data")
        return data, f.samplerate


def iter_utterances(
    datadir: str | Path | DataDir,
    sample_rate: int | None = None,
    *,
    channel: int | None = None,
    max_overshoot: float = MAX_OVERSHOOT,
) -> Iterator[tuple[str, np.ndarray, int]]:
    """Yield ``(utt_id, waveform, sample_rate)`` for every utterance, in C order.

    Honours ``segments``.  ``sample_rate``, when given, is the rate every
    recording must have (a different one is an error, not resampled).  A piped
    recording shared by consecutive segments is run once.
    """
    d = datadir if isinstance(datadir, DataDir) else DataDir.load(datadir)
    where = "" if isinstance(datadir, DataDir) else f"{datadir}: "
    if not d.wav_scp:
        raise SpeechSSLError(f"{where}no wav.scp (or it is empty); this data directory has no audio")
    if d.segments is None:
        for utt in d.utts or sorted(d.wav_scp):
            if utt not in d.wav_scp:
                raise SpeechSSLError(f"{where}utterance {utt!r} is in utt2spk but not in wav.scp; run utils/fix_data_dir.sh")
            wav, sr = read_audio(d.wav_scp[utt], channel=channel, expected_sample_rate=sample_rate, name=utt)
            yield utt, wav, sr
        return
    cached: tuple[str, np.ndarray, int] | None = None
    for utt in d.utts or sorted(d.segments):
        if utt not in d.segments:
            raise SpeechSSLError(f"{where}utterance {utt!r} is in utt2spk but not in segments; run utils/fix_data_dir.sh")
        reco, start, end = parse_segment(d.segments[utt], utt)
        if reco not in d.wav_scp:
            raise SpeechSSLError(f"{where}segments: utterance {utt!r} refers to recording {reco!r}, which is not in wav.scp")
        value = d.wav_scp[reco]
        try:
            if not is_pipe(value):
                wav, sr = read_audio(value, start, end, channel=channel, expected_sample_rate=sample_rate,
                                     name=reco, max_overshoot=max_overshoot)
            else:
                if cached is None or cached[0] != reco:
                    cached = (reco, *_decode_whole(value, reco, sample_rate))
                _, data, sr = cached
                first, last = _frame_range(start, end, sr, len(data), reco, max_overshoot)
                wav = _select_channel(data[first:last], channel, reco)
        except SpeechSSLError as e:
            raise SpeechSSLError(f"{where}utterance {utt!r}: {e}") from None
        yield utt, wav, sr

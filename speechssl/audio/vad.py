"""Voice activity detection: pluggable detectors and their use on Kaldi data directories.

Every detector answers ``detect_speech(wav, sr) -> [(start_s, end_s), ...]``
(sorted, non-overlapping, seconds from the start of ``wav``).  Three ship here:

* ``silero``: the silero-vad neural model (its weights ship inside the package);
* ``webrtc``: the WebRTC GMM detector (package ``webrtcvad-wheels``);
* ``energy``: our own short-time-energy detector with an adaptive threshold.

All three share the same post-processing: each boundary is first refined to
where the short-time energy crosses the utterance's speech threshold (within
``refine_s``; neural and GMM detectors report boundaries up to ~0.1 s late),
then gaps shorter than ``min_silence_s`` are bridged and regions shorter than
``min_speech_s`` are dropped.  Gaps that survive are the *pauses* of an
utterance, used by the text side to estimate how often to insert ``<SIL>``.

:func:`apply_vad_to_datadir` turns a data directory into a new one in one of
three modes: ``trim`` (one segment per utterance from the first to the last
speech, padded; the default), ``split`` (one utterance per speech region) and
``concat`` (internal silences removed too: speech regions are joined and
written as flac with a new ``wav.scp``).  Apply the same mode to every set;
:func:`check_vad_symmetry` warns when a recipe does not.
"""
from __future__ import annotations

import functools
import itertools
import json
import multiprocessing
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from speechssl.data.datadir import DataDir, parse_segment
from speechssl.data.scp import read_table, write_table
from speechssl.utils.atomic import atomic_dir
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

Region = tuple[float, float]

#: Output modes of :func:`apply_vad_to_datadir`.
MODES = ("trim", "split", "concat")
#: Name of the JSON file that records how a data directory was VAD-processed.
VAD_CONFIG_FILE = "vad.json"

_ENERGY_FRAME_S = 0.025
_ENERGY_SHIFT_S = 0.010


# ----------------------------------------------------------------------------- energy helpers

def frame_energy_db(wav: np.ndarray, sr: int, frame_s: float = _ENERGY_FRAME_S,
                    shift_s: float = _ENERGY_SHIFT_S) -> np.ndarray:
    """Short-time energy in dB relative to full scale, one value per ``shift_s``."""
    frame, shift = max(1, round(frame_s * sr)), max(1, round(shift_s * sr))
    x = np.asarray(wav, dtype=np.float64)
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    n = 1 + (len(x) - frame) // shift
    power = np.cumsum(np.concatenate([[0.0], x * x]))
    starts = np.arange(n) * shift
    mean_power = (power[starts + frame] - power[starts]) / frame
    return 10.0 * np.log10(mean_power + 1e-12)


def speech_threshold_db(energy_db: np.ndarray, floor_db: float = -55.0, margin_db: float = 12.0,
                        noise_percentile: float = 5.0) -> float:
    """The energy above which a frame counts as speech.

    The noise floor is a low percentile of the frame energies; speech must be
    ``margin_db`` above it and never below the absolute ``floor_db`` (dBFS),
    so near-silent recordings yield no speech at all.
    """
    noise = float(np.percentile(energy_db, noise_percentile)) if len(energy_db) else floor_db
    return max(floor_db, noise + margin_db)


def _mask_to_regions(mask: np.ndarray, shift_s: float, frame_s: float) -> list[Region]:
    """Runs of True frames as (start_s, end_s)."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(s * shift_s, (e - 1) * shift_s + frame_s) for s, e in zip(edges[::2], edges[1::2])]


def merge_regions(regions: Sequence[Region], min_silence_s: float, min_speech_s: float) -> list[Region]:
    """Bridge gaps shorter than ``min_silence_s``, then drop regions shorter than ``min_speech_s``."""
    merged: list[list[float]] = []
    for start, end in sorted(regions):
        if merged and start - merged[-1][1] < min_silence_s:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(float(s), float(e)) for s, e in merged if e - s >= min_speech_s]


def _resample(wav: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = np.gcd(sr, target_sr)
    return resample_poly(wav, target_sr // g, sr // g).astype(np.float32)


# ----------------------------------------------------------------------------- detectors

class SpeechDetector(ABC):
    """Base class: raw detection by the subclass, shared refinement and smoothing here."""

    name = "base"

    def __init__(self, min_speech_s: float = 0.1, min_silence_s: float = 0.25, refine_s: float = 0.15,
                 floor_db: float = -55.0, margin_db: float = 12.0):
        if min_speech_s < 0 or min_silence_s < 0 or refine_s < 0:
            raise SpeechSSLError("VAD durations (min_speech_s, min_silence_s, refine_s) must be >= 0")
        self.min_speech_s = min_speech_s
        self.min_silence_s = min_silence_s
        self.refine_s = refine_s
        self.floor_db = floor_db
        self.margin_db = margin_db

    def options(self) -> dict[str, Any]:
        """The settings that define this detector's output (recorded in ``vad.json``)."""
        return {"detector": self.name, "min_speech_s": self.min_speech_s, "min_silence_s": self.min_silence_s,
                "refine_s": self.refine_s, "floor_db": self.floor_db, "margin_db": self.margin_db}

    @abstractmethod
    def raw_regions(self, wav: np.ndarray, sr: int) -> list[Region]:
        """Speech regions as the underlying detector reports them."""

    def detect_speech(self, wav: np.ndarray, sr: int) -> list[Region]:
        """Sorted, non-overlapping speech regions (seconds) of a mono float waveform."""
        wav = np.asarray(wav, dtype=np.float32)
        if wav.ndim != 1:
            raise SpeechSSLError(f"VAD expects mono audio; got an array of shape {wav.shape}")
        duration = len(wav) / sr
        if duration == 0:
            return []
        energy = frame_energy_db(wav, sr)
        threshold = speech_threshold_db(energy, self.floor_db, self.margin_db)
        regions = self.raw_regions(wav, sr)
        if self.refine_s > 0:
            regions = [self._refine(r, energy > threshold) for r in regions]
        regions = [(max(0.0, s), min(duration, e)) for s, e in regions if e > s]
        return merge_regions(regions, self.min_silence_s, self.min_speech_s)

    def _refine(self, region: Region, loud: np.ndarray) -> Region:
        """Move each boundary to the energy crossing within ``refine_s`` of it, if there is one."""
        start, end = region
        n = len(loud)
        lo = max(0, int((start - self.refine_s) / _ENERGY_SHIFT_S))
        hi = min(n, int((start + self.refine_s) / _ENERGY_SHIFT_S) + 1)
        hits = np.flatnonzero(loud[lo:hi])
        new_start = (lo + hits[0]) * _ENERGY_SHIFT_S if len(hits) else start
        lo = max(0, int((end - self.refine_s) / _ENERGY_SHIFT_S))
        hi = min(n, int((end + self.refine_s) / _ENERGY_SHIFT_S) + 1)
        hits = np.flatnonzero(loud[lo:hi])
        new_end = (lo + hits[-1]) * _ENERGY_SHIFT_S + _ENERGY_FRAME_S if len(hits) else end
        return (new_start, new_end) if new_end > new_start else region


class EnergyVad(SpeechDetector):
    """Frames whose short-time energy exceeds :func:`speech_threshold_db` are speech."""

    name = "energy"

    def raw_regions(self, wav: np.ndarray, sr: int) -> list[Region]:
        energy = frame_energy_db(wav, sr)
        mask = energy > speech_threshold_db(energy, self.floor_db, self.margin_db)
        return _mask_to_regions(mask, _ENERGY_SHIFT_S, _ENERGY_FRAME_S)


class WebrtcVad(SpeechDetector):
    """The WebRTC detector on 30 ms frames (audio resampled to 16 kHz when needed)."""

    name = "webrtc"
    _RATES = (8000, 16000, 32000, 48000)

    def __init__(self, aggressiveness: int = 2, **kwargs):
        super().__init__(**kwargs)
        if aggressiveness not in (0, 1, 2, 3):
            raise SpeechSSLError(f"webrtc aggressiveness must be 0..3, got {aggressiveness}")
        self.aggressiveness = aggressiveness
        try:
            import webrtcvad
        except ImportError as e:
            raise SpeechSSLError("the webrtc VAD needs the package webrtcvad-wheels (pip install webrtcvad-wheels)") from e
        self._vad = webrtcvad.Vad(aggressiveness)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "aggressiveness": self.aggressiveness}

    def raw_regions(self, wav: np.ndarray, sr: int) -> list[Region]:
        if sr not in self._RATES:
            wav, sr = _resample(wav, sr, 16000), 16000
        frame = sr * 30 // 1000
        pcm = (np.clip(wav, -1.0, 1.0) * 32767).astype("<i2")
        n = len(pcm) // frame
        mask = np.array([self._vad.is_speech(pcm[i * frame:(i + 1) * frame].tobytes(), sr) for i in range(n)],
                        dtype=bool)
        return _mask_to_regions(mask, 0.03, 0.03)


@functools.lru_cache(maxsize=1)
def _silero_model():
    """The silero model, loaded once per process (about 1 s)."""
    try:
        from silero_vad import load_silero_vad
    except ImportError as e:
        raise SpeechSSLError("the silero VAD needs the package silero-vad (pip install silero-vad)") from e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # silero's loader uses deprecated importlib/jit calls
        return load_silero_vad()


class SileroVad(SpeechDetector):
    """The silero-vad model (shipped with the package; runs offline on CPU)."""

    name = "silero"

    def __init__(self, threshold: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < threshold < 1.0:
            raise SpeechSSLError(f"silero threshold must be in (0, 1), got {threshold}")
        self.threshold = threshold
        self._model = _silero_model()

    def options(self) -> dict[str, Any]:
        return {**super().options(), "threshold": self.threshold}

    def raw_regions(self, wav: np.ndarray, sr: int) -> list[Region]:
        import torch
        from silero_vad import get_speech_timestamps

        if sr not in (8000, 16000):
            wav, sr = _resample(wav, sr, 16000), 16000
        stamps = get_speech_timestamps(
            torch.from_numpy(np.ascontiguousarray(wav)), self._model, threshold=self.threshold,
            sampling_rate=sr, min_speech_duration_ms=0, min_silence_duration_ms=0, speech_pad_ms=0,
        )
        return [(d["start"] / sr, d["end"] / sr) for d in stamps]


DETECTORS: dict[str, type[SpeechDetector]] = {c.name: c for c in (SileroVad, WebrtcVad, EnergyVad)}


def make_detector(name: str, **options: Any) -> SpeechDetector:
    """Build a detector by name (``silero``, ``webrtc`` or ``energy``) with its options."""
    if name not in DETECTORS:
        raise SpeechSSLError(f"unknown VAD detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name](**options)


def detect_speech(wav: np.ndarray, sr: int, detector: str = "silero", **options: Any) -> list[Region]:
    """One-off convenience: build ``detector`` and run it on ``wav``."""
    return make_detector(detector, **options).detect_speech(wav, sr)


# ----------------------------------------------------------------------------- per-utterance results

def pauses_of(regions: Sequence[Region]) -> list[float]:
    """Durations (s) of the silences between consecutive speech regions."""
    return [b[0] - a[1] for a, b in zip(regions, regions[1:])]


def pad_regions(regions: Sequence[Region], pad_s: float, duration: float) -> list[Region]:
    """Widen each region by ``pad_s`` on both sides (clipped), merging any that then overlap."""
    return merge_regions([(max(0.0, s - pad_s), min(duration, e + pad_s)) for s, e in regions], 0.0, 0.0)


def read_pauses(path: str | Path) -> dict[str, list[float]]:
    """Read a ``vad_pauses`` table (``utt count dur1 dur2 ...``) into utterance -> pause durations."""
    out = {}
    for utt, value, line in read_table(path):
        fields = value.split()
        try:
            durations = [float(v) for v in fields[1:]]
            if int(fields[0]) != len(durations):
                raise ValueError
        except ValueError:
            raise SpeechSSLError(f"{path}:{line}: expected `<utt> <count> <dur1> ...` with <count> durations; "
                                 "rerun compute_vad") from None
        out[utt] = durations
    return out


def estimate_silence_rate(pauses: Mapping[str, Sequence[float]], word_counts: Mapping[str, int],
                          min_pause_s: float = 0.0) -> float:
    """Fraction of word boundaries that carry an audible pause.

    ``pauses`` maps utterance id to its internal pause durations (as written in
    ``vad_pauses``), ``word_counts`` maps utterance id to the number of words of
    its transcript (or an estimate).  The result is a starting value for the
    text side's silence-insertion probability (``sil_prob``).
    """
    common = [u for u in pauses if u in word_counts]
    if not common:
        raise SpeechSSLError("estimate_silence_rate: no utterance has both VAD pauses and a word count; "
                             "check that the ids of vad_pauses and the text match")
    n_pauses = sum(sum(1 for d in pauses[u] if d >= min_pause_s) for u in common)
    n_gaps = sum(max(int(word_counts[u]) - 1, 0) for u in common)
    if n_gaps == 0:
        raise SpeechSSLError("estimate_silence_rate: every utterance has fewer than two words; cannot estimate")
    rate = n_pauses / n_gaps
    if rate > 1.0:
        log.warning("found more pauses (%d) than word boundaries (%d); VAD splits inside words? clipping to 1.0",
                    n_pauses, n_gaps)
    return min(rate, 1.0)


# ----------------------------------------------------------------------------- data directories

@dataclass
class VadStats:
    """Counts reported after a data directory has been processed."""

    n_input: int = 0
    n_output: int = 0
    input_s: float = 0.0
    kept_s: float = 0.0
    n_pauses: int = 0
    dropped: dict[str, list[str]] = field(default_factory=dict)

    def drop(self, utt: str, reason: str) -> None:
        self.dropped.setdefault(reason, []).append(utt)

    def as_dict(self) -> dict[str, Any]:
        return {
            "utterances_in": self.n_input, "utterances_out": self.n_output,
            "input_seconds": round(self.input_s, 3), "kept_seconds": round(self.kept_s, 3),
            "kept_percent": round(100.0 * self.kept_s / self.input_s, 2) if self.input_s else 0.0,
            "internal_pauses": self.n_pauses,
            "dropped": {reason: len(utts) for reason, utts in self.dropped.items()},
        }


_WORKER_DETECTOR: SpeechDetector | None = None


def _init_worker(name: str, options: dict[str, Any]) -> None:
    global _WORKER_DETECTOR
    import torch

    torch.set_num_threads(1)
    _WORKER_DETECTOR = make_detector(name, **options)


def _detect_item(item: tuple[np.ndarray, int]) -> list[Region]:
    wav, sr = item
    return _WORKER_DETECTOR.detect_speech(wav, sr)


def _detections(detector: SpeechDetector, datadir: DataDir, nj: int) -> Iterator[tuple[str, np.ndarray, int, list[Region]]]:
    """(utt, wav, sr, regions) in data-dir order; ``nj`` > 1 detects in worker processes.

    Workers get bounded batches, so at most ``16 * nj`` utterances are in memory.
    """
    from speechssl.audio.io import iter_utterances

    items = iter_utterances(datadir)
    if nj <= 1:
        for utt, wav, sr in items:
            yield utt, wav, sr, detector.detect_speech(wav, sr)
        return
    options = {k: v for k, v in detector.options().items() if k != "detector"}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(nj, initializer=_init_worker, initargs=(detector.name, options)) as pool:
        while batch := list(itertools.islice(items, 16 * nj)):
            found = pool.map(_detect_item, [(wav, sr) for _, wav, sr in batch], chunksize=4)
            for (utt, wav, sr), regions in zip(batch, found):
                yield utt, wav, sr, regions


def _check_utt_id(utt: str) -> None:
    if "/" in utt or utt.startswith("."):
        raise SpeechSSLError(f"utterance id {utt!r} cannot name an audio file; use ids without '/' or a leading '.'")


def apply_vad_to_datadir(src: str | Path, dst: str | Path, detector: SpeechDetector, mode: str = "trim",
                         pad_s: float = 0.1, nj: int = 1, audio_dir: str | Path | None = None) -> dict[str, Any]:
    """Run ``detector`` on every utterance of ``src`` and write the VAD-processed data dir ``dst``.

    ``mode`` is ``trim`` (keep first..last speech, padded by ``pad_s``), ``split``
    (one new utterance ``<utt>-<start_cs>-<end_cs>`` per padded speech region;
    transcripts cannot follow and are dropped) or ``concat`` (padded speech
    regions joined and written as flac under ``audio_dir``, default
    ``dst/wav``).  Utterances with no speech are dropped and counted.  Besides
    the usual tables, ``dst`` gets ``vad_regions`` (``utt start:end ...``, ``-`` when none),
    ``vad_pauses`` (``utt count dur1 dur2 ...``), ``vad_dropped`` and
    ``vad.json``; these are keyed by the *source* utterance ids.  Returns the
    statistics that ``vad.json`` records.
    """
    if mode not in MODES:
        raise SpeechSSLError(f"unknown VAD mode {mode!r}; choose one of {', '.join(MODES)}")
    if pad_s < 0:
        raise SpeechSSLError(f"VAD padding must be >= 0 s, got {pad_s}")
    src, dst = Path(src), Path(dst)
    data = DataDir.load(src)
    if not data.utt2spk:
        raise SpeechSSLError(f"{src}/utt2spk: missing or empty; a data directory needs utt2spk")
    stats = VadStats()
    regions_table: dict[str, str] = {}
    pauses_table: dict[str, str] = {}
    out_segments: dict[str, str] = {}
    out_wav: dict[str, str] = {}
    out_utt2dur: dict[str, str] = {}
    new_ids: dict[str, list[str]] = {}

    with atomic_dir(dst) as tmp:
        final_audio = Path(audio_dir).resolve() if audio_dir else dst.resolve() / "wav"
        write_audio = tmp / "wav" if audio_dir is None else final_audio
        for utt, wav, sr, regions in tqdm(_detections(detector, data, nj), total=len(data.utt2spk),
                                          desc=f"VAD ({detector.name}) {src.name}", unit="utt"):
            duration = len(wav) / sr
            stats.n_input += 1
            stats.input_s += duration
            regions_table[utt] = " ".join(f"{s:.3f}:{e:.3f}" for s, e in regions) or "-"
            pauses = pauses_of(regions)
            stats.n_pauses += len(pauses)
            pauses_table[utt] = " ".join([str(len(pauses))] + [f"{p:.3f}" for p in pauses])
            if not regions:
                stats.drop(utt, "no speech found by the VAD")
                continue
            padded = pad_regions(regions, pad_s, duration)
            if data.segments:
                reco, offset, _ = parse_segment(data.segments[utt], utt)
            else:
                reco, offset = utt, 0.0
            pieces, ids = _pieces(mode, utt, padded, offset)
            new_ids[utt] = ids
            if mode == "concat":
                _check_utt_id(utt)
                audio = np.concatenate([wav[round(s * sr):round(e * sr)] for s, e in pieces])
                _write_flac(write_audio / f"{utt}.flac", audio, sr)
                out_wav[utt] = str(final_audio / f"{utt}.flac")
                out_utt2dur[utt] = f"{len(audio) / sr:.3f}"
                stats.kept_s += len(audio) / sr
                continue
            for new_id, (s, e) in zip(ids, pieces):
                out_segments[new_id] = f"{reco} {offset + s:.3f} {offset + e:.3f}"
                out_utt2dur[new_id] = f"{e - s:.3f}"
                stats.kept_s += e - s
            out_wav[reco] = data.wav_scp[reco]

        stats.n_output = sum(len(v) for v in new_ids.values())
        if stats.n_output == 0:
            raise SpeechSSLError(f"{src}: the VAD found no speech in any of its {stats.n_input} utterances; check the "
                                 "audio (e.g. with sox stat) or lower --energy-margin-db / --silero-threshold")
        out = _output_datadir(data, mode, new_ids, out_wav, out_segments, out_utt2dur)
        out.save(tmp)
        write_table(tmp / "vad_regions", regions_table)
        write_table(tmp / "vad_pauses", pauses_table)
        write_table(tmp / "vad_dropped", [(u, r.replace(" ", "_")) for r, us in stats.dropped.items() for u in us])
        record = {"config": {**detector.options(), "mode": mode, "pad_s": pad_s}, "stats": stats.as_dict()}
        (tmp / VAD_CONFIG_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _log_stats(src, stats)
    return stats.as_dict()


def _pieces(mode: str, utt: str, padded: list[Region], offset: float) -> tuple[list[Region], list[str]]:
    """The kept audio spans of one utterance and the output utterance ids they become."""
    if mode == "trim":
        return [(padded[0][0], padded[-1][1])], [utt]
    if mode == "split":
        return padded, [f"{utt}-{round((offset + s) * 100):07d}-{round((offset + e) * 100):07d}" for s, e in padded]
    return padded, [utt]


def _write_flac(path: Path, audio: np.ndarray, sr: int) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sf.write(str(tmp), audio, sr, format="FLAC", subtype="PCM_16")
    tmp.replace(path)


def vad_cut(wav: np.ndarray, sr: int, detector: SpeechDetector, mode: str = "trim", pad_s: float = 0.1,
            utt: str = "utt") -> list[tuple[str, np.ndarray]]:
    """The audio :func:`apply_vad_to_datadir` keeps of one utterance, as the next stage reads it back.

    Returns ``(utt_id, waveform)`` pieces with the ids the data directory would
    get: one for ``trim`` and ``concat``, one per speech region for ``split``;
    none when there is no speech.  Cuts go through the millisecond times of
    ``segments`` and ``concat`` audio through 16-bit FLAC, so the samples are
    the ones the recipe's feature stage sees.
    """
    if mode not in MODES:
        raise SpeechSSLError(f"unknown VAD mode {mode!r}; choose one of {', '.join(MODES)}")
    regions = detector.detect_speech(wav, sr)
    if not regions:
        return []
    pieces, ids = _pieces(mode, utt, pad_regions(regions, pad_s, len(wav) / sr), 0.0)
    if mode == "concat":
        import io

        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, np.concatenate([wav[round(s * sr):round(e * sr)] for s, e in pieces]), sr, format="FLAC",
                 subtype="PCM_16")
        buf.seek(0)
        return [(utt, sf.read(buf, dtype="float32")[0])]
    cuts = [(round(float(f"{s:.3f}") * sr), round(float(f"{e:.3f}") * sr)) for s, e in pieces]
    return [(i, wav[first:min(last, len(wav))]) for i, (first, last) in zip(ids, cuts)]


def _output_datadir(data: DataDir, mode: str, new_ids: dict[str, list[str]], wav_scp: dict[str, str],
                    segments: dict[str, str], utt2dur: dict[str, str]) -> DataDir:
    """The tables of the output directory (utterance-level tables follow the kept utterances)."""
    out = DataDir(wav_scp=wav_scp, utt2dur=utt2dur, segments=segments or None)
    out.utt2spk = {n: data.utt2spk[u] for u, ids in new_ids.items() for n in ids}
    if mode == "split":
        dropped = (["text"] if data.text else []) + list(data.extra)
        if dropped:
            log.warning("split mode: %s cannot follow the new utterances and were not copied", ", ".join(dropped))
    else:
        if data.text is not None:
            out.text = {u: data.text[u] for u in new_ids if u in data.text}
        out.extra = {name: {u: t[u] for u in new_ids if u in t} for name, t in data.extra.items()}
    if mode != "concat" and data.reco2dur:
        out.reco2dur = {r: data.reco2dur[r] for r in wav_scp if r in data.reco2dur}
    if data.spk2gender:
        speakers = set(out.utt2spk.values())
        out.spk2gender = {s: g for s, g in data.spk2gender.items() if s in speakers}
    return out


def _log_stats(src: Path, stats: VadStats) -> None:
    d = stats.as_dict()
    log.info("VAD %s: kept %.1f s of %.1f s (%.1f%%) in %d utterances from %d; %d internal pauses",
             src, d["kept_seconds"], d["input_seconds"], d["kept_percent"], d["utterances_out"],
             d["utterances_in"], d["internal_pauses"])
    for reason, utts in stats.dropped.items():
        log.warning("VAD %s: dropped %d utterance(s): %s (e.g. %s)", src, len(utts), reason, ", ".join(utts[:5]))


# ----------------------------------------------------------------------------- recipe checks

def read_vad_config(datadir: str | Path) -> dict[str, Any] | None:
    """The VAD settings recorded in ``datadir/vad.json``, or None when the set was not VAD-processed."""
    path = Path(datadir) / VAD_CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))["config"]
    except (json.JSONDecodeError, KeyError) as e:
        raise SpeechSSLError(f"{path}: not a VAD record written by compute_vad ({e}); rerun compute_vad") from None


def check_vad_symmetry(sets_config: Mapping[str, Mapping[str, Any] | None], reference: str | None = None) -> list[str]:
    """Warn about sets whose VAD treatment differs from the training set's.

    ``sets_config`` maps a set name to its VAD settings (e.g. from
    :func:`read_vad_config`, or a recipe's config) or None for "no VAD".  The
    reference is ``reference``, else the first set whose name starts with
    ``train``, else the first set.  Returns the warnings, which are also logged.
    """
    if not sets_config:
        return []
    names = list(sets_config)
    if reference is None:
        reference = next((n for n in names if n.startswith("train")), names[0])
    if reference not in sets_config:
        raise SpeechSSLError(f"check_vad_symmetry: reference set {reference!r} is not among {names}")
    ref = sets_config[reference]
    warnings = []
    for name in names:
        cfg = sets_config[name]
        if name == reference or _same_vad(ref, cfg):
            continue
        warnings.append(
            f"set {name!r} gets VAD {_describe(cfg)} but {reference!r} gets {_describe(ref)}; a model trained on "
            f"one kind of audio degrades on the other (fairseq #3581: 89% PER on untrimmed test audio). Process "
            f"{name!r} with the same compute_vad options."
        )
    for w in warnings:
        log.warning("%s", w)
    return warnings


def _same_vad(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return dict(a) == dict(b)


def _describe(cfg: Mapping[str, Any] | None) -> str:
    if cfg is None:
        return "none"
    return "(" + ", ".join(f"{k}={v}" for k, v in sorted(cfg.items())) + ")"

"""VAD: detectors on espeak-ng speech padded with silence, and data-directory processing."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from speechssl.audio.vad import (check_vad_symmetry, estimate_silence_rate, make_detector, merge_regions,
                                 read_pauses, read_vad_config)
from speechssl.bin.compute_vad import main as compute_vad_main
from speechssl.data.scp import read_dict
from speechssl.utils.errors import SpeechSSLError

SR = 16000
TOL = 0.05  # seconds

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def _espeak(text: str, path) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True)
    wav, sr = sf.read(str(path), dtype="float32")
    return resample_poly(wav, SR, sr).astype(np.float32) if sr != SR else wav


def _bounds(speech: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(speech) > 0.003)
    return loud[0] / SR, loud[-1] / SR


def _silence(seconds: float, rng: np.random.Generator) -> np.ndarray:
    return (rng.standard_normal(int(seconds * SR)) * 3e-4).astype(np.float32)  # about -70 dBFS of noise


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    d = tmp_path_factory.mktemp("espeak")
    return {
        "one": _espeak("the quick brown fox jumps over the lazy dog", d / "one.wav"),
        "two": _espeak("and then it runs far away", d / "two.wav"),
    }


@pytest.fixture(scope="module")
def padded(speech):
    """An utterance with 1.0 s of silence before and 0.8 s after, and its true speech bounds."""
    rng = np.random.default_rng(0)
    x = speech["one"]
    s, e = _bounds(x)
    wav = np.concatenate([_silence(1.0, rng), x, _silence(0.8, rng)])
    return wav, (1.0 + s, 1.0 + e)


@pytest.mark.parametrize("name", ["silero", "webrtc", "energy"])
def test_detectors_trim_within_tolerance(name, padded):
    wav, (start, end) = padded
    regions = make_detector(name).detect_speech(wav, SR)
    assert regions, f"{name} found no speech"
    assert abs(regions[0][0] - start) < TOL, (name, regions, start)
    assert abs(regions[-1][1] - end) < TOL, (name, regions, end)
    assert all(a[1] < b[0] for a, b in zip(regions, regions[1:]))


@pytest.mark.parametrize("name", ["silero", "webrtc", "energy"])
def test_detectors_find_no_speech_in_silence(name):
    rng = np.random.default_rng(1)
    assert make_detector(name).detect_speech(_silence(2.0, rng), SR) == []
    assert make_detector(name).detect_speech(np.zeros(SR, dtype=np.float32), SR) == []


def test_detector_resamples_other_rates(padded):
    wav, (start, end) = padded
    wav8 = resample_poly(wav, 1, 2).astype(np.float32)
    wav44 = resample_poly(wav, 441, 160).astype(np.float32)
    for name in ("silero", "webrtc"):
        for x, sr in ((wav8, 8000), (wav44, 44100)):
            regions = make_detector(name).detect_speech(x, sr)
            assert abs(regions[0][0] - start) < TOL and abs(regions[-1][1] - end) < TOL, (name, sr, regions)


def test_merge_regions_bridges_short_gaps_and_drops_short_regions():
    regions = [(0.0, 1.0), (1.1, 2.0), (3.0, 3.05), (4.0, 5.0)]
    assert merge_regions(regions, min_silence_s=0.25, min_speech_s=0.1) == [(0.0, 2.0), (4.0, 5.0)]


def _write_datadir(path, utts: dict[str, np.ndarray], text: dict[str, str]):
    (path / "wav").mkdir(parents=True)
    wav_scp, utt2spk = {}, {}
    for utt, wav in utts.items():
        f = path / "wav" / f"{utt}.wav"
        sf.write(str(f), wav, SR)
        wav_scp[utt] = str(f)
        utt2spk[utt] = utt.split("-")[0]
    for name, table in (("wav.scp", wav_scp), ("utt2spk", utt2spk), ("text", text)):
        (path / name).write_text("".join(f"{k} {v}\n" for k, v in sorted(table.items())))


@pytest.fixture()
def datadir(tmp_path, speech):
    """spk1-a: speech, 1.0 s pause, speech; spk1-b: silence only."""
    rng = np.random.default_rng(2)
    one, two = speech["one"], speech["two"]
    a = np.concatenate([_silence(0.7, rng), one, _silence(1.0, rng), two, _silence(0.6, rng)])
    b = _silence(1.5, rng)
    _write_datadir(tmp_path / "data", {"spk1-a": a, "spk1-b": b},
                   {"spk1-a": "the quick brown fox jumps over the lazy dog and then it runs far away",
                    "spk1-b": "nothing"})
    s1, _ = _bounds(one)
    _, e2 = _bounds(two)
    pause = (0.7 + len(one) / SR + 1.0 + _bounds(two)[0]) - (0.7 + _bounds(one)[1])
    return tmp_path / "data", {"start": 0.7 + s1, "end": 0.7 + len(one) / SR + 1.0 + e2, "pause": pause}


def test_trim_mode_datadir(tmp_path, datadir):
    src, truth = datadir
    dst = tmp_path / "data_vad"
    assert compute_vad_main([str(src), str(dst), "--detector", "energy", "--pad", "0.1"]) == 0
    segments = read_dict(dst / "segments")
    assert list(segments) == ["spk1-a"]  # the all-silence utterance is dropped
    reco, start, end = segments["spk1-a"].split()
    assert reco == "spk1-a"
    assert abs(float(start) - (truth["start"] - 0.1)) < TOL
    assert abs(float(end) - (truth["end"] + 0.1)) < TOL
    assert set(read_dict(dst / "text")) == {"spk1-a"}
    assert read_dict(dst / "vad_dropped") == {"spk1-b": "no_speech_found_by_the_VAD"}
    pauses = read_dict(dst / "vad_pauses")
    count, dur = pauses["spk1-a"].split()
    assert count == "1" and abs(float(dur) - truth["pause"]) < 2 * TOL
    assert pauses["spk1-b"] == "0"
    words = {u: len(t.split()) for u, t in read_dict(src / "text").items()}
    assert estimate_silence_rate(read_pauses(dst / "vad_pauses"), words) == pytest.approx(1 / 14)
    record = json.loads((dst / "vad.json").read_text())
    assert record["stats"]["dropped"] == {"no speech found by the VAD": 1}
    assert record["stats"]["utterances_out"] == 1
    expected_kept = truth["end"] - truth["start"] + 0.2
    assert abs(record["stats"]["kept_seconds"] - expected_kept) < 2 * TOL
    assert read_vad_config(dst)["mode"] == "trim"


def test_trim_offsets_follow_input_segments(tmp_path, datadir):
    """With a segments file the new segments are relative to the recording, not the utterance."""
    src, truth = datadir
    seg_dir = tmp_path / "seg"
    seg_dir.mkdir()
    (seg_dir / "wav.scp").write_text((src / "wav.scp").read_text())
    (seg_dir / "segments").write_text("spk1-x spk1-a 0.50 5.00\n")
    (seg_dir / "utt2spk").write_text("spk1-x spk1\n")
    dst = tmp_path / "seg_vad"
    assert compute_vad_main([str(seg_dir), str(dst), "--detector", "energy", "--pad", "0"]) == 0
    reco, start, _ = read_dict(dst / "segments")["spk1-x"].split()
    assert reco == "spk1-a" and abs(float(start) - truth["start"]) < TOL
    assert set(read_dict(dst / "wav.scp")) == {"spk1-a"}


def test_split_and_concat_modes(tmp_path, datadir):
    src, truth = datadir
    split = tmp_path / "split"
    assert compute_vad_main([str(src), str(split), "--detector", "energy", "--mode", "split", "--pad", "0"]) == 0
    segs = read_dict(split / "segments")
    assert len(segs) == 2 and all(k.startswith("spk1-a-") for k in segs)
    assert not (split / "text").exists()
    assert set(read_dict(split / "utt2spk").values()) == {"spk1"}

    concat = tmp_path / "concat"
    assert compute_vad_main([str(src), str(concat), "--detector", "energy", "--mode", "concat", "--pad", "0"]) == 0
    wav_scp = read_dict(concat / "wav.scp")
    assert list(wav_scp) == ["spk1-a"] and wav_scp["spk1-a"].endswith(".flac")
    audio, sr = sf.read(wav_scp["spk1-a"])
    speech_only = truth["end"] - truth["start"] - truth["pause"]
    assert sr == SR and abs(len(audio) / sr - speech_only) < 2 * TOL
    assert not (concat / "segments").exists()
    assert set(read_dict(concat / "text")) == {"spk1-a"}


def test_all_silent_set_is_an_error(tmp_path):
    rng = np.random.default_rng(3)
    _write_datadir(tmp_path / "data", {"spk1-z": _silence(1.0, rng)}, {"spk1-z": "x"})
    assert compute_vad_main([str(tmp_path / "data"), str(tmp_path / "out"), "--detector", "energy"]) == 1
    assert not (tmp_path / "out").exists()


def test_marker_skips_rerun_and_refuses_changed_options(tmp_path, datadir):
    src, _ = datadir
    dst = tmp_path / "out"
    assert compute_vad_main([str(src), str(dst), "--detector", "energy"]) == 0
    stamp = (dst / "segments").stat().st_mtime_ns
    assert compute_vad_main([str(src), str(dst), "--detector", "energy"]) == 0
    assert (dst / "segments").stat().st_mtime_ns == stamp
    assert compute_vad_main([str(src), str(dst), "--detector", "energy", "--pad", "0.3"]) == 1
    assert compute_vad_main([str(src), str(dst), "--detector", "energy", "--pad", "0.3", "--redo", "true"]) == 0
    assert read_vad_config(dst)["pad_s"] == 0.3


def test_parallel_jobs_match_single_job(tmp_path, datadir):
    src, _ = datadir
    assert compute_vad_main([str(src), str(tmp_path / "nj1"), "--detector", "energy"]) == 0
    assert compute_vad_main([str(src), str(tmp_path / "nj2"), "--detector", "energy", "--nj", "2"]) == 0
    assert (tmp_path / "nj1/segments").read_text() == (tmp_path / "nj2/segments").read_text()


def test_check_vad_symmetry():
    trim = {"detector": "silero", "mode": "trim", "pad_s": 0.1}
    assert check_vad_symmetry({"train": trim, "dev": dict(trim), "test": dict(trim)}) == []
    warnings = check_vad_symmetry({"dev": trim, "train": trim, "test": None})
    assert len(warnings) == 1 and "'test'" in warnings[0] and "'train'" in warnings[0]
    assert len(check_vad_symmetry({"train": trim, "test": {**trim, "mode": "concat"}})) == 1


def test_estimate_silence_rate():
    pauses = {"a": [0.3, 0.5], "b": [], "c": [0.05]}
    words = {"a": 5, "b": 3, "c": 2}
    assert estimate_silence_rate(pauses, words) == pytest.approx(3 / 7)
    assert estimate_silence_rate(pauses, words, min_pause_s=0.1) == pytest.approx(2 / 7)
    with pytest.raises(SpeechSSLError):
        estimate_silence_rate({"x": [0.2]}, {"y": 4})

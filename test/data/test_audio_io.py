"""Audio I/O for wav.scp values: files, pipes, segments, and clear errors."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from speechssl.audio.io import audio_info, iter_utterances, probe_audio, read_audio
from speechssl.utils.errors import SpeechSSLError

SR = 16000
needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
TOL = 1.0 / 32768 + 1e-6  # one PCM_16 step


def reference(path) -> np.ndarray:
    """The samples of an audio file as soundfile reads them."""
    return sf.read(str(path), dtype="float32")[0]


def write_lines(path, lines) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def wav_path(datadir, reco: str) -> str:
    return dict(line.split(maxsplit=1) for line in (datadir / "wav.scp").read_text().splitlines())[reco]


@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_read_file(make_audio, ext):
    path = make_audio(f"a.{ext}", 0.5)
    wav, sr = read_audio(str(path))
    assert sr == SR and wav.dtype == np.float32 and wav.shape == (8000,)
    t = np.arange(8000) / SR
    np.testing.assert_allclose(wav, 0.2 * np.sin(2 * np.pi * 220.0 * t), atol=TOL)
    np.testing.assert_array_equal(wav, reference(path))


def test_read_range(make_audio):
    path = make_audio("a.flac", 1.0)
    wav, _ = read_audio(str(path), start=0.25, end=0.5)
    np.testing.assert_array_equal(wav, reference(path)[4000:8000])


@needs_sox
def test_read_sox_pipe(make_audio):
    path = make_audio("a.flac", 0.5)
    wav, sr = read_audio(f"sox {path} -t wav - |")
    assert sr == SR
    np.testing.assert_allclose(wav, reference(path), atol=TOL)
    info = audio_info(f"sox {path} -t wav - |")
    assert info.num_frames == 8000 and info.channels == 1


def test_failing_pipe_names_recording(tmp_path):
    with pytest.raises(SpeechSSLError, match=r"recording 'r9': command `false` failed with exit status 1"):
        read_audio("false |", name="r9")
    with pytest.raises(SpeechSSLError, match="wrote no audio"):
        read_audio("true |", name="r9")


def test_missing_file(tmp_path):
    with pytest.raises(SpeechSSLError, match=r"recording 'r1': audio file .*nope\.wav does not exist"):
        read_audio(str(tmp_path / "nope.wav"), name="r1")


def test_corrupt_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(SpeechSSLError, match=r"recording 'r1': cannot decode audio file .*bad\.wav"):
        read_audio(str(bad), name="r1")


def test_corrupt_flac_data_found_by_probe(make_audio, tmp_path):
    good = make_audio("a.flac", 2.0)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(good.read_bytes()[:3000])  # header intact, frames missing
    with pytest.raises(SpeechSSLError, match="cannot decode"):
        probe_audio(str(cut), name="r1")
    with pytest.raises(SpeechSSLError, match="cannot decode"):
        read_audio(str(cut), name="r1")


def test_empty_audio(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR)
    with pytest.raises(SpeechSSLError, match=r"recording 'r1': .*is empty \(0 samples\)"):
        read_audio(str(empty), name="r1")


def test_wrong_sample_rate(make_audio):
    path = make_audio("a.wav", 0.5, sr=8000)
    assert read_audio(str(path))[1] == 8000
    with pytest.raises(SpeechSSLError, match="has sample rate 8000 Hz but 16000 Hz is expected"):
        read_audio(str(path), expected_sample_rate=16000, name="r1")


def test_multichannel_needs_channel(make_audio):
    path = make_audio("st.wav", 0.5, channels=2)
    with pytest.raises(SpeechSSLError, match="audio has 2 channels; choose one"):
        read_audio(str(path), name="r1")
    left, _ = read_audio(str(path), channel=0)
    right, _ = read_audio(str(path), channel=1)
    np.testing.assert_allclose(right, 2 * left, atol=3 * TOL)
    with pytest.raises(SpeechSSLError, match="channel 2 requested"):
        read_audio(str(path), channel=2)


def test_segment_bounds(make_audio):
    path = str(make_audio("a.wav", 1.0))
    assert read_audio(path, 0.5, 1.3)[0].shape == (8000,)  # overshoot within 0.5 s is cut
    with pytest.raises(SpeechSSLError, match="past the end of the recording"):
        read_audio(path, 0.5, 1.6, name="r1")
    with pytest.raises(SpeechSSLError, match="negative"):
        read_audio(path, -0.1, 0.5)
    with pytest.raises(SpeechSSLError, match="not after its start"):
        read_audio(path, 0.5, 0.5)


def test_iter_utterances_plain(data_dir):
    got = {u: (w, sr) for u, w, sr in iter_utterances(data_dir, sample_rate=SR)}
    assert list(got) == ["spkA-u1", "spkA-u2", "spkB-u1", "spkB-u2"]
    assert got["spkB-u2"][0].shape == (12000,) and got["spkA-u1"][1] == SR


def test_iter_utterances_segments(seg_data_dir):
    got = {u: w for u, w, _ in iter_utterances(seg_data_dir)}
    assert list(got) == ["s1-a", "s1-b", "s2-a"]
    np.testing.assert_array_equal(got["s1-b"], reference(wav_path(seg_data_dir, "recA"))[16000:32000])
    np.testing.assert_array_equal(got["s2-a"], reference(wav_path(seg_data_dir, "recB"))[4000:12000])


@needs_sox
def test_iter_utterances_segments_of_pipe(seg_data_dir):
    wav_scp = seg_data_dir / "wav.scp"
    rec_a = reference(wav_path(seg_data_dir, "recA"))
    lines = [f"{k} sox {v} -t wav - |" for k, v in (line.split() for line in wav_scp.read_text().splitlines())]
    write_lines(wav_scp, lines)
    got = {u: w for u, w, _ in iter_utterances(seg_data_dir)}
    np.testing.assert_allclose(got["s1-a"], rec_a[:8000], atol=TOL)
    np.testing.assert_allclose(got["s1-b"], rec_a[16000:32000], atol=TOL)
    assert got["s2-a"].shape == (8000,)


def test_iter_utterances_names_utterance(seg_data_dir):
    write_lines(seg_data_dir / "segments", ["s1-a recA 0.00 0.50", "s1-b recA 1.00 3.00", "s2-a recB 0.25 0.75"])
    with pytest.raises(SpeechSSLError, match=r"utterance 's1-b': recording 'recA': segment ends at 3\.000 s"):
        list(iter_utterances(seg_data_dir))


def test_iter_utterances_wrong_rate_names_utterance(data_dir):
    with pytest.raises(SpeechSSLError, match=r"recording 'spkA-u1'.*16000 Hz but 8000 Hz is expected"):
        next(iter_utterances(data_dir, sample_rate=8000))

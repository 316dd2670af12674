"""validate_data_dir: each kind of corruption gives its own message naming file, line and key."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechssl.data.validate import validate_data_dir

ROOT = Path(__file__).resolve().parents[2]


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def assert_error(d: Path, pattern: str, **kwargs) -> None:
    """Validation of ``d`` fails with an error matching ``pattern`` (a regex)."""
    report = validate_data_dir(d, **kwargs)
    assert not report.ok
    assert any(re.search(pattern, e) for e in report.errors), "\n".join(report.errors)


def test_valid_directories_pass(data_dir, seg_data_dir):
    for d in (data_dir, seg_data_dir):
        report = validate_data_dir(d, expected_sample_rate=16000, full_audio_check=True)
        assert report.ok, report.errors
        assert report.warnings == []


def test_unsorted_keys(data_dir):
    lines = lines_of(data_dir / "text")
    write_lines(data_dir / "text", [lines[1], lines[0]] + lines[2:])
    assert_error(data_dir, r"text:2: key 'spkA-u1' is out of order: in C order it comes before 'spkA-u2' "
                           r"\(line 1\); sort the file with `LC_ALL=C sort")


def test_c_order_is_byte_order(data_dir):
    # In C order upper case sorts before lower case; a locale-aware sort would disagree.
    for name in ("wav.scp", "text", "utt2spk", "spk2utt"):
        path = data_dir / name
        path.write_text(path.read_text().replace("spkB", "SPKB"))
    lines = {n: lines_of(data_dir / n) for n in ("wav.scp", "text", "utt2spk", "spk2utt")}
    for name, ls in lines.items():
        write_lines(data_dir / name, sorted(ls, key=lambda s: s.encode()))
    report = validate_data_dir(data_dir, check_audio=False)
    assert report.ok, report.errors
    write_lines(data_dir / "text", sorted(lines["text"], key=str.lower))
    assert_error(data_dir, r"text:\d: key 'SPKB-u1' is out of order", check_audio=False)


def test_duplicate_keys(data_dir):
    lines = lines_of(data_dir / "text")
    write_lines(data_dir / "text", [lines[0], "spkA-u1 hello there"] + lines[1:])
    assert_error(data_dir, r"text:2: duplicate key 'spkA-u1' \(also on line 1\)")


def test_utt2spk_spk2utt_disagree(data_dir):
    write_lines(data_dir / "spk2utt", ["spkA spkA-u1", "spkB spkA-u2 spkB-u1 spkB-u2"])
    assert_error(data_dir, r"spk2utt:2: utterance 'spkA-u2' is listed under speaker 'spkB', but utt2spk line 2 "
                           r"gives speaker 'spkA'; regenerate spk2utt")
    write_lines(data_dir / "spk2utt", ["spkA spkA-u1 spkA-u2", "spkB spkB-u1"])
    assert_error(data_dir, r"utterance 'spkB-u2' \(utt2spk line 4\) is not listed in spk2utt")
    (data_dir / "spk2utt").unlink()
    assert_error(data_dir, r"spk2utt: no such file; create it from utt2spk")


def test_utt2spk_not_sorted_by_speaker(tmp_path, make_audio):
    d = tmp_path / "d"
    d.mkdir()
    write_lines(d / "wav.scp", [f"a1 {make_audio('a1.wav')}", f"b1 {make_audio('b1.wav')}"])
    write_lines(d / "text", ["a1 x", "b1 y"])
    write_lines(d / "utt2spk", ["a1 zed", "b1 amy"])
    write_lines(d / "spk2utt", ["amy b1", "zed a1"])
    assert_error(d, r"utt2spk:2: utt2spk is not sorted by speaker as well as by utterance: utterance 'b1' "
                    r"\(speaker 'amy'\) comes after utterance 'a1' \(speaker 'zed'\).*making each speaker id a "
                    r"prefix of its utterance ids \(e.g. utterance 'amy-b1'\)")
    assert validate_data_dir(d, no_spk_sort=True).ok
    write_lines(d / "utt2spk", ["a1 amy", "b1 amy"])
    write_lines(d / "spk2utt", ["amy b1 a1"])
    assert_error(d, r"spk2utt: lists the right utterances but not in the order of utt2spk")


def test_keys_mismatched_between_tables(data_dir):
    write_lines(data_dir / "text", lines_of(data_dir / "text")[:3])
    assert_error(data_dir, r"text: utterance 'spkB-u2' \(utt2spk line 4\) is missing from text")
    write_lines(data_dir / "text", lines_of(data_dir / "text") + ["spkC-u1 extra words"])
    assert_error(data_dir, r"text:4: utterance 'spkC-u1' is not in utt2spk")
    write_lines(data_dir / "utt2phones", ["spkA-u1 h e l o", "spkA-u2 g u d"])
    assert_error(data_dir, r"utt2phones: utterance 'spkB-u1' \(utt2spk line 3\) is missing from utt2phones")
    wav = lines_of(data_dir / "wav.scp")
    write_lines(data_dir / "wav.scp", wav[:2] + wav[3:])
    assert_error(data_dir, r"wav.scp: utterance 'spkB-u1' \(utt2spk line 3\) is missing from wav.scp")


def test_missing_audio_file(data_dir):
    wav = lines_of(data_dir / "wav.scp")
    wav[1] = "spkA-u2 /nonexistent/spkA-u2.wav"
    write_lines(data_dir / "wav.scp", wav)
    assert_error(data_dir, r"wav.scp:2: recording 'spkA-u2': audio file /nonexistent/spkA-u2.wav does not exist")
    assert validate_data_dir(data_dir, check_audio=False).ok


def test_corrupt_audio(data_dir):
    path = Path(lines_of(data_dir / "wav.scp")[0].split()[1])
    path.write_bytes(b"fLaC" + os.urandom(200))
    assert_error(data_dir, r"wav.scp:1: recording 'spkA-u1': cannot decode audio file .*spkA-u1\.flac")


def test_empty_audio(data_dir):
    path = Path(lines_of(data_dir / "wav.scp")[1].split()[1])
    sf.write(path, np.zeros(0, np.float32), 16000)
    assert_error(data_dir, r"wav.scp:2: recording 'spkA-u2': the audio is empty \(0 samples\)")


def test_wrong_sample_rate(data_dir, make_audio):
    wav = lines_of(data_dir / "wav.scp")
    wav[3] = f"spkB-u2 {make_audio('slow.wav', 0.5, sr=8000)}"
    write_lines(data_dir / "wav.scp", wav)
    assert validate_data_dir(data_dir).ok  # no expected rate given
    assert_error(data_dir, r"wav.scp:4: recording 'spkB-u2' has sample rate 8000 Hz, but the recipe expects "
                           r"16000 Hz", expected_sample_rate=16000)


def test_multichannel_audio(data_dir, make_audio):
    wav = lines_of(data_dir / "wav.scp")
    wav[0] = f"spkA-u1 {make_audio('stereo.wav', 0.5, channels=2)}"
    write_lines(data_dir / "wav.scp", wav)
    assert_error(data_dir, r"wav.scp:1: recording 'spkA-u1' has 2 channels; select one")
    assert validate_data_dir(data_dir, channel=0).ok


def test_bad_segments(seg_data_dir):
    seg = seg_data_dir / "segments"
    write_lines(seg, ["s1-a recA 0.50 0.50", "s1-b recA -1.00 2.00", "s2-a recB 0.25 1.90"])
    report = validate_data_dir(seg_data_dir)
    errors = "\n".join(report.errors)
    assert re.search(r"segments:1: utterance 's1-a': end time 0.50 is not after start time 0.50", errors)
    assert re.search(r"segments:2: utterance 's1-b': negative start time -1.00", errors)
    assert re.search(r"segments:3: utterance 's2-a' ends at 1.9 s, past the end of recording 'recB' "
                     r"\(1.000 s\) by more than 0.5 s", errors)
    write_lines(seg, ["s1-a recA 0.00 0.50", "s1-b recA 1.00 2.40", "s2-a recB 0.25 0.75"])
    assert validate_data_dir(seg_data_dir).ok  # within the tolerance


def test_segment_past_end_known_from_reco2dur_without_audio(seg_data_dir):
    write_lines(seg_data_dir / "reco2dur", ["recA 2.0", "recB 1.0"])
    write_lines(seg_data_dir / "segments", ["s1-a recA 0.00 0.50", "s1-b recA 1.00 3.00", "s2-a recB 0.25 0.75"])
    assert_error(seg_data_dir, r"segments:2: utterance 's1-b' ends at 3.0 s, past the end of recording 'recA'",
                 check_audio=False)


def test_segments_unknown_and_unused_recordings(seg_data_dir):
    write_lines(seg_data_dir / "segments", ["s1-a recA 0.00 0.50", "s1-b recA 1.00 2.00", "s2-a recZ 0.25 0.75"])
    report = validate_data_dir(seg_data_dir)
    errors = "\n".join(report.errors)
    assert "segments:3: utterance 's2-a' refers to recording 'recZ', which is not in wav.scp" in errors
    assert "wav.scp:2: recording 'recB' is not used by any segment" in errors


def test_empty_transcript(data_dir):
    text = lines_of(data_dir / "text")
    text[2] = "spkB-u1"
    write_lines(data_dir / "text", text)
    assert_error(data_dir, r"text:3: utterance 'spkB-u1' has an empty transcript")


def test_non_utf8_text(data_dir):
    raw = (data_dir / "text").read_bytes().replace(b"good morning", b"g\xf6od morning")
    (data_dir / "text").write_bytes(raw)
    assert_error(data_dir, r"text:2: line is not valid UTF-8 \(byte 0xf6 at column 10\)")


def test_non_printable_text(data_dir):
    text = lines_of(data_dir / "text")
    text[0] = "spkA-u1 hello\x07 world"
    write_lines(data_dir / "text", text)
    assert_error(data_dir, r"text:1: utterance 'spkA-u1': transcript contains the non-printable character "
                           r"U\+0007 at column 6")
    assert validate_data_dir(data_dir, non_print=True).ok


def test_carriage_return_and_unicode_whitespace(data_dir):
    (data_dir / "text").write_bytes((data_dir / "text").read_bytes().replace(b"\n", b"\r\n", 1))
    assert_error(data_dir, r"text:1: line contains a carriage return \(Windows line ending\); run dos2unix")
    text = [line.rstrip("\r") for line in lines_of(data_dir / "text")]
    text[1] = "spkA-u2 good\u00a0morning"
    write_lines(data_dir / "text", text)
    assert_error(data_dir, r"text:2: utterance 'spkA-u2': transcript contains the Unicode whitespace U\+00A0 "
                           r"\(NO-BREAK SPACE\)")


@pytest.mark.parametrize("word", ["<s>", "</s>", "#0"])
def test_illegal_words(data_dir, word):
    text = lines_of(data_dir / "text")
    text[3] = f"spkB-u2 see {word} you"
    write_lines(data_dir / "text", text)
    assert_error(data_dir, rf"text:4: utterance 'spkB-u2': transcript contains the illegal word '{word}'")


def test_illegal_word_only_as_a_word(data_dir):
    text = lines_of(data_dir / "text")
    text[3] = "spkB-u2 see a#0 you<s>x"
    write_lines(data_dir / "text", text)
    assert validate_data_dir(data_dir).ok


def test_tilde_in_wav_scp(data_dir):
    wav = lines_of(data_dir / "wav.scp")
    wav[0] = "spkA-u1 ~/corpus/spkA-u1.flac"
    write_lines(data_dir / "wav.scp", wav)
    assert_error(data_dir, r"wav.scp:1: recording 'spkA-u1': '~' in wav.scp", check_audio=False)


def test_one_speaker_is_a_warning(data_dir):
    write_lines(data_dir / "utt2spk", [f"{line.split()[0]} spkA" for line in lines_of(data_dir / "utt2spk")])
    write_lines(data_dir / "spk2utt", ["spkA spkA-u1 spkA-u2 spkB-u1 spkB-u2"])
    report = validate_data_dir(data_dir)
    assert report.ok
    assert len(report.warnings) == 1 and "only one speaker ('spkA')" in report.warnings[0]


def test_missing_final_newline_and_table_values(data_dir):
    (data_dir / "utt2spk").write_bytes((data_dir / "utt2spk").read_bytes().rstrip(b"\n"))
    write_lines(data_dir / "utt2dur", ["spkA-u1 0.5", "spkA-u2 -1", "spkB-u1 0.5", "spkB-u2 0.75"])
    write_lines(data_dir / "utt2num_frames", ["spkA-u1 50", "spkA-u2 50", "spkB-u1 5.5", "spkB-u2 75"])
    report = validate_data_dir(data_dir)
    errors = "\n".join(report.errors)
    assert "utt2spk: the last line does not end with a newline" in errors
    assert "utt2dur:2: key 'spkA-u2': value '-1' is not a positive number" in errors
    assert "utt2num_frames:3: key 'spkB-u1': value '5.5' is not a positive integer" in errors


def test_text_and_feats_requirements(data_dir):
    (data_dir / "text").unlink()
    assert_error(data_dir, r"text: no such file \(pass --no-text")
    assert validate_data_dir(data_dir, no_text=True).ok
    assert_error(data_dir, r"feats.scp: no such file", no_text=True, no_feats=False)
    write_lines(data_dir / "feats.scp", [f"{u} {data_dir}/feats.ark:{i}" for i, u in
                                         enumerate(["spkA-u1", "spkA-u2", "spkB-u1", "spkB-u2"])])
    assert_error(data_dir, r"feats.scp:1: utterance 'spkA-u1': feature archive .*feats.ark does not exist",
                 no_text=True)


def test_pipes_run_only_when_asked(data_dir):
    wav = lines_of(data_dir / "wav.scp")
    wav[0] = "spkA-u1 cat /nonexistent.wav |"
    write_lines(data_dir / "wav.scp", wav)
    report = validate_data_dir(data_dir)
    assert report.ok and "--check-pipes" in report.notes[0]
    assert_error(data_dir, r"wav.scp:1: recording 'spkA-u1': command `cat /nonexistent.wav` failed with exit "
                           r"status 1: cat: /nonexistent.wav: No such file", check_pipes=True)


def test_many_problems_are_capped(data_dir):
    write_lines(data_dir / "utt2phones", [f"extra{i:02d} x" for i in range(25)])
    report = validate_data_dir(data_dir)
    not_in = [e for e in report.errors if "is not in utt2spk" in e]
    assert len(not_in) == 10
    assert any("15 more like the above (25 in all)" in e for e in report.errors)


def run_cli(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", LC_ALL="C")
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)


def test_cli_lists_every_problem(data_dir):
    ok = run_cli([str(ROOT / "utils/validate_data_dir.sh"), "--no-feats", "--sample-rate", "16000", str(data_dir)])
    assert ok.returncode == 0, ok.stderr
    assert f"Successfully validated data directory {data_dir}" in ok.stdout
    text = lines_of(data_dir / "text")
    text[0] = "spkA-u1 hello <s>"
    write_lines(data_dir / "text", text[:3])
    bad = run_cli([sys.executable, "-m", "speechssl.bin.validate_data_dir", str(data_dir)])
    assert bad.returncode == 1
    assert "ERROR: " in bad.stderr and "illegal word '<s>'" in bad.stderr
    assert "is missing from text" in bad.stderr
    assert "2 error(s)" in bad.stderr

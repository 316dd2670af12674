"""fix / split / subset / combine / copy / compute_utt2dur on tiny data directories."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from speechssl.data.datadir import DataDir
from speechssl.data.ops import (
    combine_data_dirs, compute_utt2dur, copy_data_dir, fix_data_dir, split_data_dir, subset_data_dir,
)
from speechssl.data.validate import validate_data_dir
from speechssl.utils.errors import SpeechSSLError

ROOT = Path(__file__).resolve().parents[2]
UTTS = ["spkA-u1", "spkA-u2", "spkB-u1", "spkB-u2"]


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def keys_of(path: Path) -> list[str]:
    return [line.split()[0] for line in lines_of(path)]


def assert_valid(d: Path) -> None:
    report = validate_data_dir(d, expected_sample_rate=16000)
    assert report.ok, report.errors


@pytest.fixture
def many_speakers(tmp_path: Path, make_audio) -> Path:
    """Speakers s1..s4 with 1, 3, 1, 2 utterances (text, no audio checks needed: wav.scp points at one file)."""
    d = tmp_path / "many"
    d.mkdir()
    audio = make_audio("x.wav", 0.2)
    utts = [("s1", 1), ("s2", 3), ("s3", 1), ("s4", 2)]
    ids = [f"{s}-u{i}" for s, n in utts for i in range(n)]
    write_lines(d / "wav.scp", [f"{u} {audio}" for u in ids])
    write_lines(d / "text", [f"{u} word" for u in ids])
    write_lines(d / "utt2spk", [f"{u} {u.split('-')[0]}" for u in ids])
    write_lines(d / "utt2dur", [f"{u} 0.2" for u in ids])
    DataDir.load(d).save(d)  # writes spk2utt
    return d


# --------------------------------------------------------------------------- fix
def test_fix_drops_utterance_without_text_and_reports_it(data_dir, caplog):
    original_text = (data_dir / "text").read_text()
    write_lines(data_dir / "text", lines_of(data_dir / "text")[:3] + ["zz-stray words"])
    with caplog.at_level(logging.INFO, logger="speechssl"):
        report = fix_data_dir(data_dir)
    assert report.kept == UTTS[:3]
    assert report.dropped == {"missing from text": ["spkB-u2"]}
    assert report.stray_lines == {"text": 1}
    assert "kept 3 of 4 utterances, dropped 1" in caplog.text
    assert "1 utterance(s) missing from text: spkB-u2" in caplog.text
    for name in ("wav.scp", "text", "utt2spk"):
        assert keys_of(data_dir / name) == UTTS[:3]
    assert lines_of(data_dir / "spk2utt") == ["spkA spkA-u1 spkA-u2", "spkB spkB-u1"]
    assert (data_dir / ".backup" / "text").read_text() == "".join(
        line + "\n" for line in original_text.splitlines()[:3] + ["zz-stray words"])
    assert_valid(data_dir)


def test_fix_empty_transcript_unsorted_and_duplicates(data_dir):
    text = lines_of(data_dir / "text")
    text[1] = "spkA-u2"
    write_lines(data_dir / "text", list(reversed(text)) + [text[0]])  # unsorted, one identical repeat
    utt2spk = lines_of(data_dir / "utt2spk")
    write_lines(data_dir / "utt2spk", utt2spk + ["spkB-u1 spkA"])  # conflicting duplicate
    report = fix_data_dir(data_dir)
    assert report.kept == ["spkA-u1", "spkB-u2"]
    assert report.dropped == {"with an empty transcript": ["spkA-u2"],
                              "with conflicting duplicate lines in utt2spk": ["spkB-u1"]}
    assert report.repeated_lines == {"text": 1}
    assert lines_of(data_dir / "text") == ["spkA-u1 hello world", "spkB-u2 see you"]
    assert_valid(data_dir)


def test_fix_segments(seg_data_dir):
    write_lines(seg_data_dir / "segments", ["s1-a recA 0.00 0.50", "s1-b recA 1.00 0.90", "s2-a recB 0.25 0.75"])
    write_lines(seg_data_dir / "text", ["s1-a one", "s1-b two"])
    report = fix_data_dir(seg_data_dir)
    assert report.kept == ["s1-a"]
    assert report.dropped == {"whose segment end is not after its start": ["s1-b"], "missing from text": ["s2-a"]}
    assert keys_of(seg_data_dir / "wav.scp") == ["recA"]  # recB is no longer used
    assert_valid(seg_data_dir)


def test_fix_refuses_to_empty_a_directory(data_dir):
    write_lines(data_dir / "text", ["other hello"])
    with pytest.raises(SpeechSSLError, match="no utterance would be left"):
        fix_data_dir(data_dir)
    assert keys_of(data_dir / "utt2spk") == UTTS  # untouched


# --------------------------------------------------------------------------- split
def test_split_contiguous_parts(many_speakers):
    parts = split_data_dir(many_speakers, 3)
    assert parts == [many_speakers / "split3" / str(k) for k in (1, 2, 3)]
    got = [keys_of(p / "utt2spk") for p in parts]
    all_utts = keys_of(many_speakers / "utt2spk")
    assert sum(got, []) == all_utts  # contiguous, in order, complete
    assert sorted(len(g) for g in got) == [2, 2, 3]
    for p in parts:
        assert_valid(p)
        assert keys_of(p / "wav.scp") == keys_of(p / "text") == keys_of(p / "utt2dur") == keys_of(p / "utt2spk")


def test_split_per_spk_keeps_speakers_whole(many_speakers):
    parts = split_data_dir(many_speakers, 2, per_spk=True)
    speakers = [keys_of(p / "spk2utt") for p in parts]
    assert speakers == [["s1", "s2"], ["s3", "s4"]]
    assert [len(keys_of(p / "utt2spk")) for p in parts] == [4, 3]
    with pytest.raises(SpeechSSLError, match="only 4 speakers"):
        split_data_dir(many_speakers, 5, per_spk=True)
    with pytest.raises(SpeechSSLError, match="only 7 utterances"):
        split_data_dir(many_speakers, 8)


def test_split_reuses_up_to_date_split(many_speakers):
    parts = split_data_dir(many_speakers, 2)
    stamp = (parts[0] / "utt2spk").stat().st_mtime_ns
    os.utime(parts[0] / "utt2spk", ns=(stamp - 10**9, stamp - 10**9))
    split_data_dir(many_speakers, 2)
    assert (parts[0] / "utt2spk").stat().st_mtime_ns == stamp - 10**9  # reused, not rewritten
    split_data_dir(many_speakers, 2, per_spk=True)  # other options: redone
    assert [len(keys_of(p / "utt2spk")) for p in parts] == [4, 3]
    write_lines(many_speakers / "text", [f"{u} changed" for u in keys_of(many_speakers / "text")])
    split_data_dir(many_speakers, 2, per_spk=True)  # data changed: redone
    assert lines_of(parts[1] / "text")[0].endswith("changed")


# --------------------------------------------------------------------------- subset
def test_subset_selectors(data_dir, tmp_path):
    out = tmp_path / "sub"
    assert keys_of((subset_data_dir(data_dir, out, first=2), out)[1] / "utt2spk") == UTTS[:2]
    assert_valid(out)
    assert list(subset_data_dir(data_dir, out, last=1).utt2spk) == ["spkB-u2"]
    assert keys_of(out / "wav.scp") == ["spkB-u2"]
    lst = tmp_path / "list"
    write_lines(lst, ["spkB-u1", "spkA-u2 extra fields", "nope"])
    assert list(subset_data_dir(data_dir, out, utt_list=lst).utt2spk) == ["spkA-u2", "spkB-u1"]
    write_lines(lst, ["spkB"])
    assert list(subset_data_dir(data_dir, out, spk_list=lst).utt2spk) == ["spkB-u1", "spkB-u2"]
    assert keys_of(out / "spk2utt") == ["spkB"]
    compute_utt2dur(data_dir)
    assert list(subset_data_dir(data_dir, out, shortest=3).utt2spk) == UTTS[:3]  # spkB-u2 is the longest
    with pytest.raises(SpeechSSLError, match="has 4 utterances"):
        subset_data_dir(data_dir, out, first=5)
    with pytest.raises(SpeechSSLError, match="exactly one of"):
        subset_data_dir(data_dir, out, first=1, last=1)


def test_subset_random_is_seeded(many_speakers, tmp_path):
    a = sorted(subset_data_dir(many_speakers, tmp_path / "a", random=3, seed=1).utt2spk)
    b = sorted(subset_data_dir(many_speakers, tmp_path / "b", random=3, seed=1).utt2spk)
    others = {tuple(sorted(subset_data_dir(many_speakers, tmp_path / "c", random=3, seed=s).utt2spk))
              for s in range(2, 8)}
    assert a == b and len(a) == 3
    assert len(others | {tuple(a)}) > 1


def test_subset_segments_drops_unused_recordings(seg_data_dir, tmp_path):
    subset_data_dir(seg_data_dir, tmp_path / "s", first=2)
    assert keys_of(tmp_path / "s" / "wav.scp") == ["recA"]
    assert keys_of(tmp_path / "s" / "segments") == ["s1-a", "s1-b"]
    assert_valid(tmp_path / "s")


# --------------------------------------------------------------------------- copy / combine
def test_copy_with_prefixes(data_dir, seg_data_dir, tmp_path):
    copy_data_dir(data_dir, tmp_path / "c", utt_prefix="sp0.9-", spk_prefix="sp0.9-")
    assert keys_of(tmp_path / "c" / "utt2spk") == [f"sp0.9-{u}" for u in UTTS]
    assert keys_of(tmp_path / "c" / "wav.scp") == [f"sp0.9-{u}" for u in UTTS]
    assert lines_of(tmp_path / "c" / "spk2utt")[0] == "sp0.9-spkA sp0.9-spkA-u1 sp0.9-spkA-u2"
    assert_valid(tmp_path / "c")
    copy_data_dir(seg_data_dir, tmp_path / "s", utt_suffix="-x", spk_suffix="-x")
    assert keys_of(tmp_path / "s" / "wav.scp") == ["recA", "recB"]  # recordings keep their ids
    assert lines_of(tmp_path / "s" / "segments")[0] == "s1-a-x recA 0.00 0.50"
    assert_valid(tmp_path / "s")


def test_combine(data_dir, seg_data_dir, tmp_path):
    copy_data_dir(data_dir, tmp_path / "x", utt_prefix="x-", spk_prefix="x-")
    out = tmp_path / "all"
    combine_data_dirs(out, [data_dir, tmp_path / "x"])
    assert keys_of(out / "utt2spk") == sorted(UTTS + [f"x-{u}" for u in UTTS])
    assert len(keys_of(out / "spk2utt")) == 4
    assert_valid(out)
    with pytest.raises(SpeechSSLError, match=r"utterance 'spkA-u1' is in both .*train and .*train; utterance ids "
                                             r"must be unique"):
        combine_data_dirs(tmp_path / "dup", [data_dir, data_dir])
    combine_data_dirs(out, [data_dir, seg_data_dir])  # mixed: whole-recording segments are made
    assert lines_of(out / "segments")[0] == "s1-a recA 0.00 0.50"
    assert "spkB-u2 spkB-u2 0 0.75" in lines_of(out / "segments")
    assert keys_of(out / "wav.scp") == ["recA", "recB"] + UTTS
    assert_valid(out)


# --------------------------------------------------------------------------- durations
def test_compute_utt2dur(data_dir, seg_data_dir):
    durs = compute_utt2dur(data_dir)
    assert durs == {"spkA-u1": 0.5, "spkA-u2": 0.5, "spkB-u1": 0.5, "spkB-u2": 0.75}
    assert lines_of(data_dir / "utt2dur") == ["spkA-u1 0.5", "spkA-u2 0.5", "spkB-u1 0.5", "spkB-u2 0.75"]
    assert keys_of(data_dir / "reco2dur") == UTTS
    compute_utt2dur(seg_data_dir)
    assert lines_of(seg_data_dir / "utt2dur") == ["s1-a 0.5", "s1-b 1", "s2-a 0.5"]
    assert lines_of(seg_data_dir / "reco2dur") == ["recA 2", "recB 1"]
    assert_valid(seg_data_dir)


def test_compute_utt2dur_names_unreadable_recording(data_dir):
    wav = lines_of(data_dir / "wav.scp")
    wav[2] = "spkB-u1 /missing.wav"
    write_lines(data_dir / "wav.scp", wav)
    with pytest.raises(SpeechSSLError, match=r"(?s)cannot read 1 recording\(s\).*recording 'spkB-u1': audio file "
                                             r"/missing.wav does not exist"):
        compute_utt2dur(data_dir)


# --------------------------------------------------------------------------- shell wrappers
def test_shell_wrappers(data_dir, tmp_path):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", LC_ALL="C")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(ROOT / "utils" / args[0]), *args[1:]], capture_output=True, text=True, env=env)

    assert run("copy_data_dir.sh", "--utt-prefix", "p-", "--spk-prefix", "p-", str(data_dir),
               str(tmp_path / "p")).returncode == 0
    assert run("combine_data.sh", str(tmp_path / "all"), str(data_dir), str(tmp_path / "p")).returncode == 0
    assert run("subset_data_dir.sh", "--last", "3", str(tmp_path / "all"), str(tmp_path / "l3")).returncode == 0
    assert keys_of(tmp_path / "l3" / "utt2spk") == ["spkA-u2", "spkB-u1", "spkB-u2"]
    assert run("split_data_dir.sh", "--per-spk", str(tmp_path / "all"), "2").returncode == 0
    assert keys_of(tmp_path / "all" / "split2" / "2" / "spk2utt") == ["spkA", "spkB"]
    write_lines(tmp_path / "l3" / "text", lines_of(tmp_path / "l3" / "text")[1:])
    fix = run("fix_data_dir.sh", str(tmp_path / "l3"))
    assert fix.returncode == 0 and "1 utterance(s) missing from text: spkA-u2" in fix.stderr
    assert run("validate_data_dir.sh", str(tmp_path / "l3")).returncode == 0
    bad = run("subset_data_dir.sh", "--first", str(data_dir), "2", str(tmp_path / "k"))
    assert bad.returncode == 2 and "the count follows the option" in bad.stderr
    dup = run("combine_data.sh", str(tmp_path / "d"), str(data_dir), str(data_dir))
    assert dup.returncode == 1 and "error: utterance 'spkA-u1' is in both" in dup.stderr

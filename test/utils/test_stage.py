"""Done-markers: skip on the same configuration, refuse a changed one, redo on request."""
from __future__ import annotations

import json

import pytest

from speechssl.utils.atomic import atomic_dir, atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.stage import StageMarker


def test_marker_skip_refuse_redo(tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("a 1\n")
    out = tmp_path / "out"
    m = StageMarker(tmp_path / "done.json", "demo", {"k": 1}, [inp])
    assert m.needs_run([out])
    out.mkdir()
    m.write([out], {"n": 3})
    rec = json.loads((tmp_path / "done.json").read_text())
    assert rec["config"] == {"k": 1} and rec["summary"] == {"n": 3} and str(inp) in rec["inputs"]

    assert not StageMarker(tmp_path / "done.json", "demo", {"k": 1}, [inp]).needs_run([out])

    with pytest.raises(SpeechSSLError, match=r"k: 1 -> 2.*--redo"):
        StageMarker(tmp_path / "done.json", "demo", {"k": 2}, [inp]).needs_run([out])

    inp.write_text("a 2\n")
    with pytest.raises(SpeechSSLError, match="input .*in.txt changed"):
        StageMarker(tmp_path / "done.json", "demo", {"k": 1}, [inp]).needs_run([out])

    (out / "log").mkdir()
    (out / "log" / "job.log").write_text("# running\n")
    (out / "result").write_text("old")
    m2 = StageMarker(tmp_path / "done.json", "demo", {"k": 2}, [inp])
    assert m2.needs_run([out], redo=True)
    assert not (out / "result").exists() and not (tmp_path / "done.json").exists()
    assert (out / "log" / "job.log").read_text() == "# running\n"  # a running job's log survives a redo


def test_marker_missing_output_reruns(tmp_path):
    m = StageMarker(tmp_path / "done.json", "demo", {})
    m.write([tmp_path / "gone"])
    assert m.needs_run([tmp_path / "gone"])


def test_missing_input_is_clear(tmp_path):
    with pytest.raises(SpeechSSLError, match="does not exist; run the stage that makes it"):
        StageMarker(tmp_path / "done.json", "demo", {}, [tmp_path / "nope"])


def test_atomic_write_and_dir_leave_nothing_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write("half")
            raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []

    d = tmp_path / "d"
    with pytest.raises(RuntimeError):
        with atomic_dir(d) as tmp:
            (tmp / "x").write_text("1")
            raise RuntimeError("killed")
    assert not d.exists() and list(tmp_path.iterdir()) == []

    with atomic_dir(d) as tmp:
        (tmp / "x").write_text("new")
    assert (d / "x").read_text() == "new"


def test_atomic_dir_keeps_the_log_directory(tmp_path):
    d = tmp_path / "exp"
    (d / "log").mkdir(parents=True)
    (d / "log" / "fit.log").write_text("# started\n")
    (d / "old_output").write_text("old")
    with atomic_dir(d) as tmp:
        (tmp / "new_output").write_text("new")
    assert (d / "log" / "fit.log").read_text() == "# started\n"
    assert (d / "new_output").is_file() and not (d / "old_output").exists()

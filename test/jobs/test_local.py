"""Local backend: parallelism cap, JOB substitution, logs, failure report, quoting, Ctrl-C, GPUs."""
from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from speechssl.jobs import JobOptions, format_failures, run_jobs
from speechssl.jobs.spec import join_command, parse_job_range
from speechssl.utils.errors import SpeechSSLError

QUEUE_SH = Path(__file__).resolve().parents[2] / "utils" / "queue.sh"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_parallelism_is_capped(in_tmp):
    (in_tmp / "t").mkdir()
    job = "date +%s.%N > t/start.JOB; sleep 0.6; date +%s.%N > t/end.JOB"
    results = run_jobs("local", ["bash", "-c", job], "log/cap.JOB.log", (1, 5), JobOptions(max_jobs_run=2))
    assert [r.returncode for r in results] == [0] * 5
    spans = [(float((in_tmp / f"t/start.{i}").read_text()), float((in_tmp / f"t/end.{i}").read_text()))
             for i in range(1, 6)]
    most_at_once = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert most_at_once == 2  # never 3, and the cap was actually used


def test_job_substitution_in_args_and_log(in_tmp):
    results = run_jobs("local", ["echo", "part-JOB", "of", "data/JOB/x"], "exp/log/echo.JOB.log", (2, 4))
    assert [r.task for r in results] == [2, 3, 4]
    for r in results:
        assert r.log_path == f"exp/log/echo.{r.task}.log"
        text = (in_tmp / r.log_path).read_text()
        assert f"\npart-{r.task} of data/{r.task}/x\n" in text
    assert (in_tmp / "exp/log/q/echo.sh").is_file()


def test_other_range_variable_and_single_job_form(queue_sh, in_tmp):
    out = queue_sh("N=1:2", "log/n.N.log", "echo", "n=N", "JOB")
    assert out.returncode == 0, out.stderr
    assert "\nn=2 JOB\n" in (in_tmp / "log/n.2.log").read_text()
    out = queue_sh("log/single.log", "echo", "JOB", "stays")
    assert out.returncode == 0, out.stderr
    assert "\nJOB stays\n" in (in_tmp / "log/single.log").read_text()


def test_log_header_and_footer(in_tmp):
    run_jobs("local", ["echo", "hi"], "log/h.JOB.log", (1, 1), JobOptions(num_threads=3))
    lines = (in_tmp / "log/h.1.log").read_text().splitlines()
    assert lines[0] == "# echo hi"
    assert re.fullmatch(r"# Started at \w{3} \w{3} +\d+ [\d:]{8} .*\d{4}", lines[1])
    assert lines[2] == "hi"
    assert re.fullmatch(r"# Accounting: time=\d+ threads=3", lines[3])
    assert re.fullmatch(r"# Ended \(code 0\) at \w{3} .*\d{4}", lines[4])
    assert len(lines) == 5


def test_failures_reported_by_cli(queue_sh, in_tmp):
    out = queue_sh("--max-jobs-run", "2", "JOB=1:4", "exp/x/log/foo.JOB.log",
                   "bash", "-c", "exit $(( JOB % 2 == 0 ? JOB : 0 ))")
    assert out.returncode == 1
    assert ("queue_jobs: 2 / 4 jobs failed (job 2: code 2, job 4: code 4), "
            "see exp/x/log/foo.2.log exp/x/log/foo.4.log") in out.stderr
    assert (in_tmp / "exp/x/log/foo.4.log").read_text().splitlines()[-1].startswith("# Ended (code 4) at ")
    assert (in_tmp / "exp/x/log/foo.3.log").read_text().splitlines()[-1].startswith("# Ended (code 0) at ")


def test_format_failures_none_when_all_ok(in_tmp):
    results = run_jobs("local", ["true"], "log/ok.JOB.log", (1, 2))
    assert format_failures(results) is None


def test_quoting_like_run_pl(queue_sh, in_tmp):
    # Spaces and quotes are kept inside one argument; $HOME in a quoted argument stays literal;
    # bare | and > arguments act as pipe and redirection, as with Kaldi's run.pl.
    out = queue_sh("JOB=1:1", "log/q.JOB.log", "printf", "%s/", "a b", "it's", '"x"', "$HOME JOB",
                   "|", "tr", "a-z", "A-Z", ">", "out.JOB")
    assert out.returncode == 0, out.stderr
    assert (in_tmp / "out.1").read_text() == "A B/IT'S/\"X\"/$HOME 1/"
    assert join_command(["a b", "c", "", "it's"]) == "'a b' c '' 'it'\\''s'"


def test_ctrl_c_kills_running_jobs(recipe_env, in_tmp):
    (in_tmp / "pids").mkdir()
    proc = subprocess.Popen([str(QUEUE_SH), "JOB=1:2", "log/s.JOB.log", "echo", "$$", ">", "pids/JOB", "&&",
                             "exec", "sleep", "60"], cwd=in_tmp, env=recipe_env, start_new_session=True,
                            stderr=subprocess.PIPE, text=True,
                            # as from a terminal: a test run started in the background (`cmd &`) has SIGINT
                            # ignored, and an ignored SIGINT is inherited (Python then installs no handler)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 20
    while len(list((in_tmp / "pids").glob("*"))) < 2 or any(not p.read_text() for p in (in_tmp / "pids").glob("*")):
        assert time.monotonic() < deadline, "jobs did not start"
        time.sleep(0.1)
    pids = [int(p.read_text()) for p in (in_tmp / "pids").glob("*")]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    """True for a running process (a zombie waiting for its reaper counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_gpu_assignment_and_warning(in_tmp, monkeypatch, caplog):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    results = run_jobs("local", ["bash", "-c", "echo $CUDA_VISIBLE_DEVICES > gpu.JOB; sleep 0.3"],
                       "log/g.JOB.log", (1, 4), JobOptions(gpu=1, max_jobs_run=4))
    assert all(r.ok for r in results)
    assert {(in_tmp / f"gpu.{i}").read_text().strip() for i in range(1, 5)} == {"3", "5"}
    with pytest.raises(SpeechSSLError, match="only 2 GPU"):
        run_jobs("local", ["true"], "log/g3.log", None, JobOptions(gpu=3))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    results = run_jobs("local", ["true"], "log/g0.log", None, JobOptions(gpu=1))
    assert results[0].ok and results[0].task is None
    assert "no GPU is visible" in caplog.text


def test_bad_requests_are_clear_errors(queue_sh):
    out = queue_sh("JOB=1:3", "log/all.log", "true")
    assert out.returncode == 1 and "put JOB in the log name" in out.stderr
    out = queue_sh("JOB=3:1", "log/x.JOB.log", "true")
    assert out.returncode == 1 and "bad job range" in out.stderr
    out = queue_sh("--backend", "pbs", "log/x.log", "true")
    assert out.returncode == 2 and "invalid choice" in out.stderr
    out = queue_sh("log/x.log")
    assert out.returncode == 1 and "need a log file and a command" in out.stderr
    assert "Traceback" not in out.stderr
    assert parse_job_range("JOB=1:10") == ("JOB", 1, 10)
    assert parse_job_range("exp/log/x.log") is None


def test_config_only_options_ignored_locally(queue_sh, in_tmp):
    out = queue_sh("--mem", "2G", "--time", "1:00:00", "--tmp-space", "5G", "log/o.log", "echo", "ok")
    assert out.returncode == 0, out.stderr
    assert "\nok\n" in (in_tmp / "log/o.log").read_text()

"""Grid Engine backend (no live Grid Engine here): the qsub command line, the job script,
and a full dispatch against stand-in qsub/qstat/qdel programs; plus the shared config parser."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from speechssl.jobs import JobOptions, format_failures, run_jobs
from speechssl.jobs.cluster import WaitPolicy
from speechssl.jobs.queue_config import load_queue_config, parse_queue_config
from speechssl.jobs.script import TASK_FROM_SGE, render_job_script, write_job_script
from speechssl.jobs.sge import DEFAULT_SGE_CONFIG, qsub_command, sge_job_name
from speechssl.jobs.spec import make_spec, quote_arg
from speechssl.utils.errors import SpeechSSLError

ROOT = Path(__file__).resolve().parents[2]

# Stand-in qsub: records its arguments, runs each task of "-t a:b" in the background with
# SGE_TASK_ID set (tasks listed in $FAKE_SGE_SKIP are "killed": never run), and marks the
# job as queued until all tasks end; qstat -j answers from that mark.
FAKE_QSUB = r"""#!/usr/bin/env bash
printf '%s\n' "$@" > qsub.args
script=${@: -1}
first=1; last=1; array=0
while [ $# -gt 0 ]; do
  case $1 in -t) array=1; first=${2%%:*}; last=${2##*:}; shift ;; esac
  shift
done
touch job.queued
(
  for t in $(seq $first $last); do
    case " $FAKE_SGE_SKIP " in *" $t "*) continue ;; esac
    if [ $array = 1 ]; then SGE_TASK_ID=$t bash "$script" & else SGE_TASK_ID=undefined bash "$script" & fi
  done
  wait; rm -f job.queued
) > /dev/null 2>&1 &
if [ $array = 1 ]; then echo "4242.$first-$last:1"; else echo 4242; fi
"""
FAKE_QSTAT = '#!/usr/bin/env bash\n[ "$1 $2" = "-j 4242" ] && [ -f job.queued ]\n'
FAKE_QDEL = '#!/usr/bin/env bash\necho "$@" > qdel.args\n'


@pytest.fixture
def fake_sge(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("qsub", FAKE_QSUB), ("qstat", FAKE_QSTAT), ("qdel", FAKE_QDEL)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_qsub_command_maps_options():
    spec = make_spec(["prog", "JOB"], "exp/x/log/feats.JOB.log", (1, 8))
    options = JobOptions(mem="4G", num_threads=4, gpu=2, max_jobs_run=3, time="2:00:00")
    assert qsub_command(spec, options, Path("exp/x/log/q/feats.sh")) == [
        "qsub", "-v", "PATH", "-cwd", "-S", "/bin/bash", "-j", "y",
        "-l", "mem_free=4G,ram_free=4G", "-pe", "smp", "4", "-l", "h_rt=2:00:00", "-l", "gpu=2",
        "-terse", "-N", "feats", "-o", "exp/x/log/q/feats.$TASK_ID.out", "-t", "1:8", "-tc", "3",
        "exp/x/log/q/feats.sh"]
    # Defaults: gpu=0 and num_threads=1 add nothing; a single job has no -t.
    single = make_spec(["prog"], "exp/x/log/train.log", None)
    assert qsub_command(single, JobOptions(num_threads=1), Path("s.sh")) == [
        "qsub", "-v", "PATH", "-cwd", "-S", "/bin/bash", "-j", "y",
        "-terse", "-N", "train", "-o", "exp/x/log/q/train.out", "s.sh"]
    with pytest.raises(SpeechSSLError, match="start at 1"):
        qsub_command(make_spec(["p"], "l.JOB.log", (0, 2)), JobOptions(), Path("s.sh"))
    assert sge_job_name("3gram") == "j3gram"


def test_job_script_uses_sge_task_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = make_spec(["echo", "JOB", "done JOB"], "log/e.JOB.log", (1, 4))
    text = render_job_script(spec, task_setup=TASK_FROM_SGE, threads=2, cluster=True)
    assert f"cd {quote_arg(str(tmp_path))} || exit 1" in text
    assert "[ -f ./path.sh ] && . ./path.sh" in text
    assert TASK_FROM_SGE in text and 'cmd=${cmd//JOB/"$task"}' in text
    script = write_job_script(spec, text)
    assert script == tmp_path.joinpath("log/q/e.sh").relative_to(tmp_path)
    env = {**os.environ, "SGE_TASK_ID": "3"}
    assert subprocess.run(["bash", str(script)], env=env).returncode == 0
    lines = (tmp_path / "log/e.3.log").read_text().splitlines()
    assert lines[0] == "# echo 3 'done 3'" and lines[3] == "3 done 3"
    assert lines[4].startswith("# Accounting: time=") and lines[4].endswith(" threads=2")
    assert (tmp_path / "log/q/e.done.3").read_text() == "0\n"


def test_full_dispatch_with_stand_in_qsub(fake_sge):
    results = run_jobs("sge", ["bash", "-c", "echo task JOB; exit $(( JOB == 3 ? 7 : 0 ))"],
                       "exp/log/t.JOB.log", (1, 4), JobOptions(mem="1G", max_jobs_run=2),
                       policy=WaitPolicy(first=0.05, grace=1))
    assert [(r.task, r.returncode, r.job_id) for r in results] == [
        (1, 0, "4242"), (2, 0, "4242"), (3, 7, "4242"), (4, 0, "4242")]
    assert "\ntask 2\n" in (fake_sge / "exp/log/t.2.log").read_text()
    args = (fake_sge / "qsub.args").read_text().split("\n")
    assert ["-t", "1:4", "-tc", "2"] == args[args.index("-t"):args.index("-t") + 4]
    assert "mem_free=1G,ram_free=1G" in args
    assert format_failures(results) == "1 / 4 jobs failed (job 3: code 7), see exp/log/t.3.log"


def test_task_without_done_file_counts_as_failed(fake_sge, monkeypatch):
    monkeypatch.setenv("FAKE_SGE_SKIP", "2")
    results = run_jobs("sge", ["true"], "log/k.JOB.log", (1, 3), policy=WaitPolicy(first=0.05, grace=0.5))
    assert [r.returncode for r in results] == [0, None, 0]
    assert "job 2: no exit status" in format_failures(results)


def test_single_job_form(fake_sge):
    results = run_jobs("sge", ["echo", "JOB"], "log/one.log", None, policy=WaitPolicy(first=0.05, grace=1))
    assert [(r.task, r.returncode) for r in results] == [(None, 0)]
    assert "\nJOB\n" in (fake_sge / "log/one.log").read_text()


def test_cli_with_config_file(fake_sge, recipe_env):
    conf = fake_sge / "queue.conf"
    conf.write_text("command qsub -q all.q   # site queue\noption tmp=* -l tmp_free=$0\n"
                    "option mem=* -l h_vmem=$0\ndefault mem=2G\n")
    env = {**recipe_env, "PATH": f"{fake_sge / 'bin'}:{recipe_env['PATH']}"}
    out = subprocess.run([str(ROOT / "utils/queue.sh"), "--backend", "sge", "--config", str(conf),
                          "--tmp", "10G", "JOB=1:2", "log/c.JOB.log", "true"],
                         cwd=fake_sge, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    args = (fake_sge / "qsub.args").read_text().split("\n")
    assert args[:6] == ["-q", "all.q", "-l", "tmp_free=10G", "-l", "h_vmem=2G"]
    out = subprocess.run([str(ROOT / "utils/queue.sh"), "--backend", "sge", "--config", str(conf),
                          "--gpu", "1", "log/c.log", "true"],
                         cwd=fake_sge, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert f"option --gpu 1 is not supported by {conf}" in out.stderr and "Traceback" not in out.stderr


def test_config_parser_errors_name_file_and_line(tmp_path):
    with pytest.raises(SpeechSSLError, match=r"c\.conf:2: unknown directive 'opt'"):
        parse_queue_config("command qsub\nopt mem=* -l x\n", "c.conf")
    with pytest.raises(SpeechSSLError, match="no 'command' line"):
        parse_queue_config("option mem=* -l x=$0\n", "c.conf")
    with pytest.raises(SpeechSSLError, match="has no matching 'option gpu="):
        parse_queue_config("command qsub\ndefault gpu=0\n", "c.conf")
    with pytest.raises(SpeechSSLError, match="value '2' of --gpu"):
        parse_queue_config("command qsub\noption gpu=0\n", "c.conf").flags({"gpu": "2"})
    with pytest.raises(SpeechSSLError, match="not found"):
        load_queue_config(str(tmp_path / "missing.conf"), DEFAULT_SGE_CONFIG, "sge")


def test_template_matches_builtin_default():
    template = load_queue_config(str(ROOT / "egs/TEMPLATE/conf/queue.conf"), "", "sge")
    builtin = parse_queue_config(DEFAULT_SGE_CONFIG, "built-in")
    assert (template.command, template.options, template.defaults) == (
        builtin.command, builtin.options, builtin.defaults)

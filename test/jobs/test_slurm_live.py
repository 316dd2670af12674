"""Slurm backend on a live one-node cluster (tools/slurm/start_local_slurm.sh, started by the
``local_slurm`` fixture), plus the sbatch command line built from options and configs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from speechssl.jobs import JobOptions, run_jobs
from speechssl.jobs.cluster import WaitPolicy
from speechssl.jobs.queue_config import load_queue_config, parse_queue_config
from speechssl.jobs.slurm import DEFAULT_SLURM_CONFIG, parse_sbatch_id, sbatch_command
from speechssl.jobs.spec import make_spec
from speechssl.utils.errors import SpeechSSLError

ROOT = Path(__file__).resolve().parents[2]
FAST = WaitPolicy(first=0.2, growth=1.2, longest=1.0, grace=5.0)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_array_of_four_substitutes_job(local_slurm, in_tmp):
    results = run_jobs("slurm", ["bash", "-c", "echo task JOB array $SLURM_ARRAY_TASK_ID > out.JOB"],
                       "exp/log/arr.JOB.log", (1, 4), JobOptions(max_jobs_run=4), policy=FAST)
    assert [(r.task, r.returncode) for r in results] == [(1, 0), (2, 0), (3, 0), (4, 0)]
    assert len({r.job_id for r in results}) == 1 and results[0].job_id.isdigit()
    for task in range(1, 5):
        assert (in_tmp / f"out.{task}").read_text() == f"task {task} array {task}\n"
        lines = (in_tmp / f"exp/log/arr.{task}.log").read_text().splitlines()
        assert lines[0] == f"# bash -c 'echo task {task} array $SLURM_ARRAY_TASK_ID > out.{task}'"
        assert lines[1].startswith("# Started at ")
        assert lines[-2].startswith("# Accounting: time=") and lines[-1].startswith("# Ended (code 0) at ")
    assert "--array=1-4%4" in (in_tmp / "exp/log/q/arr.sh").read_text()


def test_failing_job_reported_by_cli(local_slurm, queue_sh, in_tmp):
    out = queue_sh("--backend", "slurm", "JOB=1:3", "log/f.JOB.log",
                   "bash", "-c", "echo running JOB; exit $(( JOB == 2 ? 3 : 0 ))",
                   env={"SLURM_CONF": local_slurm})
    assert out.returncode == 1
    assert "queue_jobs: 1 / 3 jobs failed (job 2: code 3), see log/f.2.log" in out.stderr
    log2 = (in_tmp / "log/f.2.log").read_text().splitlines()
    assert "running 2" in log2 and log2[-1].startswith("# Ended (code 3) at ")


def test_mem_and_threads_reach_slurm(local_slurm, in_tmp):
    threads = min(2, os.cpu_count() or 1)
    results = run_jobs("slurm", ["bash", "-c", "echo cpus=$SLURM_CPUS_PER_TASK mem=$SLURM_MEM_PER_NODE"],
                       "log/res.log", None, JobOptions(mem="100M", num_threads=threads), policy=FAST)
    assert [(r.task, r.returncode) for r in results] == [(None, 0)]
    text = (in_tmp / "log/res.log").read_text()
    assert f"\ncpus={threads} mem=100\n" in text
    assert f"threads={threads}\n" in text
    assert f"--mem 100M --cpus-per-task {threads} " in (in_tmp / "log/q/res.sh").read_text()


def test_sbatch_flags_for_gpu_time_and_throttle():
    spec = make_spec(["train"], "exp/m/log/train.JOB.log", (1, 4))
    command = sbatch_command(spec, JobOptions(gpu=2, time="4:00:00", max_jobs_run=2), Path("q/t.sh"))
    assert command == ["sbatch", "--export=PATH", "--ntasks-per-node=1", "--time", "4:00:00",
                       "-p", "gpu", "--gres=gpu:2", "--parsable", "--job-name=train",
                       "--array=1-4%2", "--output=exp/m/log/q/train.%a.out", "q/t.sh"]
    no_gpu = sbatch_command(make_spec(["x"], "l.log", None), JobOptions(gpu=0, mem="0"), Path("s.sh"))
    assert no_gpu == ["sbatch", "--export=PATH", "--ntasks-per-node=1", "--parsable", "--job-name=l",
                      "--output=q/l.out", "s.sh"]
    assert parse_sbatch_id("1234;cluster\n") == "1234"
    with pytest.raises(SpeechSSLError, match="cannot read a job id"):
        parse_sbatch_id("Submitted batch job 12")


def test_sbatch_failure_is_a_clear_error(local_slurm, in_tmp):
    conf = in_tmp / "slurm.conf"
    conf.write_text("command sbatch --partition=no_such_partition\n")
    with pytest.raises(SpeechSSLError, match="sbatch failed .*no_such_partition"):
        run_jobs("slurm", ["true"], "log/x.log", None, JobOptions(config=str(conf)))


def test_template_matches_builtin_default():
    template = load_queue_config(str(ROOT / "egs/TEMPLATE/conf/slurm.conf"), "", "slurm")
    builtin = parse_queue_config(DEFAULT_SLURM_CONFIG, "built-in")
    assert (template.command, template.options, template.defaults) == (
        builtin.command, builtin.options, builtin.defaults)

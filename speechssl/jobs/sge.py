"""Grid Engine backend: one ``qsub -t`` array job per dispatch, options mapped by conf/queue.conf."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from speechssl.jobs.cluster import ClusterBackend, WaitPolicy, run_cluster
from speechssl.jobs.options import JobOptions, JobResult
from speechssl.jobs.queue_config import load_queue_config
from speechssl.jobs.script import TASK_FROM_SGE
from speechssl.jobs.spec import JobSpec
from speechssl.utils.errors import SpeechSSLError

# Used when no --config is given; egs/TEMPLATE/conf/queue.conf holds the same lines.
DEFAULT_SGE_CONFIG = """\
command qsub -v PATH -cwd -S /bin/bash -j y
option mem=* -l mem_free=$0,ram_free=$0
option mem=0
option num_threads=* -pe smp $0
option num_threads=1
option time=* -l h_rt=$0
default gpu=0
option gpu=0
option gpu=* -l gpu=$0
"""


def sge_job_name(name: str) -> str:
    """Grid Engine job names must not start with a digit nor hold ``/:@\\*?``."""
    name = re.sub(r"[/:@\\*?\s]", "_", name)
    return name if name[:1].isalpha() else "j" + name


def qsub_command(spec: JobSpec, options: JobOptions, script: Path) -> list[str]:
    """The qsub command line that submits ``script`` for every task of ``spec``."""
    config = load_queue_config(options.config, DEFAULT_SGE_CONFIG, "sge")
    command = [*config.command, *config.flags(options.config_values()), "-terse",
               "-N", sge_job_name(spec.name)]
    if spec.is_array:
        if spec.first < 1:
            raise SpeechSSLError(f"Grid Engine task ids start at 1, got {spec.var}={spec.first}:{spec.last}")
        command += ["-o", f"{spec.queue_dir / spec.name}.$TASK_ID.out", "-t", f"{spec.first}:{spec.last}"]
        if options.max_jobs_run:
            command += ["-tc", str(options.max_jobs_run)]
    else:
        command += ["-o", f"{spec.queue_dir / spec.name}.out"]
    return [*command, str(script)]


def parse_qsub_id(stdout: str) -> str:
    """``qsub -terse`` prints ``jobid`` or, for an array, ``jobid.first-last:step``."""
    job_id = stdout.strip().split(".")[0]
    if not job_id.isdigit():
        raise SpeechSSLError(f"cannot read a job id from qsub's output {stdout.strip()!r}; "
                             "the config's command must be qsub (it is run with -terse)")
    return job_id


def sge_job_alive(job_id: str) -> bool:
    """True while ``qstat -j`` knows the job."""
    return subprocess.run(["qstat", "-j", job_id], capture_output=True).returncode == 0


SGE = ClusterBackend(
    name="sge",
    task_setup=TASK_FROM_SGE,
    submit_command=qsub_command,
    parse_job_id=parse_qsub_id,
    job_alive=sge_job_alive,
    cancel_command=lambda job_id: ["qdel", job_id],
)


def run_sge(spec: JobSpec, options: JobOptions, policy: WaitPolicy | None = None) -> list[JobResult]:
    """Run ``spec`` as a Grid Engine array job and wait for it."""
    return run_cluster(SGE, spec, options, policy)

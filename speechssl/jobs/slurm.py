"""Slurm backend: one ``sbatch --array`` job per dispatch, options mapped by conf/slurm.conf."""
from __future__ import annotations

import subprocess
from pathlib import Path

from speechssl.jobs.cluster import ClusterBackend, WaitPolicy, run_cluster
from speechssl.jobs.options import JobOptions, JobResult
from speechssl.jobs.queue_config import load_queue_config
from speechssl.jobs.script import TASK_FROM_SLURM
from speechssl.jobs.spec import JobSpec
from speechssl.utils.errors import SpeechSSLError

# Used when no --config is given; egs/TEMPLATE/conf/slurm.conf holds the same lines.
DEFAULT_SLURM_CONFIG = """\
command sbatch --export=PATH --ntasks-per-node=1
option mem=* --mem $0
option mem=0
option num_threads=* --cpus-per-task $0
option time=* --time $0
default gpu=0
option gpu=0
option gpu=* -p gpu --gres=gpu:$0
"""


def sbatch_command(spec: JobSpec, options: JobOptions, script: Path) -> list[str]:
    """The sbatch command line that submits ``script`` for every task of ``spec``."""
    config = load_queue_config(options.config, DEFAULT_SLURM_CONFIG, "slurm")
    command = [*config.command, *config.flags(options.config_values()), "--parsable",
               f"--job-name={spec.name}"]
    if spec.is_array:
        array = f"--array={spec.first}-{spec.last}"
        if options.max_jobs_run:
            array += f"%{options.max_jobs_run}"
        command += [array, f"--output={spec.queue_dir / spec.name}.%a.out"]
    else:
        command += [f"--output={spec.queue_dir / spec.name}.out"]
    return [*command, str(script)]


def parse_sbatch_id(stdout: str) -> str:
    """``sbatch --parsable`` prints ``jobid`` or ``jobid;cluster``."""
    job_id = stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise SpeechSSLError(f"cannot read a job id from sbatch's output {stdout.strip()!r}; "
                             "keep --parsable semantics (no wrapper printing extra text)")
    return job_id


def slurm_job_alive(job_id: str) -> bool:
    """True while ``squeue`` lists any task of the job (or cannot answer right now)."""
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%i"], capture_output=True, text=True)
    if out.returncode != 0:
        return "Invalid job id" not in out.stderr
    return bool(out.stdout.strip())


SLURM = ClusterBackend(
    name="slurm",
    task_setup=TASK_FROM_SLURM,
    submit_command=sbatch_command,
    parse_job_id=parse_sbatch_id,
    job_alive=slurm_job_alive,
    cancel_command=lambda job_id: ["scancel", job_id],
)


def run_slurm(spec: JobSpec, options: JobOptions, policy: WaitPolicy | None = None) -> list[JobResult]:
    """Run ``spec`` as a Slurm job array and wait for it."""
    return run_cluster(SLURM, spec, options, policy)

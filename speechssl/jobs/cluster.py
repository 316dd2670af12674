"""What slurm and sge share: submit one array job, then wait for each task's done-file.

Completion is read from the done-files the job script writes (``<logdir>/q/<name>.done.<task>``,
holding the exit status), so no accounting database is needed.  While files are missing the
scheduler is asked whether the job still exists; once it is gone, missing files get a grace
period (for slow network file systems) and then count as failed jobs without an exit status.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from speechssl.jobs.options import JobOptions, JobResult
from speechssl.jobs.script import render_job_script, write_job_script
from speechssl.jobs.spec import JobSpec, join_command
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

logger = get_logger(__name__)


@dataclass
class WaitPolicy:
    """Polling intervals (seconds): first poll, growth factor, longest interval, and the
    grace period for done-files after the scheduler no longer knows the job."""

    first: float = 0.25
    growth: float = 1.3
    longest: float = 10.0
    grace: float = 15.0


@dataclass
class ClusterBackend:
    """How one scheduler is driven.

    ``submit_command(spec, options, script)`` builds the submit command line;
    ``parse_job_id(stdout)`` reads the job id the submit program prints;
    ``job_alive(job_id)`` says whether the scheduler still knows the job;
    ``cancel_command(job_id)`` removes it.
    """

    name: str
    task_setup: str
    submit_command: Callable[[JobSpec, JobOptions, Path], list[str]]
    parse_job_id: Callable[[str], str]
    job_alive: Callable[[str], bool]
    cancel_command: Callable[[str], list[str]]


def read_done_file(path: Path) -> int | None:
    """Exit status in a done-file, ``None`` while the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    try:
        return int(text)
    except ValueError:
        raise SpeechSSLError(f"done-file {path} holds {text!r}, not an exit status; "
                             "delete it and rerun") from None


def submit(backend: ClusterBackend, spec: JobSpec, options: JobOptions) -> tuple[str, list[str]]:
    """Write the job script, run the submit command; returns the job id and the command."""
    script = spec.queue_dir / f"{spec.name}.sh"
    command = backend.submit_command(spec, options, script)
    write_job_script(spec, render_job_script(
        spec, task_setup=backend.task_setup, threads=options.threads, cluster=True,
        notes=[f"submitted with: {join_command(command)}"]))
    logger.info("submitting %d job(s) to %s: %s", len(spec.tasks), backend.name, join_command(command))
    try:
        out = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise SpeechSSLError(f"{command[0]} not found: is the {backend.name} client installed and on PATH? "
                             f"(or use --backend local)") from None
    if out.returncode != 0:
        raise SpeechSSLError(f"{command[0]} failed (exit {out.returncode}): {out.stderr.strip()}\n"
                             f"command: {join_command(command)}\n"
                             "check the flags your --config maps the options to")
    job_id = backend.parse_job_id(out.stdout)
    logger.info("%s job %s: %s", backend.name, job_id, spec.log_template)
    return job_id, command


def wait_for_tasks(backend: ClusterBackend, spec: JobSpec, job_id: str,
                   policy: WaitPolicy | None = None) -> list[JobResult]:
    """Wait until every task has written its done-file or the job is gone past the grace period."""
    policy = policy or WaitPolicy()
    codes: dict[int, int | None] = {}
    pending = list(spec.tasks)
    interval = policy.first
    gone_since: float | None = None
    progress = tqdm(total=len(pending), desc=f"{spec.name} ({job_id})", unit="job", disable=None, leave=False)
    try:
        while pending:
            for task in list(pending):
                code = read_done_file(spec.done_path(task))
                if code is not None:
                    codes[task] = code
                    pending.remove(task)
                    progress.update(1)
            if not pending:
                break
            if gone_since is None and not backend.job_alive(job_id):
                gone_since = time.monotonic()
            if gone_since is not None and time.monotonic() - gone_since > policy.grace:
                logger.warning("%s job %s ended, but %d task(s) left no done-file in %s",
                               backend.name, job_id, len(pending), spec.queue_dir)
                break
            time.sleep(interval)
            interval = min(interval * policy.growth, policy.longest)
    except BaseException:
        logger.warning("interrupted: cancelling %s job %s", backend.name, job_id)
        subprocess.run(backend.cancel_command(job_id), capture_output=True)
        raise
    finally:
        progress.close()
    return [JobResult(t if spec.is_array else None, spec.log_for(t), codes.get(t), job_id)
            for t in spec.tasks]


def run_cluster(backend: ClusterBackend, spec: JobSpec, options: JobOptions,
                policy: WaitPolicy | None = None) -> list[JobResult]:
    """Submit ``spec`` as one (array) job and wait for all of its tasks."""
    job_id, _ = submit(backend, spec, options)
    return wait_for_tasks(backend, spec, job_id, policy)

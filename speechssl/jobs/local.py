"""Local backend: the jobs run as processes on this machine, at most ``max_jobs_run`` at once."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass

from tqdm import tqdm

from speechssl.jobs.options import JobOptions, JobResult
from speechssl.jobs.script import TASK_FROM_ARG, render_job_script, write_job_script
from speechssl.jobs.spec import JobSpec
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

logger = get_logger(__name__)
_POLL_S = 0.05


def visible_gpus() -> list[str]:
    """GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else those ``nvidia-smi -L`` lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g for g in env.split(",") if g.strip() and g.strip() != "-1"]
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    return [str(i) for i, line in enumerate(l for l in out.stdout.splitlines() if l.startswith("GPU "))]


@dataclass
class _Running:
    task: int
    proc: subprocess.Popen
    gpus: list[str]


def _plan_gpus(options: JobOptions) -> tuple[int, list[str]]:
    """GPUs each job needs and the pool to draw them from (both empty when GPUs are not used)."""
    need = options.gpu or 0
    if need <= 0:
        return 0, []
    pool = visible_gpus()
    if not pool:
        logger.warning("--gpu %d asked for, but no GPU is visible here: the jobs run on CPU", need)
        return 0, []
    if need > len(pool):
        raise SpeechSSLError(f"--gpu {need} per job, but only {len(pool)} GPU(s) are visible "
                             f"({','.join(pool)}); lower --gpu or run on a cluster backend")
    return need, pool


def _stop(running: list[_Running]) -> None:
    """Terminate every running job's process group (SIGTERM, then SIGKILL after 5 s)."""
    for job in running:
        try:
            os.killpg(job.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    for job in running:
        try:
            job.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(job.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            job.proc.wait()


def run_local(spec: JobSpec, options: JobOptions) -> list[JobResult]:
    """Run every task of ``spec``; returns one result per task, in task order.

    ``max_jobs_run`` defaults to the CPU count divided by ``num_threads``.  With
    ``--gpu N`` and visible GPUs, each job gets N of them of its own through
    ``CUDA_VISIBLE_DEVICES``, which also caps how many run at once.  ``--mem``,
    ``--time`` and config-only options do not apply locally and are ignored.
    Ctrl-C (or SIGTERM turned into KeyboardInterrupt) kills the running jobs.
    """
    cpus = os.cpu_count() or 1
    max_jobs = options.max_jobs_run or max(1, cpus // options.threads)
    gpus_per_job, free_gpus = _plan_gpus(options)
    ignored = [k for k in options.config_values() if k not in ("num_threads", "gpu")]
    if ignored:
        logger.debug("local backend ignores %s", ", ".join(ignored))
    script = write_job_script(spec, render_job_script(
        spec, task_setup=TASK_FROM_ARG, threads=options.threads, cluster=False))
    logger.info("running %d job(s) locally, at most %d at once: %s",
                len(spec.tasks), max_jobs, spec.log_template)

    pending = list(spec.tasks)
    running: list[_Running] = []
    results: dict[int, JobResult] = {}
    progress = tqdm(total=len(pending), desc=spec.name, unit="job", disable=None, leave=False)
    try:
        while pending or running:
            while pending and len(running) < max_jobs and len(free_gpus) >= gpus_per_job:
                task = pending.pop(0)
                gpus, free_gpus = free_gpus[:gpus_per_job], free_gpus[gpus_per_job:]
                env = dict(os.environ)
                if gpus_per_job:
                    env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
                proc = subprocess.Popen(["bash", str(script), str(task)], env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        start_new_session=True)
                running.append(_Running(task, proc, gpus))
            time.sleep(_POLL_S)
            for job in [j for j in running if j.proc.poll() is not None]:
                running.remove(job)
                free_gpus += job.gpus
                results[job.task] = JobResult(job.task if spec.is_array else None,
                                              spec.log_for(job.task), job.proc.returncode)
                progress.update(1)
    except BaseException:
        _stop(running)
        raise
    finally:
        progress.close()
    return [results[t] for t in spec.tasks]

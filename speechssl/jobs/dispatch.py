"""``run_jobs``: one entry point for every backend, and the failure report."""
from __future__ import annotations

from speechssl.jobs.cluster import WaitPolicy
from speechssl.jobs.local import run_local
from speechssl.jobs.options import JobOptions, JobResult
from speechssl.jobs.sge import run_sge
from speechssl.jobs.slurm import run_slurm
from speechssl.jobs.spec import make_spec
from speechssl.utils.errors import SpeechSSLError

BACKENDS = ("local", "slurm", "sge")
_MAX_LISTED = 10


def run_jobs(backend: str, command: list[str], log_path: str, job_range: tuple[int, int] | None,
             options: JobOptions | None = None, job_var: str = "JOB",
             policy: WaitPolicy | None = None) -> list[JobResult]:
    """Run ``command`` once per task of ``job_range`` (or once, when ``None``) and wait.

    ``job_var`` (default ``JOB``) is replaced by the task number in the command and in
    ``log_path``.  Each job's output goes to its log, framed by Kaldi-style header and
    footer lines.  Returns one :class:`JobResult` per task; it does not raise when jobs
    fail (see :func:`format_failures`).  ``policy`` tunes polling of cluster backends.
    """
    options = options or JobOptions()
    spec = make_spec(command, log_path, job_range, job_var)
    if backend == "local":
        return run_local(spec, options)
    if backend == "slurm":
        return run_slurm(spec, options, policy)
    if backend == "sge":
        return run_sge(spec, options, policy)
    raise SpeechSSLError(f"unknown job backend {backend!r}; choose one of {', '.join(BACKENDS)} "
                         "(set it in cmd.sh, e.g. train_cmd=\"utils/queue.sh --backend local\")")


def format_failures(results: list[JobResult]) -> str | None:
    """``"2 / 4 jobs failed (job 2: code 1, ...), see a.2.log a.4.log"``, or ``None`` if all succeeded."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return None
    shown = failed[:_MAX_LISTED]

    def describe(r: JobResult) -> str:
        code = f"code {r.returncode}" if r.returncode is not None else "no exit status, killed?"
        return f"job {r.task}: {code}" if r.task is not None else code

    more = f" and {len(failed) - len(shown)} more" if len(failed) > len(shown) else ""
    noun = "job" if len(results) == 1 else "jobs"
    return (f"{len(failed)} / {len(results)} {noun} failed ({', '.join(describe(r) for r in shown)}{more}), "
            f"see {' '.join(r.log_path for r in shown)}{more}")

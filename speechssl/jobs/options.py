"""What a dispatch asks for (:class:`JobOptions`) and what each job gave back (:class:`JobResult`)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class JobOptions:
    """Resources and limits of a batch of jobs, as given by ``--mem``, ``--num-threads`` etc.

    ``None`` means "not given": cluster backends then use the config's ``default``
    lines, the local backend its own defaults.  ``extra`` holds further
    ``--name value`` options that only a cluster config file knows (Kaldi's
    queue.pl accepts those too); keys use underscores (``--tmp-space`` -> ``tmp_space``).
    """

    mem: str | None = None
    num_threads: int | None = None
    gpu: int | None = None
    max_jobs_run: int | None = None
    time: str | None = None
    config: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def threads(self) -> int:
        """Threads per job, as written to each log's accounting line."""
        return self.num_threads or 1

    def config_values(self) -> dict[str, str]:
        """The options a cluster config maps to scheduler flags (``max_jobs_run`` is built in)."""
        given = {
            "mem": self.mem,
            "num_threads": self.num_threads,
            "gpu": self.gpu,
            "time": self.time,
        }
        values = {name: str(value) for name, value in given.items() if value is not None}
        values.update(self.extra)
        return values


@dataclass
class JobResult:
    """Outcome of one job.  ``returncode`` is ``None`` when the job left no exit status
    (killed by the scheduler, node failure); ``task`` is ``None`` for a single job."""

    task: int | None
    log_path: str
    returncode: int | None
    job_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

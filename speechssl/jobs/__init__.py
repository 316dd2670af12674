"""Job dispatch behind one interface (Kaldi's run.pl / queue.pl / slurm.pl roles).

``run_jobs("local" | "slurm" | "sge", command, log_path, (1, N), JobOptions(...))`` runs
``command`` once per task, replacing ``JOB`` in its arguments and the log path; recipes
reach it through ``utils/queue.sh`` (``python -m speechssl.bin.queue_jobs``).
"""
from speechssl.jobs.dispatch import BACKENDS, format_failures, run_jobs
from speechssl.jobs.options import JobOptions, JobResult

__all__ = ["BACKENDS", "JobOptions", "JobResult", "format_failures", "run_jobs"]

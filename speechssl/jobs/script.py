"""The bash script every backend runs for a job: it writes the Kaldi-style log
(``# <command>``, ``# Started at``, output, ``# Accounting``, ``# Ended (code N) at``)
and the done-file holding the exit status."""
from __future__ import annotations

import os
from pathlib import Path

from speechssl.jobs.spec import JobSpec, quote_arg

# How a script learns its task number, per backend.
TASK_FROM_ARG = 'task=${1:-1}'
TASK_FROM_SLURM = 'task=${SLURM_ARRAY_TASK_ID:-1}'
TASK_FROM_SGE = 'task=$SGE_TASK_ID; case $task in ""|*[!0-9]*) task=1 ;; esac'


def render_job_script(spec: JobSpec, *, task_setup: str, threads: int,
                      cluster: bool, notes: list[str] = ()) -> str:
    """Bash source of the job script.

    ``task_setup`` sets ``$task`` (one of the ``TASK_FROM_*`` lines).  A ``cluster``
    script first changes to the submit directory and sources ``./path.sh`` when it
    exists, as Kaldi's queue.pl does, and logs the host.  ``notes`` become comment lines.
    """
    lines = ["#!/usr/bin/env bash", f"# speechssl job script: {spec.name}, log {spec.log_template}"]
    lines += [f"# {note}" for note in notes]
    if cluster:
        lines += [f"cd {quote_arg(os.getcwd())} || exit 1", "[ -f ./path.sh ] && . ./path.sh"]
    task_line = task_setup if spec.is_array else "task=1"
    lines += [
        task_line,
        f"cmd={quote_arg(spec.command)}",
        f"log={quote_arg(spec.log_template)}",
    ]
    if spec.is_array:
        lines += [f'cmd=${{cmd//{spec.var}/"$task"}}', f'log=${{log//{spec.var}/"$task"}}']
    done = quote_arg(str(spec.queue_dir / f"{spec.name}.done."))
    host_line = ['  echo "# Running on $(hostname)"'] if cluster else []
    lines += [
        f"done_file={done}$task",
        'mkdir -p -- "$(dirname -- "$log")" || exit 1',
        "{",
        '  echo "# $cmd"',
        '  echo "# Started at $(date)"',
        *host_line,
        '} > "$log" || exit 1',
        "start=$(date +%s)",
        'bash -c "$cmd" >> "$log" 2>&1',
        "rc=$?",
        "end=$(date +%s)",
        f'echo "# Accounting: time=$((end - start)) threads={threads}" >> "$log"',
        'echo "# Ended (code $rc) at $(date)" >> "$log"',
        'echo "$rc" > "$done_file.tmp" && mv -f "$done_file.tmp" "$done_file"',
        'exit "$rc"',
    ]
    return "\n".join(lines) + "\n"


def write_job_script(spec: JobSpec, text: str) -> Path:
    """Write the script to ``<logdir>/q/<name>.sh`` (executable) and clear old done-files."""
    qdir = spec.queue_dir
    qdir.mkdir(parents=True, exist_ok=True)
    for old in qdir.glob(f"{spec.name}.done.*"):
        old.unlink(missing_ok=True)
    path = qdir / f"{spec.name}.sh"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, path)
    return path

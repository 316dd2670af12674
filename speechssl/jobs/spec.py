"""A batch of jobs as the user wrote it: the command, the log path and the ``JOB=a:b`` range.

Quoting follows Kaldi's run.pl: an argument without white space or quote characters is
passed to bash as it is, so ``\\|``, ``'>'``, ``$VAR`` and globs given as separate
arguments act as shell syntax; any other argument is single-quoted, so
``"ark:gunzip -c feats.JOB.gz |"`` arrives as one word.  The range variable is
replaced everywhere in the joined command and in the log path, as run.pl does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from speechssl.utils.errors import SpeechSSLError

_RANGE_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+):(\d+)$")
_NEEDS_QUOTES_RE = re.compile(r"[\s'\"]")


def parse_job_range(text: str) -> tuple[str, int, int] | None:
    """``"JOB=1:4"`` -> ``("JOB", 1, 4)``; ``None`` when ``text`` is not a range."""
    m = _RANGE_RE.match(text)
    if m is None:
        return None
    return m.group(1), int(m.group(2)), int(m.group(3))


def quote_arg(arg: str) -> str:
    """Quote one argument for bash the way run.pl would need it (see the module docstring)."""
    if arg and not _NEEDS_QUOTES_RE.search(arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def join_command(args: list[str]) -> str:
    """The shell command line for ``args``."""
    return " ".join(quote_arg(a) for a in args)


@dataclass(frozen=True)
class JobSpec:
    """One dispatch: ``command`` (a bash command line that still holds ``var``), the
    ``log_template``, and the tasks ``first..last`` (``var`` is ``None`` for a single job)."""

    command: str
    log_template: str
    var: str | None
    first: int
    last: int

    @property
    def tasks(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def is_array(self) -> bool:
        return self.var is not None

    def substitute(self, text: str, task: int) -> str:
        return text.replace(self.var, str(task)) if self.var else text

    def log_for(self, task: int) -> str:
        return self.substitute(self.log_template, task)

    @property
    def name(self) -> str:
        """Short name for job scripts and scheduler job names: the log name without the variable."""
        name = Path(self.log_template).name
        if self.var:
            name = name.replace("." + self.var, "").replace(self.var, "")
        name = name.removesuffix(".log").strip(".")
        return name or "job"

    @property
    def queue_dir(self) -> Path:
        """``<logdir>/q``: job scripts, scheduler output and done-files live here."""
        parent = Path(self.log_template).parent
        if self.var:
            parts = parent.parts
            keep = next((i for i, p in enumerate(parts) if self.var in p), len(parts))
            parent = Path(*parts[:keep]) if keep else Path(".")
        return parent / "q"

    def done_path(self, task: int) -> Path:
        """File a cluster job writes its exit status to when it ends."""
        return self.queue_dir / f"{self.name}.done.{task}"


def make_spec(command: list[str], log_path: str, job_range: tuple[int, int] | None,
              job_var: str = "JOB") -> JobSpec:
    """Check the user's request and build a :class:`JobSpec`."""
    if not command:
        raise SpeechSSLError(f"no command given to run (log {log_path}); "
                             "usage: queue.sh [options] JOB=1:N log/x.JOB.log program args...")
    if not log_path:
        raise SpeechSSLError("empty log path; give the log file before the command")
    if job_range is None:
        return JobSpec(join_command(command), log_path, None, 1, 1)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", job_var):
        raise SpeechSSLError(f"bad job range variable {job_var!r}: use letters, digits and _")
    first, last = job_range
    if first < 0 or first > last:
        raise SpeechSSLError(f"bad job range {job_var}={first}:{last}: need 0 <= start <= end")
    if last > first and job_var not in log_path:
        raise SpeechSSLError(
            f"{last - first + 1} jobs would all write to one log {log_path}: "
            f"put {job_var} in the log name, e.g. {Path(log_path).with_suffix('')}.{job_var}.log")
    return JobSpec(join_command(command), log_path, job_var, first, last)

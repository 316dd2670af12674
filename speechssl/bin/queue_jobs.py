"""Run a command as parallel jobs on this machine, Slurm or Grid Engine (Kaldi's run.pl/queue.pl).

Usage (recipes call it through utils/queue.sh, set in cmd.sh):
    queue_jobs [options] JOB=1:N exp/dir/log/name.JOB.log program args...
    queue_jobs [options] exp/dir/log/name.log program args...
"""
from __future__ import annotations

import argparse
import signal
import sys

from speechssl.jobs import BACKENDS, JobOptions, format_failures, run_jobs
from speechssl.jobs.spec import parse_job_range
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import setup_logging

_FLAGS_WITHOUT_VALUE = ("-h", "--help")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="queue_jobs",
        allow_abbrev=False,
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [options] [NAME=a:b] LOG program args...",
        epilog="""
Options come first, as --name value pairs; a later one overrides an earlier one, so
cmd.sh can set defaults that a step extends ("$train_cmd --mem 8G").  Any other
--name value option is passed to the cluster config (Kaldi's queue.pl does the same):
it must have an 'option name=...' line there; the local backend ignores it.

NAME=a:b (usually JOB=1:N) runs tasks a..b; NAME is replaced by the task number in
the log path and in every argument.  Without a range one job runs.  Arguments are
joined into a bash command line like run.pl does: an argument without spaces or
quotes stays as it is (so \\| and '>' work as pipe and redirection), any other is
single-quoted.  Each log starts with '# <command>' and '# Started at <date>' and
ends with '# Accounting: time=<s> threads=<n>' and '# Ended (code <rc>) at <date>'.
Job scripts, scheduler output and done-files go to <logdir>/q/.

Exit status: 0 when every job succeeded; 1 otherwise, after a line naming the
failed jobs and their logs.

Examples:
  utils/queue.sh --backend local --max-jobs-run 2 JOB=1:4 exp/x/log/feats.JOB.log \\
      python -m speechssl.bin.X --part JOB data/train
  utils/queue.sh --backend slurm --config conf/slurm.conf --mem 4G --gpu 1 \\
      exp/x/log/train.log python -m speechssl.bin.Y ...
""")
    parser.add_argument("--backend", choices=BACKENDS, default="local",
                        help="where jobs run: local processes, Slurm (sbatch) or Grid Engine (qsub) "
                             "(default: %(default)s)")
    parser.add_argument("--config", default=None,
                        help="cluster config mapping options to scheduler flags, Kaldi format "
                             "(conf/slurm.conf, conf/queue.conf); default: the backend's built-in one, "
                             "the same as egs/TEMPLATE/conf/. Ignored by the local backend")
    parser.add_argument("--mem", default=None,
                        help="memory per job, e.g. 4G (slurm: --mem, sge: -l mem_free,ram_free; "
                             "ignored locally)")
    parser.add_argument("--num-threads", type=int, default=None,
                        help="CPU threads per job (slurm: --cpus-per-task, sge: -pe smp; locally it "
                             "lowers the default --max-jobs-run to CPUs / threads)")
    parser.add_argument("--gpu", type=int, default=None,
                        help="GPUs per job (slurm: -p gpu --gres=gpu:N, sge: -l gpu=N; locally each job "
                             "gets its own CUDA_VISIBLE_DEVICES, or a warning when no GPU is visible)")
    parser.add_argument("--max-jobs-run", type=int, default=None,
                        help="most jobs running at once (slurm: --array=a-b%%N, sge: -tc N; "
                             "local default: number of CPUs / --num-threads)")
    parser.add_argument("--time", default=None,
                        help="wall-clock limit per job, e.g. 4:00:00 (slurm: --time, sge: -l h_rt; "
                             "ignored locally)")
    parser.add_argument("--log-level", default="WARNING",
                        help="messages of the dispatcher itself (default: %(default)s)")
    return parser


def split_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """Leading ``--name value`` / ``--name=value`` pairs, and the rest (range, log, command)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] in _FLAGS_WITHOUT_VALUE or "=" in argv[i]:
            i += 1
        elif i + 1 < len(argv):
            i += 2
        else:
            raise SpeechSSLError(f"option {argv[i]} needs a value")
    return argv[:i], argv[i:]


def extra_options(unknown: list[str]) -> dict[str, str]:
    """``["--tmp-space", "10G", "--foo=1"]`` -> ``{"tmp_space": "10G", "foo": "1"}``."""
    extra: dict[str, str] = {}
    i = 0
    while i < len(unknown):
        token = unknown[i]
        if not token.startswith("--"):
            raise SpeechSSLError(f"unexpected option {token!r}; options are --name value pairs")
        if "=" in token:
            name, value = token[2:].split("=", 1)
            i += 1
        else:
            name, value = token[2:], unknown[i + 1]
            i += 2
        extra[name.replace("-", "_")] = value
    return extra


@cli_main
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    option_args, rest = split_options(argv)
    args, unknown = build_parser().parse_known_args(option_args)
    setup_logging(args.log_level)
    job_range = parse_job_range(rest[0]) if rest else None
    if job_range is not None:
        rest = rest[1:]
    if len(rest) < 2:
        raise SpeechSSLError("need a log file and a command: queue_jobs [options] [JOB=1:N] LOG program args... "
                             "(see --help)")
    options = JobOptions(mem=args.mem, num_threads=args.num_threads, gpu=args.gpu,
                         max_jobs_run=args.max_jobs_run, time=args.time, config=args.config,
                         extra=extra_options(unknown))
    for name, least in (("num_threads", 1), ("gpu", 0), ("max_jobs_run", 1)):
        value = getattr(options, name)
        if value is not None and value < least:
            raise SpeechSSLError(f"--{name.replace('_', '-')} {value}: must be at least {least}")

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    var = job_range[0] if job_range else "JOB"
    results = run_jobs(args.backend, rest[1:], rest[0], job_range[1:] if job_range else None,
                       options, job_var=var)
    report = format_failures(results)
    if report:
        print(f"queue_jobs: {report}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pick the best GAN run of a seed sweep by the unsupervised selection metric.

Reads every ``<sweep-dir>/<run>/`` written by train_uasr (one run per
directory, or a whole ``--seeds``/``--grid`` sweep), writes
``<sweep-dir>/runs.md`` (one row per run: status (finished, or stopped early
and why), grid values, updates, best update, metric, LM perplexity,
vocabulary usage, and the oracle PER for information) and
``<sweep-dir>/selected.json``, and prints the selected checkpoint.  Example::

    python -m speechssl.bin.select_uasr_run exp/uasr_mfcc_v2
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.uasr.sweep import collect_run, select_best, write_sweep
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep_dir", help="directory holding one subdirectory per run (e.g. seed1, seed2)")
    p.add_argument("--pattern", default="seed*",
                   help="glob of the run directories (default: %(default)s; sweeps name theirs seed<N>[_<grid>])")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    sweep = Path(args.sweep_dir)
    run_dirs = sorted(p for p in sweep.glob(args.pattern) if p.is_dir())
    if not run_dirs:
        raise SpeechSSLError(f"{sweep}: no run directories matching {args.pattern!r}")
    runs = [collect_run(d) for d in run_dirs]
    best = select_best(runs)
    write_sweep(sweep, runs, best)
    for r in runs:
        log.info("%s: %s, metric %s, oracle PER %s %%", r["run"], r["status"], r.get("metric"), r.get("oracle_per_%"))
    log.info("selected %s (%s = %s)", best["run"], best.get("metric_name"), best.get("metric"))
    print(best["checkpoint"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Run the whole test suite in tools/venv (install first with tools/install.sh).
# Extra arguments go to pytest, e.g. tools/run_tests.sh -k slurm -x
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/tools/venv/bin:$root/tools/kenlm/bin:$PATH" LC_ALL=C PYTHONIOENCODING=UTF-8
exec python -m pytest -ra "$@" test

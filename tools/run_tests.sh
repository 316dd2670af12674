#!/usr/bin/env bash
# Run the test suite in tools/venv (install first with tools/install.sh).
# Extra arguments go to pytest; without a test path among them the whole suite
# under test/ runs, e.g. tools/run_tests.sh -k slurm -x, or tools/run_tests.sh test/scoring -q
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/tools/venv/bin:$root/tools/kenlm/bin:$PATH" LC_ALL=C PYTHONIOENCODING=UTF-8
paths=test
for a in "$@"; do case "$a" in test/*|test) paths= ;; esac; done
exec python -m pytest -ra "$@" $paths

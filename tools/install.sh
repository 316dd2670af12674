#!/usr/bin/env bash
# Install everything speechssl needs that is missing on this machine:
# Debian packages, the Python environment tools/venv (pinned), and KenLM's
# lmplz/build_binary.  Idempotent: on a ready machine it finishes in seconds.
set -euo pipefail
tools=$(cd "$(dirname "$0")" && pwd)
start=$(date +%s)
bash "$tools/install_system.sh"
bash "$tools/install_python.sh"
bash "$tools/install_kenlm.sh"
echo "install: ready in $(( $(date +%s) - start )) s (activate with: . tools/venv/bin/activate)"

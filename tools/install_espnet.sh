#!/usr/bin/env bash
# Install ESPnet 202511 into tools/venv for the UASR peer benchmark, without
# touching torch or torchaudio.  Run tools/install.sh first.
#
#   bash tools/install_espnet.sh
#
# 1. the pinned runtime dependencies of tools/requirements-espnet.txt, with every
#    package already in the venv (torch==2.13.0 and torchaudio included) held at
#    its installed version by a constraints file, plus tools/constraints.txt;
# 2. espnet==202511 with --no-deps (pip's own resolution of espnet swaps torch;
#    see tools/requirements-espnet.txt);
# 3. an import check of espnet2.tasks.uasr and ESPnetUASRModel, a check that
#    torch/torchaudio are unchanged, and tools/venv/.espnet-installed recording
#    the versions.
# Idempotent: does nothing when that record matches the requirement list and
# espnet 202511 is installed.
set -euo pipefail
tools=$(cd "$(dirname "$0")" && pwd)
venv=$tools/venv
py=$venv/bin/python
reqs=$tools/requirements-espnet.txt
stamp=$venv/.espnet-installed
espnet_version=202511
check='import espnet2.tasks.uasr
from espnet2.uasr.espnet_model import ESPnetUASRModel
from importlib.metadata import version
print(" ".join(f"{d}=={version(d)}" for d in ("espnet", "torch", "torchaudio", "typeguard", "kenlm")))'

if [ ! -x "$py" ]; then
  echo "install_espnet: $venv is missing; run: bash $tools/install.sh" >&2
  exit 1
fi
want=$(cat "$reqs" | sha256sum | cut -d' ' -f1)
quick='from importlib.metadata import version; assert version("espnet") == "'$espnet_version'"'
if [ -f "$stamp" ] && [ "$(head -1 "$stamp")" = "$want" ] && "$py" -c "$quick" 2>/dev/null; then
  echo "install_espnet: espnet is already installed ($(sed -n 2p "$stamp"))"
  exit 0
fi

torch_before=$("$py" -c 'import torch, torchaudio; print(torch.__version__, torchaudio.__version__)')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Hold every installed distribution at its version (local and editable installs excluded).
"$py" -m pip freeze --exclude-editable | grep -v -E ' @ |^espnet==' > "$work/installed.txt"
constraints=(-c "$work/installed.txt")
[ -s "$tools/constraints.txt" ] && constraints+=(-c "$tools/constraints.txt")
"$py" -m pip install --quiet "${constraints[@]}" -r "$reqs"
"$py" -m pip install --quiet --no-deps "espnet==$espnet_version"

torch_after=$("$py" -c 'import torch, torchaudio; print(torch.__version__, torchaudio.__version__)')
if [ "$torch_before" != "$torch_after" ]; then
  echo "install_espnet: torch/torchaudio changed ($torch_before -> $torch_after); this must not happen," \
       "reinstall them with tools/install_python.sh and report the problem" >&2
  exit 1
fi
versions=$("$py" -c "$check" 2>/dev/null | tail -1)
printf '%s\n%s\n' "$want" "$versions" > "$stamp"
echo "install_espnet: $versions"

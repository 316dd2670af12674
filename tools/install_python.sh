#!/usr/bin/env bash
# Create tools/venv and install every pinned Python dependency plus speechssl
# itself (editable).  Idempotent: does nothing when the requirement files have
# not changed since the last successful run.
set -euo pipefail
tools=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$tools")
venv=$tools/venv
stamp=$venv/.speechssl-installed
want=$(cat "$tools/requirements.txt" "$tools/constraints.txt" "$root/setup.py" | sha256sum | cut -d' ' -f1)

# up to date: same requirements, and the editable speechssl is this checkout's (a venv reused by another
# checkout would otherwise run that checkout's code)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -I -c \
    "import speechssl, sys; sys.exit(speechssl.__file__ != sys.argv[1])" "$root/speechssl/__init__.py" 2>/dev/null; then
  echo "install_python: tools/venv is up to date"
  exit 0
fi

python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# pip, minus the warnings about index locations of this machine's pip.conf that do not exist
pip() {
  "$venv/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
pip install --quiet --upgrade "pip==26.3" "setuptools==80.9.0" "wheel==0.45.1"
pip install --quiet -r "$tools/requirements.txt" -c "$tools/constraints.txt"
# torchaudio's PyPI wheel links CUDA torch; drop its compiled extension so the
# pure-Python parts import beside CPU torch.  On a GPU machine with a matching
# CUDA torch/torchaudio pair, set SPEECHSSL_KEEP_TORCHAUDIO_EXT=1.
if [ "${SPEECHSSL_KEEP_TORCHAUDIO_EXT:-0}" != 1 ]; then
  ta=$("$venv/bin/python" -c "import importlib.util,os;print(os.path.dirname(importlib.util.find_spec('torchaudio').origin))")
  rm -f "$ta"/lib/*.so
fi
pip install --quiet --no-deps --no-build-isolation -e "$root"
"$venv/bin/python" -c "import torch, torchaudio, soundfile, kaldiio, speechssl; print('install_python: torch', torch.__version__, 'torchaudio', torchaudio.__version__)"
echo "$want" > "$stamp"

# Environment of the recipe: the speechssl venv, KenLM and utils on PATH, C sorting.
# The repository root is found through the recipe's utils link (utils -> <root>/utils).
MAIN_ROOT=$(cd "$(dirname "$(readlink -f utils/parse_options.sh)")/.." && pwd)
if [ ! -x "$MAIN_ROOT/tools/venv/bin/python" ]; then
  echo "path.sh: $MAIN_ROOT/tools/venv is missing; run: bash $MAIN_ROOT/tools/install.sh" >&2
  return 1 2>/dev/null || exit 1
fi
export PATH="$MAIN_ROOT/tools/venv/bin:$MAIN_ROOT/tools/kenlm/bin:$PWD/utils:$PATH"
# this checkout's speechssl, whichever checkout the venv's editable install points to
export PYTHONPATH="$MAIN_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export LC_ALL=C
export PYTHONIOENCODING=UTF-8
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

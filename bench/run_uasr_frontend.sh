#!/usr/bin/env bash
# Run the UASR front-end benchmarks (feature extraction RTF, k-means memory,
# phonemization throughput) and write each one's markdown output to
# <recipe>/exp/bench/<name>.md, from where write_uasr_results puts them into
# the recipe's RESULTS.md with the command, date and machine.
# Usage: bench/run_uasr_frontend.sh [recipe-dir]   (default: egs/mini_librispeech/uasr1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
recipe=${1:-$root/egs/mini_librispeech/uasr1}
out=$recipe/exp/bench
mkdir -p "$out"
py=$root/tools/venv/bin/python
export PATH="$root/tools/venv/bin:$root/tools/kenlm/bin:$PATH"
for b in "feature_rtf.py" "kmeans_memory.py --frames 20000,200000" "phonemize_throughput.py --num-sentences 2000"; do
  name=${b%%.py*}
  {
    echo "### ${name//_/ }"
    echo
    echo "Command: \`bench/$b\`, $(date +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(getconf _NPROCESSORS_ONLN) cores"
    echo
    # shellcheck disable=SC2086
    result=$($py "$root/bench/"$b 2>/dev/null)
    case "$result" in
      "{"*) printf '```json\n%s\n```\n' "$result" ;;
      *) echo "$result" ;;
    esac
  } > "$out/$name.md.tmp"
  mv "$out/$name.md.tmp" "$out/$name.md"
  echo "bench: wrote $out/$name.md"
done

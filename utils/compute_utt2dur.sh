#!/usr/bin/env bash
# Compute utt2dur and reco2dur of a data directory in parallel jobs.
#
# Usage: utils/compute_utt2dur.sh [--cmd "$train_cmd"] [--nj N] <data-dir> <exp-dir>
#   Splits <data-dir> into N parts (by speaker), runs
#   python -m speechssl.bin.compute_utt2dur on each part through --cmd
#   (logs in <exp-dir>/log/utt2dur.JOB.log) and merges the results.
set -euo pipefail
cmd="utils/queue.sh --backend local"
nj=4
while [ $# -gt 2 ]; do
  case "$1" in
    --cmd) cmd=$2; shift 2 ;;
    --nj) nj=$2; shift 2 ;;
    *) echo "$0: unknown option $1" >&2; exit 1 ;;
  esac
done
[ $# -eq 2 ] || { sed -n '2,/^set/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 1; }
data=$1
dir=$2

nspk=$(wc -l < "$data/spk2utt")
[ "$nj" -le "$nspk" ] || nj=$nspk
python3 -m speechssl.bin.split_data_dir --per-spk "$data" "$nj" >/dev/null
$cmd JOB=1:$nj "$dir/log/utt2dur.JOB.log" \
  python3 -m speechssl.bin.compute_utt2dur --force "$data/split${nj}/JOB"
for f in utt2dur reco2dur; do
  for n in $(seq "$nj"); do cat "$data/split${nj}/$n/$f"; done | LC_ALL=C sort -k1,1 > "$data/.$f.tmp"
  mv "$data/.$f.tmp" "$data/$f"
done
echo "$0: wrote $data/utt2dur ($(wc -l < "$data/utt2dur") utterances, $(awk '{s+=$2} END {printf "%.1f", s/3600}' "$data/utt2dur") h)"

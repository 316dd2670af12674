#!/usr/bin/env bash
# Run the ESPnet UASR peer benchmark (bench/espnet_uasr_peer.py) on a recipe's own features and GAN config,
# and write its table to <recipe>/exp/bench/espnet_uasr_peer.md, from where write_uasr_results puts it into
# the recipe's RESULTS.md.  Needs the recipe's stages 0-5 and ESPnet (bash tools/install_espnet.sh).
# Usage: bench/run_uasr_peer.sh [recipe-dir] [updates] [seeds]
#        (defaults: egs/mini_librispeech/uasr1, 1200, "1 2")
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
recipe=$(cd "${1:-$root/egs/mini_librispeech/uasr1}" && pwd)
updates=${2:-1200}
seeds=${3:-1 2}
cd "$recipe"
. ./path.sh
# the recipe's defaults (conf/run.conf over run.sh's), as its run.sh would resolve them for stages 5-6
train_set=train; dev_set=dev; uasr=v2; gan_config=conf/uasr_v2.yaml; feat_type=mfcc
. conf/run.conf
feats=dump/${feat_type}_$uasr
out=exp/bench/espnet_uasr_peer.md
rows=exp/bench/rows/espnet_uasr_peer.md   # the benchmark's own rows (it appends), kept beside the table
mkdir -p exp/bench/rows
rm -f $rows
# shellcheck disable=SC2086
python "$root/bench/espnet_uasr_peer.py" --feats $feats/$train_set --valid-feats $feats/$dev_set \
  --valid-ref data/$dev_set/utt2phones --text-dir data/text --config $gan_config \
  --updates "$updates" --seeds $seeds --threads 1 --output $rows
{
  echo "### espnet uasr peer"
  echo
  echo "Command: \`bench/run_uasr_peer.sh $(realpath --relative-to="$root" "$recipe") $updates '$seeds'\` (each row names the benchmark's own command, run from the recipe), $(date +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(getconf _NPROCESSORS_ONLN) cores. Details: \`bench/README.md\`."
  echo
  cat $rows
} > $out.tmp
mv $out.tmp $out
echo "bench: wrote $recipe/$out"

#!/usr/bin/env bash
# LibriSpeech: download the subsets (stage 0, only with --download true) and
# write data directories (stage 1).
#
# Point db.sh's LIBRISPEECH at a directory holding LibriSpeech/<subset>/ as
# distributed by OpenSLR 12 (https://www.openslr.org/12), or pass
# --download true to fetch the subsets there (6.3 GB for train-clean-100).
set -euo pipefail
. ./db.sh
. utils/log.sh

stage=0                      # first stage to run
stop_stage=1                 # last stage to run
nj=16                        # number of parallel jobs
redo=false                   # redo finished stages instead of refusing a changed configuration
sets="train_clean_100 dev_clean test_clean test_other" # data directories to write
download=false               # stage 0: download the subsets from OpenSLR into $corpus_dir
corpus_dir=$LIBRISPEECH      # directory that holds (or will hold) LibriSpeech/
. utils/parse_options.sh

subsets=$(echo $sets | tr ' _' ',-')

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ] && [ "$download" = true ]; then
  log "Stage 0: download $subsets into $corpus_dir"
  python -m speechssl.bin.download_librispeech --subsets $subsets $corpus_dir
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: data directories for $sets"
  python -m speechssl.bin.prepare_librispeech --redo $redo --subsets $subsets $corpus_dir data
  for x in $sets; do
    utils/compute_utt2dur.sh --cmd "$train_cmd" --nj $nj data/$x exp/make_utt2dur/$x
  done
fi

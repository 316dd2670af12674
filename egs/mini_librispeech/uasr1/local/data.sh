#!/usr/bin/env bash
# Mini LibriSpeech: get the corpus (stage 0) and write data directories (stage 1).
#
# Stage 0 puts the corpus into $corpus_dir/LibriSpeech: it downloads Mini
# LibriSpeech (OpenSLR 31) when openslr.org answers, and otherwise synthesizes
# the stand-in corpus (espeak-ng speakers in the same layout, with reference
# phones, pause positions and a pool of unpaired text).  Stage 1 writes
# data/<set> for each set, with durations computed in parallel jobs.
set -euo pipefail
. ./db.sh
. utils/log.sh

stage=0                          # first stage to run
stop_stage=1                     # last stage to run
nj=2                             # number of parallel jobs
redo=false                       # redo finished stages instead of refusing a changed configuration
sets="train_clean_5 dev_clean_2 test_clean_2" # data directories to write (subset names with _ for -)
data_source=auto                 # auto (download if openslr.org answers, else synthesize), download or standin
standin_config=conf/standin.yaml # size, voices and seed of the synthesized stand-in corpus
corpus_dir=$MINI_LIBRISPEECH     # directory that holds (or will hold) LibriSpeech/
. utils/parse_options.sh

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "Stage 0: get Mini LibriSpeech into $corpus_dir (source: $data_source)"
  $train_cmd --num-threads $nj exp/get_corpus/log/get_corpus.log \
    python -m speechssl.bin.get_mini_librispeech --source $data_source \
      --standin-config $standin_config --nj $nj --redo $redo $corpus_dir
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: data directories for $sets"
  python -m speechssl.bin.prepare_librispeech --redo $redo \
    --subsets "$(echo $sets | tr ' _' ',-')" $corpus_dir data
  for x in $sets; do
    utils/compute_utt2dur.sh --cmd "$train_cmd" --nj $nj data/$x exp/make_utt2dur/$x
  done
fi

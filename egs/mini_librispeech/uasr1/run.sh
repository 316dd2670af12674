#!/usr/bin/env bash
# Unsupervised speech recognition (wav2vec-U family) on Mini LibriSpeech.
#
# Stage 0 gets the corpus into $corpus_dir/LibriSpeech: it downloads Mini
# LibriSpeech (OpenSLR 31) when openslr.org answers, and otherwise synthesizes
# the stand-in corpus (espeak-ng speakers in the same layout, plus unpaired
# text).  The real Mini LibriSpeech has no test-clean-2: with it, pass
# --test_sets dev_clean_2.
#
# Usage: ./run.sh [--stage N] [--stop_stage M] [--nj N] [--name value ...]
#        ./run.sh --help      lists every option with its default
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh
. ./db.sh
. utils/log.sh

stage=0                          # first stage to run
stop_stage=100                   # last stage to run
nj=2                             # number of parallel jobs
data_source=auto                 # stage 0: auto (download if openslr.org answers, else synthesize), download or standin
standin_config=conf/standin.yaml # size, voices and seed of the synthesized stand-in corpus
corpus_dir=$MINI_LIBRISPEECH     # directory that holds (or will hold) LibriSpeech/
train_set=train_clean_5          # training set (data/<name>)
dev_set=dev_clean_2              # development set, speakers unseen in training
test_sets=test_clean_2           # evaluation sets, space separated
sample_rate=16000                # sample rate every set must have
redo=false                       # redo finished stages instead of refusing a changed configuration
. utils/parse_options.sh

sets="$train_set $dev_set $test_sets"

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "Stage 0: get Mini LibriSpeech into $corpus_dir (source: $data_source)"
  $train_cmd --num-threads $nj exp/log/get_corpus.log \
    python -m speechssl.bin.get_mini_librispeech --source $data_source \
      --standin-config $standin_config --nj $nj --redo $redo $corpus_dir
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: data directories for $sets, durations and validation"
  python -m speechssl.bin.prepare_librispeech --redo $redo \
    --subsets "$(echo $sets | tr ' _' ',-')" $corpus_dir data
  for x in $sets; do
    utils/compute_utt2dur.sh --cmd "$train_cmd" --nj $nj data/$x exp/make_utt2dur/$x
    utils/validate_data_dir.sh --no-feats --sample-rate $sample_rate data/$x
  done
fi

log "Done (stages $stage to $stop_stage)."

#!/usr/bin/env bash
# SpokenCOCO: get the corpus (stage 0) and write data directories and the unpaired text (stage 1).
#
# The real corpus is SpokenCOCO.tar.gz from MIT (see README.md): unpack it by
# hand and point db.sh's SPOKENCOCO at the directory holding SpokenCOCO/.
# Without it (or with --data_source standin), stage 0 synthesizes the
# stand-in: espeak-ng readers of Debian sentences in the same JSON + wav
# layout.  Stage 1 writes data/train, data/dev, data/test and
# data/local/unpaired_text.txt: the captions of a fraction of the train images
# (--text_fraction) are the unpaired text and their audio is not used; with
# --split original, SpokenCOCO_val.json is halved by image into dev and test.
set -euo pipefail
. ./db.sh
. utils/log.sh

stage=0                          # first stage to run
stop_stage=1                     # last stage to run
nj=2                             # number of parallel jobs
redo=false                       # redo finished stages instead of refusing a changed configuration
sets="train dev test"            # data directories to check and time (prepared: train, dev and test)
data_source=auto                 # auto (the real corpus if $corpus_dir holds one, else the stand-in), real or standin
standin_config=conf/standin.yaml # size, voices and seed of the synthesized stand-in
split=original                   # original (val halved into dev/test by image) or karpathy (*_karpathy.json files)
text_fraction=0.5                # fraction of the train images whose captions are unpaired text (their audio unused)
seed=0                           # seed of the image hashes that pick the text images and the dev/test halves
corpus_dir=$SPOKENCOCO           # directory that holds (or will hold) SpokenCOCO/
. utils/parse_options.sh

for x in $sets; do
  case $x in train|dev|test) ;; *) log "local/data.sh: set '$x' is not one of train dev test"; exit 1 ;; esac
done

if [ "$data_source" = auto ]; then
  if [ -f $corpus_dir/SpokenCOCO/SpokenCOCO_train.json ] && [ ! -f $corpus_dir/SpokenCOCO/standin_manifest.json ]; then
    data_source=real
  else
    data_source=standin
  fi
fi

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  if [ "$data_source" = standin ]; then
    log "Stage 0: synthesize the SpokenCOCO stand-in into $corpus_dir ($standin_config)"
    $train_cmd --num-threads $nj exp/get_corpus/log/get_corpus.log \
      python -m speechssl.bin.synthesize_spokencoco --config $standin_config --nj $nj --redo $redo $corpus_dir
  elif [ ! -f $corpus_dir/SpokenCOCO/SpokenCOCO_train.json ]; then
    log "Stage 0: no $corpus_dir/SpokenCOCO/SpokenCOCO_train.json: unpack SpokenCOCO.tar.gz there (README.md)"
    exit 1
  else
    log "Stage 0: using the SpokenCOCO corpus in $corpus_dir"
  fi
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: data directories train dev test and data/local/unpaired_text.txt (split $split)"
  python -m speechssl.bin.prepare_spokencoco --redo $redo --split $split --text-fraction $text_fraction \
    --seed $seed $corpus_dir data
  for x in $sets; do
    utils/compute_utt2dur.sh --cmd "$train_cmd" --nj $nj data/$x exp/make_utt2dur/$x
  done
fi

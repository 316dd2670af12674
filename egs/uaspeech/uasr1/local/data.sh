#!/usr/bin/env bash
# UA-Speech: check the corpus or synthesize the stand-in (stage 0) and write data directories (stage 1).
#
# Stage 0 uses the real corpus in $corpus_dir/UASpeech when it is there (see db.sh: it cannot be
# downloaded), and otherwise synthesizes the PIPELINE STAND-IN (espeak-ng isolated words in UA-Speech's
# layout; it does not model dysarthria).  Stage 1 writes data/train and data/dev (blocks B1 and B3;
# dev is a seeded tenth of their recordings) and data/test (block B2), with utt2group (intelligibility
# group), utt2block, utt2mic and utt2wordtype, then durations in parallel jobs; and data/local/uaspeech
# with the isolated-word lexicon and the unpaired text (isolated English words).
set -euo pipefail
. ./db.sh
. utils/log.sh

stage=0                          # first stage to run
stop_stage=1                     # last stage to run
nj=2                             # number of parallel jobs
redo=false                       # redo finished stages instead of refusing a changed configuration
sets="train dev test"            # data directories to write (prepare_uaspeech writes train, dev and test)
data_source=auto                 # auto (the corpus if it is there, else the stand-in), corpus or standin
standin_config=conf/standin.yaml # speakers, microphones, words and seed of the stand-in
corpus_dir=$UASPEECH             # directory that holds (or will hold) UASpeech/
audio_variant=                   # subdirectory of UASpeech/audio in releases that have several (e.g. noisereduce)
word_list=                       # word list file (default: found in UASpeech/doc: word_list.txt/.csv, speaker_wordlist.xls)
mics=                            # microphones to keep, comma-separated (e.g. M5); empty: all
dev_fraction=0.1                 # fraction of the B1/B3 recordings held out as data/dev
unpaired_lines=20000             # lines (one English word each) of the unpaired text
unpaired_exponent=0.5            # its words are drawn in proportion to count**exponent in the Debian text
. utils/parse_options.sh

for x in $sets; do
  case $x in train|dev|test) ;; *) log "local/data.sh: unknown set '$x' (UA-Speech has train, dev and test)"; exit 1 ;; esac
done

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "Stage 0: UA-Speech into $corpus_dir (source: $data_source)"
  $train_cmd --num-threads $nj exp/get_corpus/log/get_corpus.log \
    python -m speechssl.bin.get_uaspeech --source $data_source --standin-config $standin_config \
      --audio-variant "$audio_variant" --nj $nj --redo $redo $corpus_dir
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: data directories train, dev (B1+B3) and test (B2); lexicon and unpaired text in data/local/uaspeech"
  $train_cmd exp/prepare/log/prepare_uaspeech.log \
    python -m speechssl.bin.prepare_uaspeech --redo $redo --audio-variant "$audio_variant" --mics "$mics" \
      --word-list "$word_list" --dev-fraction $dev_fraction --unpaired-lines $unpaired_lines \
      --unpaired-exponent $unpaired_exponent $corpus_dir data
  for x in $sets; do
    utils/compute_utt2dur.sh --cmd "$train_cmd" --nj $nj data/$x exp/make_utt2dur/$x
  done
fi

#!/usr/bin/env bash
# FLEURS, one language: get the corpus (stage 0), write data directories and the text-side inputs (stage 1).
#
# The language is the common prefix of the sets (es_419_train es_419_dev es_419_test -> es_419).
# Stage 0 uses the real corpus in $corpus_dir/data/<lang> when it is there (fetch it by hand from the
# google/fleurs dataset repository; see db.sh) and otherwise synthesizes the stand-in (espeak-ng voices
# reading Debian text, same layout). Stage 1 writes data/<lang>_<split> (with durations from parallel
# jobs), the voice report data/fleurs_voices.tsv, data/local/text.yaml (conf/text.yaml plus the
# language's espeak-ng voice) and data/local/unpaired_text.txt: the stand-in's unpaired sentences, or
# --lm_text, or else the real corpus's train transcriptions (matched text: said loudly in the log).
set -euo pipefail
. ./db.sh
. utils/log.sh

stage=0                          # first stage to run
stop_stage=1                     # last stage to run
nj=2                             # number of parallel jobs
redo=false                       # redo finished stages instead of refusing a changed configuration
sets="es_419_train es_419_dev es_419_test" # data directories to write: <lang>_<split>
data_source=auto                 # auto (the corpus if present, else the stand-in), corpus or standin
standin_config=conf/standin.yaml # languages, sizes, voices and seed of the synthesized stand-in
text_config=conf/text.yaml       # text-side options; the language's espeak-ng voice is added to them
lm_text=                         # unpaired text for the real corpus (default: its train transcriptions)
corpus_dir=$FLEURS               # directory that holds (or will hold) data/<lang>/
. utils/parse_options.sh

langs=$(for x in $sets; do echo ${x%_*}; done | sort -u)
splits=$(for x in $sets; do echo ${x##*_}; done | sort -u | paste -sd, -)
if [ $(echo "$langs" | wc -l) -ne 1 ]; then
  log "error: the sets ($sets) mix languages ($(echo $langs)); run one language per recipe directory"
  exit 1
fi
lang=$langs

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "Stage 0: FLEURS $lang into $corpus_dir (source: $data_source)"
  $train_cmd --num-threads $nj exp/get_corpus/log/get_corpus.log \
    python -m speechssl.bin.get_fleurs --source $data_source --langs $lang \
      --standin-config $standin_config --nj $nj --redo $redo $corpus_dir
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: data directories for $sets; text-side config and unpaired text for $lang"
  python -m speechssl.bin.prepare_fleurs --redo $redo --langs $lang --splits $splits $corpus_dir data
  for x in $sets; do
    utils/compute_utt2dur.sh --cmd "$train_cmd" --nj $nj data/$x exp/make_utt2dur/$x
  done
  mkdir -p data/local
  voice=$(python -c "from speechssl.corpora.fleurs_langs import get_language; print(get_language('$lang').espeak)")
  { cat $text_config; [ "$voice" = none ] || echo "lang: $voice"; } > data/local/text.yaml.tmp
  if [ "$voice" = none ] && ! grep -q '^lexicon:' data/local/text.yaml.tmp; then
    log "error: $lang has no espeak-ng voice (data/fleurs_voices.tsv): its audio is prepared, but the text side" \
        "needs a lexicon; add 'lexicon: <file>' to $text_config"
    exit 1
  fi
  mv data/local/text.yaml.tmp data/local/text.yaml
  if [ -f $corpus_dir/standin_manifest.json ]; then
    cp $corpus_dir/data/$lang/unpaired_text.txt data/local/unpaired_text.txt
  elif [ -n "$lm_text" ]; then
    cp $lm_text data/local/unpaired_text.txt
  else
    log "WARNING: no --lm_text: the unpaired text is the transcriptions of ${lang}_train (matched text, not" \
        "independent of the audio)"
    cut -f1 -d' ' --complement data/${lang}_train/utt2raw_text | sort -u > data/local/unpaired_text.txt
  fi
  log "$lang: espeak-ng voice $voice; $(wc -l < data/local/unpaired_text.txt) unpaired sentences"
fi

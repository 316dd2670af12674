#!/usr/bin/env bash
# Soapies (South African code-switched soap opera speech): get the corpus (stage 0), data directories (stage 1).
#
# Stage 0 checks the hand-fetched corpus in $corpus_dir (layout: README.md), or, when there is none,
# synthesizes the stand-in there (code-switched espeak-ng speech in the same layout).  Stage 1 writes
# data/<pair>_<split> (and pooled_<split>) with per-word and per-phone language tables, durations and
# code-switching statistics, and data/local/{unpaired_text.txt,lexicon.lst} for the pair of the sets.
# When $sets lists $unlabelled_set, stage 0 also checks (or synthesizes) $corpus_dir/unlabelled/<episode>/*.wav
# and stage 1 writes data/$unlabelled_set: the pooled untranscribed audio, no text (layout: README.md).
set -euo pipefail
. ./db.sh
. utils/log.sh

stage=0                          # first stage to run
stop_stage=1                     # last stage to run
nj=2                             # number of parallel jobs
redo=false                       # redo finished stages instead of refusing a changed configuration
sets="engzul_train engzul_dev engzul_test" # data directories: <pair>_<split>, pooled_<split>, $unlabelled_set
unlabelled_set=unlabelled        # name of the untranscribed audio's data directory when $sets lists it
data_source=auto                 # auto (the corpus if $corpus_dir has it, else the stand-in), corpus or standin
standin_config=conf/standin.yaml # size, voices and seed of the synthesized stand-in
corpus_dir=$SOAPIES              # directory that holds (or will hold) balanced_<pair>.xml etc.
ref_phones=auto                  # reference phones: auto (corpus side files, else word-by-word G2P), corpus, g2p
default_lang=                    # language tag for words the XML leaves untagged (empty: an error)
. utils/parse_options.sh

transcribed=$(for x in $sets; do [ $x = "$unlabelled_set" ] || echo $x; done | tr '\n' ' ')
with_unlabelled=false
case " $sets " in *" $unlabelled_set "*) with_unlabelled=true ;; esac

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "Stage 0: get the Soapies corpus into $corpus_dir (source: $data_source)"
  pairs=$(for x in $transcribed; do echo ${x%%_*}; done | sort -u | tr '\n' ' ')
  case " $pairs " in *" pooled "*) pairs="engzul engxho engsot engtsn" ;; esac
  l10n_opt=
  if [ $data_source = standin ] || { [ $data_source = auto ] && \
       { ls $corpus_dir/standin_manifest.*.json >/dev/null 2>&1 || ! ls $corpus_dir/balanced_*.xml >/dev/null 2>&1; }; }; then
    l10n_opt="--l10n-dir $(local/get_l10n.sh downloads/libreoffice_l10n)"
  fi
  $train_cmd --num-threads $nj exp/get_corpus/log/get_corpus.log \
    python -m speechssl.bin.get_soapies --source $data_source --standin-config $standin_config $l10n_opt \
      --pairs "$(echo $pairs | tr ' ' ',')" --unlabelled $with_unlabelled --nj $nj --redo $redo $corpus_dir
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: data directories for $sets, unpaired text and lexicon into data/local"
  python -m speechssl.bin.prepare_soapies --redo $redo --ref-phones $ref_phones \
    ${default_lang:+--default-lang $default_lang} --sets "$(echo $sets | tr ' ' ',')" --text-dir data/local \
    --unlabelled-set $unlabelled_set \
    $corpus_dir data
  for x in $sets; do
    [ -f data/$x/utt2dur ] || utils/compute_utt2dur.sh --cmd "$train_cmd" --nj $nj data/$x exp/make_utt2dur/$x
  done
  if [ -n "$transcribed" ]; then  # the unlabelled set has no words to count
    python -m speechssl.bin.codeswitch_stats --markdown data/local/cs_stats.md \
      $(for x in $transcribed; do echo data/$x; done)
    cat data/local/cs_stats.md
  fi
fi

#!/usr/bin/env bash
# Unsupervised speech recognition (wav2vec-U family): the stages every corpus shares.
#
# This file is the same in every egs/<corpus>/uasr1 recipe; what differs
# lives in local/ (corpus download and data preparation: local/data.sh) and
# conf/ (conf/run.conf holds the corpus's defaults for the options below; the
# command line overrides them).
#
# Usage: ./run.sh [--stage N] [--stop_stage M] [--nj N] [--name value ...]
#        ./run.sh --help      lists every option with its current value
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh
. utils/log.sh

stage=0             # first stage to run
stop_stage=100      # last stage to run
nj=4                # number of parallel jobs
train_set=train     # training set (data/<name>)
dev_set=dev         # development set, used for model selection
test_sets=test      # evaluation sets, space separated
unlabelled_sets=    # audio without transcripts (data/<name>, no text) that joins $train_set as GAN training audio
sample_rate=16000   # sample rate every set must have
ref_table=utt2phones # per-utterance reference tokens in data/<set> (oracle error rates only); written in stage 3 when missing
score_groups=       # stage 7: per-utterance tables in data/<set> (e.g. "utt2lang utt2group") to break error rates down by
ref_tags=           # stage 7: per-token tag table in data/<set> parallel to $ref_table (e.g. utt2phone_langs): rates per tag
word_lexicon=data/text/lexicon_filtered.lst # stage 7: lexicon of the word decoder (e.g. the closed vocabulary of an isolated-word task)
word_lm=data/text/lm.words.4.bin            # stage 7: word n-gram of the word decoder; empty: none (every lexicon word alike)
redo=false          # redo finished stages instead of refusing a changed configuration
local_data_opts=    # stages 0-1: options passed to local/data.sh (see local/data.sh --help)
vad_config=conf/vad.yaml        # stage 2: voice activity detection, applied alike to every set
unpaired_text=                  # stage 3: unpaired text, one sentence per line (set in conf/run.conf)
text_config=conf/text.yaml      # stage 3: normalisation, lexicon, silence insertion, n-gram LMs
sil_prob=auto                   # stage 3: <SIL> probability between words; auto: from the VAD's pauses in $train_set
feat_type=mfcc                  # stage 4: mfcc, fbank or ssl
feats_config=conf/feats_mfcc.yaml # stage 4: feature options (deltas, CMVN, batch size)
upstream=                       # stage 4, feat_type=ssl: local SSL checkpoint (transformers dir or fairseq .pt)
layer=15                        # stage 4, feat_type=ssl: hidden layer (0 = CNN output; fairseq's layer N is N+1)
uasr=v2                         # stage 5: v1 (PCA, k-means, pooled segments) or v2 (frames + MFCC-cluster targets)
gan_config=conf/uasr_v2.yaml    # stage 6: GAN model, losses, optimisers and budget
num_seeds=2                     # stage 6: GAN runs with seeds 1..N, trained together in one process (diverged runs stop early); the best is picked without labels
gan_opts=                       # stage 6: extra train_uasr options, e.g. "--max-updates 500 --set loss.code_penalty=2 --grid loss.smoothness=0.5,1.5"
decode_config=conf/decode.yaml  # stage 7: phone-LM beam search and word decoding options
ctc_config=conf/ctc.yaml        # stages 8-9: CTC model of self-training and of the supervised twins
st_rounds=1                     # stage 8: self-training rounds (CTC trained on the previous round's labels)
gan_st_rounds=                  # stage 8: rounds of the GAN path when decipher_config is set; empty: st_rounds
decipher_config=                # stage 8: e.g. conf/decipher.yaml: also self-train from trigram-HMM decipherment labels (no GAN)
decipher_opts=                  # stage 8: extra decipher_units options, e.g. "--em-iters 50"; SSL features: "--dims 0 --bounds-dir exp/decipher_mfcc/self_training/round0 --speaker-norm true" (the MFCC run's segments)
results_tables=                 # stage 11: more markdown tables for RESULTS.md, "Title=file.md" items separated by ";"
results_title="UASR on $(basename "$(dirname "$PWD")")" # stage 11: heading of RESULTS.md
run_args=$(quote_args "$@")  # this run's options, as RESULTS.md records them
set -- --config conf/run.conf "$@"
. utils/parse_options.sh
run_start "./run.sh${run_args:+ $run_args}"

sets="$train_set $dev_set $test_sets"          # transcribed sets
audio_sets=$(echo $sets $unlabelled_sets)      # every set whose audio the stages 2-5 process

if [ $stage -le 1 ] && [ $stop_stage -ge 0 ]; then
  stage_start 0-1 "corpus and data directories for $audio_sets (local/data.sh)"
  local/data.sh --stage $stage --stop_stage $stop_stage --nj $nj --redo $redo --sets "$audio_sets" $local_data_opts
  for x in $sets; do
    utils/validate_data_dir.sh --no-feats --sample-rate $sample_rate data/$x
  done
  for x in $unlabelled_sets; do
    utils/validate_data_dir.sh --no-feats --no-text --sample-rate $sample_rate data/$x
  done
fi

if [ "$feat_type" = ssl ]; then
  feat=ssl_l$layer; feat_opts="--feat-type ssl --upstream $upstream --layers $layer"; feat_sub=/layer$layer
  frame_rate=50
else
  feat=$feat_type; feat_opts="--feat-type $feat_type"; feat_sub=; frame_rate=100
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  stage_start 2 "voice activity detection on $audio_sets ($vad_config)"
  for x in $audio_sets; do
    $train_cmd --num-threads $nj exp/vad/log/vad_$x.log \
      python -m speechssl.bin.compute_vad --config $vad_config --nj $nj --redo $redo data/$x data/${x}_vad
  done
  python -m speechssl.bin.check_vad_symmetry $(for x in $audio_sets; do echo data/${x}_vad; done)
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  [ "$sil_prob" = auto ] && sil_prob=$(python -m speechssl.bin.estimate_sil_prob data/${train_set}_vad)
  stage_start 3 "unpaired text: phones (<SIL> probability $sil_prob), lexicon and n-gram LMs into data/text"
  $train_cmd exp/text/log/prepare_text.log \
    python -m speechssl.bin.prepare_text --config $text_config --sil-prob $sil_prob --redo $redo \
      $unpaired_text data/text
  for x in $sets; do  # references for oracle error rates, from the transcripts, where the corpus gave none
    [ -f data/$x/$ref_table ] && [ ! -f data/$x/.done.$ref_table.json ] && continue
    python -m speechssl.bin.write_references --text-config $text_config --lexicon data/text/lexicon.lst \
      --redo $redo data/$x/text data/$x/$ref_table
  done
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  stage_start 4 "$feat features of $audio_sets into dump/$feat"
  for x in $audio_sets; do
    $train_cmd JOB=1:$nj exp/dump_$feat/$x/log/dump.JOB.log \
      python -m speechssl.bin.dump_features --config $feats_config $feat_opts --redo $redo \
        --nj $nj --job JOB data/${x}_vad dump/$feat/$x
    python -m speechssl.bin.dump_features --config $feats_config $feat_opts --nj $nj --merge-only \
      data/${x}_vad dump/$feat/$x
  done
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  stage_start 5 "wav2vec-U $uasr feature transform fitted on $train_set, applied to $audio_sets"
  $train_cmd exp/transform_${feat}_$uasr/log/fit.log \
    python -m speechssl.bin.fit_feature_transform --config conf/transform_$uasr.yaml --redo $redo \
      --ssl-frame-rate $frame_rate \
      dump/$feat/$train_set$feat_sub exp/transform_${feat}_$uasr
  for x in $audio_sets; do
    $train_cmd exp/transform_${feat}_$uasr/log/apply_$x.log \
      python -m speechssl.bin.apply_feature_transform --redo $redo --aux-data-dir dump/$feat/$x$feat_sub \
        exp/transform_${feat}_$uasr dump/$feat/$x$feat_sub dump/${feat}_$uasr/$x
  done
fi

gan=exp/uasr_${feat}_$uasr
gan_train=$train_set${unlabelled_sets:+_plus_unlabelled}  # the GAN's training audio
if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  stage_start 6 "GAN training ($gan_config) on $gan_train, seeds 1..$num_seeds in one process, into $gan/seed*"
  if [ -n "$unlabelled_sets" ]; then
    utils/combine_data.sh dump/${feat}_$uasr/$gan_train dump/${feat}_$uasr/$train_set \
      $(for x in $unlabelled_sets; do echo dump/${feat}_$uasr/$x; done)
  fi
  $cuda_cmd $gan/log/train.log \
    python -m speechssl.bin.train_uasr --config $gan_config --seeds 1-$num_seeds --num-threads 1 $gan_opts \
      --feats dump/${feat}_$uasr/$gan_train --valid-feats dump/${feat}_$uasr/$dev_set \
      --valid-ref data/$dev_set/$ref_table --text-dir data/text $gan
  python -m speechssl.bin.select_uasr_run $gan
fi

# decode_uasr options for rates per group (and per reference-token tag, except for words) of set $1
breakdown_opts() {
  for g in $score_groups; do echo "--group ${g#utt2}=data/$1/$g"; done
  [ -n "$ref_tags" ] && [ "${2:-}" != words ] && echo "--ref-tags data/$1/$ref_tags"; true
}

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  ckpt=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['selected']['checkpoint'])" $gan/selected.json)
  stage_start 7 "decode $dev_set $test_sets with $ckpt: phones (greedy, 6-gram) and words; oracle PER and WER"
  for x in $dev_set $test_sets; do
    python -m speechssl.bin.export_logits --redo $redo $ckpt dump/${feat}_$uasr/$x $gan/logits_$x
    python -m speechssl.bin.decode_uasr --redo $redo --ref data/$x/$ref_table --remove-tokens "|" --metric PER \
      $(breakdown_opts $x) $gan/logits_$x/logits.scp $gan/logits_$x/tokens.txt $gan/decode_${x}_greedy
    python -m speechssl.bin.decode_uasr --config $decode_config --decoder beam --lm data/text/lm.phones.6.bin \
      --redo $redo --ref data/$x/$ref_table --remove-tokens "|" --metric PER \
      $(breakdown_opts $x) $gan/logits_$x/logits.scp $gan/logits_$x/tokens.txt $gan/decode_${x}_phn6
    # words: lexicon prefix-tree beam search with the word 4-gram; the text side lower-cases its words
    awk '{printf "%s", $1; for (i = 2; i <= NF; i++) printf " %s", tolower($i); print ""}' data/$x/text \
      > $gan/text_$x.lower
    python -m speechssl.bin.decode_uasr --config $decode_config --decoder lexicon \
      --lexicon $word_lexicon --lm "$word_lm" --redo $redo \
      --ref $gan/text_$x.lower --metric WER $(breakdown_opts $x words) \
      $gan/logits_$x/logits.scp $gan/logits_$x/tokens.txt $gan/decode_${x}_word4
  done
fi

ckpt_of() { python -c "import json,sys; print(json.load(open(sys.argv[1]))['selected']['checkpoint'])" $1; }
frames=dump/$feat                      # frame-level features (CTC input)
labels_opts="--config $decode_config --decoder beam --lm data/text/lm.phones.6.bin --num-threads 1 --redo $redo"
eval_sets() { for x in $dev_set $test_sets; do echo "--set $x=$1/$x${2:-} --ref $x=data/$x/$ref_table"; done; }

# self_train DIR FIRST LAST THREADS: self-training rounds FIRST..LAST in DIR on THREADS cores: CTC on frames,
# trained on the previous round's labels, decoded with output biases that give its train output the text's phone
# frequencies and the insertion bonus whose dev output is as long as the previous round's dev labels
self_train() {
  local st=$1 r prev
  for r in $(seq $2 $3); do
    prev=$st/round$((r - 1))
    $train_cmd --num-threads $4 $st/log/ctc_round$r.log \
      python -m speechssl.bin.train_ctc --config $ctc_config --num-threads $4 --labels pseudo \
        --feats $frames/$train_set$feat_sub --train-labels $prev/$train_set/utt2pseudo \
        --valid-feats $frames/$dev_set$feat_sub --valid-labels $prev/$dev_set/utt2pseudo \
        --valid-ref data/$dev_set/$ref_table --text-dir data/text $st/ctc_round$r
    python -m speechssl.bin.pseudo_label $labels_opts --nj $4 --round $r-ctc --rounds-dir $st \
      --match-unigram $train_set=data/text/dict.phn.txt --match-length $dev_set=$prev/$dev_set/utt2pseudo \
      --set $train_set=$frames/$train_set$feat_sub $(eval_sets $frames $feat_sub) \
      $st/ctc_round$r/checkpoint_best.pt $st/round$r
  done
}

dec=exp/decipher_$feat/self_training
if [ $stage -le 8 ] && [ $stop_stage -ge 8 ]; then
  st=$gan/self_training
  stage_start 8 "self-training: rounds of CTC on pseudo-labels, round 0 from the selected GAN${decipher_config:+ and, in $dec, from decipherment}"
  python -m speechssl.bin.pseudo_label $labels_opts --nj $nj --round 0-gan --rounds-dir $st \
    --set $train_set=dump/${feat}_$uasr/$train_set $(eval_sets dump/${feat}_$uasr) $(ckpt_of $gan/selected.json) $st/round0
  if [ -z "$decipher_config" ]; then
    self_train $st 1 $st_rounds $nj
  else  # the same rounds from labels learnt without the GAN
    $train_cmd --num-threads $nj $dec/log/decipher.log \
      python -m speechssl.bin.decipher_units --config $decipher_config --num-threads $nj --redo $redo $decipher_opts \
        --text-dir data/text --train $train_set=$frames/$train_set$feat_sub $(eval_sets $frames $feat_sub) \
        --round 0-decipher --rounds-dir $dec $dec/round0
    gan_st_rounds=${gan_st_rounds:-$st_rounds}
    both=$(( gan_st_rounds < st_rounds ? gan_st_rounds : st_rounds ))
    if [ $nj -ge 2 ] && [ $both -ge 1 ]; then  # rounds 1..$both of the two paths side by side, one thread each
      mkdir -p $st/log && echo "$0: self-training from the GAN runs in the background: $st/log/self_train.log"
      self_train $st 1 $gan_st_rounds 1 > $st/log/self_train.log 2>&1 & gan_st=$!
      self_train $dec 1 $both 1
      wait $gan_st || { tail -n 20 $st/log/self_train.log; echo "$0: see $st/log/self_train.log" >&2; exit 1; }
      self_train $dec $((both + 1)) $st_rounds $nj
    else
      self_train $st 1 $gan_st_rounds $nj; self_train $dec 1 $st_rounds $nj
    fi
  fi
fi

if [ $stage -le 9 ] && [ $stop_stage -ge 9 ]; then
  tw=exp/supervised_${feat}_$uasr
  stage_start 9 "supervised twins (upper bounds, trained WITH labels): CTC model and GAN generator into $tw"
  gen=$(python -c "import yaml,json,sys; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['model']['generator']))" $gan_config)
  pids=()
  # the CTC model on frames; the GAN's generator on the GAN's features; both without the input masking of
  # $ctc_config (augment), which helps pseudo-labels but costs gold labels: the stronger upper bounds
  for twin in ctc generator; do
    if [ $twin = ctc ]; then body=blstm; tr=$frames/$train_set$feat_sub; dv=$frames/$dev_set$feat_sub
    else body=generator; tr=dump/${feat}_$uasr/$train_set; dv=dump/${feat}_$uasr/$dev_set; fi
    $train_cmd $tw/log/train_$twin.log \
      python -m speechssl.bin.train_ctc --config $ctc_config --num-threads 1 --labels gold \
        --set augment.time_masks=0 --set augment.freq_masks=0 \
        --set model.body=$body --set "model.generator=$gen" --feats $tr --valid-feats $dv \
        --train-labels data/$train_set/$ref_table --valid-ref data/$dev_set/$ref_table --text-dir data/text \
        $tw/$twin &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait $p; done
  python -m speechssl.bin.pseudo_label $labels_opts --decoder greedy --round supervised-ctc --rounds-dir $tw \
    $(eval_sets $frames $feat_sub) $tw/ctc/checkpoint_best.pt $tw/ctc_eval
  python -m speechssl.bin.pseudo_label $labels_opts --decoder greedy --round supervised-generator --rounds-dir $tw \
    $(eval_sets dump/${feat}_$uasr) $tw/generator/checkpoint_best.pt $tw/generator_eval
fi

# check_packed PACKED SET OUTPUT=TEXT...: the packed model on 5 raw utterances of SET; each of its outputs must
# equal the stage outputs in TEXT (utt tok ..., <SIL> left out) that it was packed from
check_packed() {
  local packed=$1 x=$2 chk=$1_check_$2 pair; shift 2
  if [ -f data/$x/segments ]; then log "packed model check skipped for $x: it has segments"; return; fi
  mkdir -p $chk
  head -n 5 data/$x/wav.scp > $chk/wav.scp
  python -m speechssl.bin.recognize --num-threads 1 --wav-scp $chk/wav.scp --out-dir $chk $packed
  for pair in "$@"; do
    awk -v what="$packed on raw audio of $x, ${pair%%=*}" 'NR == FNR {got[$1] = $0; next}
      $1 in got {want = $1; for (i = 2; i <= NF; i++) if ($i != "<SIL>") want = want " " $i
                 n++; if (got[$1] != want) bad++}
      END {printf "%s: %d of %d utterances as in the stage outputs\n", what, n - bad, n; exit (n == 0 || bad > 0)}' \
      $chk/${pair%%=*}.txt ${pair#*=}
  done
}

if [ $stage -le 10 ] && [ $stop_stage -ge 10 ]; then
  stage_start 10 "pack the selected GAN into $gan/packed${decipher_config:+ and the last self-training round from decipherment into $dec/packed}; check them on raw audio of $test_sets"
  python -m speechssl.bin.pack_uasr_model --redo $redo --vad-config $vad_config --feats-config $feats_config \
    $feat_opts --decode-config $decode_config --word-lexicon $word_lexicon --word-lm "$word_lm" \
    $gan/selected.json exp/transform_${feat}_$uasr data/text $gan/packed
  for x in $test_sets; do
    check_packed $gan/packed $x phones_greedy=$gan/decode_${x}_greedy/text phones_lm=$gan/decode_${x}_phn6/text \
      words=$gan/decode_${x}_word4/text
  done
  if [ -n "$decipher_config" ] && [ $st_rounds -ge 1 ]; then  # the CTC model on frames, decoded as its round was
    last=$dec/round$st_rounds
    bonus=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['summary']['insertion_bonus'])" \
      $last/$dev_set/.done.pseudo_label.json)
    python -m speechssl.bin.pack_uasr_model --redo $redo --vad-config $vad_config --feats-config $feats_config \
      $feat_opts --decode-config $decode_config --insertion-bonus $bonus --token-bias $last/token_bias.txt \
      --word-lexicon $word_lexicon --word-lm "$word_lm" $dec/ctc_round$st_rounds/checkpoint_best.pt - data/text \
      $dec/packed
    for x in $test_sets; do
      check_packed $dec/packed $x phones_lm=$last/$x/utt2pseudo
    done
  fi
fi

if [ $stage -le 11 ] && [ $stop_stage -ge 11 ]; then
  stage_start 11 "RESULTS.md from exp/"
  python -m speechssl.bin.write_uasr_results --title "$results_title" --sets "$dev_set $test_sets" \
    --tables "$results_tables" \
    --gan-dir $gan --command "./run.sh${run_args:+ $run_args}" \
    --table "Self-training (oracle PER % by round)=$gan/self_training/rounds.md" \
    --table "Self-training from decipherment, without the GAN (oracle PER % by round)=$dec/rounds.md" \
    --table "Decipherment runs joined in round 0 (oracle PER %)=$dec/round0/runs.md" \
    --table "Supervised twins: upper bounds trained with labels (oracle PER %)=exp/supervised_${feat}_$uasr/rounds.md" \
    --note "The stand-in corpus is synthesized speech (espeak-ng): these numbers show what the pipeline does, not how a method performs on real speech. PER against reference phones is an oracle measurement; no stage trains or selects on it."
fi

stage_start done "./run.sh${run_args:+ $run_args}"

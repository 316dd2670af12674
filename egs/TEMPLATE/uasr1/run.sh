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
sample_rate=16000   # sample rate every set must have
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
num_seeds=2                     # stage 6: GAN runs with seeds 1..N (run in parallel); the best is picked without labels
gan_opts=                       # stage 6: extra train_uasr options, e.g. "--max-updates 500 --set loss.code_penalty=2"
decode_config=conf/decode.yaml  # stage 7: phone-LM beam search and word decoding options
results_title="UASR on $(basename "$(dirname "$PWD")")" # stage 9: heading of RESULTS.md
run_args="$*"
set -- --config conf/run.conf "$@"
. utils/parse_options.sh

sets="$train_set $dev_set $test_sets"

if [ $stage -le 1 ] && [ $stop_stage -ge 0 ]; then
  stage_start 0-1 "corpus and data directories for $sets (local/data.sh)"
  local/data.sh --stage $stage --stop_stage $stop_stage --nj $nj --redo $redo --sets "$sets" $local_data_opts
  for x in $sets; do
    utils/validate_data_dir.sh --no-feats --sample-rate $sample_rate data/$x
  done
fi

if [ "$feat_type" = ssl ]; then
  feat=ssl_l$layer; feat_opts="--feat-type ssl --upstream $upstream --layers $layer"; feat_sub=/layer$layer
  frame_rate=50
else
  feat=$feat_type; feat_opts="--feat-type $feat_type"; feat_sub=; frame_rate=100
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  stage_start 2 "voice activity detection on $sets ($vad_config)"
  for x in $sets; do
    $train_cmd --num-threads $nj exp/vad/log/vad_$x.log \
      python -m speechssl.bin.compute_vad --config $vad_config --nj $nj --redo $redo data/$x data/${x}_vad
  done
  python -m speechssl.bin.check_vad_symmetry $(for x in $sets; do echo data/${x}_vad; done)
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  [ "$sil_prob" = auto ] && sil_prob=$(python -m speechssl.bin.estimate_sil_prob data/${train_set}_vad)
  stage_start 3 "unpaired text: phones (<SIL> probability $sil_prob), lexicon and n-gram LMs into data/text"
  $train_cmd exp/text/log/prepare_text.log \
    python -m speechssl.bin.prepare_text --config $text_config --sil-prob $sil_prob --redo $redo \
      $unpaired_text data/text
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  stage_start 4 "$feat features of $sets into dump/$feat"
  for x in $sets; do
    $train_cmd JOB=1:$nj exp/dump_$feat/$x/log/dump.JOB.log \
      python -m speechssl.bin.dump_features --config $feats_config $feat_opts --redo $redo \
        --nj $nj --job JOB data/${x}_vad dump/$feat/$x
    python -m speechssl.bin.dump_features --config $feats_config $feat_opts --nj $nj --merge-only \
      data/${x}_vad dump/$feat/$x
  done
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  stage_start 5 "wav2vec-U $uasr feature transform fitted on $train_set, applied to $sets"
  $train_cmd exp/transform_${feat}_$uasr/log/fit.log \
    python -m speechssl.bin.fit_feature_transform --config conf/transform_$uasr.yaml --redo $redo \
      --ssl-frame-rate $frame_rate \
      dump/$feat/$train_set$feat_sub exp/transform_${feat}_$uasr
  for x in $sets; do
    $train_cmd exp/transform_${feat}_$uasr/log/apply_$x.log \
      python -m speechssl.bin.apply_feature_transform --redo $redo --aux-data-dir dump/$feat/$x \
        exp/transform_${feat}_$uasr dump/$feat/$x$feat_sub dump/${feat}_$uasr/$x
  done
fi

gan=exp/uasr_${feat}_$uasr
if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  stage_start 6 "GAN training ($gan_config), seeds 1..$num_seeds, into $gan/seed*"
  $cuda_cmd JOB=1:$num_seeds $gan/log/train.JOB.log \
    python -m speechssl.bin.train_uasr --config $gan_config --seed JOB $gan_opts \
      --feats dump/${feat}_$uasr/$train_set --valid-feats dump/${feat}_$uasr/$dev_set \
      --valid-ref data/$dev_set/utt2phones --text-dir data/text $gan/seedJOB
  python -m speechssl.bin.select_uasr_run $gan
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  ckpt=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['selected']['checkpoint'])" $gan/selected.json)
  stage_start 7 "decode $dev_set $test_sets with $ckpt; PER against the reference phones (oracle)"
  for x in $dev_set $test_sets; do
    python -m speechssl.bin.export_logits --redo $redo $ckpt dump/${feat}_$uasr/$x $gan/logits_$x
    python -m speechssl.bin.decode_uasr --redo $redo --ref data/$x/utt2phones --remove-tokens "|" --metric PER \
      $gan/logits_$x/logits.scp $gan/logits_$x/tokens.txt $gan/decode_${x}_greedy
    python -m speechssl.bin.decode_uasr --config $decode_config --decoder beam --lm data/text/lm.phones.6.bin \
      --redo $redo --ref data/$x/utt2phones --remove-tokens "|" --metric PER \
      $gan/logits_$x/logits.scp $gan/logits_$x/tokens.txt $gan/decode_${x}_phn6
  done
fi

if [ $stage -le 9 ] && [ $stop_stage -ge 9 ]; then
  stage_start 9 "RESULTS.md from exp/"
  python -m speechssl.bin.write_uasr_results --title "$results_title" --sets "$dev_set $test_sets" \
    --gan-dir $gan --command "./run.sh $run_args" \
    --note "The stand-in corpus is synthesized speech (espeak-ng): these numbers show what the pipeline does, not how a method performs on real speech. PER against reference phones is an oracle measurement; no stage trains or selects on it."
fi

stage_start done "stages $stage to $stop_stage"

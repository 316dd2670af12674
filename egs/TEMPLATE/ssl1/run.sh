#!/usr/bin/env bash
# MelHuBERT pre-training in two stages, layer-wise phone probing, and export for the upstream interface.
#
# This file is the same in every egs/<corpus>/ssl1 recipe; what differs lives
# in local/ (corpus download and data directories: local/data.sh) and conf/
# (conf/run.conf holds the corpus's defaults for the options below; the
# command line overrides them; conf/melhubert_*.yaml configure the models).
#
#   stage 2  40-dim log-Mel of every set, normalised by the training set's mean/variance
#   stage 3  k-means of log-Mel (stage-1 targets)
#   stage 4  pre-training, iteration 1 (exp/melhubert_it1)
#   stage 5  k-means of layer $it2_layer of iteration 1 (stage-2 targets)
#   stage 6  pre-training, iteration 2 (exp/melhubert_it2)
#   stage 7  linear phone probe of every layer vs log-Mel and MFCC (needs gold *.alignment.ctm: the stand-in)
#   stage 8  export exp/melhubert_it2/upstream.pt for load_upstream / dump_features --upstream
#
# Usage: ./run.sh [--stage N] [--stop_stage M] [--nj N] [--name value ...]
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh
. utils/log.sh

stage=0             # first stage to run
stop_stage=100      # last stage to run
nj=4                # number of parallel jobs
train_set=train     # training set (data/<name>)
dev_set=dev         # validation set: picks checkpoint_best.pt
test_set=test       # probing test set
redo=false          # redo finished stages instead of refusing a changed configuration
local_data_opts=    # stages 0-1: options passed to local/data.sh (see local/data.sh --help)
n_clusters_it1=100  # stage 3: k-means clusters of log-Mel (paper: 512)
n_clusters_it2=100  # stage 5: k-means clusters of the hidden layer (paper: 512)
kmeans_frames=200000 # stages 3, 5: frames sampled to fit k-means
it1_config=conf/melhubert_it1.yaml # stage 4: model and training of iteration 1
it2_config=conf/melhubert_it2.yaml # stage 6: model and training of iteration 2
it2_layer=8         # stage 5: layer of iteration 1 whose k-means are the iteration-2 targets (paper: 8)
probe_ctm_dir=      # stage 7: directory with gold *.alignment.ctm (empty: stage 7 is skipped)
probe_opts=         # stage 7: options of probe_layers (e.g. --max-train-frames 50000)
ngpu=0              # stages 4, 6: GPUs per training job (torchrun processes when > 1)
set -- --config conf/run.conf "$@"
. utils/parse_options.sh

sets="$train_set $dev_set $test_set"
train_it() {  # train_it <exp> <config> <targets dir>
  local launcher="python -m"
  [ "$ngpu" -gt 1 ] && launcher="torchrun --standalone --nproc-per-node $ngpu -m"
  local cmd="$train_cmd"; [ "$ngpu" -gt 0 ] && cmd="$cuda_cmd --gpu $ngpu"
  $cmd $1/log/train.job.log \
    $launcher speechssl.bin.train_melhubert --config $2 \
      --feats dump/fbank/$train_set --targets $3/$train_set.km \
      --valid-feats dump/fbank/$dev_set --valid-targets $3/$dev_set.km $1
}

if [ $stage -le 1 ] && [ $stop_stage -ge 0 ]; then
  log "Stages 0-1: corpus and data directories for $sets (local/data.sh)"
  local/data.sh --stage $stage --stop_stage $stop_stage --nj $nj --redo $redo --sets "$sets" $local_data_opts
  for x in $sets; do
    utils/validate_data_dir.sh --no-feats data/$x
  done
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  log "Stage 2: 40-dim log-Mel of $sets into dump/fbank (training-set mean/variance)"
  for x in $sets; do
    cmvn="--cmvn global --norm-vars true"
    [ $x != $train_set ] && cmvn="$cmvn --cmvn-from dump/fbank/$train_set"
    $train_cmd JOB=1:$nj exp/dump_fbank/$x/log/dump.JOB.log \
      python -m speechssl.bin.dump_features --feat-type fbank --num-mel-bins 40 $cmvn --redo $redo \
        --nj $nj --job JOB data/$x dump/fbank/$x
    python -m speechssl.bin.dump_features --feat-type fbank --num-mel-bins 40 $cmvn --nj $nj --merge-only \
      data/$x dump/fbank/$x
  done
fi

km1=exp/kmeans_fbank_k$n_clusters_it1
if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  log "Stage 3: k-means ($n_clusters_it1) of log-Mel into $km1"
  $train_cmd $km1/log/kmeans.log \
    python -m speechssl.bin.make_kmeans_targets --n-clusters $n_clusters_it1 --max-frames $kmeans_frames \
      --redo $redo dump/fbank/$train_set $km1 $train_set=dump/fbank/$train_set $dev_set=dump/fbank/$dev_set
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  log "Stage 4: MelHuBERT iteration 1 ($it1_config) into exp/melhubert_it1"
  train_it exp/melhubert_it1 $it1_config $km1
fi

km2=exp/kmeans_it1_l${it2_layer}_k$n_clusters_it2
if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  log "Stage 5: k-means ($n_clusters_it2) of layer $it2_layer of iteration 1 into $km2"
  for x in $train_set $dev_set; do
    $train_cmd JOB=1:$nj exp/dump_it1_l$it2_layer/$x/log/dump.JOB.log \
      python -m speechssl.bin.dump_features --feat-type ssl --upstream exp/melhubert_it1/checkpoint_best.pt \
        --layers $it2_layer --redo $redo --nj $nj --job JOB data/$x dump/it1/$x
    python -m speechssl.bin.dump_features --feat-type ssl --upstream exp/melhubert_it1/checkpoint_best.pt \
      --layers $it2_layer --nj $nj --merge-only data/$x dump/it1/$x
  done
  $train_cmd $km2/log/kmeans.log \
    python -m speechssl.bin.make_kmeans_targets --n-clusters $n_clusters_it2 --max-frames $kmeans_frames \
      --redo $redo dump/it1/$train_set/layer$it2_layer $km2 \
      $train_set=dump/it1/$train_set/layer$it2_layer $dev_set=dump/it1/$dev_set/layer$it2_layer
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  log "Stage 6: MelHuBERT iteration 2 ($it2_config) into exp/melhubert_it2"
  train_it exp/melhubert_it2 $it2_config $km2
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  if [ -z "$probe_ctm_dir" ]; then
    log "Stage 7: skipped (no --probe_ctm_dir with gold *.alignment.ctm)"
  else
    log "Stage 7: phone probe of every layer of iteration 2 vs log-Mel and MFCC on $test_set"
    for x in $train_set $test_set; do
      $train_cmd JOB=1:$nj exp/dump_it2/$x/log/dump.JOB.log \
        python -m speechssl.bin.dump_features --feat-type ssl --upstream exp/melhubert_it2/checkpoint_best.pt \
          --layers all --redo $redo --nj $nj --job JOB data/$x dump/it2/$x
      python -m speechssl.bin.dump_features --feat-type ssl --upstream exp/melhubert_it2/checkpoint_best.pt \
        --layers all --nj $nj --merge-only data/$x dump/it2/$x
      $train_cmd JOB=1:$nj exp/dump_mfcc/$x/log/dump.JOB.log \
        python -m speechssl.bin.dump_features --feat-type mfcc --deltas true --redo $redo \
          --nj $nj --job JOB data/$x dump/mfcc/$x
      python -m speechssl.bin.dump_features --feat-type mfcc --deltas true --nj $nj --merge-only \
        data/$x dump/mfcc/$x
    done
    $train_cmd exp/probe_it2/log/probe.log \
      python -m speechssl.bin.probe_layers --ctm-dir $probe_ctm_dir $probe_opts \
        --feats melhubert_it2 dump/it2/$train_set dump/it2/$test_set \
        --feats fbank40 dump/fbank/$train_set dump/fbank/$test_set \
        --feats mfcc39 dump/mfcc/$train_set dump/mfcc/$test_set exp/probe_it2
    log "Probe results: exp/probe_it2/probe.tsv, probe.png; best layer: exp/probe_it2/best.json"
  fi
fi

if [ $stage -le 8 ] && [ $stop_stage -ge 8 ]; then
  log "Stage 8: export exp/melhubert_it2/upstream.pt"
  python -m speechssl.bin.export_upstream exp/melhubert_it2/checkpoint_best.pt exp/melhubert_it2/upstream.pt
fi

log "Done (stages $stage to $stop_stage)."

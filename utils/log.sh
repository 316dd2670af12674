#!/usr/bin/env bash
# log MESSAGE: print a line with the time, script and line number (icefall style).
log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}

# stage_start N DESCRIPTION: log the start of stage N and append "N<TAB>epoch<TAB>DESCRIPTION"
# to exp/stage_times.tsv, from which the recipe's RESULTS.md reports time per stage
# (stage_start done ... closes the last stage).
stage_start() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) Stage $1: $2"
  mkdir -p exp
  printf '%s\t%s\t%s\n' "$1" "$(date +%s)" "$2" >> exp/stage_times.tsv
}

# run_start COMMAND: append "start<TAB>epoch<TAB>COMMAND" to exp/stage_times.tsv, so that the stages of a
# run stopped before its "done" line are told apart from the next run's.
run_start() {
  mkdir -p exp
  printf 'start\t%s\t%s\n' "$(date +%s)" "$1" >> exp/stage_times.tsv
}

# quote_args ARG...: the arguments as one line a shell reads back as the same arguments (those with spaces
# or other special characters in single quotes), for recording the command a recipe was run with.
quote_args() {
  local a out=() q="'"
  for a in "$@"; do
    if [[ -n $a && $a =~ ^[A-Za-z0-9_./=:,+@%-]+$ ]]; then out+=("$a"); else out+=("'${a//$q/$q\\$q$q}'"); fi
  done
  echo "${out[*]}"
}

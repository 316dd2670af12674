#!/usr/bin/env bash
# speechssl option parsing for recipe scripts, keeping Kaldi's contract.
#
# Source it after the option defaults:
#     stage=0          # first stage to run
#     nj=4             # number of parallel jobs
#     . utils/parse_options.sh
#
# Options are the variables assigned at the top level of the calling script
# above the line that sources this file; the comment on the same line is the
# option's help text.  Accepted forms: --name value, --name=value, with '-' or
# '_' in the name; --config FILE (lines 'name=value', known options only);
# --help / -h lists every option with its default.  An unknown option is an
# error.  A boolean option (default true/false) only accepts true or false.
# Positional arguments are left in "$@".

__po_script=${BASH_SOURCE[1]:-$0}
# a script that cd's into its own directory first is found there
[ -f "$__po_script" ] || __po_script=./${__po_script##*/}
__po_names=()
__po_helps=()
while IFS= read -r __po_line; do
  case "$__po_line" in
    *parse_options.sh*) break ;;
  esac
  if [[ "$__po_line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=([^#]*)(#[[:space:]]*(.*))?$ ]]; then
    __po_names+=("${BASH_REMATCH[1]}")
    __po_helps+=("${BASH_REMATCH[4]}")
  fi
done < "$__po_script"

__po_known() {
  local __po_x
  for __po_x in "${__po_names[@]}"; do [ "$__po_x" = "$1" ] && return 0; done
  return 1
}

__po_usage() {
  local __po_x
  if [ -n "${help_message:-}" ]; then
    echo -e "$help_message"
  else  # the comment block at the top of the script
    sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$__po_script"
  fi
  echo
  echo "Options (default in <>):"
  printf '  %-40s %s\n' "--config <file>" "# name=value lines, applied in order with the other options"
  for __po_x in "${!__po_names[@]}"; do
    printf '  %-40s %s\n' "--${__po_names[$__po_x]} <${!__po_names[$__po_x]}>" "# ${__po_helps[$__po_x]}"
  done
}

__po_set() {
  # locals are prefixed so that they never shadow the option being set
  local __po_n=$1 __po_v=$2 __po_old
  if ! __po_known "$__po_n"; then
    echo "$__po_script: unknown option --$__po_n (see --help)" >&2
    exit 1
  fi
  __po_old=${!__po_n}
  if [ "$__po_old" = true ] || [ "$__po_old" = false ]; then
    if [ "$__po_v" != true ] && [ "$__po_v" != false ]; then
      echo "$__po_script: option --$__po_n takes true or false, got '$__po_v'" >&2
      exit 1
    fi
  fi
  printf -v "$__po_n" '%s' "$__po_v"
}

__po_config() {
  local __po_f=$1 __po_i=0 __po_l __po_k __po_v
  [ -f "$__po_f" ] || { echo "$__po_script: config file $__po_f not found" >&2; exit 1; }
  while IFS= read -r __po_l || [ -n "$__po_l" ]; do
    __po_i=$((__po_i + 1))
    __po_l=${__po_l%%#*}
    [[ "$__po_l" =~ ^[[:space:]]*$ ]] && continue
    if [[ "$__po_l" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_-]*)=(.*)$ ]]; then
      __po_k=${BASH_REMATCH[1]//-/_}
      __po_v=$(echo "${BASH_REMATCH[2]}" | sed -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/")
      __po_set "$__po_k" "$__po_v"
    else
      echo "$__po_script: $__po_f:$__po_i: expected name=value, got '$__po_l'" >&2
      exit 1
    fi
  done < "$__po_f"
}

__po_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) __po_usage; exit 0 ;;
    --config=*) __po_config "${1#--config=}"; shift ;;
    --config) [ $# -ge 2 ] || { echo "$__po_script: --config needs a file" >&2; exit 1; }
              __po_config "$2"; shift 2 ;;
    --*=*) __po_name=${1%%=*}; __po_name=${__po_name#--}
           __po_set "${__po_name//-/_}" "${1#*=}"; shift ;;
    --) shift; __po_args+=("$@"); break ;;
    --*) __po_name=${1#--}
         [ $# -ge 2 ] || { echo "$__po_script: option $1 needs a value" >&2; exit 1; }
         __po_set "${__po_name//-/_}" "$2"; shift 2 ;;
    *) __po_args+=("$1"); shift ;;
  esac
done
set -- "${__po_args[@]}"
unset __po_args __po_name __po_line

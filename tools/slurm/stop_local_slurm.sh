#!/usr/bin/env bash
# Stop the single-node Slurm started by tools/slurm/start_local_slurm.sh.
#
# Usage: tools/slurm/stop_local_slurm.sh [STATE_DIR]
#   STATE_DIR defaults to $SPEECHSSL_SLURM_DIR or /tmp/speechssl-slurm, as for the
#   start script.  Stops slurmd and slurmctld through their pid files there, and
#   munged only if the start script started it.  The state directory is kept (its
#   logs help after a failure); delete it yourself when done.
set -euo pipefail

state=${1:-${SPEECHSSL_SLURM_DIR:-/tmp/speechssl-slurm}}
say() { echo "stop_local_slurm: $*" >&2; }
[ -d "$state" ] || { say "no state directory $state: nothing to stop"; exit 0; }

stop_pidfile() {  # stop_pidfile NAME FILE: SIGTERM, then SIGKILL after 10 s
  local name=$1 file=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping $name (pid $pid)"
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$file"
}

stop_pidfile slurmd "$state/slurmd.pid"
stop_pidfile slurmctld "$state/slurmctld.pid"
stop_pidfile munged "$state/munged.pid"

#!/usr/bin/env bash
# Run a command as parallel jobs locally, on Slurm or on Grid Engine (see --help).
# Set it in cmd.sh, e.g. export train_cmd="utils/queue.sh --backend slurm --config conf/slurm.conf"
exec python3 -m speechssl.bin.queue_jobs "$@"

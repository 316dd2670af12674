# How parallel jobs are run.  Pick a backend here (or set cmd_backend in the
# environment: cmd_backend=slurm ./run.sh).  Every backend takes the same
# arguments:
#   $train_cmd [--mem 4G] [--num-threads N] [--gpu N] [--max-jobs-run N] \
#       JOB=1:N exp/<dir>/log/<name>.JOB.log program args...
# conf/slurm.conf and conf/queue.conf map the generic options to sbatch/qsub flags.
cmd_backend=${cmd_backend:-local}

case "$cmd_backend" in
  local)  # parallel processes on this machine, at most --max-jobs-run at once (not nproc: it obeys OMP_NUM_THREADS)
    export train_cmd="utils/queue.sh --backend local --max-jobs-run ${max_local_jobs:-$(getconf _NPROCESSORS_ONLN)}"
    export cuda_cmd="$train_cmd --gpu 1"
    export decode_cmd="$train_cmd" ;;
  slurm)
    export train_cmd="utils/queue.sh --backend slurm --config conf/slurm.conf"
    export cuda_cmd="$train_cmd --gpu 1"
    export decode_cmd="$train_cmd" ;;
  sge)    # Grid Engine
    export train_cmd="utils/queue.sh --backend sge --config conf/queue.conf"
    export cuda_cmd="$train_cmd --gpu 1"
    export decode_cmd="$train_cmd" ;;
  *) echo "cmd.sh: unknown cmd_backend '$cmd_backend' (local, slurm or sge)" >&2; return 1 2>/dev/null || exit 1 ;;
esac

#!/usr/bin/env bash
# One Slurm task of cluster/slurm/shardtrain.sbatch: task 0 is the coordinator, the others are workers.
set -euo pipefail
# One BLAS thread per compute thread: OpenBLAS would otherwise start a spinning pool of its own at load.
export OPENBLAS_NUM_THREADS=1

while (($#)); do
    case "$1" in
        --bin) bin=$2; shift 2 ;;
        --coordinator) coordinator=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "task.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
: "${SLURM_PROCID:?task.sh runs under srun}"

if [[ $SLURM_PROCID == 0 ]]; then
    exec "$bin" coordinator --bind "tcp://0.0.0.0:$port" --workers "$workers" \
        --secret-key "$keys/coordinator.secret" --allow "$keys/allow" "$@"
else
    exec "$bin" worker --connect "tcp://$coordinator:$port" --threads "${SLURM_CPUS_PER_TASK:-0}" \
        --secret-key "$keys/worker$SLURM_PROCID.secret" --coordinator-key "$keys/coordinator.public"
fi

#!/usr/bin/env bash
# Brings up a single-node Slurm on this machine from Debian packages (munge + slurmctld + slurmd with a minimal
# configuration in a private temporary folder), submits cluster/slurm/shardtrain.sbatch with a coordinator and
# WORKERS workers as one job, waits for it, checks that its parameters_sha256 equals a local single-process run of
# the same training, and stops the daemons. Needs root (it starts munged and slurmd) and installs the packages if
# they are missing:
#
#   sudo cluster/slurm/single-node.sh [--workers 2] [--bin .build/release/shardtrain] [-- training arguments]
#
# Exit status: 0 same bits, 1 the job failed or the digests differ, 2 usage, 3 Slurm could not be started here.
# Default training: logistic regression on data/breast_cancer.csv with --standardize.
set -euo pipefail

workers=2
bin=.build/release/shardtrain
while (($#)); do
    case "$1" in
        --workers) workers=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "single-node.sh: unknown option $1 (training arguments go after --)" >&2; exit 2 ;;
    esac
done
training=("$@")
((${#training[@]})) || training=(--data "$PWD/data/breast_cancer.csv" --standardize)
[[ $(id -u) == 0 ]] || { echo "single-node.sh: run as root (it starts munged and slurmd)" >&2; exit 2; }
[[ -x $bin ]] || { echo "single-node.sh: $bin not found; build with: swift build -c release --product shardtrain" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    # No package index or no network: this machine cannot run the test (exit 3), which is not a launcher failure.
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; } ||
        { echo "single-node.sh: cannot install slurm-wlm and munge" >&2; exit 3; }
fi

folder=$(mktemp -d "${TMPDIR:-/tmp}/shardtrain-slurm.XXXXXX")
chmod 755 "$folder"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$folder"
}
trap cleanup EXIT

# munge: the key the package made, a socket of our own.
mkdir -p "$folder/munge"
chown munge:munge "$folder/munge"
sudo_munge=(runuser -u munge --)
"${sudo_munge[@]}" munged --socket="$folder/munge/munge.socket" --pid-file="$folder/munge/munged.pid" \
    --log-file="$folder/munge/munged.log" --seed-file="$folder/munge/munged.seed"
pids+=("$(cat "$folder/munge/munged.pid")")

node=$(hostname -s)
tasks=$((workers + 1))
cat >"$folder/slurm.conf" <<CONF
ClusterName=shardtrain
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$folder/munge/munge.socket
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmctldPort=$((16800 + RANDOM % 1000))
SlurmdPort=$((17800 + RANDOM % 1000))
StateSaveLocation=$folder/state
SlurmdSpoolDir=$folder/spool
SlurmctldPidFile=$folder/slurmctld.pid
SlurmdPidFile=$folder/slurmd.pid
SlurmctldLogFile=$folder/slurmctld.log
SlurmdLogFile=$folder/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
NodeName=$node CPUs=$tasks State=UNKNOWN
PartitionName=shardtrain Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
mkdir -p "$folder/state" "$folder/spool"
export SLURM_CONF=$folder/slurm.conf
slurmctld -D -f "$SLURM_CONF" >/dev/null 2>&1 &
pids+=("$!")
slurmd -D -f "$SLURM_CONF" >/dev/null 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
    sinfo -h -o %T 2>/dev/null | grep -qx idle && break
    sleep 0.2
done
# A machine where the daemons cannot run at all (no root rights that count, no resolvable host name) is not a
# failure of the launcher: exit 3 says "could not test" (scripts/test.sh reports it as skipped).
sinfo -h -o %T | grep -qx idle || { echo "single-node.sh: the node did not become idle" >&2; cat "$folder"/*.log >&2; exit 3; }

summary=$folder/summary.json
reference=$folder/reference.json
"$bin" train --workers 0 "${training[@]}" --summary-json "$reference" >/dev/null 2>&1
cd "$folder"
sbatch --wait --quiet --nodes=1 --ntasks="$tasks" --ntasks-per-node="$tasks" --cpus-per-task=1 \
    --output="$folder/job.out" "$here/shardtrain.sbatch" --bin "$bin" -- \
    "${training[@]}" --summary-json "$summary" || { echo "single-node.sh: the job failed:" >&2; cat "$folder/job.out" >&2; exit 1; }
expected=$(grep -o '"parameters_sha256" *: *"[0-9a-f]*"' "$reference" | grep -o '[0-9a-f]\{64\}')
got=$(grep -o '"parameters_sha256" *: *"[0-9a-f]*"' "$summary" | grep -o '[0-9a-f]\{64\}')
echo "slurm job: $workers workers, parameters_sha256 $got"
echo "local run: single process, parameters_sha256 $expected"
[[ -n $got && $got == "$expected" ]] || { echo "single-node.sh: the digests differ" >&2; cat "$folder/job.out" >&2; exit 1; }
echo "same bits"

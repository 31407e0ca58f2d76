#!/usr/bin/env bash
# Starts a coordinator and N workers as separate commands, the way you would run them by hand or on several
# hosts (replace 127.0.0.1 by the coordinator's address and start the worker line on each host).
#
#   cluster/local.sh --workers 3 -- --data data/breast_cancer.csv --model logistic --standardize
#
# Options (before --):
#   --workers N     worker processes (default 2)
#   --port P        coordinator port on 127.0.0.1 (default 5555)
#   --bin PATH      shardtrain binary (default .build/release/shardtrain)
# Everything after -- goes to `shardtrain coordinator`.
# Workers may start before the coordinator binds: ZeroMQ reconnects, and readiness comes from the
# HELLO/WELCOME/READY handshake, not from sleeps. Every child is stopped when this script exits.
# The job uses CURVE keys made for it in a private temporary folder (mode 700, removed at exit): the coordinator
# admits only the workers' keys, as it would on a network.
set -euo pipefail
# One BLAS thread per compute thread: OpenBLAS would otherwise start a spinning pool of its own at load.
export OPENBLAS_NUM_THREADS=1

workers=2
port=5555
bin=.build/release/shardtrain
while (($#)); do
    case "$1" in
        --workers) workers=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "local.sh: unknown option $1 (training arguments go after --)" >&2; exit 2 ;;
    esac
done
[[ -x $bin ]] || { echo "local.sh: $bin not found; build with: swift build -c release" >&2; exit 2; }

children=()
keys=$(mktemp -d "${TMPDIR:-/tmp}/shardtrain-keys.XXXXXX")
chmod 700 "$keys"
cleanup() {
    for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$keys"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -m 700 "$keys/allow"
"$bin" keys generate "$keys/coordinator" >/dev/null
for ((i = 0; i < workers; i++)); do
    "$bin" keys generate "$keys/worker$i" >/dev/null
    cp "$keys/worker$i.public" "$keys/allow/"
done

endpoint="tcp://127.0.0.1:$port"
"$bin" coordinator --bind "$endpoint" --workers "$workers" \
    --secret-key "$keys/coordinator.secret" --allow "$keys/allow" "$@" &
coordinator=$!
children+=("$coordinator")
for ((i = 0; i < workers; i++)); do
    "$bin" worker --connect "$endpoint" --secret-key "$keys/worker$i.secret" --coordinator-key "$keys/coordinator.public" &
    children+=("$!")
done

status=0
wait "$coordinator" || status=$?
exit "$status"

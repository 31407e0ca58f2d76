#!/usr/bin/env bash
# Makes the CURVE keys of a Kubernetes job and stores them in the Secret `shardtrain-keys` (keys
# coordinator.secret, coordinator.public, worker.secret, worker.public), never on the local disk beyond a private
# temporary folder that is removed at exit. Every worker pod uses the same worker key.
#
#   cluster/kubernetes/make-keys.sh [--bin PATH] [--namespace NS]
set -euo pipefail
bin=.build/release/shardtrain
namespace=()
while (($#)); do
    case "$1" in
        --bin) bin=$2; shift 2 ;;
        --namespace) namespace=(--namespace "$2"); shift 2 ;;
        *) echo "make-keys.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
folder=$(mktemp -d "${TMPDIR:-/tmp}/shardtrain-keys.XXXXXX")
chmod 700 "$folder"
trap 'rm -rf "$folder"' EXIT
"$bin" keys generate "$folder/coordinator" >/dev/null
"$bin" keys generate "$folder/worker" >/dev/null
kubectl "${namespace[@]}" create secret generic shardtrain-keys \
    --from-file=coordinator.secret="$folder/coordinator.secret" --from-file=coordinator.public="$folder/coordinator.public" \
    --from-file=worker.secret="$folder/worker.secret" --from-file=worker.public="$folder/worker.public"

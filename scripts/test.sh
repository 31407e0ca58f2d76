#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the whole test suite (unit, reference, and end-to-end tests that
# start real coordinator and worker processes over ZeroMQ on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Package.swift must declare exactly the modules each target imports (and the C-shim comments must be true).
python3 scripts/check_imports.py
# The dependency versions of Package.resolved (committed), never newer ones resolved on the fly.
swift build --build-tests --force-resolved-versions
swift test --skip-build "$@"
# The Slurm launcher on a real single-node Slurm (CI only: it installs slurm-wlm and munge, and needs root).
if [[ ${CI:-} == true && $(id -u) == 0 ]]; then
    status=0
    cluster/slurm/single-node.sh --bin .build/debug/shardtrain || status=$?
    if ((status == 3)); then echo "Slurm launcher test skipped: the Slurm daemons could not start on this machine"; elif ((status != 0)); then exit "$status"; fi
fi
# The Kubernetes manifests against the Kubernetes API schemas (exit 3: the validator could not be installed).
status=0
scripts/validate_kubernetes.sh || status=$?
if ((status == 3)); then echo "Kubernetes manifest validation skipped: kubernetes-validate could not be installed"; elif ((status != 0)); then exit "$status"; fi
# Each decoder's libFuzzer target for a short slice (AddressSanitizer; the separate package in Fuzz/).
scripts/fuzz.sh all "${FUZZ_SECONDS:-10}"

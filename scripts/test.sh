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
# Each decoder's libFuzzer target for a short slice (AddressSanitizer; the separate package in Fuzz/).
scripts/fuzz.sh all "${FUZZ_SECONDS:-10}"

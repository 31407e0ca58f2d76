#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the whole test suite (unit, reference, and end-to-end tests that
# start real coordinator and worker processes over ZeroMQ on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"

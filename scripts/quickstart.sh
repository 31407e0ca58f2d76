#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds ShardTrain in release mode and trains logistic regression on the
# bundled breast-cancer data with a coordinator and 2 local worker processes. Extra arguments are passed to
# `shardtrain train` (e.g. --log-format json, --workers 3, --precision float32).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The dependency versions of Package.resolved (committed), never newer ones resolved on the fly.
swift build -c release --product shardtrain --force-resolved-versions
mkdir -p out
exec .build/release/shardtrain train \
    --data data/breast_cancer.csv --model logistic --l2 0.01 --standardize --workers 2 \
    --summary-json out/breast_cancer_summary.json --save out/breast_cancer_logistic.safetensors "$@"

#!/usr/bin/env python3
"""Trains the same runs with two shardtrain binaries and compares their parameters_sha256.

    python3 scripts/compare_bits.py OLD_BINARY NEW_BINARY [--workers N]

Every run names --block-rows explicitly (the default block size is a function of the data and may change
between versions). Prints one line per run (same / DIFFERENT, with the relative objective difference) and
exits 1 when any run differs, so a refactoring that must keep the bits can be checked in one command.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def data(name):
    return os.path.join(ROOT, "data", f"{name}.csv")


RUNS = [
    ("logistic, breast cancer", ["--data", data("breast_cancer"), "--standardize"]),
    ("logistic float32", ["--data", data("breast_cancer"), "--standardize", "--precision", "float32"]),
    ("focal logistic, fraud", ["--data", data("fraud_synthetic"), "--standardize", "--focal-gamma", "2", "--focal-alpha", "0.75"]),
    ("weighted logistic, fraud", ["--data", data("fraud_synthetic"), "--standardize", "--class-weight", "balanced"]),
    ("svm, breast cancer", ["--data", data("breast_cancer"), "--standardize", "--model", "svm"]),
    ("quantile 0.1/0.5/0.9, diabetes", ["--data", data("diabetes"), "--standardize", "--model", "quantile", "--tau", "0.1",
                                         "--tau", "0.5", "--tau", "0.9", "--l2", "0"]),
    ("softmax, iris", ["--data", data("iris"), "--standardize", "--model", "softmax"]),
    ("softmax, digits", ["--data", data("digits"), "--standardize", "--model", "softmax", "--l2", "0.001"]),
    ("gd logistic", ["--data", data("breast_cancer"), "--standardize", "--optimizer", "gd", "--max-rounds", "200"]),
    ("adam logistic", ["--data", data("breast_cancer"), "--standardize", "--optimizer", "adam", "--max-rounds", "300"]),
    ("triplet, digits", ["--data", data("digits"), "--model", "triplet", "--hidden", "32", "--dimension", "8",
                         "--batch-blocks", "2", "--max-rounds", "300"]),
    ("vae, digits", ["--data", data("digits"), "--model", "vae", "--hidden", "64", "--dimension", "4", "--batch-blocks", "2",
                     "--max-rounds", "300"]),
    ("vae float32, digits", ["--data", data("digits"), "--model", "vae", "--dimension", "4", "--batch-blocks", "2",
                             "--max-rounds", "300", "--precision", "float32"]),
]


def train(binary, arguments, workers, directory):
    summary = os.path.join(directory, "summary.json")
    result = subprocess.run(
        [binary, "train", *arguments, "--block-rows", "64", "--workers", str(workers), "--summary-json", summary],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{binary} {' '.join(arguments)}: exit {result.returncode}\n{result.stderr}")
    with open(summary) as handle:
        return json.load(handle)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--workers", type=int, default=0)
    options = parser.parse_args()
    differing = 0
    with tempfile.TemporaryDirectory() as directory:
        for name, arguments in RUNS:
            old = train(options.old, arguments, options.workers, directory)
            new = train(options.new, arguments, options.workers, directory)
            same = old["parameters_sha256"] == new["parameters_sha256"]
            differing += not same
            change = abs(new["objective"] - old["objective"]) / max(abs(old["objective"]), 1e-300)
            print(f"{'same     ' if same else 'DIFFERENT'}  {name:34s} rounds {old['rounds']:5d} → {new['rounds']:5d}  "
                  f"objective relative change {change:.1e}")
    print(f"{len(RUNS) - differing} of {len(RUNS)} runs with the same parameters_sha256")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()

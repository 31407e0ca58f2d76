#!/usr/bin/env python3
"""Trains every model with the release binary and prints a Markdown table of the results.

    swift build -c release --product shardtrain && python3 scripts/model_table.py

Columns: model, dataset, workers, rounds, wall seconds (process start to exit), and the objective against
the reference optimum of Tests/Reference/optima.json (relative gap), or the held-out metric for models
without a closed-form optimum. Uses the train/test splits listed in optima.json.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, ".build", "release", "shardtrain")
OPTIMA = json.load(open(os.path.join(ROOT, "Tests", "Reference", "optima.json")))


def split_files(directory, dataset):
    split = OPTIMA["splits"][dataset]
    paths = []
    for name in ("train_rows", "test_rows"):
        path = os.path.join(directory, f"{dataset}-{name}.txt")
        with open(path, "w") as handle:
            handle.write(",".join(map(str, split[name])))
        paths.append(path)
    return paths


def train(arguments, workers, directory):
    summary = os.path.join(directory, "summary.json")
    start = time.monotonic()
    subprocess.run([BINARY, "train", *arguments, "--workers", str(workers), "--summary-json", summary],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - start
    return json.load(open(summary)), wall


def optimum(problem_id):
    return next(p for p in OPTIMA["problems"] if p["id"] == problem_id)["optimum"]["objective"]


def main():
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        data = lambda name: os.path.join(ROOT, "data", f"{name}.csv")
        cases = [
            ("logistic", "breast_cancer", "breast_cancer/logistic/l2=0.01", ["--l2", "0.01", "--standardize"]),
            ("svm", "breast_cancer", "breast_cancer/linear_svm/l2=0.01", ["--model", "svm", "--l2", "0.01", "--standardize"]),
            ("quantile τ=0.1", "diabetes", "diabetes/quantile/tau=0.1", ["--model", "quantile", "--tau", "0.1", "--l2", "0", "--standardize"]),
            ("quantile τ=0.5", "diabetes", "diabetes/quantile/tau=0.5", ["--model", "quantile", "--tau", "0.5", "--l2", "0", "--standardize"]),
            ("quantile τ=0.9", "diabetes", "diabetes/quantile/tau=0.9", ["--model", "quantile", "--tau", "0.9", "--l2", "0", "--standardize"]),
            ("softmax", "iris", "iris/softmax/l2=0.01", ["--model", "softmax", "--l2", "0.01", "--standardize"]),
            ("softmax", "digits", "digits/softmax/l2=0.001", ["--model", "softmax", "--l2", "0.001", "--standardize"]),
            ("logistic (BCE)", "fraud_synthetic", None, ["--l2", "0.001", "--standardize"]),
            ("logistic (focal γ=2, α=0.25)", "fraud_synthetic", None, ["--l2", "0.001", "--standardize", "--focal-gamma", "2", "--focal-alpha", "0.25"]),
            ("logistic (balanced)", "fraud_synthetic", None, ["--l2", "0.001", "--standardize", "--class-weight", "balanced"]),
            ("triplet (hidden 32, E=8)", "digits", None, ["--model", "triplet", "--hidden", "32", "--dimension", "8", "--block-rows", "128", "--batch-blocks", "2", "--max-rounds", "1000"]),
            ("vae (hidden 32, L=4)", "digits", None, ["--model", "vae", "--hidden", "32", "--dimension", "4", "--block-rows", "128", "--batch-blocks", "2", "--max-rounds", "1601", "--schedule", "cosine", "--learning-rate", "0.01"]),
        ]
        for name, dataset, problem, arguments in cases:
            train_rows, test_rows = split_files(directory, dataset)
            base = ["--data", data(dataset), "--rows", train_rows] + arguments
            if problem is None:
                base += ["--test-rows", test_rows]
            for workers in (0, 2):
                summary, wall = train(base, workers, directory)
                if problem:
                    best = optimum(problem)
                    result = f"{summary['objective']:.12g} vs {best:.12g} (gap {(summary['objective'] - best) / abs(best):.1e})"
                else:
                    metrics = summary["test_metrics"]
                    if "ranking" in metrics and metrics["ranking"]:
                        ranking = metrics["ranking"]
                        recall = metrics["classification"]["classes"][1]["recall"]
                        result = f"held-out PR-AUC {ranking['average_precision']:.4f}, ROC-AUC {ranking['roc_auc']:.4f}, recall(1) {recall:.3f}"
                    elif metrics.get("embedding"):
                        result = f"held-out recall@1 {metrics['embedding']['recall_at_one']:.4f}"
                    else:
                        result = f"held-out −ELBO {metrics['vae']['mean_negative_elbo']:.3f}/sample"
                rows.append((name, dataset, workers, summary["rounds"], f"{wall:.2f}", result, summary["parameters_sha256"][:12]))
    print("| model | dataset | workers | rounds | wall s | result | sha256 prefix |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(map(str, row)) + " |")


if __name__ == "__main__":
    sys.exit(main())

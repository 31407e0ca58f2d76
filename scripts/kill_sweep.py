#!/usr/bin/env python3
"""kill -9 of one of three local workers at ten seeded rounds, for an L-BFGS logistic run, an SVM smoothing
continuation and a mini-batch Adam VAE: every run must exit 0 with the parameters_sha256 of `--workers 0`.

    python3 scripts/kill_sweep.py [--seed 8] [--kills 10]

Uses the release build and the bundled data (data/fraud_synthetic.csv, data/digits.csv). Prints one line per run
and a summary table; writes bench/results/kill_sweep.{md,json}.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading

from release_runs import BINARY, ROOT, publish, require_binary
FRAUD = os.path.join(ROOT, "data", "fraud_synthetic.csv")
DIGITS = os.path.join(ROOT, "data", "digits.csv")

WORKLOADS = [
    ("logistic, L-BFGS", ["--data", FRAUD, "--standardize", "--block-rows", "256"]),
    ("svm, smoothing continuation", ["--data", FRAUD, "--standardize", "--model", "svm", "--block-rows", "256"]),
    ("vae, mini-batch Adam", [
        "--data", DIGITS, "--model", "vae", "--hidden", "64", "--dimension", "4", "--batch-blocks", "2",
        "--max-rounds", "600", "--block-rows", "64"]),
]


def run(arguments, kill_at=None):
    """Exit status, digest and rounds of `train`, killing the first joined worker when round `kill_at` is reported."""
    process = subprocess.Popen(
        [BINARY, "train"] + arguments + ["--log-format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, bufsize=1)
    log = []
    reader = threading.Thread(target=lambda: log.extend(process.stderr), daemon=True)
    reader.start()
    killed = None
    summary = None
    rounds = 0
    for line in process.stdout:
        if '"event":"round"' in line:
            rounds += 1
            if kill_at is not None and killed is None and rounds == kill_at:
                pids = [int(entry.split("(pid ")[1].split(" ")[0]) for entry in list(log) if "joined (" in entry]
                killed = min(pids)
                os.kill(killed, signal.SIGKILL)
        elif '"event":"summary"' in line:
            summary = json.loads(line)
    process.wait()
    reader.join()
    return process.returncode, summary, killed, "".join(log[-5:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--kills", type=int, default=10)
    options = parser.parse_args()
    require_binary()
    rng = random.Random(options.seed)
    rows = []
    for name, arguments in WORKLOADS:
        status, reference, _, log = run(arguments + ["--workers", "0"])
        if status != 0:
            sys.exit(f"{name}: the reference run failed:\n{log}")
        total = reference["rounds"]
        rounds = sorted(rng.sample(range(2, total), min(options.kills, total - 2)))
        same = 0
        for kill_at in rounds:
            status, summary, killed, log = run(arguments + ["--workers", "3"], kill_at)
            ok = status == 0 and summary and summary["parameters_sha256"] == reference["parameters_sha256"]
            lost = summary.get("faults", {}).get("workers_lost") if summary else None
            print(f"{name}: kill -9 of pid {killed} at round {kill_at}/{total}: exit {status}, "
                  f"workers_lost {lost}, {'same bits' if ok else 'DIFFERENT:' + log}")
            same += 1 if ok else 0
        rows.append({"workload": name, "rounds": total, "kill_rounds": rounds, "same_bits": same, "runs": len(rounds)})
    table = ["| workload | rounds | killed at rounds | exit 0 with the bits of --workers 0 |", "| --- | --- | --- | --- |"]
    for row in rows:
        table.append(
            f"| {row['workload']} | {row['rounds']} | {', '.join(map(str, row['kill_rounds']))} | "
            f"{row['same_bits']} of {row['runs']} |")
    publish(
        "kill_sweep", f"`python3 scripts/kill_sweep.py --seed {options.seed}` (3 local workers, release build)", table, rows)
    if any(row["same_bits"] != row["runs"] for row in rows):
        sys.exit("some runs did not end with the bits of --workers 0")


if __name__ == "__main__":
    main()

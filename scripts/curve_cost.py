#!/usr/bin/env python3
"""What CURVE (encryption and authentication of every frame) costs a coordinator and N workers started separately
on loopback TCP, as on a network: the same runs with keys (--secret-key/--allow, workers --secret-key/
--coordinator-key) and without, alternated so that machine noise hits both alike; and `train --workers N` (local
workers over a Unix socket in a private folder, no encryption) for reference. Reports the median training seconds
per round and the ratio to the run without keys, and checks that every run gives the same parameters_sha256.

    python3 scripts/curve_cost.py [--workers 2] [--repeats 5] [--logistic FILE.csv] [--vae FILE.npy]

Without files, a 200,000 x 20 logistic CSV and a 4,096 x 784 VAE .npy are generated (seeded) in a temporary folder.
Writes bench/results/curve.{md,json}.
"""

import argparse
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile

from release_runs import BINARY, publish, require_binary


def logistic_csv(path, rows=200_000, columns=20):
    rng = random.Random(3)
    weights = [rng.uniform(-1, 1) for _ in range(columns)]
    with open(path, "w") as out:
        out.write(",".join(f"f{j}" for j in range(columns)) + ",label\n")
        for _ in range(rows):
            x = [rng.gauss(0, 1) for _ in range(columns)]
            label = 1 if sum(w * v for w, v in zip(weights, x)) + rng.gauss(0, 1) > 0 else 0
            out.write(",".join(f"{v:.6f}" for v in x) + f",{label}\n")


def vae_npy(path, rows=4096, columns=784):
    rng = random.Random(5)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, columns)
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as out:
        out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        for _ in range(rows):
            out.write(struct.pack(f"<{columns}f", *(rng.random() for _ in range(columns))))


def run(arguments, keys=None, workers=2, local=False):
    """Training seconds per round and digest of one run: `train --workers N` when `local`, else a coordinator on a
    free loopback port and `workers` separately started workers (with the CURVE keys in folder `keys`, if given)."""
    if local:
        result = subprocess.run(
            [BINARY, "train", "--workers", str(workers)] + arguments + ["--log-format", "json"], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"train exited {result.returncode}:\n{result.stderr[-2000:]}")
        stdout = result.stdout
    else:
        port = 20000 + random.randrange(20000)
        endpoint = f"tcp://127.0.0.1:{port}"
        server = ["--secret-key", f"{keys}/coordinator.secret", "--allow", f"{keys}/allow"] if keys else []
        coordinator = subprocess.Popen(
            [BINARY, "coordinator", "--bind", endpoint, "--workers", str(workers)] + server + arguments
            + ["--log-format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        children = []
        for index in range(workers):
            client = ["--secret-key", f"{keys}/w{index}.secret", "--coordinator-key", f"{keys}/coordinator.public"] if keys else []
            children.append(subprocess.Popen(
                [BINARY, "worker", "--connect", endpoint, "--threads", "1"] + client,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        stdout, stderr = coordinator.communicate()
        for child in children:
            child.wait()
        if coordinator.returncode != 0:
            sys.exit(f"coordinator exited {coordinator.returncode}:\n{stderr[-2000:]}")
    summary = json.loads(stdout.strip().split("\n")[-1])
    return summary["wall_seconds"] / summary["rounds"], summary["parameters_sha256"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--logistic")
    parser.add_argument("--vae")
    options = parser.parse_args()
    require_binary()
    folder = tempfile.mkdtemp(prefix="shardtrain-curve-")
    logistic = options.logistic or os.path.join(folder, "logistic.csv")
    vae = options.vae or os.path.join(folder, "vae.npy")
    if not options.logistic:
        logistic_csv(logistic)
    if not options.vae:
        vae_npy(vae)
    workloads = [
        ("logistic, L-BFGS to the optimum", ["--data", logistic, "--l2", "1e-4"]),
        ("VAE 784-256-32, Adam, 40 rounds", [
            "--data", vae, "--model", "vae", "--hidden", "256", "--dimension", "32", "--batch-blocks", "1",
            "--max-rounds", "40"]),
    ]
    keys = os.path.join(folder, "keys")
    os.makedirs(os.path.join(keys, "allow"), mode=0o700)
    subprocess.run([BINARY, "keys", "generate", f"{keys}/coordinator"], check=True, capture_output=True)
    for index in range(options.workers):
        subprocess.run([BINARY, "keys", "generate", f"{keys}/w{index}"], check=True, capture_output=True)
        os.link(f"{keys}/w{index}.public", f"{keys}/allow/w{index}.public")
    rows = []
    for name, arguments in workloads:
        curve, plain, local, digests = [], [], [], set()
        for _ in range(options.repeats):
            for store, kwargs in ((curve, {"keys": keys}), (plain, {}), (local, {"local": True})):
                seconds, digest = run(arguments, workers=options.workers, **kwargs)
                store.append(seconds)
                digests.add(digest)
        base = statistics.median(plain)
        rows.append({
            "workload": name, "curve_ms_per_round": 1000 * statistics.median(curve), "plain_ms_per_round": 1000 * base,
            "local_ms_per_round": 1000 * statistics.median(local), "ratio": statistics.median(curve) / base,
            "local_ratio": statistics.median(local) / base, "same_bits": len(digests) == 1,
        })
    table = [
        f"| workload ({options.workers} workers, median of {options.repeats}) | TCP with CURVE keys ms / round | TCP without keys | "
        "ratio | train --workers (Unix socket, no keys) | ratio | same bits |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        table.append(
            f"| {row['workload']} | {row['curve_ms_per_round']:.2f} | {row['plain_ms_per_round']:.2f} | {row['ratio']:.3f} | "
            f"{row['local_ms_per_round']:.2f} | {row['local_ratio']:.3f} | {'yes' if row['same_bits'] else 'NO'} |")
    publish("curve", "`python3 scripts/curve_cost.py` (release build)", table, rows)
    if not all(row["same_bits"] for row in rows):
        sys.exit("runs with and without keys gave other bits")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fault timings of `shardtrain train --workers N` (release build): how fast a lost worker is noticed, how long the
round in flight takes to recover, what `--replicas 2` costs per round, and that every run ends with the bits of the
fault-free run.

    python3 scripts/fault_timings.py [--data FILE.csv] [--rounds 200] [--workers 3]

Without --data a 1,000,000 x 20 CSV is generated (seeded) into a temporary folder. Each scenario runs gradient
descent for a fixed number of rounds (so that a fault can be placed at a round and the end is known), reading the
JSON progress stream line by line; times are measured by this script's monotonic clock as the lines arrive:

    detection  the fault (kill or SIGSTOP sent) -> the `worker_lost` line
    recovery   the `worker_lost` line -> the next `round` line (the round in flight completed without the worker)

Prints a Markdown table; writes it with the raw numbers to bench/results/faults.{md,json}.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from release_runs import BINARY, publish, require_binary


def generate(path, rows=1_000_000, columns=20, seed=7):
    rng = random.Random(seed)
    weights = [rng.uniform(-1, 1) for _ in range(columns)]
    with open(path, "w") as out:
        out.write(",".join(f"f{j}" for j in range(columns)) + ",label\n")
        for _ in range(rows):
            x = [rng.gauss(0, 1) for _ in range(columns)]
            score = sum(w * v for w, v in zip(weights, x)) + rng.gauss(0, 1)
            out.write(",".join(repr(v) for v in x) + ("," + ("1" if score > 0 else "0")) + "\n")


def run(arguments, fault=None):
    """Runs `shardtrain train …` and returns its lines with arrival times, and the fault's time.

    `fault`: (round, action) where action(pids) is called once the given round's line has arrived; `pids` are
    the local workers' pids read from the coordinator's log (stderr).
    """
    process = subprocess.Popen(
        [BINARY, "train"] + arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    stderr_lines = []
    import threading

    def drain():
        for line in process.stderr:
            stderr_lines.append(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    lines = []
    fault_time = None
    rounds_seen = 0
    for line in process.stdout:
        now = time.monotonic()
        lines.append((now, line))
        if '"event":"round"' in line:
            rounds_seen += 1
            if fault and fault_time is None and rounds_seen == fault[0]:
                pids = []
                for entry in stderr_lines:
                    if "joined (" in entry and "(pid " in entry:
                        pids.append(int(entry.split("(pid ")[1].split(" ")[0]))
                fault_time = time.monotonic()
                fault[1](pids)
    process.wait()
    reader.join()
    if process.returncode != 0:
        sys.exit(f"shardtrain {' '.join(arguments)} exited {process.returncode}:\n{''.join(stderr_lines[-20:])}")
    return lines, fault_time


def summary(lines):
    for _, line in reversed(lines):
        if '"event":"summary"' in line:
            return json.loads(line)
    raise SystemExit("no summary line")


def timings(lines, fault_time):
    lost = next((t for t, line in lines if '"event":"worker_lost"' in line), None)
    if lost is None:
        return None, None
    after = next((t for t, line in lines if t >= lost and '"event":"round"' in line), None)
    return lost - fault_time, (after - lost) if after else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3)
    options = parser.parse_args()
    require_binary()
    folder = tempfile.mkdtemp(prefix="shardtrain-faults-")
    data = options.data
    if data is None:
        data = os.path.join(folder, "data.csv")
        print(f"generating {data} (1,000,000 x 20) …", file=sys.stderr)
        generate(data)
    common = [
        "--data", data, "--optimizer", "gd", "--learning-rate", "0.5", "--max-rounds", str(options.rounds),
        "--gradient-tolerance", "0", "--objective-tolerance", "0", "--l2", "1e-4", "--log-format", "json",
    ]
    workers = ["--workers", str(options.workers)]
    at = options.rounds // 4

    def kill_first(pids):
        os.kill(min(pids), signal.SIGKILL)

    def stop_first(pids):
        os.kill(min(pids), signal.SIGSTOP)
        stopped.append(min(pids))

    stopped = []
    rows = []
    reference, _ = run(common + ["--workers", "0"])
    expected = summary(reference)["parameters_sha256"]
    scenarios = [
        ("no fault", workers, None),
        ("no fault, --replicas 2", workers + ["--replicas", "2"], None),
        ("kill -9 of a worker", workers, (at, kill_first)),
        ("kill -9 of a worker, --replicas 2", workers + ["--replicas", "2"], (at, kill_first)),
        ("SIGSTOP of a worker (--worker-timeout 1)", workers + ["--worker-timeout", "1"], (at, stop_first)),
    ]
    for name, extra, fault in scenarios:
        lines, fault_time = run(common + extra, fault)
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        stopped.clear()
        result = summary(lines)
        detection, recovery = timings(lines, fault_time) if fault else (None, None)
        rows.append({
            "scenario": name, "wall_seconds": result["wall_seconds"], "rounds": result["rounds"],
            "seconds_per_round": result["wall_seconds"] / result["rounds"],
            "detection_seconds": detection, "recovery_seconds": recovery,
            "faults": result.get("faults"), "same_bits": result["parameters_sha256"] == expected,
        })
    base = rows[0]["seconds_per_round"]
    table = [
        "| scenario | training s | ms / round | vs no fault | detection s | recovery s | same bits as --workers 0 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        fmt = lambda v: "–" if v is None else f"{v:.3f}"
        table.append(
            f"| {row['scenario']} | {row['wall_seconds']:.3f} | {1000 * row['seconds_per_round']:.2f} | "
            f"{row['seconds_per_round'] / base:.2f} | {fmt(row['detection_seconds'])} | {fmt(row['recovery_seconds'])} | "
            f"{'yes' if row['same_bits'] else 'NO'} |")
    publish(
        "faults", f"`python3 scripts/fault_timings.py` ({options.rounds} rounds of gradient descent, "
        f"{options.workers} local workers, fault at round {at})", table, rows)
    if not all(row["same_bits"] for row in rows):
        sys.exit("a run ended with other bits than --workers 0")


if __name__ == "__main__":
    main()

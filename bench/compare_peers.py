#!/usr/bin/env python3
"""ShardTrain beside scikit-learn, pandas/pyarrow, NumPy, JAX and PyTorch, every row measured in one run.

    python3 bench/compare_peers.py [--quick] [--only logistic|vae|triplet] [--shardtrain PATH]

The first run creates bench/.venv with pip (bench/requirements.txt); later runs reuse it without network.
The script generates its data in a temporary folder (removed at the end), runs every workload and prints a
ratio table, also written as JSON and Markdown (date, CPU model, core count, load, versions) to
bench/results/ (or --output-dir).

Workloads (issue 7's table):

logistic   1M x 20 dense CSV, labels 0/1 drawn from a known linear model, l2 = 1e-4, to the optimum.
           ShardTrain minimises  F(w, b) = (1/n) sum_i BCE(y_i, x_i.w + b) + (l2/2) |w|^2  (b unpenalised);
           scikit-learn's LogisticRegression minimises  C sum_i BCE + (1/2)|w|^2 = C n F  when C = 1/(l2 n),
           intercept unpenalised with lbfgs. Both final objectives are recomputed here with NumPy from each
           one's coefficients on the exact generated values. ShardTrain: `train` from the CSV with --workers 0
           and 2 (and from .npy with --labels when the build has it), timed from process start to exit, peak
           RSS by wait4, and five interleaved pairs of --workers 0 / 2 from .npy for the local-workers row (the
           fit, summary wall_seconds, medians); scikit-learn: pandas.read_csv + fit (the faster of default threads and one thread);
           pandas' pyarrow engine and np.load; one NumPy read pass (X.sum()) as the memory-speed yardstick.
vae        784-256-32 Bernoulli VAE (BCE from logits + Gaussian KL), hidden ReLU layer in encoder and
           decoder, Adam, batch 128, float32 in JAX (jit, all cores) and PyTorch (2 threads and 1).
triplet    tanh(x.W), 512 -> 128, batch 1024, one random triplet per anchor row inside the batch (positive: a
           random classmate, negative: a random row of another class, as ShardTrain's tripletRandom),
           squared-distance triplet loss, Adam: PyTorch (2 threads and 1; the ratio is to the faster), NumPy
           by hand.
Both dense workloads use l2 = 1e-4 on the weight matrices and learning rate 1e-3 everywhere. ShardTrain runs
`train --model vae|triplet --block-rows BATCH/C --batch-blocks C` (C = the machine's cores: a block is
ShardTrain's unit of parallelism, so a batch of BATCH rows is C blocks computed at once; the triplet model mines
one triplet per anchor inside each block) twice (two round counts), in float64 and float32 storage: samples/s
end to end (steps x batch / wall_seconds, set-up and the closing full-batch
evaluation included) and marginal (the extra steps over the extra seconds). The ratio to the peers compares
steady states: the peers time their steps only (JAX after compiling), so ShardTrain's marginal rate is the one
compared; the end-to-end rate is shown beside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENV_DIR = BENCH_DIR / ".venv"
REQUIREMENTS = BENCH_DIR / "requirements.txt"
WORKLOADS = ("logistic", "vae", "triplet")
MIB = 1024 * 1024


# ---------------------------------------------------------------------------------------------------------
# Virtual environment: created once, then the script re-runs itself inside it.


def venv_python() -> Path:
    return VENV_DIR / "bin" / "python"


def ensure_venv_and_reexec() -> None:
    """Creates bench/.venv and installs bench/requirements.txt when missing or changed, then re-executes this
    script with the venv's interpreter. A stamp file holds the SHA-256 of the requirements, so an unchanged
    venv needs no network."""
    if Path(sys.prefix).resolve() == VENV_DIR.resolve():
        return
    stamp = VENV_DIR / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not venv_python().exists():
        print(f"creating {VENV_DIR}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        # torch is pinned to the CPU wheel (pip's find-links, e.g. /opt/wheels), so no CUDA wheels come.
        print(f"installing {REQUIREMENTS.name} into {VENV_DIR} (pip, needs the network once)", flush=True)
        subprocess.run([str(venv_python()), "-m", "pip", "install", "-r", str(REQUIREMENTS)], check=True)
        stamp.write_text(wanted + "\n")
    os.execv(str(venv_python()), [str(venv_python()), str(Path(__file__).resolve()), *sys.argv[1:]])


# ---------------------------------------------------------------------------------------------------------
# Sizes and results.


@dataclass(frozen=True)
class Sizes:
    logistic_rows: int
    logistic_features: int
    vae_rows: int
    vae_peer_steps: int
    vae_shardtrain_rounds: tuple[int, int]
    triplet_rows: int
    triplet_peer_steps: int
    triplet_shardtrain_rounds: tuple[int, int]

    @staticmethod
    def full() -> Sizes:
        return Sizes(1_000_000, 20, 10_240, 400, (60, 180), 16_384, 200, (20, 60))

    @staticmethod
    def quick() -> Sizes:
        return Sizes(50_000, 20, 2_048, 40, (10, 30), 4_096, 20, (5, 15))


@dataclass
class ProcessRun:
    """One ShardTrain process: its own clock (process start to exit), the summary's fields, peak RSS."""

    command: list[str]
    process_seconds: float
    wall_seconds: float
    load_seconds: float | None  # reading and preparing the data, in summaries that have it
    rounds: int
    minibatch_steps: int | None
    objective: float
    parameters_sha256: str
    peak_rss_bytes: int
    parameters: list[float] = field(repr=False)  # kept only when asked (the VAE has ~400k)


@dataclass
class LogisticResult:
    rows: int
    features: int
    l2: float
    sklearn_c: float
    csv_bytes: int
    npy_bytes: int
    values_bytes: int
    shardtrain_csv: dict[int, ProcessRun]
    shardtrain_npy: dict[int, ProcessRun] | None
    npy_note: str
    # wall_seconds (the fit) of interleaved .npy runs with --workers 0 and 2 (issue 7: local workers cost nothing)
    local_workers_wall: dict[int, list[float]]
    pandas_read_seconds: float
    pandas_mismatched_values: int
    pyarrow_read_seconds: float
    np_load_seconds: float
    sklearn_fit_seconds: float  # the faster of the two below
    sklearn_fit_seconds_default_threads: float
    sklearn_fit_seconds_one_thread: float
    sklearn_iterations: int
    read_pass_seconds: float
    objective_shardtrain: float
    objective_sklearn: float


@dataclass
class MinibatchRate:
    """Samples (rows) per second of a mini-batch trainer."""

    name: str
    samples_per_second: float
    steps: int
    batch: int
    seconds: float
    final_loss: float | None = None
    note: str = ""
    # The untimed first step (JAX: its compilation; PyTorch: first allocations).
    warmup_seconds: float = 0.0

    @property
    def with_warmup_samples_per_second(self) -> float:
        """(steps + 1) × batch over the timed steps plus the first one."""
        return (self.steps + 1) * self.batch / (self.seconds + self.warmup_seconds)


@dataclass
class ShardTrainMinibatch:
    """Two ShardTrain runs with different round counts: end to end, and the marginal rate of the extra steps
    (which excludes set-up and the closing full-batch evaluation)."""

    precision: str
    short: ProcessRun
    long: ProcessRun
    batch: int
    end_to_end_samples_per_second: float = field(init=False)
    marginal_samples_per_second: float = field(init=False)

    def __post_init__(self) -> None:
        """end to end = steps × batch / wall_seconds of the long run (set-up and closing evaluation included);
        marginal = Δsteps × batch / Δwall_seconds between the two runs."""
        short_steps = self.short.minibatch_steps or self.short.rounds
        long_steps = self.long.minibatch_steps or self.long.rounds
        self.end_to_end_samples_per_second = long_steps * self.batch / self.long.wall_seconds
        self.marginal_samples_per_second = (
            (long_steps - short_steps) * self.batch / (self.long.wall_seconds - self.short.wall_seconds))


@dataclass
class DenseResult:
    workload: str
    batch: int
    peers: list[MinibatchRate]
    shardtrain: list[ShardTrainMinibatch]


@dataclass
class TableRow:
    workload: str
    shardtrain: str
    peer: str
    ratio: float | None
    target: str
    met: bool | None


# ---------------------------------------------------------------------------------------------------------
# Helpers: timing, ShardTrain processes.


def best_seconds(action: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` timed calls (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


STEPS_PATTERN = re.compile(r"ran (\d+) mini-batch steps")


# Forks and execs the command in argv[2:], then writes its seconds (fork to exit), wait status and ru_maxrss to the
# file argv[1]. A process this script starts itself would not do: Linux carries the peak RSS of the memory a child
# leaves at exec (for a forked or vforked child, this interpreter's, with the generated data) into its ru_maxrss.
LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    json.dump({"seconds": seconds, "status": status, "maxrss_kib": usage.ru_maxrss}, out)
"""


def run_shardtrain(binary: Path, arguments: list[str], work: Path, keep_parameters: bool = False) -> ProcessRun:
    """Runs `shardtrain train ARGS --summary-json …` from a small launcher process (see LAUNCHER), timing the
    whole process and reading its peak RSS with wait4 (the maximum over the process and the children it reaped,
    e.g. local workers)."""
    summary_path = work / "summary.json"
    summary_path.unlink(missing_ok=True)
    command = [str(binary), "train", *arguments, "--summary-json", str(summary_path), "--log-format", "json"]
    log_path = work / "shardtrain.log"
    usage_path = work / "usage.json"
    with open(log_path, "wb") as log:
        subprocess.run([sys.executable, "-c", LAUNCHER, str(usage_path), *command], stdout=log,
                       stderr=subprocess.STDOUT, check=True)
    measured = json.loads(usage_path.read_text())
    seconds, status = measured["seconds"], measured["status"]
    process = subprocess.CompletedProcess(command, os.waitstatus_to_exitcode(status))
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{tail}")
    summary = json.loads(summary_path.read_text())
    steps = STEPS_PATTERN.search(summary.get("stop_reason", ""))
    return ProcessRun(
        command=command,
        process_seconds=seconds,
        wall_seconds=summary["wall_seconds"],
        load_seconds=summary.get("load_seconds"),
        rounds=summary["rounds"],
        minibatch_steps=int(steps.group(1)) if steps else None,
        objective=summary["objective"],
        parameters_sha256=summary["parameters_sha256"],
        peak_rss_bytes=measured["maxrss_kib"] * 1024,
        parameters=summary["parameters"] if keep_parameters else [],
    )


def run_isolated(function: Callable, *arguments):
    """`function(*arguments)` in a fresh interpreter (spawn): no thread pool of one framework (OpenMP, Eigen,
    OpenBLAS), still spinning after its last call, competes with the next one for the cores."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *arguments).result()


def shardtrain_supports(binary: Path, flag: str) -> bool:
    """Whether `shardtrain train --help` lists the option `flag` (at the start of a line)."""
    help_text = subprocess.run([str(binary), "train", "--help"], capture_output=True, text=True, check=True).stdout
    return re.search(rf"^\s*{re.escape(flag)}[\s<]", help_text, re.MULTILINE) is not None


def write_csv(path: Path, features, labels, feature_format: str) -> None:
    """Header x0…x{d-1},label; features with `feature_format`, labels as integers, in chunks."""
    import numpy as np

    rows, width = features.shape
    formats = [feature_format] * width + ["%d"]
    with open(path, "w") as handle:
        handle.write(",".join([f"x{j}" for j in range(width)] + ["label"]) + "\n")
        chunk = 100_000
        for start in range(0, rows, chunk):
            block = np.column_stack([features[start : start + chunk], labels[start : start + chunk]])
            np.savetxt(handle, block, fmt=formats, delimiter=",")


# ---------------------------------------------------------------------------------------------------------
# Workload 1: logistic regression.


def logistic_objective(features, labels, weights, bias: float, l2: float) -> float:
    """(1/n) Σ_i [log(1 + e^{z_i}) − y_i z_i] + (l2/2)‖w‖², z = X·w + b, in float64."""
    import numpy as np

    z = features @ weights + bias
    return float(np.mean(np.logaddexp(0.0, z) - labels * z) + 0.5 * l2 * float(weights @ weights))


def generate_logistic(rows: int, width: int, seed: int = 7):
    """Features N(0, 1) rounded to 6 decimals (so '%.6f' writes the shortest text that reads back to the same
    doubles), labels ~ Bernoulli(sigmoid(x·w* + b*)) for a fixed w*, b*."""
    import numpy as np

    generator = np.random.default_rng(seed)
    features = np.round(generator.standard_normal((rows, width)), 6)
    true_weights = np.linspace(-1.5, 1.5, width)
    probability = 1.0 / (1.0 + np.exp(-(features @ true_weights + 0.25)))
    labels = (generator.random(rows) < probability).astype(np.float64)
    return features, labels


def check_round_trip(csv_path: Path, features, lines: int = 2000) -> None:
    """The first `lines` rows of the CSV parse (correctly rounded, Python's float) to the generated doubles."""
    import numpy as np

    with open(csv_path) as handle:
        next(handle)
        for index, line in zip(range(lines), handle):
            values = np.array([float(text) for text in line.split(",")[:-1]])
            if not np.array_equal(values, features[index]):
                raise RuntimeError(f"{csv_path}: row {index} does not round-trip")


def fit_sklearn(features, labels, c: float, threads: int | None):
    """LogisticRegression(solver="lbfgs") and its fit's seconds; `threads` limits BLAS and OpenMP (None: the
    libraries' default, one per core). tol = 1e-10 bounds the projected gradient of the mean objective."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    classifier = LogisticRegression(C=c, solver="lbfgs", tol=1e-10, max_iter=10_000)
    with threadpool_limits(threads):
        start = time.perf_counter()
        classifier.fit(features, labels)
        return classifier, time.perf_counter() - start


def measure_logistic(binary: Path, sizes: Sizes, work: Path) -> LogisticResult:
    import numpy as np
    import pandas as pd

    l2 = 1e-4
    rows, width = sizes.logistic_rows, sizes.logistic_features
    print(f"logistic: generating {rows:,} x {width}", flush=True)
    features, labels = generate_logistic(rows, width)
    csv_path = work / "logistic.csv"
    write_csv(csv_path, features, labels, "%.6f")
    check_round_trip(csv_path, features)
    x_npy, y_npy = work / "logistic_X.npy", work / "logistic_y.npy"
    np.save(x_npy, features)
    np.save(y_npy, labels)
    # The files just written are still being flushed to disk: wait, so that no timed run shares the cores and the
    # disk with the writeback (it fell on the first run, ShardTrain's).
    os.sync()

    base = ["--model", "logistic", "--l2", repr(l2)]
    shardtrain_csv = {}
    for workers in (0, 2):
        print(f"logistic: ShardTrain from CSV, --workers {workers}", flush=True)
        shardtrain_csv[workers] = run_shardtrain(
            binary, ["--data", str(csv_path), *base, "--workers", str(workers)], work, keep_parameters=True)
    shardtrain_npy = None
    npy_note = "not supported by this build (train --help has no --labels)"
    if shardtrain_supports(binary, "--labels"):
        npy_note = ""
        shardtrain_npy = {}
        for workers in (0, 2):
            print(f"logistic: ShardTrain from .npy, --workers {workers}", flush=True)
            shardtrain_npy[workers] = run_shardtrain(
                binary, ["--data", str(x_npy), "--labels", str(y_npy), *base, "--workers", str(workers)], work)
    # Local workers: the fit of 2 workers beside one process, five interleaved pairs (the machine's noise hits both).
    local_workers_wall: dict[int, list[float]] = {0: [], 2: []}
    data = ["--data", str(x_npy), "--labels", str(y_npy)] if shardtrain_npy is not None else ["--data", str(csv_path)]
    print("logistic: ShardTrain --workers 0 and 2, five interleaved pairs", flush=True)
    for _ in range(5):
        for workers in (0, 2):
            local_workers_wall[workers].append(
                run_shardtrain(binary, [*data, *base, "--workers", str(workers)], work).wall_seconds)

    print("logistic: pandas, pyarrow, np.load, scikit-learn", flush=True)
    start = time.perf_counter()
    frame = pd.read_csv(csv_path)
    pandas_seconds = time.perf_counter() - start
    pyarrow_seconds = best_seconds(lambda: pd.read_csv(csv_path, engine="pyarrow"), 1)
    np_load_seconds = best_seconds(lambda: (np.load(x_npy), np.load(y_npy)), 1)
    peer_features = frame.iloc[:, :-1].to_numpy(dtype=np.float64)
    peer_labels = frame.iloc[:, -1].to_numpy()
    mismatched = int(np.count_nonzero(peer_features != features))

    c = 1.0 / (l2 * rows)
    classifier, fit_seconds = fit_sklearn(peer_features, peer_labels, c, threads=None)
    # On a busy machine BLAS with one thread can beat two by far: the baseline is the faster fit.
    _, fit_seconds_one_thread = fit_sklearn(peer_features, peer_labels, c, threads=1)
    read_pass = best_seconds(lambda: features.sum(), 5)

    shardtrain_parameters = np.array(shardtrain_csv[0].parameters)
    return LogisticResult(
        rows=rows, features=width, l2=l2, sklearn_c=c,
        csv_bytes=csv_path.stat().st_size,
        npy_bytes=x_npy.stat().st_size + y_npy.stat().st_size,
        values_bytes=rows * (width + 1) * 8,
        shardtrain_csv=shardtrain_csv, shardtrain_npy=shardtrain_npy, npy_note=npy_note,
        local_workers_wall=local_workers_wall,
        pandas_read_seconds=pandas_seconds, pandas_mismatched_values=mismatched,
        pyarrow_read_seconds=pyarrow_seconds, np_load_seconds=np_load_seconds,
        sklearn_fit_seconds=min(fit_seconds, fit_seconds_one_thread),
        sklearn_fit_seconds_default_threads=fit_seconds, sklearn_fit_seconds_one_thread=fit_seconds_one_thread,
        sklearn_iterations=int(classifier.n_iter_[0]),
        read_pass_seconds=read_pass,
        objective_shardtrain=logistic_objective(
            features, labels, shardtrain_parameters[:-1], float(shardtrain_parameters[-1]), l2),
        objective_sklearn=logistic_objective(
            features, labels, classifier.coef_[0], float(classifier.intercept_[0]), l2),
    )


# ---------------------------------------------------------------------------------------------------------
# Workload 2: VAE 784-256-32.

VAE_WIDTH, VAE_HIDDEN, VAE_LATENT, VAE_BATCH = 784, 256, 32, 128
DENSE_L2, DENSE_LEARNING_RATE = 1e-4, 1e-3


def generate_images(rows: int, seed: int = 11):
    """Sparse 'images' in [0, 1]: 70% zeros, the rest k/16 (exact in float32 and short in text)."""
    import numpy as np

    generator = np.random.default_rng(seed)
    levels = generator.integers(1, 17, size=(rows, VAE_WIDTH)) / 16.0
    return np.where(generator.random((rows, VAE_WIDTH)) < 0.7, 0.0, levels)


def glorot(generator, fan_in: int, fan_out: int):
    import numpy as np

    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return generator.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


def vae_initial_parameters(seed: int = 0) -> dict:
    """Glorot-uniform weights, zero biases; encoder D→H→2L (μ, log σ²), decoder L→H→D (logits)."""
    import numpy as np

    generator = np.random.default_rng(seed)
    shapes = {"enc_W1": (VAE_WIDTH, VAE_HIDDEN), "enc_W2": (VAE_HIDDEN, 2 * VAE_LATENT),
              "dec_W1": (VAE_LATENT, VAE_HIDDEN), "dec_W2": (VAE_HIDDEN, VAE_WIDTH)}
    parameters = {}
    for name, (fan_in, fan_out) in shapes.items():
        parameters[name] = glorot(generator, fan_in, fan_out)
        parameters[name.replace("W", "b")] = np.zeros(fan_out, dtype=np.float32)
    return parameters


def time_steps(name: str, train_step: Callable[[int], object], steps: int, batch: int) -> MinibatchRate:
    """Step 0 warms up (compilation, allocations); steps 1…steps are timed. Reading the last loss as a float
    waits for asynchronous work (JAX dispatches asynchronously)."""
    warmup_start = time.perf_counter()
    float(train_step(0))
    start = time.perf_counter()
    for index in range(1, steps + 1):
        value = train_step(index)
    final_loss = float(value)
    seconds = time.perf_counter() - start
    return MinibatchRate(name, steps * batch / seconds, steps, batch, seconds, final_loss,
                         warmup_seconds=start - warmup_start)


def torch_name(threads: int, dtype: str = "float32") -> str:
    """`PyTorch (2 threads)`; a float64 run says so (`PyTorch (2 threads, float64)`)."""
    precision = "" if dtype == "float32" else f", {dtype}"
    return f"PyTorch ({threads} thread{'s' if threads > 1 else ''}{precision})"


def vae_jax(images, steps: int) -> MinibatchRate:
    """JAX, float32, one jit-compiled step (forward, grad, Adam) per batch; compile time excluded."""
    import jax
    import jax.numpy as jnp

    def loss(parameters, batch, key):
        hidden = jax.nn.relu(batch @ parameters["enc_W1"] + parameters["enc_b1"])
        encoded = hidden @ parameters["enc_W2"] + parameters["enc_b2"]
        mean, logvar = encoded[:, :VAE_LATENT], encoded[:, VAE_LATENT:]
        z = mean + jax.random.normal(key, mean.shape) * jnp.exp(0.5 * logvar)
        decoded = jax.nn.relu(z @ parameters["dec_W1"] + parameters["dec_b1"])
        logits = decoded @ parameters["dec_W2"] + parameters["dec_b2"]
        reconstruction = jnp.sum(jax.nn.softplus(logits) - batch * logits, axis=1)
        kl = 0.5 * jnp.sum(mean * mean + jnp.expm1(logvar) - logvar, axis=1)
        penalty = sum(jnp.sum(parameters[name] ** 2) for name in ("enc_W1", "enc_W2", "dec_W1", "dec_W2"))
        return jnp.mean(reconstruction + kl) + 0.5 * DENSE_L2 * penalty

    @jax.jit
    def step(state, data, index):
        parameters, first, second = state
        batch = jax.lax.dynamic_slice_in_dim(data, (index * VAE_BATCH) % (data.shape[0] - VAE_BATCH), VAE_BATCH)
        value, gradient = jax.value_and_grad(loss)(parameters, batch, jax.random.fold_in(jax.random.key(0), index))
        t = index + 1
        first = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, first, gradient)
        second = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, second, gradient)
        scale = DENSE_LEARNING_RATE * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        parameters = jax.tree.map(lambda p, m, v: p - scale * m / (jnp.sqrt(v) + 1e-8), parameters, first, second)
        return (parameters, first, second), value

    parameters = {name: jnp.asarray(value) for name, value in vae_initial_parameters().items()}
    zeros = jax.tree.map(jnp.zeros_like, parameters)
    state = (parameters, zeros, zeros)
    data = jnp.asarray(images, dtype=jnp.float32)

    def train_step(index: int):
        nonlocal state
        state, value = step(state, data, index)
        return value

    return time_steps("JAX (jit)", train_step, steps, VAE_BATCH)


def vae_torch(images, steps: int, threads: int, dtype: str = "float32") -> MinibatchRate:
    """PyTorch, float32 (or float64 beside ShardTrain's float64 storage), torch.optim.Adam."""
    import torch

    torch.set_default_dtype(getattr(torch, dtype))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    parameters = {name: torch.tensor(value, dtype=getattr(torch, dtype), requires_grad=True)
                  for name, value in vae_initial_parameters().items()}
    optimizer = torch.optim.Adam(parameters.values(), lr=DENSE_LEARNING_RATE)
    data = torch.tensor(images, dtype=getattr(torch, dtype))
    p = parameters

    def train_step(index: int) -> float:
        offset = (index * VAE_BATCH) % (data.shape[0] - VAE_BATCH)
        batch = data[offset : offset + VAE_BATCH]
        hidden = torch.relu(batch @ p["enc_W1"] + p["enc_b1"])
        encoded = hidden @ p["enc_W2"] + p["enc_b2"]
        mean, logvar = encoded[:, :VAE_LATENT], encoded[:, VAE_LATENT:]
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        logits = torch.relu(z @ p["dec_W1"] + p["dec_b1"]) @ p["dec_W2"] + p["dec_b2"]
        reconstruction = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch, reduction="sum")
        kl = 0.5 * torch.sum(mean * mean + torch.expm1(logvar) - logvar)
        penalty = sum(torch.sum(p[name] ** 2) for name in ("enc_W1", "enc_W2", "dec_W1", "dec_W2"))
        loss = (reconstruction + kl) / VAE_BATCH + 0.5 * DENSE_L2 * penalty
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return time_steps(torch_name(threads, dtype), train_step, steps, VAE_BATCH)


def shardtrain_minibatch(binary: Path, arguments: list[str], rounds: tuple[int, int], batch: int,
                         work: Path) -> list[ShardTrainMinibatch]:
    """The same ShardTrain run with two round counts, in float64 and float32 storage; the batch is split into
    one block per core (blocks are what ShardTrain computes in parallel)."""
    cores = max(1, len(os.sched_getaffinity(0)))
    blocks = cores if batch % cores == 0 else 1
    results = []
    for precision in ("float64", "float32"):
        runs = [run_shardtrain(binary, [*arguments, "--precision", precision, "--max-rounds", str(count),
                                        "--block-rows", str(batch // blocks), "--batch-blocks", str(blocks)], work)
                for count in rounds]
        results.append(ShardTrainMinibatch(precision, runs[0], runs[1], batch))
    return results


def measure_vae(binary: Path, sizes: Sizes, work: Path) -> DenseResult:
    import numpy as np

    print(f"vae: generating {sizes.vae_rows:,} x {VAE_WIDTH}", flush=True)
    images = generate_images(sizes.vae_rows)
    csv_path = work / "vae.csv"
    write_csv(csv_path, images, np.zeros(sizes.vae_rows), "%.17g")
    print("vae: JAX", flush=True)
    peers = [run_isolated(vae_jax, images, sizes.vae_peer_steps)]
    for threads in (2, 1):
        print(f"vae: {torch_name(threads)}", flush=True)
        peers.append(run_isolated(vae_torch, images, sizes.vae_peer_steps, threads))
    print(f"vae: {torch_name(2, 'float64')}", flush=True)
    peers.append(run_isolated(vae_torch, images, sizes.vae_peer_steps, 2, "float64"))
    print("vae: ShardTrain", flush=True)
    arguments = ["--data", str(csv_path), "--model", "vae", "--hidden", str(VAE_HIDDEN),
                 "--dimension", str(VAE_LATENT), "--l2", repr(DENSE_L2), "--learning-rate", repr(DENSE_LEARNING_RATE)]
    shardtrain = shardtrain_minibatch(binary, arguments, sizes.vae_shardtrain_rounds, VAE_BATCH, work)
    return DenseResult("vae", VAE_BATCH, peers, shardtrain)


# ---------------------------------------------------------------------------------------------------------
# Workload 3: triplet embedding tanh(x·W), 512 → 128.

TRIPLET_WIDTH, TRIPLET_DIMENSION, TRIPLET_BATCH, TRIPLET_CLASSES, TRIPLET_MARGIN = 512, 128, 1024, 10, 1.0


def generate_triplet_data(rows: int, seed: int = 13):
    """Ten classes: a class mean plus N(0, 1) noise, rounded to 3 decimals; labels 0…9."""
    import numpy as np

    generator = np.random.default_rng(seed)
    labels = generator.integers(0, TRIPLET_CLASSES, size=rows)
    means = generator.standard_normal((TRIPLET_CLASSES, TRIPLET_WIDTH))
    features = np.round(means[labels] + generator.standard_normal((rows, TRIPLET_WIDTH)), 3)
    return features, labels


def random_triplets(xp, labels, uniform_positive, uniform_negative, as_index):
    """One triplet per anchor row (ShardTrain's tripletRandom): positive uniform over the anchor's other
    classmates, negative uniform over the rows of other classes, through a counting sort of the batch's
    labels. `xp` is numpy or torch, the uniforms are in [0, 1) (one per row), `as_index` truncates to integers.

    order = rows sorted by class (stable), start[c], count[c] = class c's range in order, own = anchor's place
    positive = order[start + (own + 1 + k) mod count],  k uniform in [0, count − 1)   (skips the anchor)
    negative = order[j if j < start else j + count],     j uniform in [0, n − count)   (skips the class)
    """
    order = xp.argsort(labels, stable=True)
    counts = xp.bincount(labels, minlength=TRIPLET_CLASSES)
    starts = xp.cumsum(counts, 0) - counts
    rank = xp.empty_like(order)
    rank[order] = xp.arange(len(labels))
    count, start = counts[labels], starts[labels]
    k = as_index(uniform_positive * (count - 1))
    positive = order[start + (rank - start + 1 + k) % count]
    j = as_index(uniform_negative * (len(labels) - count))
    negative = order[xp.where(j < start, j, j + count)]
    return positive, negative


def triplet_torch(features, labels, steps: int, threads: int, dtype: str = "float32") -> MinibatchRate:
    """PyTorch, float32 (or float64 beside ShardTrain's float64 storage), torch.optim.Adam."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    weights = torch.tensor(glorot(np.random.default_rng(0), TRIPLET_WIDTH, TRIPLET_DIMENSION),
                           dtype=getattr(torch, dtype), requires_grad=True)
    optimizer = torch.optim.Adam([weights], lr=DENSE_LEARNING_RATE)
    data = torch.tensor(features, dtype=getattr(torch, dtype))
    classes = torch.tensor(labels, dtype=torch.int64)
    batches = data.shape[0] // TRIPLET_BATCH

    def train_step(index: int) -> float:
        offset = (index % batches) * TRIPLET_BATCH
        batch, batch_labels = data[offset : offset + TRIPLET_BATCH], classes[offset : offset + TRIPLET_BATCH]
        uniforms = torch.rand((2, TRIPLET_BATCH), generator=generator)
        positive, negative = random_triplets(torch, batch_labels, uniforms[0], uniforms[1], torch.Tensor.long)
        embedded = torch.tanh(batch @ weights)
        to_positive = torch.sum((embedded - embedded[positive]) ** 2, dim=1)
        to_negative = torch.sum((embedded - embedded[negative]) ** 2, dim=1)
        loss = torch.relu(to_positive - to_negative + TRIPLET_MARGIN).mean() + 0.5 * DENSE_L2 * torch.sum(weights**2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return time_steps(torch_name(threads, dtype), train_step, steps, TRIPLET_BATCH)


def triplet_numpy(features, labels, steps: int) -> MinibatchRate:
    """Forward and backward by hand, float32, Adam:

    e = tanh(X·W);  loss_a = max(0, ‖e_a − e_p‖² − ‖e_a − e_n‖² + m), mean over anchors a
    active a:  ∂e_a += 2(e_n − e_p),  ∂e_p += −2(e_a − e_p),  ∂e_n += 2(e_a − e_n)   (each / batch)
    ∂W = Xᵀ·(∂e ⊙ (1 − e²)) + l2·W
    """
    import numpy as np

    generator = np.random.default_rng(0)
    weights = glorot(np.random.default_rng(0), TRIPLET_WIDTH, TRIPLET_DIMENSION)
    first, second = np.zeros_like(weights), np.zeros_like(weights)
    data = features.astype(np.float32)
    batches = data.shape[0] // TRIPLET_BATCH

    def train_step(index: int) -> float:
        nonlocal weights, first, second
        offset = (index % batches) * TRIPLET_BATCH
        batch, batch_labels = data[offset : offset + TRIPLET_BATCH], labels[offset : offset + TRIPLET_BATCH]
        uniforms = generator.random((2, TRIPLET_BATCH))
        positive, negative = random_triplets(
            np, batch_labels, uniforms[0], uniforms[1], lambda values: values.astype(np.int64))
        embedded = np.tanh(batch @ weights)
        to_positive_vector = embedded - embedded[positive]
        to_negative_vector = embedded - embedded[negative]
        margins = (np.einsum("ij,ij->i", to_positive_vector, to_positive_vector)
                   - np.einsum("ij,ij->i", to_negative_vector, to_negative_vector) + TRIPLET_MARGIN)
        active = (margins > 0).astype(np.float32)[:, None] * (2.0 / TRIPLET_BATCH)
        gradient_embedded = active * (to_positive_vector - to_negative_vector)
        np.add.at(gradient_embedded, positive, -active * to_positive_vector)
        np.add.at(gradient_embedded, negative, active * to_negative_vector)
        gradient = batch.T @ (gradient_embedded * (1.0 - embedded * embedded)) + DENSE_L2 * weights
        t = index + 1
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * gradient * gradient
        scale = DENSE_LEARNING_RATE * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        weights = weights - np.float32(scale) * first / (np.sqrt(second) + 1e-8)
        return float(np.maximum(margins, 0).mean() + 0.5 * DENSE_L2 * np.sum(weights * weights))

    return time_steps("NumPy by hand", train_step, steps, TRIPLET_BATCH)


def measure_triplet(binary: Path, sizes: Sizes, work: Path) -> DenseResult:
    print(f"triplet: generating {sizes.triplet_rows:,} x {TRIPLET_WIDTH}", flush=True)
    features, labels = generate_triplet_data(sizes.triplet_rows)
    csv_path = work / "triplet.csv"
    write_csv(csv_path, features, labels, "%.3f")
    peers = []
    for threads in (2, 1):
        print(f"triplet: {torch_name(threads)}", flush=True)
        peers.append(run_isolated(triplet_torch, features, labels, sizes.triplet_peer_steps, threads))
    print(f"triplet: {torch_name(2, 'float64')}", flush=True)
    peers.append(run_isolated(triplet_torch, features, labels, sizes.triplet_peer_steps, 2, "float64"))
    print("triplet: NumPy", flush=True)
    peers.append(run_isolated(triplet_numpy, features, labels, sizes.triplet_peer_steps))
    print("triplet: ShardTrain", flush=True)
    arguments = ["--data", str(csv_path), "--model", "triplet", "--dimension", str(TRIPLET_DIMENSION),
                 "--pairs", "tripletRandom", "--margin", repr(TRIPLET_MARGIN), "--l2", repr(DENSE_L2),
                 "--learning-rate", repr(DENSE_LEARNING_RATE)]
    shardtrain = shardtrain_minibatch(binary, arguments, sizes.triplet_shardtrain_rounds, TRIPLET_BATCH, work)
    return DenseResult("triplet", TRIPLET_BATCH, peers, shardtrain)


# ---------------------------------------------------------------------------------------------------------
# The table.


def ratio_row(workload: str, shardtrain: str, peer: str, ratio: float | None, target: str,
              bound: float | None, at_most: bool) -> TableRow:
    met = None if ratio is None or bound is None else (ratio <= bound if at_most else ratio >= bound)
    return TableRow(workload, shardtrain, peer, ratio, target, met)


def logistic_rows(result: LogisticResult) -> list[TableRow]:
    megabytes = result.csv_bytes / 1e6
    csv0, csv2 = result.shardtrain_csv[0], result.shardtrain_csv[2]
    sklearn_total = result.pandas_read_seconds + result.sklearn_fit_seconds
    size = f"{result.rows:,} x {result.features}"
    rows = [
        ratio_row(
            f"logistic {size} CSV ({megabytes:.0f} MB), process start → summary",
            f"{csv0.process_seconds:.2f} s (--workers 0), {csv2.process_seconds:.2f} s (--workers 2)",
            f"sklearn read_csv {result.pandas_read_seconds:.2f} s + fit {result.sklearn_fit_seconds:.2f} s "
            f"= {sklearn_total:.2f} s (fit: the faster of {result.sklearn_fit_seconds_default_threads:.2f} s with "
            f"default threads, {result.sklearn_fit_seconds_one_thread:.2f} s with one)",
            csv0.process_seconds / sklearn_total, "≤ 0.5", 0.5, True),
    ]
    if result.shardtrain_npy is None:
        rows.append(TableRow(f"… the same from .npy", result.npy_note,
                             f"sklearn fit {result.sklearn_fit_seconds:.2f} s", None, "≤ 1", None))
    else:
        npy0, npy2 = result.shardtrain_npy[0], result.shardtrain_npy[2]
        rows.append(ratio_row(
            "… the same from .npy",
            f"{npy0.process_seconds:.2f} s (--workers 0), {npy2.process_seconds:.2f} s (--workers 2)",
            f"sklearn fit {result.sklearn_fit_seconds:.2f} s",
            npy0.process_seconds / result.sklearn_fit_seconds, "≤ 1", 1.0, True))
    # The summary's load_seconds (reading and preparing the data) where the build writes it; older builds: the
    # process time outside the fit (reading, blocks, closing metrics, summary: an upper bound on reading).
    if csv0.load_seconds is not None:
        read_seconds, read_source = csv0.load_seconds, "summary load_seconds"
    else:
        read_seconds, read_source = csv0.process_seconds - csv0.wall_seconds, "process − wall_seconds, an upper bound"
    pyarrow_rate = megabytes / result.pyarrow_read_seconds
    rows.append(ratio_row(
        f"… CSV ingest MB/s (ShardTrain: {read_source})",
        f"{read_seconds:.2f} s ({megabytes / read_seconds:.0f} MB/s)",
        f"read_csv(engine=\"pyarrow\") {result.pyarrow_read_seconds:.2f} s ({pyarrow_rate:.0f} MB/s); "
        f"default engine {megabytes / result.pandas_read_seconds:.0f} MB/s "
        f"({result.pandas_mismatched_values:,} values differ from the written doubles); "
        f"np.load .npy {result.np_load_seconds:.2f} s ({result.npy_bytes / 1e6 / result.np_load_seconds:.0f} MB/s)",
        (megabytes / read_seconds) / pyarrow_rate, "≥ 1", 1.0, False))
    one_process, two_workers = (statistics.median(result.local_workers_wall[count]) for count in (0, 2))
    rows.append(ratio_row(
        "… local workers: the fit (summary wall_seconds, worker start and shipping included), median of 5 "
        "interleaved runs",
        f"--workers 2: {two_workers:.3f} s (" + ", ".join(f"{v:.3f}" for v in result.local_workers_wall[2]) + ")",
        f"--workers 0: {one_process:.3f} s (" + ", ".join(f"{v:.3f}" for v in result.local_workers_wall[0]) + ")",
        two_workers / one_process, "≤ 1.25", 1.25, True))
    rounds_reads = csv0.rounds * result.read_pass_seconds
    rows.append(ratio_row(
        "… the fit alone (summary wall_seconds, --workers 0)",
        f"{csv0.wall_seconds:.3f} s, {csv0.rounds} rounds of {1e3 * csv0.wall_seconds / csv0.rounds:.1f} ms",
        f"one NumPy read pass (X.sum()) {1e3 * result.read_pass_seconds:.1f} ms; rounds × pass "
        f"{rounds_reads:.3f} s; sklearn fit {result.sklearn_fit_seconds:.2f} s "
        f"({result.sklearn_iterations} iterations)",
        csv0.wall_seconds / rounds_reads, "≤ 2", 2.0, True))
    same_bits = csv0.parameters_sha256 == csv2.parameters_sha256
    rows.append(TableRow(
        "… final objective, recomputed in NumPy (ratio column: ShardTrain − sklearn)",
        f"{result.objective_shardtrain:.15g} (parameters_sha256 for --workers 0 and 2 "
        f"{'identical' if same_bits else 'DIFFERENT'})",
        f"sklearn {result.objective_sklearn:.15g} (C = 1/(l2·n) = {result.sklearn_c:.3g})",
        result.objective_shardtrain - result.objective_sklearn, "≈ 0 (the same optimum)", None))
    values_mib = result.values_bytes / MIB
    runs = [("CSV", result.shardtrain_csv, 1.5)]
    if result.shardtrain_npy:
        runs.append(("npy", result.shardtrain_npy, 1.1))
    for name, by_workers, factor in runs:
        run = by_workers[0]
        bound = factor * result.values_bytes + 64 * MIB
        rows.append(ratio_row(
            f"peak RSS, logistic from {name} (--workers 0)",
            f"{run.peak_rss_bytes / MIB:.0f} MiB (--workers 2: largest process "
            f"{by_workers[2].peak_rss_bytes / MIB:.0f} MiB)",
            f"values {values_mib:.0f} MiB; bound {factor} × values + 64 MiB = {bound / MIB:.0f} MiB",
            run.peak_rss_bytes / bound, "≤ 1", 1.0, True))
    return rows


def dense_rows(result: DenseResult, title: str, baselines: tuple[str, ...]) -> list[TableRow]:
    """Ratios to the fastest of the `baselines` peers (PyTorch: the faster of 1 and 2 threads, because on a
    busy machine two OpenMP threads can be far slower than one; on a quiet one the 2-thread run wins) — the
    issue's target applies to float32 storage, which computes in float32 as the peers do; float64 storage (computed
    in double) is shown against the same float32 peers for context, without a target. The ratio compares steady
    states: the peers' rates
    exclude their set-up (JAX's compilation) and have no closing evaluation, so ShardTrain's is its marginal rate
    (the extra steps of the longer run, which excludes start-up and the closing full-batch evaluation); the
    end-to-end rate is shown beside it. The float64 storage row also gets a row beside PyTorch computing in float64
    (the same arithmetic), for the reader; it carries no target."""
    peer = max((rate for rate in result.peers if rate.name in baselines), key=lambda rate: rate.samples_per_second)
    peers_text = "; ".join(f"{rate.name} {rate.samples_per_second:,.0f}/s" for rate in result.peers)
    rows = []
    for run in result.shardtrain:
        rows.append(ratio_row(
            f"{title}, ShardTrain {run.precision} storage",
            f"{run.marginal_samples_per_second:,.0f}/s steady state (marginal); "
            f"{run.end_to_end_samples_per_second:,.0f}/s end to end",
            peers_text, run.marginal_samples_per_second / peer.samples_per_second,
            f"≥ 1 (vs {peer.name}, steady state)" if run.precision == "float32" else "– (context: double arithmetic)",
            1.0 if run.precision == "float32" else None, False))
        if run.precision == "float32":
            rows.append(ratio_row(
                "… end to end: ShardTrain process start → summary (CSV read, closing evaluation); peer: its steps and "
                "its first step (compilation), imports and data preparation left out",
                f"{run.end_to_end_samples_per_second:,.0f}/s",
                f"{peer.name} {peer.with_warmup_samples_per_second:,.0f}/s "
                f"(first step {peer.warmup_seconds:.2f} s)",
                run.end_to_end_samples_per_second / peer.with_warmup_samples_per_second, "– (context)", None, False))
        same_precision = [rate for rate in result.peers if rate.name.endswith(f", {run.precision})")]
        if same_precision:
            rate = max(same_precision, key=lambda rate: rate.samples_per_second)
            rows.append(ratio_row(
                f"… the same, both in {run.precision}",
                f"{run.marginal_samples_per_second:,.0f}/s steady state (marginal)",
                f"{rate.name} {rate.samples_per_second:,.0f}/s",
                run.marginal_samples_per_second / rate.samples_per_second, "– (context)", None, False))
    return rows


def machine_info() -> dict:
    import importlib.metadata as metadata

    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {"python": platform.python_version()}
    for package in ("numpy", "pandas", "pyarrow", "scikit-learn", "jax", "jaxlib", "torch"):
        versions[package] = metadata.version(package)
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": model,
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "platform": platform.platform(),
        "versions": versions,
    }


def shardtrain_revision(binary: Path) -> str:
    """The binary's modification time and the HEAD of the repository holding it (the binary may be older)."""
    built = dt.datetime.fromtimestamp(binary.stat().st_mtime, dt.timezone.utc).isoformat(timespec="minutes")
    repository = binary.resolve().parent
    while repository != repository.parent and not (repository / ".git").exists():
        repository = repository.parent
    described = subprocess.run(["git", "-C", str(repository), "describe", "--always", "--dirty"],
                               capture_output=True, text=True)
    head = f", repository {repository} at {described.stdout.strip()}" if described.returncode == 0 else ""
    return f"{binary} (built {built}{head})"


def format_ratio(row: TableRow) -> str:
    if row.ratio is None:
        return "–"
    text = f"{row.ratio:.3g}" if abs(row.ratio) >= 1e-3 or row.ratio == 0 else f"{row.ratio:.2e}"
    return text + ("" if row.met is None else (" ✓" if row.met else " ✗"))


def markdown_table(rows: list[TableRow]) -> str:
    lines = ["| workload | ShardTrain | peer, same run | ratio | target |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {row.workload} | {row.shardtrain} | {row.peer} | {format_ratio(row)} | {row.target} |"
              for row in rows]
    return "\n".join(lines)


def plain_table(rows: list[TableRow]) -> str:
    blocks = []
    for row in rows:
        blocks.append(f"{row.workload}\n    ShardTrain: {row.shardtrain}\n    peer:       {row.peer}\n"
                      f"    ratio:      {format_ratio(row)}   (target {row.target})")
    return "\n".join(blocks)


# ---------------------------------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--only", choices=WORKLOADS, action="append",
                        help="run only this workload (repeatable; default: all)")
    parser.add_argument("--shardtrain", type=Path, default=Path(".build/release/shardtrain"),
                        help="the shardtrain binary; a relative path is taken from the repository root")
    parser.add_argument("--output-dir", type=Path, default=BENCH_DIR / "results",
                        help="where peers.json and peers.md are written")
    parser.add_argument("--temp-dir", type=Path, default=None, help="parent of the temporary data folder")
    return parser.parse_args()


def main() -> int:
    arguments = parse_arguments()
    binary = arguments.shardtrain if arguments.shardtrain.is_absolute() else REPO_ROOT / arguments.shardtrain
    if not binary.exists():
        print(f"error: {binary} not found (build with `swift build -c release --product shardtrain` or pass "
              "--shardtrain PATH)", file=sys.stderr)
        return 1
    ensure_venv_and_reexec()
    sizes = Sizes.quick() if arguments.quick else Sizes.full()
    selected = arguments.only or list(WORKLOADS)
    info = machine_info()
    info["shardtrain"] = shardtrain_revision(binary)
    info["mode"] = "quick" if arguments.quick else "full"
    rows: list[TableRow] = []
    results: dict[str, object] = {}
    work = Path(tempfile.mkdtemp(prefix="shardtrain-peers-", dir=arguments.temp_dir))
    try:
        if "logistic" in selected:
            results["logistic"] = measure_logistic(binary, sizes, work)
            rows += logistic_rows(results["logistic"])
        if "vae" in selected:
            results["vae"] = measure_vae(binary, sizes, work)
            rows += dense_rows(results["vae"], "VAE 784-256-32, batch 128, Adam: samples/s", ("JAX (jit)",))
        if "triplet" in selected:
            results["triplet"] = measure_triplet(binary, sizes, work)
            rows += dense_rows(results["triplet"], "triplet tanh(x·W) 512 → 128, batch 1024: rows/s",
                               (torch_name(2), torch_name(1)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info["load_average_at_end"] = os.getloadavg()

    busiest = max(info["load_average_at_start"][0], info["load_average_at_end"][0])
    header = (f"{info['date']} · {info['cpu_model']} · {info['cores']} cores · 1-minute load "
              f"{info['load_average_at_start'][0]:.2f} at start, {info['load_average_at_end'][0]:.2f} at end · "
              f"{info['mode']} sizes\n"
              f"ShardTrain {info['shardtrain']} · "
              + ", ".join(f"{name} {version}" for name, version in info["versions"].items()))
    if busiest > info["cores"]:
        header += ("\nThe machine was busy (load above the core count): multi-threaded runs (PyTorch, BLAS, "
                   "ShardTrain's workers) lose most; compare ratios, and re-run on a quiet machine.")
    print("\n" + header + "\n\n" + plain_table(rows))
    arguments.output_dir.mkdir(parents=True, exist_ok=True)
    report = {"machine": info, "table": [dataclasses.asdict(row) for row in rows],
              "results": {name: dataclasses.asdict(value) for name, value in results.items()}}
    (arguments.output_dir / "peers.json").write_text(json.dumps(report, indent=2) + "\n")
    (arguments.output_dir / "peers.md").write_text(header.replace("\n", "  \n") + "\n\n" + markdown_table(rows) + "\n")
    print(f"\nwritten: {arguments.output_dir / 'peers.json'}, {arguments.output_dir / 'peers.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

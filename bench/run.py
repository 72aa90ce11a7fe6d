"""Benchmark aihw_jax, optionally beside IBM aihwkit 1.2.0, on this machine.

The script measures two things:

* Training: seconds per epoch of aihwkit's documented experiment
  (``BasicTraining`` on Fashion-MNIST with the network of
  ``aihw_jax.experiments.demo.documented_model``), once with the default
  analog configuration and once with ``FloatingPointRPUConfig``. An epoch
  is one pass over the training set plus one evaluation on the test set.
  Epoch 1 of aihw_jax includes the JIT compilation, so the steady state is
  the median of epochs 2..N, and the compile overhead is estimated as
  epoch 1 minus that median.
* Tiles: the median time of one 512x512 tile forward pass and one pulsed
  update at batch 64, beside a jitted ``jnp.dot`` of the same shapes.

With ``--peer PYTHON`` (or the environment variable AIHWKIT_PEER_PYTHON),
``bench/aihwkit_peer.py`` runs with that interpreter in the same process
tree, interleaved with the aihw_jax measurements, and the speed ratios are
printed. Example:

    .venv/bin/python bench/run.py --peer /work/peer/venv/bin/python --epochs 3

A quick smoke run:

    .venv/bin/python bench/run.py --epochs 2 --max-elements 640 --tile-calls 3

With ``--presets NAME [NAME ...]`` the script also trains the documented
experiment once per training preset (an RPU-config preset of
``aihw_jax.simulator.presets.configs``), with every analog layer on the
preset, for ``--preset-epochs`` epochs. With the peer, each preset runs in
aihwkit 1.2.0 first and then in aihw_jax, before the next preset.
``--only-presets`` skips the other measurements:

    .venv/bin/python bench/run.py --presets EcRamPreset TikiTakaEcRamPreset \
        --preset-epochs 2 --only-presets --peer /work/peer/venv/bin/python
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicTraining
from aihw_jax.experiments.demo import documented_model
from aihw_jax.experiments.runners import run_local
from aihw_jax.simulator import devices
from aihw_jax.simulator.configs import (
    ConstantStepDevice,
    FloatingPointRPUConfig,
    SingleRPUConfig,
    UpdateParameters,
)
from aihw_jax.simulator.presets import configs as preset_configs
from aihw_jax.simulator.tiles import forward
from aihw_jax.simulator.tiles.update import pulsed_update

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
PEER_SCRIPT = REPOSITORY_ROOT / "bench" / "aihwkit_peer.py"
PEER_ENVIRONMENT_VARIABLE = "AIHWKIT_PEER_PYTHON"

# Batch size and learning rate of BasicTraining in aihwkit 1.2.0 and in aihw_jax.
TRAINING_BATCH_SIZE = 64
TRAINING_LEARNING_RATE = 0.05

# The tile settings match those of bench/aihwkit_peer.py --tile.
TILE_SIZE = 512
TILE_BATCH = 64
TILE_LEARNING_RATE = 0.05
TILE_WARMUP_CALLS = 5
# Maximum absolute values of the error vector d. The pulse-train length of
# the stochastic update grows with lr * max|x| * max|d|, so the update cost
# depends on this scale.
TILE_D_SCALES = (1.0, 0.01)
# Weights of the tile benchmark are uniform in [-TILE_WEIGHT_SCALE, TILE_WEIGHT_SCALE].
TILE_WEIGHT_SCALE = 0.1

# Speed-up targets (aihwkit seconds per epoch / aihw_jax seconds per epoch).
TARGET_ANALOG_SPEEDUP = 2.0
TARGET_FP_SPEEDUP = 4.0

CONFIGS = ("analog", "fp")

# The valid values of --presets are the training presets, the RPU-config
# presets of aihw_jax.simulator.presets.configs. They have the names of the 52
# classes in aihwkit 1.2.0's aihwkit.simulator.presets.configs. The suffix
# filter leaves out the peripheral presets ("...Parameters") and the device
# PCMPresetUnitCell.
PRESET_NAMES = tuple(
    sorted(name for name in preset_configs.__all__ if name.endswith("Preset"))
)


# Machine and load information.


def read_cpu_model() -> str:
    """Return the ``model name`` field of /proc/cpuinfo, or ``unknown``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def read_memory_gib() -> float | None:
    """Return the total memory from /proc/meminfo in GiB, or None."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return None


def read_git_revision() -> str:
    """Return the commit of the aihw_jax checkout, with ``-dirty`` if changed."""
    try:
        result = subprocess.run(
            ["git", "-C", str(REPOSITORY_ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def describe_machine() -> dict[str, Any]:
    """Collect the machine facts and software versions behind the numbers."""
    import jaxlib

    return {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        # Same count as the nproc command: the CPUs this process may run on.
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": read_cpu_model(),
        "memory_gib": read_memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "jax_devices": [str(device) for device in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "aihw_jax_revision": read_git_revision(),
    }


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def format_load(values: list[float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


def cpu_seconds() -> float:
    """Return the user plus system CPU time of this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class MeasurementLog:
    """Ordered record of the measurements with the load average around each.

    Each entry also stores the CPU seconds that the measurement used, which
    other load on the machine changes less than the wall time. It covers
    the whole measurement, including imports, data loading and compilation.
    """

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def run(self, name: str, function: Callable[[], Any]) -> Any:
        """Run ``function``, print and store its load, wall time and CPU time."""
        before = load_average()
        print(f"\n== {name} (load average before: {format_load(before)})", flush=True)
        start = time.perf_counter()
        cpu_start = cpu_seconds()
        result = function()
        cpu_s = cpu_seconds() - cpu_start
        wall_s = time.perf_counter() - start
        after = load_average()
        print(
            f"== {name} done in {wall_s:.1f} s, CPU time {cpu_s:.1f} s "
            f"(load average after: {format_load(after)})",
            flush=True,
        )
        self.entries.append(
            {
                "name": name,
                "load_average_before": before,
                "load_average_after": after,
                "wall_s": wall_s,
                "cpu_s": cpu_s,
            }
        )
        return result


# Training.


def summarize_epochs(times_s: list[float], accuracies: list[float]) -> dict[str, Any]:
    """Return the steady-state epoch time (median of epochs 2..N) and its context."""
    steady_s = statistics.median(times_s[1:])
    return {
        "epoch_times_s": times_s,
        "accuracies": accuracies,
        "steady_epoch_s": steady_s,
        # An estimate: it assumes that epoch 1 would take the steady-state
        # time without compilation.
        "first_epoch_overhead_s": times_s[0] - steady_s,
    }


def train_jax(
    label: str, rpu_config: Any, epochs: int, seed: int, max_elements: int
) -> list[dict[str, Any]]:
    """Train the documented network with aihw_jax and return the epoch records.

    Every analog layer uses ``rpu_config`` (``None`` is the default analog
    configuration). Prints one line per epoch, prefixed with ``label``.
    """
    experiment = BasicTraining(
        dataset=FashionMNIST,
        model=documented_model(rpu_config),
        batch_size=TRAINING_BATCH_SIZE,
        learning_rate=TRAINING_LEARNING_RATE,
        epochs=epochs,
    )
    result = run_local(experiment, seed=seed, max_elements=max_elements, stdout=False)
    records = result["epochs"]
    for record in records:
        print(
            f"aihw_jax {label} epoch {record['epoch']}: "
            f"time_epoch_s {record['time_epoch']:.2f} accuracy {record['accuracy']:.4f} "
            f"train_loss {record['train_loss']:.4f} valid_loss {record['valid_loss']:.4f}",
            flush=True,
        )
    return records


def run_jax_training(
    config: str, epochs: int, seed: int, max_elements: int
) -> dict[str, Any]:
    """Train the documented network with aihw_jax and return the epoch summary."""
    rpu_config = FloatingPointRPUConfig() if config == "fp" else None
    records = train_jax(config, rpu_config, epochs, seed, max_elements)
    summary = summarize_epochs(
        [record["time_epoch"] for record in records],
        [record["accuracy"] for record in records],
    )
    summary["epochs"] = records
    return summary


def run_peer(python: str, arguments: list[str]) -> dict[str, Any]:
    """Run bench/aihwkit_peer.py with ``python`` and return its JSON output.

    The peer's stdout is echoed with an ``aihwkit:`` prefix, and its stderr
    goes straight to this process's stderr.
    """
    with tempfile.TemporaryDirectory(prefix="aihw_bench_") as folder:
        json_path = Path(folder) / "peer.json"
        command = [python, str(PEER_SCRIPT), *arguments, "--json", str(json_path)]
        print("$ " + " ".join(command), flush=True)
        completed = subprocess.run(
            command, stdout=subprocess.PIPE, text=True, check=False
        )
        for line in completed.stdout.splitlines():
            print(f"aihwkit: {line}", flush=True)
        if completed.returncode != 0:
            raise RuntimeError(
                f"aihwkit peer failed with exit code {completed.returncode}: "
                f"{' '.join(command)}. Its error output is printed above."
            )
        return json.loads(json_path.read_text(encoding="utf-8"))


def run_peer_training(
    python: str,
    config: str,
    epochs: int,
    seed: int,
    max_batches: int | None,
    threads: int,
) -> dict[str, Any]:
    """Train the documented network with aihwkit and return the epoch summary.

    An aihwkit epoch time is its training time plus its evaluation time, so
    that it covers the same work as aihw_jax's ``time_epoch``.
    """
    arguments = ["--config", config]
    arguments += peer_training_arguments(epochs, seed, max_batches, threads)
    output = run_peer(python, arguments)
    records = output["epochs"]
    summary = summarize_epochs(
        [peer_epoch_seconds(record) for record in records],
        [record["accuracy"] for record in records],
    )
    summary["peer_output"] = output
    return summary


def peer_training_arguments(
    epochs: int, seed: int, max_batches: int | None, threads: int
) -> list[str]:
    """Build the bench/aihwkit_peer.py arguments shared by all training runs."""
    arguments = [
        "--epochs",
        str(epochs),
        "--seed",
        str(seed),
        "--threads",
        str(threads),
    ]
    if max_batches is not None:
        arguments += ["--max-batches", str(max_batches)]
    return arguments


def peer_epoch_seconds(record: dict[str, Any]) -> float:
    """Return the seconds of one aihwkit epoch: training plus evaluation."""
    return record["time_train_s"] + record["time_eval_s"]


def read_peer_presets(python: str) -> list[str]:
    """Return the preset names that bench/aihwkit_peer.py accepts with ``python``."""
    completed = subprocess.run(
        [python, str(PEER_SCRIPT), "--list-presets"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"aihwkit peer {python} failed to list its presets with exit code "
            f"{completed.returncode}. Its error output is printed above."
        )
    return completed.stdout.split()


# Presets.


def summarize_preset_epochs(
    times_s: list[float], accuracies: list[float], first_epoch_compiles: bool
) -> dict[str, Any]:
    """Summarize the epoch times and accuracies of one preset run.

    With ``first_epoch_compiles`` (aihw_jax), the steady state is the median
    of epochs 2..N, or ``None`` after one epoch, and the compile overhead is
    estimated as epoch 1 minus that median. Otherwise (aihwkit, which does
    not compile) it is the median of all epochs.
    """
    summary: dict[str, Any] = {"epoch_times_s": times_s, "accuracies": accuracies}
    if not first_epoch_compiles:
        summary["steady_epoch_s"] = statistics.median(times_s)
        return summary
    steady_s = statistics.median(times_s[1:]) if len(times_s) > 1 else None
    summary["steady_epoch_s"] = steady_s
    # An estimate: it assumes that epoch 1 would take the steady-state time
    # without compilation.
    summary["first_epoch_overhead_s"] = (
        None if steady_s is None else times_s[0] - steady_s
    )
    return summary


def run_jax_preset(
    name: str, epochs: int, seed: int, max_elements: int
) -> dict[str, Any]:
    """Train the documented network with every analog layer on preset ``name``."""
    rpu_config = getattr(preset_configs, name)()
    records = train_jax(name, rpu_config, epochs, seed, max_elements)
    summary = summarize_preset_epochs(
        [record["time_epoch"] for record in records],
        [record["accuracy"] for record in records],
        first_epoch_compiles=True,
    )
    summary["epochs"] = records
    return summary


def run_peer_preset(
    python: str,
    name: str,
    epochs: int,
    seed: int,
    max_batches: int | None,
    threads: int,
) -> dict[str, Any]:
    """Train the documented network with aihwkit's preset ``name`` on every layer."""
    arguments = ["--presets", name]
    arguments += peer_training_arguments(epochs, seed, max_batches, threads)
    output = run_peer(python, arguments)
    (run,) = output["presets"]
    records = run["epochs"]
    summary = summarize_preset_epochs(
        [peer_epoch_seconds(record) for record in records],
        [record["accuracy"] for record in records],
        first_epoch_compiles=False,
    )
    summary["peer_output"] = output
    return summary


def measure_presets(
    args: argparse.Namespace,
    log: MeasurementLog,
    max_elements: int,
    max_batches: int | None,
) -> dict[str, dict[str, Any]]:
    """Train each ``--presets`` name, aihwkit first where there is a peer.

    Returns ``{"aihw_jax": {name: summary}, "aihwkit": {name: summary}}``,
    the second only with ``--peer``.
    """
    results: dict[str, dict[str, Any]] = {"aihw_jax": {}}
    if args.peer is not None:
        results["aihwkit"] = {}
    for name in args.presets:
        if args.peer is not None:
            results["aihwkit"][name] = log.run(
                f"aihwkit {name} training",
                lambda name=name: run_peer_preset(
                    args.peer,
                    name,
                    args.preset_epochs,
                    args.seed,
                    max_batches,
                    args.peer_threads,
                ),
            )
        results["aihw_jax"][name] = log.run(
            f"aihw_jax {name} training",
            lambda name=name: run_jax_preset(
                name, args.preset_epochs, args.seed, max_elements
            ),
        )
    return results


def check_peer_presets(python: str, names: list[str]) -> None:
    """Raise SystemExit before any training if the peer lacks one of ``names``."""
    peer_names = read_peer_presets(python)
    missing = [name for name in names if name not in peer_names]
    if missing:
        raise SystemExit(
            f"error: invalid --presets {', '.join(missing)}: the aihwkit peer "
            f"{python} does not have them. Choose from: {', '.join(peer_names)}"
        )


# Tiles.


def time_calls(call: Callable[[], jax.Array], calls: int) -> tuple[float, float]:
    """Time ``call`` and return (median µs of the timed calls, first call in s).

    The first of ``TILE_WARMUP_CALLS`` untimed calls includes the JIT
    compilation. Every call waits for its result with ``block_until_ready``.
    """
    start = time.perf_counter()
    call().block_until_ready()
    first_call_s = time.perf_counter() - start
    for _ in range(TILE_WARMUP_CALLS - 1):
        call().block_until_ready()
    durations = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        call().block_until_ready()
        durations.append((time.perf_counter_ns() - start) / 1000.0)
    return statistics.median(durations), first_call_s


def time_with_keys(
    function: Callable[[jax.Array, jax.Array], jax.Array],
    weight: jax.Array,
    key: jax.Array,
    calls: int,
    carry_weight: bool,
) -> tuple[float, float]:
    """Time ``function(weight, key)`` with a fresh key per call.

    The keys are split before the timing starts. With ``carry_weight`` each
    call gets the weights that the previous call returned, as repeated
    updates of one tile do.
    """
    keys = list(jax.random.split(key, TILE_WARMUP_CALLS + calls))
    state = {"weight": weight, "index": 0}

    def call() -> jax.Array:
        output = function(state["weight"], keys[state["index"]])
        state["index"] += 1
        if carry_weight:
            state["weight"] = output
        return output

    return time_calls(call, calls)


def run_jax_tiles(calls: int, learning_rate: float, seed: int) -> list[dict[str, Any]]:
    """Time the aihw_jax tile forward and pulsed update beside ``jnp.dot``.

    Inputs x are uniform in [-1, 1] and errors d uniform in [-scale, scale]
    for each scale of ``TILE_D_SCALES``. The analog tile uses the forward
    periphery of ``SingleRPUConfig()`` and a ``ConstantStepDevice`` with
    ``UpdateParameters()``.
    """
    x_key, d_key, weight_key, device_key, op_key = jax.random.split(
        jax.random.key(seed), 5
    )
    x = jax.random.uniform(x_key, (TILE_BATCH, TILE_SIZE), minval=-1.0, maxval=1.0)
    unit_d = jax.random.uniform(d_key, (TILE_BATCH, TILE_SIZE), minval=-1.0, maxval=1.0)
    weight = jax.random.uniform(
        weight_key,
        (TILE_SIZE, TILE_SIZE),
        minval=-TILE_WEIGHT_SCALE,
        maxval=TILE_WEIGHT_SCALE,
    )
    io = SingleRPUConfig().forward
    device = ConstantStepDevice()
    update_params = UpdateParameters()
    device_state = devices.init(device_key, (TILE_SIZE, TILE_SIZE), device)

    results: list[dict[str, Any]] = []

    def record(op: str, d_scale: float | None, timing: tuple[float, float]) -> None:
        median_us, first_call_s = timing
        results.append(
            {
                "op": op,
                "d_scale": d_scale,
                "median_us": median_us,
                "first_call_s": first_call_s,
            }
        )
        scale_text = "" if d_scale is None else f" d_scale {d_scale:g}"
        print(
            f"{op}{scale_text} median_us {median_us:.1f} (first call {first_call_s:.2f} s)",
            flush=True,
        )

    # The operands are jit arguments, not closure constants, so that XLA
    # cannot fold the products at compile time.
    dot_forward = jax.jit(lambda w, inputs: jnp.dot(inputs, w.T))
    record("jnp_dot_forward", None, time_calls(lambda: dot_forward(weight, x), calls))

    dot_update = jax.jit(
        lambda w, inputs, errors: w - learning_rate * jnp.dot(errors.T, inputs)
    )
    for scale in TILE_D_SCALES:
        d = unit_d * scale
        timing = time_with_keys(
            lambda w, _key, d=d: dot_update(w, x, d),
            weight,
            op_key,
            calls,
            carry_weight=True,
        )
        record("jnp_dot_update", scale, timing)

    analog_forward = jax.jit(lambda w, inputs, key: forward(w, inputs, io, key=key))
    timing = time_with_keys(
        lambda w, key: analog_forward(w, x, key),
        weight,
        op_key,
        calls,
        carry_weight=False,
    )
    record("analog_forward", None, timing)

    for method in ("sequential", "summed"):
        update = jax.jit(
            lambda w, s, inputs, errors, key, method=method: pulsed_update(
                w,
                s,
                inputs,
                errors,
                learning_rate,
                device,
                update_params,
                key=key,
                method=method,
            )
        )
        for scale in TILE_D_SCALES:
            d = unit_d * scale
            timing = time_with_keys(
                lambda w, key, d=d, update=update: update(w, device_state, x, d, key),
                weight,
                op_key,
                calls,
                carry_weight=True,
            )
            record(f"pulsed_update_{method}", scale, timing)
    return results


def find_tile_result(
    results: list[dict[str, Any]], op: str, d_scale: float | None
) -> float:
    """Return the median µs of ``op`` at ``d_scale`` from a list of tile results."""
    for entry in results:
        if entry["op"] == op and entry["d_scale"] == d_scale:
            return entry["median_us"]
    raise KeyError(f"tile result {op!r} with d_scale {d_scale} not found")


# Summary.


def training_rows(training: dict[str, Any]) -> list[dict[str, Any]]:
    """Build one summary row per configuration, with speed-ups where the peer ran."""
    rows = []
    targets = {"analog": TARGET_ANALOG_SPEEDUP, "fp": TARGET_FP_SPEEDUP}
    for config in CONFIGS:
        jax_summary = training["aihw_jax"][config]
        row = {
            "config": config,
            "aihw_jax_steady_epoch_s": jax_summary["steady_epoch_s"],
            "aihw_jax_first_epoch_overhead_s": jax_summary["first_epoch_overhead_s"],
            "aihw_jax_accuracies": jax_summary["accuracies"],
            "target_speedup": targets[config],
        }
        peer_summary = training.get("aihwkit", {}).get(config)
        if peer_summary is not None:
            speedup = peer_summary["steady_epoch_s"] / jax_summary["steady_epoch_s"]
            row.update(
                {
                    "aihwkit_steady_epoch_s": peer_summary["steady_epoch_s"],
                    "aihwkit_accuracies": peer_summary["accuracies"],
                    "speedup": speedup,
                    "target_met": speedup >= targets[config],
                }
            )
        rows.append(row)
    return rows


def tile_rows(
    jax_tiles: list[dict[str, Any]], peer_tiles: dict[str, Any] | None
) -> list[dict]:
    """Build one summary row per tile operation with its ratios.

    ``ratio_to_dot`` is the operation's time over the plain product of the
    same shapes in the same library (``jnp.dot`` for aihw_jax, torch for
    aihwkit). ``speedup`` is aihwkit's time over aihw_jax's.
    """
    peer_results = peer_tiles["results"] if peer_tiles is not None else None
    cases = [
        (
            "analog_forward",
            "jnp_dot_forward",
            "constant_step_forward",
            "torch_forward",
            None,
        )
    ]
    for method in ("sequential", "summed"):
        for scale in TILE_D_SCALES:
            cases.append(
                (
                    f"pulsed_update_{method}",
                    "jnp_dot_update",
                    "constant_step_update",
                    "torch_update",
                    scale,
                )
            )
    rows = []
    for op, dot_op, peer_op, torch_op, scale in cases:
        jax_us = find_tile_result(jax_tiles, op, scale)
        dot_us = find_tile_result(jax_tiles, dot_op, scale)
        row = {
            "op": op,
            "d_scale": scale,
            "aihw_jax_us": jax_us,
            "jnp_dot_us": dot_us,
            "ratio_to_dot": jax_us / dot_us,
        }
        if peer_results is not None:
            peer_us = find_tile_result(peer_results, peer_op, scale)
            torch_us = find_tile_result(peer_results, torch_op, scale)
            row.update(
                {
                    "aihwkit_us": peer_us,
                    "torch_us": torch_us,
                    "aihwkit_ratio_to_torch": peer_us / torch_us,
                    "speedup": peer_us / jax_us,
                }
            )
        rows.append(row)
    return rows


def format_accuracies(values: list[float]) -> str:
    return "/".join(f"{value:.3f}" for value in values)


def print_summary(
    training: list[dict[str, Any]], tiles: list[dict[str, Any]], subset: bool
) -> None:
    """Print the training and tile summary tables.

    ``subset`` marks a run with ``--max-elements``, whose training speed-ups
    compare different amounts of work.
    """
    print(
        "\nTraining: seconds per epoch (median of epochs 2..N), accuracy after each epoch"
    )
    if subset:
        print(
            "  NOTE: --max-elements was set. aihw_jax validated on a subset but aihwkit "
            "on the full test set, so the training speed-ups are not comparable."
        )
    for row in training:
        line = (
            f"  {row['config']:6s} aihw_jax {row['aihw_jax_steady_epoch_s']:7.2f} s/epoch "
            f"(epoch-1 overhead {row['aihw_jax_first_epoch_overhead_s']:.1f} s, "
            f"accuracy {format_accuracies(row['aihw_jax_accuracies'])})"
        )
        print(line)
        if "speedup" in row:
            verdict = "met" if row["target_met"] else "NOT met"
            print(
                f"  {'':6s} aihwkit  {row['aihwkit_steady_epoch_s']:7.2f} s/epoch "
                f"(accuracy {format_accuracies(row['aihwkit_accuracies'])}); "
                f"speed-up {row['speedup']:.2f}x, target >= {row['target_speedup']:g}x {verdict}"
            )

    print(f"\nTile {TILE_SIZE}x{TILE_SIZE}, batch {TILE_BATCH}: median µs per call")
    for row in tiles:
        scale = "" if row["d_scale"] is None else f" |d|<={row['d_scale']:g}"
        line = (
            f"  {row['op'] + scale:36s} aihw_jax {row['aihw_jax_us']:10.1f} "
            f"({row['ratio_to_dot']:.1f}x jnp.dot {row['jnp_dot_us']:.1f})"
        )
        if "speedup" in row:
            line += (
                f"  aihwkit {row['aihwkit_us']:10.1f} "
                f"({row['aihwkit_ratio_to_torch']:.1f}x torch {row['torch_us']:.1f})"
                f"  speed-up {row['speedup']:.2f}x"
            )
        print(line)


def preset_rows(
    results: dict[str, dict[str, Any]], names: list[str]
) -> list[dict[str, Any]]:
    """Build one summary row per preset, with the speed-up where the peer ran.

    The speed-up is aihwkit's steady-state epoch time over aihw_jax's, and
    ``None`` when aihw_jax trained a single epoch.
    """
    rows = []
    for name in names:
        jax_summary = results["aihw_jax"][name]
        row: dict[str, Any] = {
            "preset": name,
            "aihw_jax_accuracies": jax_summary["accuracies"],
            "aihw_jax_epoch_times_s": jax_summary["epoch_times_s"],
            "aihw_jax_steady_epoch_s": jax_summary["steady_epoch_s"],
            "aihw_jax_first_epoch_overhead_s": jax_summary["first_epoch_overhead_s"],
        }
        peer_summary = results.get("aihwkit", {}).get(name)
        if peer_summary is not None:
            jax_steady_s = jax_summary["steady_epoch_s"]
            speedup = (
                None
                if jax_steady_s is None
                else peer_summary["steady_epoch_s"] / jax_steady_s
            )
            row.update(
                {
                    "aihwkit_accuracies": peer_summary["accuracies"],
                    "aihwkit_epoch_times_s": peer_summary["epoch_times_s"],
                    "aihwkit_steady_epoch_s": peer_summary["steady_epoch_s"],
                    "speedup": speedup,
                }
            )
        rows.append(row)
    return rows


def format_optional(value: float | None, suffix: str = "") -> str:
    """Format a time or ratio with two decimals, or ``n/a`` for ``None``."""
    return "n/a" if value is None else f"{value:.2f}{suffix}"


def print_preset_summary(rows: list[dict[str, Any]], subset: bool) -> None:
    """Print one table line per preset: accuracies, seconds per epoch, speed-up.

    ``subset`` marks a run with ``--max-elements``, as in ``print_summary``.
    """
    print(
        "\nPresets: test accuracy after each epoch and seconds per epoch. The "
        "seconds are the median of epochs 2..N for aihw_jax, because epoch 1 "
        "compiles, and the median of all epochs for aihwkit."
    )
    print(
        "  n/a marks a value that was not measured: aihwkit without --peer, "
        "aihw_jax's time per epoch after a single epoch."
    )
    if subset:
        print(
            "  NOTE: --max-elements was set. aihw_jax validated on a subset but aihwkit "
            "on the full test set, so the speed-ups are not comparable."
        )
    header = (
        "preset",
        "aihwkit accuracy",
        "aihw_jax accuracy",
        "aihwkit s/epoch",
        "aihw_jax s/epoch",
        "speed-up",
        "aihw_jax compile s (estimate)",
    )
    lines = [header]
    for row in rows:
        peer_accuracies = row.get("aihwkit_accuracies")
        lines.append(
            (
                row["preset"],
                "n/a"
                if peer_accuracies is None
                else format_accuracies(peer_accuracies),
                format_accuracies(row["aihw_jax_accuracies"]),
                format_optional(row.get("aihwkit_steady_epoch_s")),
                format_optional(row["aihw_jax_steady_epoch_s"]),
                format_optional(row.get("speedup"), "x"),
                format_optional(row["aihw_jax_first_epoch_overhead_s"]),
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    for line in lines:
        # The preset name is left-aligned and the numbers right-aligned.
        cells = [line[0].ljust(widths[0])]
        cells += [
            cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)
        ]
        print("  " + "  ".join(cells))


# Command line.


def positive_int(text: str) -> int:
    """Parse a command-line integer that must be at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {value}, expected >= 1")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=3,
        help="training epochs per configuration, at least 2 because epoch 1 "
        "includes the JIT compilation (default: 3)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of training and tile inputs (default: 0)",
    )

    parser.add_argument(
        "--max-elements",
        type=positive_int,
        default=None,
        help="train aihw_jax on this many training samples and validate on this "
        "many test samples, and train aihwkit on ceil(N / 64) batches, for a quick "
        "smoke run; aihwkit still evaluates the full test set (default: all data)",
    )
    parser.add_argument(
        "--tile-calls",
        type=positive_int,
        default=30,
        help="timed calls per tile operation, after "
        f"{TILE_WARMUP_CALLS} untimed calls (default: 30)",
    )
    parser.add_argument(
        "--tile-learning-rate",
        type=float,
        default=TILE_LEARNING_RATE,
        help=f"learning rate of the tile updates (default: {TILE_LEARNING_RATE})",
    )

    parser.add_argument(
        "--peer",
        default=os.environ.get(PEER_ENVIRONMENT_VARIABLE),
        help="Python interpreter with aihwkit 1.2.0 that runs bench/aihwkit_peer.py "
        f"beside aihw_jax (default: ${PEER_ENVIRONMENT_VARIABLE}, else no peer)",
    )
    parser.add_argument(
        "--peer-threads",
        type=positive_int,
        default=len(os.sched_getaffinity(0)),
        help="torch intra-op threads of the aihwkit peer (default: the CPUs "
        "this process may use, as nproc reports)",
    )

    parser.add_argument(
        "--presets",
        nargs="+",
        choices=PRESET_NAMES,
        default=None,
        metavar="NAME",
        help="also train the documented experiment once per named RPU-config "
        "preset of aihw_jax.simulator.presets.configs, with every analog layer on that "
        "preset, beside aihwkit's preset of the same name when --peer is given "
        f"(valid names: {', '.join(PRESET_NAMES)})",
    )
    parser.add_argument(
        "--preset-epochs",
        type=positive_int,
        default=2,
        help="training epochs per preset. An aihw_jax time per epoch needs at "
        "least 2, because epoch 1 includes the JIT compilation (default: 2)",
    )
    parser.add_argument(
        "--only-presets",
        action="store_true",
        help="run only the --presets training, not the default-config, "
        "floating-point and tile measurements",
    )

    parser.add_argument(
        "--json", type=Path, default=None, help="write all results to this JSON file"
    )

    args = parser.parse_args(argv)
    if args.only_presets and args.presets is None:
        parser.error(
            "--only-presets is set but --presets is missing; add --presets NAME"
        )
    if args.presets is not None:
        duplicates = sorted(
            {name for name in args.presets if args.presets.count(name) > 1}
        )
        if duplicates:
            parser.error(
                f"--presets lists {', '.join(duplicates)} more than once; "
                "give each preset once"
            )
    if not args.only_presets and args.epochs < 2:
        parser.error(
            f"invalid --epochs {args.epochs}: at least 2 are needed for a steady-state time"
        )
    if args.peer is not None and shutil.which(args.peer) is None:
        parser.error(f"--peer interpreter {args.peer!r} not found or not executable")
    return args


def measure_training(
    args: argparse.Namespace,
    log: MeasurementLog,
    max_elements: int,
    max_batches: int | None,
) -> dict[str, dict[str, Any]]:
    """Train the analog and floating-point configurations on both sides."""
    training: dict[str, dict[str, Any]] = {"aihw_jax": {}}
    if args.peer is not None:
        training["aihwkit"] = {}

    # Each aihw_jax measurement directly follows the aihwkit one of the same
    # kind, so that a slow drift in background load affects both similarly.
    for config in CONFIGS:
        if args.peer is not None:
            training["aihwkit"][config] = log.run(
                f"aihwkit {config} training",
                lambda config=config: run_peer_training(
                    args.peer,
                    config,
                    args.epochs,
                    args.seed,
                    max_batches,
                    args.peer_threads,
                ),
            )
        training["aihw_jax"][config] = log.run(
            f"aihw_jax {config} training",
            lambda config=config: run_jax_training(
                config, args.epochs, args.seed, max_elements
            ),
        )
    return training


def measure_tiles(
    args: argparse.Namespace, log: MeasurementLog
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Time the tile operations and return aihw_jax's results and the peer's output."""
    peer_tiles = None
    if args.peer is not None:
        peer_arguments = [
            "--tile",
            "--seed",
            str(args.seed),
            "--threads",
            str(args.peer_threads),
            "--tile-calls",
            str(args.tile_calls),
            "--tile-learning-rate",
            str(args.tile_learning_rate),
        ]
        peer_tiles = log.run(
            "aihwkit tile", lambda: run_peer(args.peer, peer_arguments)
        )
    jax_tiles = log.run(
        "aihw_jax tile",
        lambda: run_jax_tiles(args.tile_calls, args.tile_learning_rate, args.seed),
    )
    return jax_tiles, peer_tiles


def describe_settings(args: argparse.Namespace, max_batches: int | None) -> dict:
    """Collect the command-line settings for the JSON output."""
    return {
        "epochs": args.epochs,
        "seed": args.seed,
        "max_elements": args.max_elements,
        "peer_max_batches": max_batches,
        "peer_python": args.peer,
        "peer_threads": args.peer_threads,
        "tile_size": TILE_SIZE,
        "tile_batch": TILE_BATCH,
        "tile_learning_rate": args.tile_learning_rate,
        "tile_warmup_calls": TILE_WARMUP_CALLS,
        "tile_calls": args.tile_calls,
        "presets": args.presets,
        "preset_epochs": args.preset_epochs,
        "only_presets": args.only_presets,
        "training_batch_size": TRAINING_BATCH_SIZE,
        "training_learning_rate": TRAINING_LEARNING_RATE,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    machine = describe_machine()
    print("Machine:", json.dumps(machine, indent=2), flush=True)
    if args.peer is not None and args.presets is not None:
        check_peer_presets(args.peer, args.presets)

    log = MeasurementLog()
    max_elements = args.max_elements or 0
    max_batches = (
        None
        if args.max_elements is None
        else math.ceil(args.max_elements / TRAINING_BATCH_SIZE)
    )
    subset = args.max_elements is not None and args.peer is not None
    output: dict[str, Any] = {
        "command": [sys.executable, *sys.argv],
        "machine": machine,
        "settings": describe_settings(args, max_batches),
        "measurements": log.entries,
        # The keys of skipped measurements stay in the output, as null.
        "training": None,
        "training_summary": None,
        "tiles": None,
        "tile_summary": None,
        "presets": None,
        "preset_summary": None,
    }

    if not args.only_presets:
        training = measure_training(args, log, max_elements, max_batches)
        jax_tiles, peer_tiles = measure_tiles(args, log)
        output["training"] = training
        output["training_summary"] = training_rows(training)
        output["tiles"] = {"aihw_jax": jax_tiles, "aihwkit": peer_tiles}
        output["tile_summary"] = tile_rows(jax_tiles, peer_tiles)
        print_summary(output["training_summary"], output["tile_summary"], subset)

    if args.presets is not None:
        preset_results = measure_presets(args, log, max_elements, max_batches)
        output["presets"] = preset_results
        output["preset_summary"] = preset_rows(preset_results, args.presets)
        print_preset_summary(output["preset_summary"], subset)

    if args.json is not None:
        args.json.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
        print(f"\nWrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Benchmark IBM aihwkit 1.2.0 on the network from its documentation.

The network is the ``BasicTraining`` example of the "Using Experiments" page
of the aihwkit documentation: Flatten, AnalogLinear(784, 256), Sigmoid,
AnalogLinear(256, 128), Sigmoid, AnalogLinear(128, 10), LogSoftmax.

Run this with the Python of a separate virtual environment that has aihwkit
1.2.0 and torch installed, never with the aihw_jax environment. The script
does not import aihw_jax, so its numbers are a reference for the JAX port.

Training mode trains the network of aihwkit's BasicTraining example on
Fashion-MNIST and prints one line per epoch:

    python bench/aihwkit_peer.py --config analog --epochs 1 --seed 0

Preset mode trains the same network once per named training preset (an
RPU-config preset class of ``aihwkit.simulator.presets.configs``), with
every analog layer on the preset, in the order given:

    python bench/aihwkit_peer.py --presets TikiTakaEcRamPreset EcRamPreset --epochs 2

Tile mode times the forward pass and the pulsed update of one 512x512 tile
at batch 64 against the same operations written as plain torch matmuls:

    python bench/aihwkit_peer.py --tile

The training loop is written out by hand because ``aihwkit.experiments``
imports torchvision, and torchvision from PyPI fails to import beside the
CPU build of torch 2.13.0. The loop follows ``BasicTraining`` in aihwkit
1.2.0: shuffled batches of 64, ``NLLLoss`` and ``AnalogSGD`` with lr 0.05.
"""

import argparse
import gzip
import inspect
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

import aihwkit
import numpy as np
import torch
from aihwkit.nn import AnalogLinear, AnalogSequential
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.configs import (
    ConstantStepDevice,
    FloatingPointRPUConfig,
    SingleRPUConfig,
)
from aihwkit.simulator.presets import configs as preset_configs
from aihwkit.simulator.tiles import AnalogTile
from torch import nn

# Location of the IDX files installed by the Debian package
# dataset-fashion-mnist.
DEFAULT_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")

# Normalisation used by aihwkit's BasicTraining for Fashion-MNIST.
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3205

BATCH_SIZE = 64
LEARNING_RATE = 0.05

TILE_SIZE = 512
TILE_BATCH = 64
TILE_WARMUP_CALLS = 5
# Maximum absolute values of the error vector d in the tile update.
# The pulse count of the stochastic update grows with |d|, so its cost
# depends strongly on this scale.
TILE_D_SCALES = (1.0, 0.01)

# The training presets: the RPU-config preset classes defined in
# aihwkit.simulator.presets.configs (52 in aihwkit 1.2.0). The package also
# exports FloatingPointPreset and StandardHWATrainingPreset from its
# inference module. They are left out, as in bench/run.py, because they
# configure hardware-aware training for inference, not a pulsed update.
PRESET_NAMES = tuple(
    sorted(
        name
        for name, value in vars(preset_configs).items()
        if inspect.isclass(value)
        and name.endswith("Preset")
        and value.__module__ == preset_configs.__name__
    )
)


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip-compressed IDX file of unsigned bytes into an array."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    magic = int.from_bytes(data[0:4], "big")
    # The third byte of the magic number is the data type (0x08 = uint8)
    # and the fourth byte is the number of dimensions.
    if magic >> 8 != 0x08:
        raise ValueError(
            f"{path}: invalid IDX magic number {magic:#010x}, expected an "
            "unsigned-byte IDX file (0x0000080N)"
        )
    ndim = magic & 0xFF
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    offset = 4 + 4 * ndim
    array = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if array.size != int(np.prod(shape)):
        raise ValueError(
            f"{path}: header shape {shape} needs {int(np.prod(shape))} bytes "
            f"but the file contains {array.size}"
        )
    return array.reshape(shape)


def load_split(data_dir: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one Fashion-MNIST split as normalised float32 images and labels.

    ``prefix`` is ``train`` or ``t10k``. Images have shape [N, 1, 28, 28].
    """
    image_path = data_dir / f"{prefix}-images-idx3-ubyte.gz"
    label_path = data_dir / f"{prefix}-labels-idx1-ubyte.gz"
    for path in (image_path, label_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: install the Debian package "
                "dataset-fashion-mnist or pass --data-dir"
            )
    images = read_idx(image_path).astype(np.float32) / 255.0
    images = (images - FASHION_MNIST_MEAN) / FASHION_MNIST_STD
    labels = read_idx(label_path).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{data_dir}: {prefix} has {images.shape[0]} images but "
            f"{labels.shape[0]} labels"
        )
    return torch.from_numpy(images[:, None, :, :]), torch.from_numpy(labels)


def make_rpu_config(config: str) -> SingleRPUConfig | FloatingPointRPUConfig:
    """Return the RPU configuration for a ``--config`` value.

    ``analog`` is the configuration that ``AnalogLinear`` uses when given
    none in aihwkit 1.2.0, because ``SingleRPUConfig`` defaults to
    ``ConstantStepDevice``.
    """
    if config == "analog":
        return SingleRPUConfig(device=ConstantStepDevice())
    if config == "fp":
        return FloatingPointRPUConfig()
    raise ValueError(f"invalid config {config!r}, expected 'analog' or 'fp'")


def build_model(rpu_config) -> AnalogSequential:
    """Build the three-layer sigmoid network of aihwkit's BasicTraining.

    Every ``AnalogLinear`` layer gets the same ``rpu_config``.
    """
    return AnalogSequential(
        nn.Flatten(),
        AnalogLinear(784, 256, rpu_config=rpu_config),
        nn.Sigmoid(),
        AnalogLinear(256, 128, rpu_config=rpu_config),
        nn.Sigmoid(),
        AnalogLinear(128, 10, rpu_config=rpu_config),
        nn.LogSoftmax(dim=1),
    )


def train_epoch(
    model: AnalogSequential,
    optimizer: AnalogSGD,
    loss_function: nn.NLLLoss,
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
    max_batches: int | None,
) -> tuple[float, int]:
    """Train for one shuffled pass over the data.

    Returns the per-sample mean training loss and the number of samples
    used. The last batch is smaller when the data size is not a multiple
    of the batch size, as with a DataLoader without ``drop_last``.
    """
    model.train()
    order = torch.randperm(images.shape[0], generator=generator)
    loss_sum = 0.0
    sample_count = 0
    for batch_index, start in enumerate(range(0, images.shape[0], BATCH_SIZE)):
        if max_batches is not None and batch_index >= max_batches:
            break
        index = order[start : start + BATCH_SIZE]
        batch_images = images[index]
        batch_labels = labels[index]

        optimizer.zero_grad()
        output = model(batch_images)
        loss = loss_function(output, batch_labels)
        loss.backward()
        optimizer.step()

        loss_sum += loss.item() * batch_labels.shape[0]
        sample_count += batch_labels.shape[0]
    return loss_sum / sample_count, sample_count


def evaluate(
    model: AnalogSequential,
    loss_function: nn.NLLLoss,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
) -> tuple[float, float]:
    """Return the per-sample mean loss and the accuracy on a data set.

    Runs under ``torch.no_grad()``. aihwkit's BasicTraining evaluates
    with autograd enabled, which adds graph bookkeeping but does not
    change the outputs.
    """
    model.eval()
    loss_sum = 0.0
    correct = 0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            batch_images = images[start : start + batch_size]
            batch_labels = labels[start : start + batch_size]
            output = model(batch_images)
            loss = loss_function(output, batch_labels)
            loss_sum += loss.item() * batch_labels.shape[0]
            correct += (output.argmax(dim=1) == batch_labels).sum().item()
    return loss_sum / images.shape[0], correct / images.shape[0]


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


def describe_environment(threads: int) -> dict:
    """Collect software versions and machine facts for the JSON output."""
    return {
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "aihwkit": aihwkit.__version__,
            "numpy": np.__version__,
        },
        "machine": {
            # Same count as the nproc command: CPUs this process may run on.
            "nproc": len(os.sched_getaffinity(0)),
            "cpu_model": read_cpu_model(),
            "torch_threads": threads,
        },
    }


class Splits(NamedTuple):
    """The normalised Fashion-MNIST training and test splits."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def load_splits(data_dir: Path) -> Splits:
    """Load the training and test splits from the IDX files in ``data_dir``."""
    train_images, train_labels = load_split(data_dir, "train")
    test_images, test_labels = load_split(data_dir, "t10k")
    return Splits(train_images, train_labels, test_images, test_labels)


def train_network(
    args: argparse.Namespace, rpu_config, splits: Splits, label: str = ""
) -> list[dict]:
    """Train and evaluate the network with ``rpu_config`` for ``--epochs``.

    Seeds torch with ``--seed`` first, so that every call starts from the
    same initial weights and shuffling. Prints one line per epoch, prefixed
    with ``label`` if given, and returns one record per epoch.
    """
    torch.manual_seed(args.seed)
    # NOTE: aihwkit's C++ simulator draws pulses and noise from its own
    # random generator, which torch.manual_seed does not reach. Analog runs
    # therefore differ between runs even with the same --seed.
    generator = torch.Generator().manual_seed(args.seed)

    model = build_model(rpu_config)
    optimizer = AnalogSGD(model.parameters(), lr=LEARNING_RATE)
    optimizer.regroup_param_groups(model)
    loss_function = nn.NLLLoss()
    prefix = f"{label} " if label else ""

    epochs = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        train_loss, train_samples = train_epoch(
            model,
            optimizer,
            loss_function,
            splits.train_images,
            splits.train_labels,
            generator,
            args.max_batches,
        )
        time_train = time.perf_counter() - start

        start = time.perf_counter()
        valid_loss, accuracy = evaluate(
            model,
            loss_function,
            splits.test_images,
            splits.test_labels,
            args.eval_batch_size,
        )
        time_eval = time.perf_counter() - start

        record = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_samples": train_samples,
            "valid_loss": valid_loss,
            "accuracy": accuracy,
            "time_train_s": time_train,
            "time_eval_s": time_eval,
            "load_average_end": list(os.getloadavg()),
        }
        epochs.append(record)
        print(
            f"{prefix}epoch {epoch} train_loss {train_loss:.4f} "
            f"valid_loss {valid_loss:.4f} accuracy {accuracy:.4f} "
            f"time_train_s {time_train:.2f} time_eval_s {time_eval:.2f}",
            flush=True,
        )
    return epochs


def training_settings(args: argparse.Namespace) -> dict:
    """Return the settings shared by the training and preset modes."""
    return {
        "seed": args.seed,
        "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "eval_batch_size": args.eval_batch_size,
        "max_batches": args.max_batches,
    }


def run_training(args: argparse.Namespace) -> dict:
    """Train and evaluate the network of ``--config``, printing one line per epoch."""
    splits = load_splits(args.data_dir)
    epochs = train_network(args, make_rpu_config(args.config), splits)
    return {
        "mode": "train",
        "config": args.config,
        **training_settings(args),
        "epochs": epochs,
    }


def run_presets(args: argparse.Namespace) -> dict:
    """Train and evaluate the network once per ``--presets`` name, in order.

    Each run builds a fresh model whose analog layers all use an instance
    of the preset class, and starts from the same torch seed.
    """
    splits = load_splits(args.data_dir)
    runs = []
    for name in args.presets:
        rpu_config = getattr(preset_configs, name)()
        epochs = train_network(args, rpu_config, splits, label=name)
        runs.append({"preset": name, "epochs": epochs})
    return {"mode": "presets", **training_settings(args), "presets": runs}


def median_call_us(function, calls: int) -> float:
    """Return the median wall time of ``function()`` in microseconds.

    ``TILE_WARMUP_CALLS`` untimed calls come first.
    """
    for _ in range(TILE_WARMUP_CALLS):
        function()
    durations = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        function()
        durations.append((time.perf_counter_ns() - start) / 1000.0)
    return statistics.median(durations)


def run_tile(args: argparse.Namespace) -> dict:
    """Time forward and update of one analog tile and of plain torch ops.

    The analog tile is an ``AnalogTile`` with
    ``SingleRPUConfig(device=ConstantStepDevice())`` and learning rate
    ``--tile-learning-rate``. The torch reference computes ``x @ W.T`` for
    the forward pass and ``W -= lr * d.T @ x`` for the update. Inputs x are
    uniform in [-1, 1] and errors d are uniform in [-scale, scale].

    The update time grows with the learning rate and with |d|. With the
    default update management, aihwkit 1.2.0 draws pulse trains of length
    ceil(lr * max|x| * max|d| / dw_min), at most ``desired_bl`` = 31. On a
    2-core AMD EPYC machine, one |d| <= 1 update took about 0.33 s at
    lr 0.01 and 1.5 s at lr 0.05.
    """
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)

    def uniform(shape: tuple[int, int], scale: float) -> torch.Tensor:
        return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * scale

    x = uniform((TILE_BATCH, TILE_SIZE), 1.0)
    errors = {scale: uniform((TILE_BATCH, TILE_SIZE), scale) for scale in TILE_D_SCALES}

    tile = AnalogTile(
        TILE_SIZE, TILE_SIZE, SingleRPUConfig(device=ConstantStepDevice())
    )
    tile.set_learning_rate(args.tile_learning_rate)
    weight = uniform((TILE_SIZE, TILE_SIZE), 0.1)

    results = []

    def record(name: str, d_scale: float | None, median_us: float) -> None:
        results.append({"op": name, "d_scale": d_scale, "median_us": median_us})
        scale_text = "" if d_scale is None else f" d_scale {d_scale:g}"
        print(f"{name}{scale_text} median_us {median_us:.1f}", flush=True)

    with torch.no_grad():
        record(
            "torch_forward",
            None,
            median_call_us(
                lambda: torch.nn.functional.linear(x, weight), args.tile_calls
            ),
        )
        for scale, d in errors.items():
            record(
                "torch_update",
                scale,
                median_call_us(
                    lambda d=d: weight.addmm_(d.T, x, alpha=-args.tile_learning_rate),
                    args.tile_calls,
                ),
            )

        record(
            "constant_step_forward",
            None,
            median_call_us(lambda: tile.forward(x), args.tile_calls),
        )
        for scale, d in errors.items():
            record(
                "constant_step_update",
                scale,
                median_call_us(lambda d=d: tile.update(x, d), args.tile_calls),
            )

    return {
        "mode": "tile",
        "tile_shape": [TILE_SIZE, TILE_SIZE],
        "batch_size": TILE_BATCH,
        "learning_rate": args.tile_learning_rate,
        "warmup_calls": TILE_WARMUP_CALLS,
        "timed_calls": args.tile_calls,
        "load_average_end": list(os.getloadavg()),
        "results": results,
    }


def positive_int(text: str) -> int:
    """Parse a command-line integer that must be at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {value}, expected >= 1")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config",
        choices=("analog", "fp"),
        default="analog",
        help="RPU configuration: 'analog' is SingleRPUConfig with "
        "ConstantStepDevice, 'fp' is FloatingPointRPUConfig; not used with "
        "--presets (default: analog)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--presets",
        nargs="+",
        choices=PRESET_NAMES,
        default=None,
        metavar="NAME",
        help="train once per named RPU-config preset of "
        "aihwkit.simulator.presets.configs, in the given order, in place of --config "
        "(--list-presets prints the valid names)",
    )
    mode.add_argument(
        "--list-presets",
        action="store_true",
        help="print the valid --presets names, one per line, and exit",
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=1, help="training epochs (default: 1)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for torch weight initialisation, shuffling and tile inputs "
        "(default: 0)",
    )

    parser.add_argument(
        "--max-batches",
        type=positive_int,
        default=None,
        help="maximum training batches per epoch (default: the full training set)",
    )
    parser.add_argument(
        "--eval-batch-size",
        type=positive_int,
        default=BATCH_SIZE,
        help=f"batch size for evaluation on the test set (default: {BATCH_SIZE})",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=2,
        help="torch intra-op threads (default: 2)",
    )

    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder with the Fashion-MNIST IDX files (default: {DEFAULT_DATA_DIR})",
    )

    mode.add_argument(
        "--tile",
        action="store_true",
        help=f"time one {TILE_SIZE}x{TILE_SIZE} tile at batch {TILE_BATCH} "
        "in place of training",
    )
    parser.add_argument(
        "--tile-calls",
        type=positive_int,
        default=50,
        help="timed calls per operation in --tile mode (default: 50)",
    )
    parser.add_argument(
        "--tile-learning-rate",
        type=float,
        default=LEARNING_RATE,
        help="learning rate of the tile and of the torch update in --tile mode "
        f"(default: {LEARNING_RATE}, the training learning rate)",
    )

    parser.add_argument(
        "--json", type=Path, default=None, help="write the results to this JSON file"
    )
    args = parser.parse_args(argv)
    if args.presets is not None:
        duplicates = sorted(
            {name for name in args.presets if args.presets.count(name) > 1}
        )
        if duplicates:
            parser.error(
                f"--presets lists {', '.join(duplicates)} more than once; "
                "give each preset once"
            )
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.list_presets:
        print("\n".join(PRESET_NAMES))
        return 0
    # NOTE: torch timings are very sensitive to other load when --threads
    # equals the core count. On a 2-core machine with one core kept busy by
    # another process, the 512x512 torch forward took 16 ms, not 0.23 ms.
    torch.set_num_threads(args.threads)

    # Load averages (1, 5 and 15 minutes) show whether other work shared
    # the CPUs during the measurement.
    load_average_start = list(os.getloadavg())
    if args.tile:
        result = run_tile(args)
    elif args.presets is not None:
        result = run_presets(args)
    else:
        result = run_training(args)
    result["load_average_start"] = load_average_start
    result.update(describe_environment(args.threads))

    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

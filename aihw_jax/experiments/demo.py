"""Train aihwkit's documented 3-layer analog network on Fashion-MNIST.

Run ``python -m aihw_jax.experiments.demo --epochs 5``: the network
``Flatten, AnalogLinear(784, 256), Sigmoid, AnalogLinear(256, 128), Sigmoid,
AnalogLinear(128, 10), LogSoftmax`` with aihwkit's default analog config
(constant-step devices, pulsed updates) and BasicTraining's defaults (batch
64, NLLLoss, learning rate 0.05), printing one line per epoch.
"""

from __future__ import annotations

import argparse
import json
import sys

from aihw_jax.datasets import FashionMNIST
from aihw_jax.errors import AihwError
from aihw_jax.experiments import BasicTraining
from aihw_jax.experiments.runners import run_local
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax, Sigmoid
from aihw_jax.simulator.configs import FloatingPointRPUConfig, SingleRPUConfig

__all__ = ["documented_model", "main"]


def documented_model(rpu_config=None) -> AnalogSequential:
    """Build the 3-layer network of aihwkit's training-experiment example."""
    return AnalogSequential(
        Flatten(),
        AnalogLinear(784, 256, rpu_config=rpu_config),
        Sigmoid(),
        AnalogLinear(256, 128, rpu_config=rpu_config),
        Sigmoid(),
        AnalogLinear(128, 10, rpu_config=rpu_config),
        LogSoftmax(dim=1),
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aihw_jax.experiments.demo",
        description="Train the documented 3-layer analog network on Fashion-MNIST.",
    )
    parser.add_argument(
        "--epochs", type=int, default=5, help="epochs to train (default 5)"
    )
    parser.add_argument(
        "--config",
        choices=("analog", "fp"),
        default="analog",
        help="analog: SingleRPUConfig (default); fp: FloatingPointRPUConfig",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--max-elements",
        type=int,
        default=0,
        help="use only this many training and validation samples (default 0: all)",
    )
    parser.add_argument(
        "--device", default=None, help="'cpu' or 'gpu' (default: jax's)"
    )
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument(
        "--json", default=None, help="write the epoch results to this file"
    )
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.max_elements < 0:
        parser.error(f"--max-elements must be 0 or more, got {args.max_elements}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    args = _parse(argv)
    if args.json:
        # Fail before training, not after it, if the results cannot be saved.
        with open(args.json, "a", encoding="utf-8"):
            pass
    config = FloatingPointRPUConfig() if args.config == "fp" else SingleRPUConfig()
    experiment = BasicTraining(
        dataset=FashionMNIST, model=documented_model(config), epochs=args.epochs
    )
    print(
        f"Training the 3-layer {args.config} network on Fashion-MNIST for "
        f"{args.epochs} epoch{'s' if args.epochs != 1 else ''} (seed {args.seed}).",
        flush=True,
    )
    try:
        result = run_local(
            experiment,
            seed=args.seed,
            device=args.device,
            dataset_root=args.data_dir,
            max_elements=args.max_elements,
        )
    except AihwError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result["epochs"], handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

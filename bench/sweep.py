"""Benchmark: a sweep of learning rates in one vmapped run against one run.

Trains aihwkit's documented 3-layer network on Fashion-MNIST for two epochs,
once with ``run_local`` and once with ``run_sweep`` over ``--variations``
learning rates, and prints the steady-state seconds per epoch (epoch 2) of
both and their ratio. Run with ``.venv/bin/python bench/sweep.py``.
"""

from __future__ import annotations

import argparse
import os
import time

import jax

from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicTraining
from aihw_jax.experiments.demo import documented_model
from aihw_jax.experiments.runners import run_local, run_sweep
from aihw_jax.simulator.configs import FloatingPointRPUConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variations",
        type=int,
        default=8,
        help="number of learning rates to sweep (default 8)",
    )
    parser.add_argument("--config", choices=("analog", "fp"), default="analog")
    parser.add_argument(
        "--max-elements",
        type=int,
        default=0,
        help="training and validation samples to use (default 0: all)",
    )
    args = parser.parse_args()
    config = FloatingPointRPUConfig() if args.config == "fp" else None
    experiment = BasicTraining(
        dataset=FashionMNIST, model=documented_model(config), epochs=2
    )
    rates = [0.01 * (index + 1) for index in range(args.variations)]
    print(f"jax {jax.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()}")

    start = time.perf_counter()
    single = run_local(experiment, max_elements=args.max_elements, stdout=False)
    single_epoch = single["epochs"][1]["time_epoch"]
    print(
        f"run_local: {time.perf_counter() - start:.1f} s, epoch 2 {single_epoch:.2f} s"
    )

    start = time.perf_counter()
    swept = run_sweep(
        experiment, learning_rates=rates, max_elements=args.max_elements, stdout=False
    )
    sweep_epoch = swept[0]["epochs"][1]["time_epoch"]
    print(
        f"run_sweep ({args.variations}): {time.perf_counter() - start:.1f} s, "
        f"epoch 2 {sweep_epoch:.2f} s"
    )
    print(
        f"ratio of epoch 2: {sweep_epoch / single_epoch:.2f}x one run "
        f"for {args.variations} variations"
    )
    for rate, result in zip(rates, swept):
        accuracy = [round(epoch["accuracy"], 4) for epoch in result["epochs"]]
        print(f"  lr {rate:.2f}: accuracy {accuracy}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

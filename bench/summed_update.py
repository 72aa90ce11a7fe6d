"""Measure how far the "summed" pulsed update departs from the sequential one.

Two measurements, both printed and written as JSON with ``--json``:

* Tile: one 256x392 constant-step tile takes the same batch (same pulse
  trains) with both methods. Cycle-to-cycle noise is off, because the two
  methods draw it differently (per pulse against per batch). What remains
  is the effect of the pulse order at the bounds. The script reports the
  mean |difference| of the resulting weights relative to the mean |change|
  of the sequential update, and the fraction of cross-points that differ,
  from uniform starting weights and from weights within 2 steps of a bound.
* Training: the documented 3-layer network on Fashion-MNIST, trained with
  both methods for ``--epochs`` epochs with each of ``--seeds``; the script
  reports the test accuracy after each epoch and the seconds of the last
  epoch (epoch 1 includes compilation).

Example:

    .venv/bin/python bench/summed_update.py --epochs 2 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics

import jax
import jax.numpy as jnp
import numpy as np

from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicTraining
from aihw_jax.experiments.demo import documented_model
from aihw_jax.experiments.runners import run_local
from aihw_jax.simulator import devices
from aihw_jax.simulator.configs import ConstantStepDevice, UpdateParameters
from aihw_jax.simulator.tiles.update import pulsed_update


def tile_deviation(near_bound: bool, repeats: int = 5) -> dict[str, float]:
    """Compare both methods on one tile and one batch of 64 samples."""
    device = ConstantStepDevice(dw_min_std=0.0)
    update = UpdateParameters()
    shape = (256, 392)
    differences, changes, differing = [], [], []
    for repeat in range(repeats):
        key = jax.random.key(repeat)
        init_key, weight_key, x_key, d_key, update_key = jax.random.split(key, 5)
        state = devices.init(init_key, shape, device)
        if near_bound:
            offset = jax.random.uniform(weight_key, shape) * 2 * device.dw_min
            weight = state.w_max - offset
        else:
            weight = jax.random.uniform(weight_key, shape, minval=-0.3, maxval=0.3)
        weight = jnp.clip(weight, state.w_min, state.w_max)
        x = jax.random.uniform(x_key, (64, shape[1]), minval=-1, maxval=1)
        d = jax.random.uniform(d_key, (64, shape[0]), minval=-0.1, maxval=0.1)
        results = {
            method: pulsed_update(
                weight, state, x, d, 0.05, device, update, key=update_key, method=method
            )
            for method in ("sequential", "summed")
        }
        difference = jnp.abs(results["summed"] - results["sequential"])
        differences.append(float(jnp.mean(difference)))
        changes.append(float(jnp.mean(jnp.abs(results["sequential"] - weight))))
        differing.append(float(jnp.mean(difference > 1e-6)))
    return {
        "mean_abs_difference": statistics.mean(differences),
        "mean_abs_change": statistics.mean(changes),
        "relative_difference": statistics.mean(differences) / statistics.mean(changes),
        "fraction_differing": statistics.mean(differing),
    }


def training(epochs: int, seeds: list[int], max_elements: int) -> dict[str, list]:
    """Train the documented network with both methods; accuracies and times."""
    experiment = BasicTraining(
        dataset=FashionMNIST, model=documented_model(), epochs=epochs
    )
    results: dict[str, list] = {"sequential": [], "summed": []}
    for seed in seeds:
        for method, runs in results.items():
            run = run_local(
                experiment,
                seed=seed,
                max_elements=max_elements,
                stdout=False,
                update_method=method,
            )
            accuracies = [epoch["accuracy"] for epoch in run["epochs"]]
            seconds = run["epochs"][-1]["time_epoch"]
            runs.append({"seed": seed, "accuracy": accuracies, "last_epoch_s": seconds})
            print(
                f"seed {seed} {method:10s} accuracy "
                + " ".join(f"{a:.4f}" for a in accuracies)
                + f"  last epoch {seconds:.1f} s",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-elements", type=int, default=0)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    report = {
        "tile_uniform": tile_deviation(near_bound=False),
        "tile_near_bound": tile_deviation(near_bound=True),
    }
    for name in ("tile_uniform", "tile_near_bound"):
        row = report[name]
        print(
            f"{name}: mean |summed - sequential| {row['mean_abs_difference']:.2e} "
            f"= {row['relative_difference']:.1%} of the mean |change| "
            f"{row['mean_abs_change']:.2e}; {row['fraction_differing']:.2%} of "
            "cross-points differ",
            flush=True,
        )
    if not args.skip_training:
        report["training"] = training(args.epochs, args.seeds, args.max_elements)
        for method, runs in report["training"].items():
            final = [run["accuracy"][-1] for run in runs]
            seconds = [run["last_epoch_s"] for run in runs]
            print(
                f"{method:10s} final accuracy {np.mean(final):.4f} +- "
                f"{np.std(final):.4f}, last epoch {np.median(seconds):.1f} s (median)"
            )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()

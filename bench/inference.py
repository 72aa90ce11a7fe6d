"""Time drift-inference studies: all repeats in one vmapped call against one by one.

The network is the documented 3-layer one with ``InferenceRPUConfig``
layers (PCM-like noise, global drift compensation) and freshly initialised
weights. The time does not depend on the weight values. ``BasicInferencing``
evaluates the 10000 test images at 10 time points per repeat. The script
times:

* ``--repeats`` repeats in one ``run_inference_local`` call (vmapped over
  repeats and time points), after a warm-up call that compiles;
* the same repeats as separate calls with one repeat each (compiled once);
* the time of one repeat alone, the unit of the 3x target.

Example:

    .venv/bin/python bench/inference.py --repeats 16
"""

from __future__ import annotations

import argparse
import json
import time

from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicInferencing
from aihw_jax.experiments.demo import documented_model
from aihw_jax.experiments.runners import run_inference_local
from aihw_jax.simulator.configs import InferenceRPUConfig


def _timed(experiment, seed: int) -> float:
    start = time.perf_counter()
    run_inference_local(experiment, seed=seed, stdout=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=16)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    model = documented_model(InferenceRPUConfig())
    study = BasicInferencing(
        dataset=FashionMNIST, model=model, inference_repeats=args.repeats
    )
    single_study = study.replace(inference_repeats=1)

    warm_many = _timed(study, seed=100)
    together = _timed(study, seed=0)
    warm_one = _timed(single_study, seed=100)
    single = [_timed(single_study, seed=seed) for seed in range(args.repeats)]
    report = {
        "repeats": args.repeats,
        "time_points": 10,
        "test_images": 10000,
        "vmapped_call_s": together,
        "vmapped_first_call_s": warm_many,
        "one_repeat_s": min(single),
        "one_repeat_first_call_s": warm_one,
        "sequential_calls_s": sum(single),
        "vmapped_over_one_repeat": together / min(single),
        "sequential_over_vmapped": sum(single) / together,
    }
    print(
        f"{args.repeats} repeats x 10 times in one call: {together:.1f} s "
        f"(first call {warm_many:.1f} s); one repeat: {min(single):.2f} s; "
        f"{args.repeats} one-repeat calls: {sum(single):.1f} s. The vmapped call "
        f"costs {together / min(single):.1f}x one repeat."
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()

"""Train variations of one experiment as one vmapped, jitted computation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aihw_jax import serialization
from aihw_jax.errors import ConfigError
from aihw_jax.experiments import _steps
from aihw_jax.experiments._training import BasicTraining
from aihw_jax.experiments.runners._local import (
    STEPS_PER_CALL,
    _batches,
    _check_outputs,
    _load,
    eval_batches,
    resolve_device,
)
from aihw_jax.optim import AnalogSGD

__all__ = ["run_sweep"]


def _variations(
    learning_rates: Sequence[float] | None, seeds: Sequence[int] | None, default: float
) -> tuple[list[float], list[int]]:
    rates = list(learning_rates) if learning_rates is not None else None
    seed_list = list(seeds) if seeds is not None else None
    if rates is None and seed_list is None:
        raise ConfigError("run_sweep needs `learning_rates` or `seeds` (or both).")
    count = len(rates) if rates is not None else len(seed_list)
    rates = rates if rates is not None else [default] * count
    seed_list = seed_list if seed_list is not None else [0] * count
    if len(rates) != len(seed_list) or count == 0:
        raise ConfigError(
            f"`learning_rates` ({len(rates)}) and `seeds` ({len(seed_list)}) must "
            "have the same, non-zero length."
        )
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise ConfigError(
                f"Every learning rate must be a number > 0, got {rate!r}."
            )
    for seed in seed_list:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise ConfigError(
                f"Every seed must be an integer in [0, 2**32), got {seed!r}."
            )
    return [float(rate) for rate in rates], seed_list


def run_sweep(
    experiment: BasicTraining,
    *,
    learning_rates: Sequence[float] | None = None,
    seeds: Sequence[int] | None = None,
    device: Any = None,
    dataset_root: Any = None,
    max_elements: int = 0,
    stdout: bool = True,
) -> list[dict[str, Any]]:
    """Run variations of a training experiment together, under one ``jax.vmap``.

    Variation ``i`` trains with ``learning_rates[i]`` and ``seeds[i]`` (a
    missing list repeats the experiment's learning rate or seed 0). It uses
    the same keys, shuffling and initial variables as ``run_local`` with that
    seed and learning rate. Its result therefore matches that run up to
    floating-point rounding. The batched products may round differently, and
    a stochastic decision taken at a rounding boundary can then differ.

    Args:
        experiment: the experiment whose variations are trained.
        learning_rates: one learning rate per variation.
        seeds: one seed per variation.
        device: ``None``, ``"cpu"``, ``"gpu"`` or a jax Device.
        dataset_root: data directory of the data set.
        max_elements: if > 0, use only this many training and validation samples.
        stdout: print one line per epoch with every variation's accuracy.

    Returns:
        One dict per variation, as ``run_local`` returns, with its
        ``learning_rate`` and ``seed`` added.
    """
    if not isinstance(experiment, BasicTraining):
        raise ConfigError(
            f"run_sweep expects a BasicTraining, got {type(experiment).__name__}."
        )
    rates, seed_list = _variations(
        learning_rates, seeds, float(experiment.learning_rate)
    )
    with jax.default_device(resolve_device(device)):
        return _sweep(experiment, rates, seed_list, dataset_root, max_elements, stdout)


def _sweep(experiment, rates, seed_list, dataset_root, max_elements, stdout):
    (train_x, train_y), (test_x, test_y) = _load(experiment, dataset_root, max_elements)
    root_keys = jnp.stack([jax.random.key_data(jax.random.key(s)) for s in seed_list])
    root_keys = jax.random.wrap_key_data(root_keys)
    split = jax.vmap(lambda k: jax.random.split(k, 3))(root_keys)
    init_keys, train_keys, eval_keys = split[:, 0], split[:, 1], split[:, 2]
    variables = jax.vmap(experiment.init_variables)(init_keys)
    _check_outputs(experiment, jax.tree.map(lambda a: a[0], variables), train_x[:1])

    states = jax.vmap(AnalogSGD(lr=1.0).init)(variables)
    carries = (variables, states)
    loss = experiment.loss
    sweep_chunk = _steps.make_sweep_train_chunk(experiment.model, loss)
    eval_chunk = jax.jit(
        jax.vmap(
            _steps.make_eval_chunk(experiment.model, loss),
            in_axes=(0, None, None, None, 0),
        )
    )

    rngs = [np.random.default_rng(seed) for seed in seed_list]
    learning_rates = jnp.asarray(rates, jnp.float32)
    results = [
        {"epochs": [], "learning_rate": r, "seed": s} for r, s in zip(rates, seed_list)
    ]
    for epoch in range(1, experiment.epochs + 1):
        start = time.perf_counter()
        epoch_keys = jax.vmap(lambda k, e=epoch: jax.random.fold_in(k, e))(train_keys)
        carries, train_losses = _train_epoch(
            sweep_chunk,
            carries,
            train_x,
            train_y,
            experiment,
            rngs,
            epoch_keys,
            learning_rates,
        )
        valid_losses, accuracies = _evaluate(
            eval_chunk,
            carries[0],
            test_x,
            test_y,
            jax.vmap(lambda k, e=epoch: jax.random.fold_in(k, e))(eval_keys),
        )
        elapsed = time.perf_counter() - start
        for index, result in enumerate(results):
            result["epochs"].append(
                {
                    "epoch": epoch,
                    "accuracy": float(accuracies[index]),
                    "train_loss": float(train_losses[index]),
                    "valid_loss": float(valid_losses[index]),
                    "time_epoch": elapsed,
                }
            )
        if stdout:
            accuracy_text = " ".join(f"{float(a):.4f}" for a in accuracies)
            print(
                f"Epoch {epoch}/{experiment.epochs}: accuracies {accuracy_text}  "
                f"time {elapsed:.1f}s",
                flush=True,
            )

    for index, result in enumerate(results):
        trained = jax.tree.map(lambda a, i=index: a[i], carries[0])
        result["weights"] = serialization.variables_to_bytes(trained)
    return results


def _train_epoch(sweep_chunk, carries, images, labels, experiment, rngs, keys, rates):
    orders, masks = zip(
        *(_batches(images.shape[0], experiment.batch_size, rng) for rng in rngs)
    )
    orders = np.stack(orders)
    mask = masks[0]
    steps = mask.shape[0]
    length = min(STEPS_PER_CALL, steps)
    loss_sums = np.zeros(len(rngs))
    for index, first in enumerate(range(0, steps, length)):
        stop = min(first + length, steps)
        chunk_order = np.zeros((len(rngs), length, experiment.batch_size), np.int32)
        chunk_mask = np.zeros((length, experiment.batch_size), np.float32)
        chunk_order[:, : stop - first] = orders[:, first:stop]
        chunk_mask[: stop - first] = mask[first:stop]
        chunk_keys = jax.vmap(lambda k, i=index: jax.random.fold_in(k, i))(keys)
        carries, losses = sweep_chunk(
            carries,
            images,
            labels,
            jnp.asarray(chunk_order),
            jnp.asarray(chunk_mask),
            chunk_keys,
            rates,
        )
        loss_sums += np.asarray(jnp.sum(losses, axis=1))
    return carries, loss_sums / images.shape[0]


def _evaluate(eval_chunk, variables, images, labels, keys):
    loss_sums = 0.0
    correct = 0.0
    for index, x, y, mask in eval_batches(images, labels):
        batch_keys = jax.vmap(lambda k, i=index: jax.random.fold_in(k, i))(keys)
        batch_loss, batch_correct = eval_chunk(variables, x, y, mask, batch_keys)
        loss_sums = loss_sums + np.asarray(batch_loss)
        correct = correct + np.asarray(batch_correct)
    count = images.shape[0]
    return loss_sums / count, correct / count

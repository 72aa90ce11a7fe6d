"""Train variations of one experiment as one vmapped, jitted computation."""

from __future__ import annotations

import logging
import math
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
from aihw_jax.nn import (
    AnalogConv2d,
    AnalogLinear,
    AnalogSequential,
    iter_analog_layers,
)
from aihw_jax.optim import AnalogSGD
from aihw_jax.simulator.configs import SingleRPUConfig
from aihw_jax.utils.progress import progress_bar, write_summary

__all__ = ["run_sweep"]

logger = logging.getLogger(__name__)


def _variations(
    learning_rates: Sequence[float] | None,
    seeds: Sequence[int] | None,
    default: float,
    config_values: dict[str, Sequence[float]],
) -> tuple[list[float], list[int]]:
    rates = list(learning_rates) if learning_rates is not None else None
    seed_list = list(seeds) if seeds is not None else None
    lengths = {f"config_values[{path!r}]": len(v) for path, v in config_values.items()}
    if rates is not None:
        lengths["learning_rates"] = len(rates)
    if seed_list is not None:
        lengths["seeds"] = len(seed_list)
    if not lengths:
        raise ConfigError(
            "run_sweep needs `learning_rates`, `seeds` or `config_values` to vary."
        )
    count = next(iter(lengths.values()))
    if count == 0 or any(length != count for length in lengths.values()):
        given = ", ".join(f"{name} ({length})" for name, length in lengths.items())
        raise ConfigError(f"{given} must have the same, non-zero length.")
    rates = rates if rates is not None else [default] * count
    seed_list = seed_list if seed_list is not None else [0] * count
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
    config_values: dict[str, Sequence[float]] | None = None,
    device: Any = None,
    dataset_root: Any = None,
    max_elements: int = 0,
    stdout: bool = True,
) -> list[dict[str, Any]]:
    """Run variations of a training experiment together, under one ``jax.vmap``.

    Variation ``i`` trains with ``learning_rates[i]``, ``seeds[i]`` and, for
    every entry of ``config_values``, that field of every analog layer's
    RPU config set to its ``i``-th value (a missing list repeats the
    experiment's learning rate, seed 0 or the config's value). It uses the
    same keys, shuffling and initial variables as ``run_local`` with that
    seed, learning rate and config. Its result therefore matches that run up
    to floating-point rounding. The batched products may round differently,
    and a stochastic decision taken at a rounding boundary can then differ.

    Args:
        experiment: the experiment whose variations are trained.
        learning_rates: one learning rate per variation.
        seeds: one seed per variation.
        config_values: values of RPU-config fields by dotted path, e.g.
            ``{"device.dw_min": [0.001, 0.002]}`` or, for a compound,
            ``{"device.unit_cell_devices.0.dw_min": [...]}``. Only numeric
            fields (pytree leaves) can vary; flags and sizes are static.
        device: ``None``, ``"cpu"``, ``"gpu"`` or a jax Device.
        dataset_root: data directory of the data set.
        max_elements: if > 0, use only this many training and validation samples.
        stdout: show a progress bar of the batches on stderr and write one
            line per epoch with every variation's accuracy to stdout. The
            epoch lines are also logged at INFO level either way.

    Returns:
        One dict per variation, as ``run_local`` returns, with its
        ``learning_rate`` and ``seed`` added.
    """
    if not isinstance(experiment, BasicTraining):
        raise ConfigError(
            f"run_sweep expects a BasicTraining, got {type(experiment).__name__}."
        )
    config_values = dict(config_values or {})
    rates, seed_list = _variations(
        learning_rates, seeds, float(experiment.learning_rate), config_values
    )
    values = _check_config_values(experiment.model, config_values)
    with jax.default_device(resolve_device(device)):
        return _sweep(
            experiment, rates, seed_list, values, dataset_root, max_elements, stdout
        )


def _sweep(experiment, rates, seed_list, values, dataset_root, max_elements, stdout):
    (train_x, train_y), (test_x, test_y) = _load(experiment, dataset_root, max_elements)
    root_keys = jnp.stack([jax.random.key_data(jax.random.key(s)) for s in seed_list])
    root_keys = jax.random.wrap_key_data(root_keys)
    split = jax.vmap(lambda k: jax.random.split(k, 3))(root_keys)
    init_keys, train_keys, eval_keys = split[:, 0], split[:, 1], split[:, 2]

    def build(value_row):
        return with_config_values(experiment.model, value_row)

    def init(key, value_row):
        return experiment.replace(model=build(value_row)).init_variables(key)

    variables = jax.jit(jax.vmap(init))(init_keys, values)
    _check_outputs(experiment, jax.tree.map(lambda a: a[0], variables), train_x[:1])

    states = jax.vmap(AnalogSGD(lr=1.0).init)(variables)
    loss = experiment.loss
    learning_rates = jnp.asarray(rates, jnp.float32)
    sample_args = (
        train_x,
        train_y,
        jnp.zeros((len(rates), 1, experiment.batch_size), jnp.int32),
        jnp.zeros((1, experiment.batch_size), jnp.float32),
        train_keys,
        learning_rates,
        values,
    )
    carry_axes, carries = _steps.shared_carry_axes(
        build, loss, (variables, states), sample_args
    )
    sweep_chunk = _steps.make_sweep_train_chunk(build, loss, "sequential", carry_axes)

    def evaluate_one(variables, images, labels, mask, key, value_row):
        chunk = _steps.make_eval_chunk(build(value_row), loss)
        return chunk(variables, images, labels, mask, key)

    eval_chunk = jax.jit(
        jax.vmap(evaluate_one, in_axes=(carry_axes[0], None, None, None, 0, 0)),
    )

    rngs = [np.random.default_rng(seed) for seed in seed_list]
    results = [
        {"epochs": [], "learning_rate": r, "seed": s} for r, s in zip(rates, seed_list)
    ]
    for path, column in values.items():
        for result, value in zip(results, np.asarray(column)):
            result.setdefault("config_values", {})[path] = float(value)
    for epoch in range(1, experiment.epochs + 1):
        start = time.perf_counter()
        epoch_keys = jax.vmap(lambda k, e=epoch: jax.random.fold_in(k, e))(train_keys)
        steps = math.ceil(train_x.shape[0] / experiment.batch_size)
        with progress_bar(
            stdout, total=steps, desc=f"Epoch {epoch}/{experiment.epochs}", unit="batch"
        ) as progress:
            carries, train_losses = _train_epoch(
                sweep_chunk,
                carries,
                train_x,
                train_y,
                experiment,
                rngs,
                epoch_keys,
                learning_rates,
                values,
                progress,
            )
        valid_losses, accuracies = _evaluate(
            eval_chunk,
            carries[0],
            test_x,
            test_y,
            jax.vmap(lambda k, e=epoch: jax.random.fold_in(k, e))(eval_keys),
            values,
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
        accuracy_text = " ".join(f"{float(a):.4f}" for a in accuracies)
        write_summary(
            logger,
            f"Epoch {epoch}/{experiment.epochs}: accuracies {accuracy_text}  "
            f"time {elapsed:.1f}s",
            stdout=stdout,
        )

    for index, result in enumerate(results):
        trained = _variation(carries[0], carry_axes[0], index)
        result["weights"] = serialization.variables_to_bytes(trained)
    return results


def _variation(tree: Any, axes: Any, index: int) -> Any:
    """Return variation ``index`` of ``tree``, whose leaves with axis ``None`` are shared."""
    leaves, treedef = jax.tree.flatten(tree)
    leaf_axes = jax.tree.leaves(axes, is_leaf=lambda axis: axis is None)
    return treedef.unflatten(
        [leaf if axis is None else leaf[index] for leaf, axis in zip(leaves, leaf_axes)]
    )


def _train_epoch(
    sweep_chunk,
    carries,
    images,
    labels,
    experiment,
    rngs,
    keys,
    rates,
    values,
    progress,
):
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
            values,
        )
        loss_sums += np.asarray(jnp.sum(losses, axis=1))
        progress.update(stop - first)
    return carries, loss_sums / images.shape[0]


def _evaluate(eval_chunk, variables, images, labels, keys, values):
    loss_sums = 0.0
    correct = 0.0
    for index, x, y, mask in eval_batches(images, labels):
        batch_keys = jax.vmap(lambda k, i=index: jax.random.fold_in(k, i))(keys)
        batch_loss, batch_correct = eval_chunk(
            variables, x, y, mask, batch_keys, values
        )
        loss_sums = loss_sums + np.asarray(batch_loss)
        correct = correct + np.asarray(batch_correct)
    count = images.shape[0]
    return loss_sums / count, correct / count


def _replace_field(config: Any, path: tuple[str, ...], value: Any) -> Any:
    head, *rest = path
    if isinstance(config, tuple):
        items = list(config)
        items[int(head)] = _replace_field(items[int(head)], tuple(rest), value)
        return tuple(items)
    if not rest:
        return config.replace(**{head: value})
    return config.replace(
        **{head: _replace_field(getattr(config, head), tuple(rest), value)}
    )


def with_config_values(model: Any, values: dict[str, Any]) -> Any:
    """Return ``model`` with the RPU-config fields at ``values``'s paths replaced.

    Every analog layer's config gets each value; ``values`` maps dotted
    paths (``"device.dw_min"``) to scalars, which may be traced.
    """
    if not values:
        return model
    if isinstance(model, (AnalogLinear, AnalogConv2d)):
        config = model.rpu_config if model.rpu_config is not None else SingleRPUConfig()
        for path, value in values.items():
            config = _replace_field(config, tuple(path.split(".")), value)
        return model.clone(rpu_config=config)
    if isinstance(model, AnalogSequential):
        return model.clone(
            layers=tuple(with_config_values(layer, values) for layer in model.layers)
        )
    return model


def _check_config_values(
    model: Any, config_values: dict[str, Sequence[float]]
) -> dict[str, jax.Array]:
    """Check every path and value on the real configs; return the value columns."""
    if config_values and not any(True for _ in iter_analog_layers(model)):
        raise ConfigError("`config_values` needs a model with analog layers.")
    columns = {}
    for path, column in config_values.items():
        if not isinstance(path, str) or not path:
            raise ConfigError(
                f"`config_values` keys must be dotted field paths such as "
                f"'device.dw_min', got {path!r}."
            )
        for value in column:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(
                    f"`config_values[{path!r}]` must hold numbers, got {value!r}."
                )
        for _, layer in iter_analog_layers(model):
            try:
                leaf = _field(layer.config, tuple(path.split(".")))
            except (AttributeError, IndexError, ValueError) as error:
                raise ConfigError(
                    f"`config_values` path {path!r} does not name a field of "
                    f"{type(layer.config).__name__}: {error}."
                ) from error
            if not isinstance(leaf, (int, float)) or isinstance(leaf, bool):
                raise ConfigError(
                    f"`config_values` path {path!r} names a {type(leaf).__name__}; "
                    "only numeric fields can vary."
                )
            for value in column:
                _replace_field(layer.config, tuple(path.split(".")), value)
        columns[path] = jnp.asarray(column, jnp.float32)
    return columns


def _field(config: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        config = (
            config[int(name)] if isinstance(config, tuple) else getattr(config, name)
        )
    return config

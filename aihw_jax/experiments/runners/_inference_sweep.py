"""Evaluate an inference experiment over values of its config fields, in one call."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aihw_jax.errors import ConfigError
from aihw_jax.experiments._inferencing import BasicInferencing
from aihw_jax.experiments.runners._inference import (
    call_groups,
    check_run_arguments,
    prepare,
    repeat_function,
    summarise,
)
from aihw_jax.experiments.runners._local import resolve_device
from aihw_jax.experiments.runners._sweep import (
    _check_config_values,
    with_config_values,
)
from aihw_jax.utils.progress import progress_bar, write_summary

__all__ = ["run_inference_sweep"]

logger = logging.getLogger(__name__)


def run_inference_sweep(
    experiment: BasicInferencing,
    config_values: dict[str, Sequence[float]],
    *,
    seed: int = 0,
    device: Any = None,
    dataset_root: Any = None,
    max_elements: int = 0,
    variables: dict[str, Any] | None = None,
    stdout: bool = False,
) -> dict[str, Any]:
    """Run an inference experiment once per value of some config fields.

    Every analog layer's config gets each value, e.g.
    ``{"noise_model.prog_noise_scale": [0.5, 1.0, 2.0]}``. All values,
    repeats and time points run as one vmapped, jitted function, evaluated
    in chunks of at most 16 (value, repeat) pairs to bound the memory. Each
    value uses the same programming and read-noise keys, so differences
    between values come from the values alone.

    Args:
        experiment: the experiment; its repeats and times apply to each value.
        config_values: dotted paths of numeric config fields, each with one
            value per variation; all lists have the same length.
        seed: seed of the noise (and of the weights when there is no template).
        device: ``None`` (jax's default), ``"cpu"``, ``"gpu"`` or a jax Device.
        dataset_root: data directory of the data set.
        max_elements: if > 0, evaluate only the first ``max_elements`` test samples.
        variables: trained variables; they take the place of ``weight_template_id``.
        stdout: show a progress bar of the (value, repeat) pairs on stderr and
            write one line per value to stdout. The value lines are also
            logged at INFO level either way. Off by default, unlike the
            other runners, so that existing callers stay silent.

    Returns:
        A dict with ``config_values`` (each path with its list of values),
        ``t_inference`` (the time points in seconds), ``accuracy`` (an array
        ``[values, repeats, times]`` in percent), ``loss`` (an array of the
        same shape) and ``results`` (one aihwkit result dict per value).

    Raises:
        ConfigError: if a path names no numeric field of every analog layer's
            config, a value is invalid there, or the lists differ in length.
    """
    if not isinstance(experiment, BasicInferencing):
        raise ConfigError(
            "run_inference_sweep expects a BasicInferencing, got "
            f"{type(experiment).__name__}."
        )
    check_run_arguments(seed, max_elements)
    if not isinstance(config_values, dict) or not config_values:
        raise ConfigError(
            "`config_values` must map config paths such as "
            "'noise_model.prog_noise_scale' to lists of values, got "
            f"{config_values!r}."
        )
    lengths = {len(column) for column in config_values.values()}
    if len(lengths) != 1 or 0 in lengths:
        given = ", ".join(f"{p!r} ({len(c)})" for p, c in config_values.items())
        raise ConfigError(
            f"`config_values` lists {given} must share one non-zero length."
        )
    columns = _check_config_values(experiment.model, config_values)
    with jax.default_device(resolve_device(device)):
        return _sweep(
            experiment, columns, seed, dataset_root, max_elements, variables, stdout
        )


def _sweep(experiment, columns, seed, dataset_root, max_elements, variables, stdout):
    start = time.perf_counter()
    times = jnp.asarray(experiment.times(), jnp.float32)
    n_values = len(next(iter(columns.values())))
    batches, count, variables, repeat_keys = prepare(
        experiment, seed, dataset_root, max_elements, variables
    )
    repeats = experiment.inference_repeats
    value_index = np.repeat(np.arange(n_values), repeats)
    repeat_index = np.tile(np.arange(repeats), n_values)

    evaluate = _pair_function(experiment)
    loss_sums, corrects = [], []
    pair_count = n_values * repeats
    with progress_bar(
        stdout, total=pair_count, desc="Inference sweep", unit="repeat"
    ) as bar:
        for pairs, real in call_groups(pair_count):
            rows = {
                path: column[value_index[pairs]] for path, column in columns.items()
            }
            keys = repeat_keys[repeat_index[pairs]]
            loss_sum, correct = evaluate(variables, batches, times, rows, keys)
            loss_sums.append(np.asarray(loss_sum)[:real])
            corrects.append(np.asarray(correct)[:real])
            bar.update(real)
    shape = (n_values, repeats, times.shape[0])
    accuracy = (100.0 * np.concatenate(corrects) / count).reshape(shape)
    loss = (np.concatenate(loss_sums) / count).reshape(shape)
    elapsed = time.perf_counter() - start
    _write_value_lines(columns, accuracy, times, stdout)
    return {
        "config_values": {path: np.asarray(c).tolist() for path, c in columns.items()},
        "t_inference": np.asarray(times).tolist(),
        "accuracy": accuracy,
        "loss": loss,
        "results": [
            summarise(accuracy[index], loss[index], experiment.times(), elapsed)
            for index in range(n_values)
        ],
    }


def _write_value_lines(
    columns: dict[str, jax.Array], accuracy: np.ndarray, times: jax.Array, stdout: bool
) -> None:
    """Write one line per value: the mean accuracy at the first and last time."""
    n_values, repeats = accuracy.shape[:2]
    for index in range(n_values):
        setting = ", ".join(
            f"{path} = {float(column[index]):g}" for path, column in columns.items()
        )
        mean = accuracy[index].mean(axis=0)
        write_summary(
            logger,
            f"Value {index + 1}/{n_values} ({setting}): mean accuracy over "
            f"{repeats} repeats {mean[0]:.2f}% at t = 0 s, {mean[-1]:.2f}% at "
            f"t = {float(times[-1]):.0f} s",
            stdout=stdout,
        )


def _pair_function(experiment: BasicInferencing):
    """Jitted ``evaluate(variables, batches, times, values, keys)`` over pairs."""

    def one_pair(variables, batches, times, values, key):
        model = with_config_values(experiment.model, values)
        return repeat_function(model, experiment.loss)(variables, batches, times, key)

    return jax.jit(jax.vmap(one_pair, in_axes=(None, None, None, 0, 0)))

"""Run experiments on this machine: ``run_local`` and aihwkit's ``LocalRunner``."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aihw_jax import serialization
from aihw_jax.errors import ConfigError
from aihw_jax.experiments import _steps
from aihw_jax.experiments._training import BasicTraining
from aihw_jax.nn import iter_analog_layers
from aihw_jax.optim import AnalogSGD
from aihw_jax.simulator import devices
from aihw_jax.simulator.configs import FloatingPointRPUConfig, SingleRPUConfig
from aihw_jax.utils.progress import progress_bar, write_summary

__all__ = ["LocalRunner", "run_local"]

logger = logging.getLogger(__name__)

STEPS_PER_CALL = 32
"""Mini-batches trained per jitted call; progress is reported between calls."""
EVAL_BATCH = 1000
"""Samples per evaluation call; each vector is processed on its own, so the
size does not change results."""


def resolve_device(device: Any) -> jax.Device:
    """Turn ``None``, ``"cpu"``, ``"gpu"`` or a jax Device into a jax Device."""
    if device is None:
        return jax.devices()[0]
    if isinstance(device, jax.Device):
        return device
    if isinstance(device, str) and device.lower() in ("cpu", "gpu", "cuda", "tpu"):
        platform = "gpu" if device.lower() == "cuda" else device.lower()
        try:
            return jax.devices(platform)[0]
        except RuntimeError as error:
            raise ConfigError(
                f"`device`={device!r} is not available here ({error}); use 'cpu', or "
                f"install jax with {platform.upper()} support (the README shows "
                "the GPU install)."
            ) from error
    raise ConfigError(
        f"`device` must be None, 'cpu', 'gpu' or a jax Device, got {device!r}."
    )


def _batches(
    count: int, batch_size: int, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices ``[steps, batch]`` and a mask; the last batch may be short."""
    order = rng.permutation(count) if rng is not None else np.arange(count)
    steps = math.ceil(count / batch_size)
    padded = np.zeros(steps * batch_size, dtype=np.int32)
    padded[:count] = order
    mask = np.zeros(steps * batch_size, dtype=np.float32)
    mask[:count] = 1.0
    return padded.reshape(steps, batch_size), mask.reshape(steps, batch_size)


def _load(experiment: BasicTraining, dataset_root: Any, max_elements: int) -> tuple:
    dataset = experiment.dataset
    splits = []
    for split in ("train", "test"):
        images, labels = dataset.load(split, root=dataset_root)
        if max_elements > 0:
            images, labels = images[:max_elements], labels[:max_elements]
        splits.append(
            (jnp.asarray(dataset.normalize(images)), jnp.asarray(labels, jnp.int32))
        )
    return splits


def eval_batches(images: jax.Array, labels: jax.Array):
    """Yield ``(index, x, y, mask)`` of evaluation batches, padded to EVAL_BATCH."""
    count = images.shape[0]
    for index, start in enumerate(range(0, count, EVAL_BATCH)):
        stop = min(start + EVAL_BATCH, count)
        x = images[start:stop]
        y = labels[start:stop]
        mask = jnp.ones(stop - start, jnp.float32)
        if stop - start < EVAL_BATCH:
            pad = EVAL_BATCH - (stop - start)
            x = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)])
            y = jnp.concatenate([y, jnp.zeros(pad, y.dtype)])
            mask = jnp.concatenate([mask, jnp.zeros(pad, jnp.float32)])
        yield index, x, y, mask


def _evaluate(eval_chunk, variables, images, labels, key) -> tuple[float, float]:
    loss_sum, correct = 0.0, 0.0
    for index, x, y, mask in eval_batches(images, labels):
        batch_loss, batch_correct = eval_chunk(
            variables, x, y, mask, jax.random.fold_in(key, index)
        )
        loss_sum += float(batch_loss)
        correct += float(batch_correct)
    count = images.shape[0]
    return loss_sum / count, correct / count


def _train_epoch(train_chunk, carry, images, labels, experiment, rng, key, progress):
    order, mask = _batches(images.shape[0], experiment.batch_size, rng)
    steps = order.shape[0]
    loss_sum = 0.0
    length = min(STEPS_PER_CALL, steps)
    for index, start in enumerate(range(0, steps, length)):
        stop = min(start + length, steps)
        chunk_order = np.zeros((length, experiment.batch_size), np.int32)
        chunk_mask = np.zeros((length, experiment.batch_size), np.float32)
        chunk_order[: stop - start] = order[start:stop]
        chunk_mask[: stop - start] = mask[start:stop]
        carry, losses = train_chunk(
            carry,
            images,
            labels,
            jnp.asarray(chunk_order),
            jnp.asarray(chunk_mask),
            jax.random.fold_in(key, index),
        )
        loss_sum += float(jnp.sum(losses))
        progress.update(stop - start)
    return carry, loss_sum / images.shape[0]


def run_local(
    experiment: BasicTraining,
    *,
    seed: int = 0,
    device: Any = None,
    dataset_root: Any = None,
    max_elements: int = 0,
    stdout: bool = True,
    update_method: str = "sequential",
    layer_lr: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Run a training experiment on this machine.

    Args:
        experiment: the experiment.
        seed: seed of the initial weights, the device draws, the shuffling
            and every noise draw; the same seed gives the same result.
        device: ``None`` (jax's default), ``"cpu"``, ``"gpu"`` or a jax Device.
        dataset_root: data directory of the data set (its default if None).
        max_elements: if > 0, use only the first ``max_elements`` training
            and validation samples.
        stdout: show a progress bar of the batches on stderr and write one
            line per epoch to stdout. The epoch lines are also logged at INFO
            level on this module's logger either way.
        update_method: ``"sequential"`` (aihwkit's per-sample pulsed update)
            or ``"summed"`` (the batch's coincidences applied at once: faster,
            and it differs only where a weight reaches a bound within a
            batch; for constant-step single-device configs only).
        layer_lr: learning rates of single analog layers by variable path
            (e.g. ``{"layers_1": 0.01}``); the others use the experiment's.

    Returns:
        ``{"epochs": [...], "weights": bytes}``: per epoch ``epoch``,
        ``accuracy`` (fraction of the validation set), ``train_loss`` and
        ``valid_loss`` (per-sample means), ``time_epoch`` (seconds of
        training and validation); ``weights`` are the trained variables in
        the msgpack envelope, loadable with ``experiment.load_weights``.
    """
    if not isinstance(experiment, BasicTraining):
        raise ConfigError(
            f"run_local expects a BasicTraining, got {type(experiment).__name__}."
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"`seed` must be an integer in [0, 2**32), got {seed!r}.")
    if (
        isinstance(max_elements, bool)
        or not isinstance(max_elements, int)
        or max_elements < 0
    ):
        raise ConfigError(
            f"`max_elements` must be an integer >= 0, got {max_elements!r}."
        )
    optimizer = AnalogSGD(
        lr=experiment.learning_rate,
        update_method=update_method,
        layer_lr=layer_lr or {},
    )
    if update_method == "summed":
        _check_summed(experiment.model)
    target = resolve_device(device)
    with jax.default_device(target):
        return _run(experiment, seed, dataset_root, max_elements, stdout, optimizer)


def _check_summed(model: Any) -> None:
    """Raise ConfigError unless every analog layer can take the summed update."""
    for path, layer in iter_analog_layers(model):
        config = layer.config
        if isinstance(config, SingleRPUConfig) and not devices.is_constant_step(
            config.device
        ):
            raise ConfigError(
                f"`update_method`='summed' needs constant-step devices, but the "
                f"analog layer {'/'.join(path) or '(top)'} uses "
                f"{type(config.device).__name__}; use 'sequential'."
            )
        if not isinstance(config, (SingleRPUConfig, FloatingPointRPUConfig)):
            raise ConfigError(
                f"`update_method`='summed' is offered for single-device configs "
                f"only, but the analog layer {'/'.join(path) or '(top)'} uses "
                f"{type(config).__name__}; use 'sequential'."
            )


def _check_outputs(
    experiment: BasicTraining, variables: dict, sample: jax.Array
) -> None:
    """Raise ConfigError if the model cannot score every class of the data set."""
    shape = jax.eval_shape(
        lambda: experiment.model.apply(
            variables, sample, rngs={"noise": jax.random.key(0)}
        )
    ).shape
    dataset = experiment.dataset
    name = getattr(dataset, "__name__", None) or getattr(dataset, "name", None)
    classes = getattr(dataset, "num_classes", None)
    if classes is not None and (len(shape) != 2 or shape[-1] < classes):
        raise ConfigError(
            f"The model's output has shape {shape} for one sample, but "
            f"{name or 'the data set'} has {classes} "
            f"classes; the last layer needs at least {classes} outputs."
        )


def _run(
    experiment, seed, dataset_root, max_elements, stdout, optimizer
) -> dict[str, Any]:
    (train_x, train_y), (test_x, test_y) = _load(experiment, dataset_root, max_elements)
    root_key = jax.random.key(seed)
    init_key, train_key, eval_key = jax.random.split(root_key, 3)
    variables = experiment.init_variables(init_key)
    _check_outputs(experiment, variables, train_x[:1])
    loss = experiment.loss
    train_chunk = _steps.make_train_chunk(experiment.model, loss, optimizer)
    eval_chunk = _steps.make_eval_chunk(experiment.model, loss)
    carry = (variables, optimizer.init(variables))
    rng = np.random.default_rng(seed)
    epochs = []
    for epoch in range(1, experiment.epochs + 1):
        start = time.perf_counter()
        steps = math.ceil(train_x.shape[0] / experiment.batch_size)
        with progress_bar(
            stdout, total=steps, desc=f"Epoch {epoch}/{experiment.epochs}", unit="batch"
        ) as progress:
            carry, train_loss = _train_epoch(
                train_chunk,
                carry,
                train_x,
                train_y,
                experiment,
                rng,
                jax.random.fold_in(train_key, epoch),
                progress,
            )
        valid_loss, accuracy = _evaluate(
            eval_chunk, carry[0], test_x, test_y, jax.random.fold_in(eval_key, epoch)
        )
        record = {
            "epoch": epoch,
            "accuracy": accuracy,
            "train_loss": train_loss,
            "valid_loss": valid_loss,
            "time_epoch": time.perf_counter() - start,
        }
        epochs.append(record)
        write_summary(
            logger,
            f"Epoch {epoch}/{experiment.epochs}: train_loss {train_loss:.4f}  "
            f"valid_loss {valid_loss:.4f}  accuracy {accuracy:.4f}  "
            f"time {record['time_epoch']:.1f}s",
            stdout=stdout,
        )
    return {"epochs": epochs, "weights": serialization.variables_to_bytes(carry[0])}


class LocalRunner:
    """aihwkit's ``LocalRunner``: runs an experiment here, returns its epochs.

    A thin wrapper over :func:`run_local`.
    """

    def __init__(self, device: Any = None) -> None:
        self.device = resolve_device(device)

    def run(
        self,
        experiment: BasicTraining,
        max_elements_train: int = 0,
        dataset_root: Any = None,
        stdout: bool = True,
        seed: int = 0,
    ) -> list[dict[str, Any]]:
        """Run ``experiment`` and return the list of per-epoch results."""
        result = run_local(
            experiment,
            seed=seed,
            device=self.device,
            dataset_root=dataset_root,
            max_elements=max_elements_train,
            stdout=stdout,
        )
        return result["epochs"]

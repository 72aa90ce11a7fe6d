"""Local runner of BasicInferencing: every repeat and time point in vmapped calls."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pathlib
import time
import types
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from aihw_jax.errors import ConfigError, DatasetError
from aihw_jax.experiments._inferencing import BasicInferencing
from aihw_jax.experiments._training import init_model_variables
from aihw_jax.experiments.runners._local import resolve_device
from aihw_jax.experiments.templates import SHIPPED_TEMPLATES, read_template
from aihw_jax.nn import drift_analog_weights, program_analog_weights
from aihw_jax.utils.progress import progress_bar, write_summary

__all__ = ["InferenceLocalRunner", "run_inference_local"]

logger = logging.getLogger(__name__)

EVAL_CHUNK = 500
"""Most test images per step of the evaluation scan."""
TRACED_BYTES_IN_FLIGHT = 128e9
"""Bound on the traced intermediate bytes of the images evaluated in one call.

The traced bytes of a forward are the summed sizes of every intermediate
array in its jaxpr. Because XLA reuses buffers, the measured peak memory
of a LeNet-5 evaluation call on a CPU was about 1/40 of its traced bytes
(32 MB traced per image). This bound then keeps a call near 3 GB.

NOTE: the 1/40 ratio was measured for LeNet-5 only and is an estimate for
other networks (the documented 3-layer network traces 1.5 MB per image).
"""
REPEATS_PER_CALL = 16
"""Repeats evaluated together in one vmapped call (bounds the memory)."""
TEMPLATE_TIMEOUT_S = 30
"""Timeout of a weight-template download."""


def _template_cache() -> pathlib.Path:
    root = os.environ.get("AIHW_JAX_CACHE_DIR", "~/.cache/aihw_jax")
    return pathlib.Path(root).expanduser() / "templates"


def _fetch_template(url: str) -> bytes:
    """Download ``url`` once into the template cache and return its bytes."""
    import requests

    cached = _template_cache() / hashlib.sha256(url.encode()).hexdigest()
    if cached.exists():
        return cached.read_bytes()
    try:
        response = requests.get(url, timeout=TEMPLATE_TIMEOUT_S)
        response.raise_for_status()
    except requests.RequestException as error:
        raise DatasetError(
            f"Could not download the weight template {url!r}: {error}. Check the "
            "address, or download the file and give its local path."
        ) from error
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    partial.write_bytes(response.content)
    partial.replace(cached)
    return response.content


def load_template(experiment: BasicInferencing) -> dict[str, Any] | None:
    """Return the variables named by ``weight_template_id`` (None if it is empty)."""
    source = experiment.weight_template_id
    if not source:
        return None
    if source in SHIPPED_TEMPLATES:
        data = read_template(source)
    elif source.startswith(("http://", "https://")):
        data = _fetch_template(source)
    else:
        path = pathlib.Path(source).expanduser()
        if not path.is_file():
            raise DatasetError(
                f"The weight template {source!r} is not a file. Give the path of a "
                "weights file written by a training run, an http(s) URL, or one of "
                f"the shipped ids {sorted(SHIPPED_TEMPLATES)}."
            )
        data = path.read_bytes()
    return experiment.load_weights(data)


def chunk_size(count: int, n_times: int, bytes_per_image: float) -> int:
    """Images per scan step, for up to REPEATS_PER_CALL repeats of ``n_times`` times.

    ``bytes_per_image`` are the traced bytes of one image's forward (see
    :data:`TRACED_BYTES_IN_FLIGHT`). The size does not depend on how many
    repeats a call holds, so the read noise of every image (drawn per
    chunk) is the same in a sweep and in a single run with the same keys.
    """
    parallel = REPEATS_PER_CALL * max(n_times, 1) * max(bytes_per_image, 1.0)
    return max(1, min(EVAL_CHUNK, count, int(TRACED_BYTES_IN_FLIGHT // parallel)))


@functools.lru_cache(maxsize=8)
def traced_bytes_per_image(model: Any, image_shape: tuple[int, ...]) -> float:
    """Summed sizes of the intermediate arrays of ``model``'s forward, per image.

    Traces (does not run) the evaluation forward on 8 images with weights
    of the right shapes.
    """
    images = 8
    data = types.SimpleNamespace(image_shape=image_shape)
    variables = jax.eval_shape(
        lambda: init_model_variables(model, data, jax.random.key(0))
    )
    x = jax.ShapeDtypeStruct((images, *image_shape), jnp.float32)

    def forward(variables, x):
        return model.apply(variables, x, rngs={"noise": jax.random.key(0)})

    jaxpr = jax.make_jaxpr(forward)(variables, x)
    return _jaxpr_bytes(jaxpr.jaxpr) / images


def _jaxpr_bytes(jaxpr: Any) -> int:
    total = 0
    for equation in jaxpr.eqns:
        for var in equation.outvars:
            aval = var.aval
            if hasattr(aval, "shape") and hasattr(aval, "dtype"):
                total += int(np.prod(aval.shape)) * aval.dtype.itemsize
        for value in equation.params.values():
            for inner in value if isinstance(value, (list, tuple)) else (value,):
                inner = getattr(inner, "jaxpr", inner)
                if hasattr(inner, "eqns"):
                    total += _jaxpr_bytes(inner)
    return total


def call_groups(total: int) -> list[tuple[np.ndarray, int]]:
    """Split ``total`` repeats into calls of REPEATS_PER_CALL: ``(indices, real)``.

    When there is more than one call, the last one is padded with copies of
    its last index to the full size. Every call then has the same shape and
    compiles once. Only the first ``real`` results of a call count.
    """
    size = min(total, REPEATS_PER_CALL)
    groups = []
    for first in range(0, total, size):
        indices = np.arange(first, min(first + size, total))
        real = len(indices)
        indices = np.pad(indices, (0, size - real), mode="edge")
        groups.append((indices, real))
    return groups


def _batched(images: jax.Array, labels: jax.Array, size: int) -> tuple:
    """Pad the test set to whole chunks: ``[chunks, size, ...]`` and a mask."""
    count = images.shape[0]
    chunks = -(-count // size)
    pad = chunks * size - count
    images = jnp.concatenate(
        [images, jnp.zeros((pad, *images.shape[1:]), images.dtype)]
    )
    labels = jnp.concatenate([labels, jnp.zeros((pad,), labels.dtype)])
    mask = jnp.concatenate([jnp.ones(count), jnp.zeros(pad)])
    return (
        images.reshape(chunks, size, *images.shape[1:]),
        labels.reshape(chunks, size),
        mask.reshape(chunks, size),
    )


def make_evaluate(experiment: BasicInferencing):
    """Build ``evaluate(variables, batches, times, keys) -> (loss_sums, correct)``.

    The result arrays are ``[repeats, times]``; ``keys`` has one key per
    repeat. Each repeat programs the weights once, then drifts them to every
    time point, all under ``jax.vmap``. Experiments with the same model and
    loss share one compiled function.
    """
    try:
        return _cached_evaluate(experiment.model, experiment.loss)
    except TypeError:  # An unhashable model or loss: compile for this call.
        return _build_evaluate(experiment.model, experiment.loss)


@functools.lru_cache(maxsize=8)
def _cached_evaluate(model: Any, loss: Any):
    return _build_evaluate(model, loss)


def _build_evaluate(model: Any, loss: Any):
    one_repeat = repeat_function(model, loss)
    return jax.jit(jax.vmap(one_repeat, in_axes=(None, None, None, 0)))


def repeat_function(model: Any, loss: Any):
    """Return ``one_repeat(variables, batches, times, key) -> (loss_sums, correct)``.

    One repeat programs the weights with ``key``, then drifts them to every
    time point under ``jax.vmap``; the results are ``[times]`` arrays. Not
    jitted, so that callers can map it further.
    """

    def one_repeat(variables, batches, times, key):
        program_key, drift_key, eval_key = jax.random.split(key, 3)
        programmed = program_analog_weights(model, variables, program_key)
        images, labels, mask = batches

        def one_time(t, index):
            drifted = drift_analog_weights(
                model, programmed, t, jax.random.fold_in(drift_key, index)
            )
            time_key = jax.random.fold_in(eval_key, index)

            def chunk(carry, inputs):
                x, y, m, step = inputs
                output = model.apply(
                    drifted, x, rngs={"noise": jax.random.fold_in(time_key, step)}
                )
                losses = loss.per_sample(output, y) * m
                correct = (jnp.argmax(output, axis=-1) == y) * m
                return (carry[0] + jnp.sum(losses), carry[1] + jnp.sum(correct)), None

            steps = jnp.arange(images.shape[0])
            zero = jnp.zeros((), jnp.float32)
            (loss_sum, correct), _ = lax.scan(
                chunk, (zero, zero), (images, labels, mask, steps)
            )
            return loss_sum, correct

        return jax.vmap(one_time)(times, jnp.arange(times.shape[0]))

    return one_repeat


def run_inference_local(
    experiment: BasicInferencing,
    *,
    seed: int = 0,
    device: Any = None,
    dataset_root: Any = None,
    max_elements: int = 0,
    stdout: bool = True,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run an inference experiment on this machine.

    Args:
        experiment: the experiment.
        seed: seed of the programming, drift and read noise (and of the
            initial weights when there is no template).
        device: ``None`` (jax's default), ``"cpu"``, ``"gpu"`` or a jax Device.
        dataset_root: data directory of the data set.
        max_elements: if > 0, evaluate only the first ``max_elements`` test samples.
        stdout: show a progress bar of the repeats on stderr and write one
            line per repeat to stdout. The repeat lines are also logged at
            INFO level either way.
        variables: trained variables to evaluate; they take the place of
            ``weight_template_id``.

    Returns:
        aihwkit's result: ``{"inference_runs": {"inference_repeat",
        "is_partial", "time_elapsed", "inference_results": [{"t_inference",
        "avg_accuracy", "std_accuracy", "avg_error", "avg_loss"}, ...]}}``,
        accuracies and errors in percent, mean and std (ddof 0) over repeats.
    """
    if not isinstance(experiment, BasicInferencing):
        raise ConfigError(
            "run_inference_local expects a BasicInferencing, got "
            f"{type(experiment).__name__}."
        )
    check_run_arguments(seed, max_elements)
    with jax.default_device(resolve_device(device)):
        return _run(experiment, seed, dataset_root, max_elements, stdout, variables)


def prepare(experiment, seed, dataset_root, max_elements, variables):
    """Load the test set and the weights of an inference run.

    Returns ``(batches, count, variables, repeat_keys)``: the padded test
    chunks, the number of real samples, the weights (given, from the
    template, or initialised from ``seed``) and one key per repeat.
    """
    images, labels = experiment.dataset.load("test", root=dataset_root)
    if max_elements > 0:
        images, labels = images[:max_elements], labels[:max_elements]
    images = jnp.asarray(experiment.dataset.normalize(images))
    labels = jnp.asarray(labels, jnp.int32)

    variables = resolve_variables(experiment, seed, variables)
    _, run_key = jax.random.split(jax.random.key(seed))
    repeat_keys = jax.random.split(run_key, experiment.inference_repeats)
    image_shape = tuple(getattr(experiment.dataset, "image_shape", images.shape[1:]))
    try:
        per_image = traced_bytes_per_image(experiment.model, image_shape)
    except TypeError:  # an unhashable model: trace without the cache
        per_image = traced_bytes_per_image.__wrapped__(experiment.model, image_shape)
    size = chunk_size(images.shape[0], len(experiment.times()), per_image)
    return _batched(images, labels, size), images.shape[0], variables, repeat_keys


def resolve_variables(
    experiment: BasicInferencing, seed: int, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return the weights an inference run evaluates.

    They are ``variables`` if given, else the experiment's weight template,
    else initial weights drawn from ``seed``.
    """
    if variables is None:
        variables = load_template(experiment)
    if variables is None:
        init_key, _ = jax.random.split(jax.random.key(seed))
        variables = experiment.init_variables(init_key)
    return variables


def check_run_arguments(seed: Any, max_elements: Any) -> None:
    """Raise ConfigError unless ``seed`` and ``max_elements`` are valid integers."""
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


def _run(experiment, seed, dataset_root, max_elements, stdout, variables):
    start = time.perf_counter()
    times = experiment.times()
    batches, count, variables, repeat_keys = prepare(
        experiment, seed, dataset_root, max_elements, variables
    )
    evaluate = make_evaluate(experiment)
    loss_sums, corrects = [], []
    repeats = experiment.inference_repeats
    with progress_bar(stdout, total=repeats, desc="Inference", unit="repeat") as bar:
        for indices, real in call_groups(repeats):
            loss_sum, correct = evaluate(
                variables,
                batches,
                jnp.asarray(times, jnp.float32),
                repeat_keys[indices],
            )
            loss_sums.append(np.asarray(loss_sum)[:real])
            corrects.append(np.asarray(correct)[:real])
            bar.update(real)
    accuracy = 100.0 * np.concatenate(corrects) / count
    loss = np.concatenate(loss_sums) / count
    elapsed = time.perf_counter() - start

    for repeat in range(repeats):
        write_summary(
            logger,
            f"Repeat {repeat + 1}/{repeats}: accuracy "
            f"{accuracy[repeat, 0]:.2f}% at t = 0 s, "
            f"{accuracy[repeat, -1]:.2f}% at t = {times[-1]:.0f} s",
            stdout=stdout,
        )
    return summarise(accuracy, loss, times, elapsed)


def summarise(
    accuracy: np.ndarray, loss: np.ndarray, times: np.ndarray, elapsed: float
) -> dict[str, Any]:
    """aihwkit's result dict from ``[repeats, times]`` accuracies (%) and losses."""
    results = [
        {
            "t_inference": float(t),
            "avg_accuracy": float(np.mean(accuracy[:, index])),
            "std_accuracy": float(np.std(accuracy[:, index])),
            "avg_error": float(100.0 - np.mean(accuracy[:, index])),
            "avg_loss": float(np.mean(loss[:, index])),
        }
        for index, t in enumerate(times)
    ]
    return {
        "inference_runs": {
            "inference_repeat": accuracy.shape[0],
            "is_partial": False,
            "time_elapsed": elapsed,
            "inference_results": results,
        }
    }


class InferenceLocalRunner:
    """aihwkit's ``InferenceLocalRunner``: runs BasicInferencing on this machine."""

    def __init__(self, device: Any = None) -> None:
        resolve_device(device)
        self.device = device

    def run(
        self,
        experiment: BasicInferencing,
        max_elements: int = 0,
        dataset_root: Any = None,
        stdout: bool = True,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Run ``experiment`` and return aihwkit's inference result dict."""
        return run_inference_local(
            experiment,
            seed=seed,
            device=self.device,
            dataset_root=dataset_root,
            max_elements=max_elements,
            stdout=stdout,
        )

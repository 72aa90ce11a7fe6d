"""Run one Composer job: decode an experiment payload, run it, encode the output.

:func:`run_job` is what the service's workers execute, in a fresh process.
It takes and returns bytes only, so it can cross process boundaries, and it
runs experiments through the local runners, so a job gives the same result
as ``run_local`` or ``run_inference_local`` with the same seed.

The output is an envelope of kind ``"output"`` whose payload is the msgpack
map ``{"result": dict, "weights": bytes | None, "device": "cpu" | "gpu"}``.
"""

from __future__ import annotations

import logging
from typing import Any

import jax
import msgpack

from aihw_jax import serialization
from aihw_jax.cloud import api, codec, converter
from aihw_jax.errors import ConfigError, SerializationError
from aihw_jax.experiments.runners import run_inference_local, run_local
from aihw_jax.experiments.runners._inference import resolve_variables

__all__ = ["decode_output", "encode_output", "run_job"]

logger = logging.getLogger(__name__)


def _select_device(device: str) -> jax.Device:
    """Return the first device of the requested platform, or a CPU if there is none."""
    if device not in api.DEVICES:
        raise ConfigError(
            f"`device` must be one of {list(api.DEVICES)}, got {device!r}."
        )
    if device == "gpu":
        try:
            return jax.devices("gpu")[0]
        except RuntimeError:
            logger.info("A GPU was requested but none is available; running on CPU.")
    return jax.devices("cpu")[0]


def run_job(
    input_data: bytes,
    *,
    device: str = "cpu",
    max_elements: int = 0,
    seed: int = 0,
    dataset_root: Any = None,
    stdout: bool = False,
) -> bytes:
    """Run the experiment of a payload envelope and return the output envelope.

    The payload is decoded as untrusted (``codec.decode_experiment(...,
    trusted=False)``). For inference, ``analog_info`` and ``noise_model_info``
    are applied to every analog layer (:func:`converter.apply_info`), and
    attached weights are evaluated in place of ``weight_template_id``.

    Args:
        input_data: an envelope from :func:`codec.encode_experiment`.
        device: ``"cpu"`` or ``"gpu"``; without a GPU the job runs on the CPU
            and the output's ``device`` is ``"cpu"``.
        max_elements: if > 0, use only this many samples of each split.
        seed: seed of the run, as in ``run_local``.
        dataset_root: data directory of the data set (its default if None).
        stdout: print the runners' progress lines.

    Returns:
        An ``"output"`` envelope. Its ``result`` is ``{"epochs": [...]}`` for
        training and ``run_inference_local``'s dict for inference, and its
        ``weights`` are the trained or the evaluated variables
        (``serialization.variables_to_bytes``).

    Raises:
        SerializationError: if the payload is not a valid experiment.
        ConfigError: if the experiment or an argument is invalid.
        DatasetError: if the data set is missing.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"`seed` must be an integer in [0, 2**32), got {seed!r}.")
    decoded = codec.decode_experiment(input_data, trusted=False)
    target = _select_device(device)
    experiment = decoded.experiment
    options = {
        "seed": seed,
        "device": target,
        "dataset_root": dataset_root,
        "max_elements": max_elements,
        "stdout": stdout,
    }
    if decoded.category == "train":
        trained = run_local(experiment, **options)
        result, weights = {"epochs": trained["epochs"]}, trained["weights"]
    else:
        if decoded.analog_info is not None:
            experiment = converter.apply_info(
                experiment, decoded.analog_info, decoded.noise_model_info
            )
        variables = _inference_variables(experiment, decoded.weights, seed, target)
        result = run_inference_local(experiment, variables=variables, **options)
        weights = serialization.variables_to_bytes(variables)
    return encode_output(result, weights, target.platform)


def _inference_variables(
    experiment: Any, weights: bytes | None, seed: int, target: jax.Device
) -> dict[str, Any]:
    """Return the variables an inference evaluates: attached, template or initial."""
    with jax.default_device(target):
        loaded = None if weights is None else experiment.load_weights(weights)
        return resolve_variables(experiment, seed, loaded)


def encode_output(result: dict, weights: bytes | None, device: str) -> bytes:
    """Wrap a job's result, weights and platform in an ``"output"`` envelope."""
    body = {"result": result, "weights": weights, "device": device}
    return serialization.dump_envelope("output", msgpack.packb(body, use_bin_type=True))


def decode_output(data: bytes) -> dict[str, Any]:
    """Check an output envelope and return ``{"result", "weights", "device"}``.

    Raises:
        SerializationError: if the data is not an output envelope, or a key
            is missing, unknown or of the wrong type.
    """
    body = codec.unpack_bounded(serialization.load_envelope(data, "output"))
    codec.check_data(body, "", finite=False)
    if not isinstance(body, dict) or set(body) != {"result", "weights", "device"}:
        keys = (
            sorted(map(repr, body)) if isinstance(body, dict) else type(body).__name__
        )
        raise SerializationError(
            "An output payload must be a map with exactly the keys 'result', "
            f"'weights' and 'device', got {keys}."
        )
    if not isinstance(body["result"], dict):
        raise SerializationError(
            f"`result` must be a map, got {type(body['result']).__name__}."
        )
    if body["weights"] is not None and not isinstance(body["weights"], bytes):
        raise SerializationError(
            f"`weights` must be bytes or None, got {type(body['weights']).__name__}."
        )
    if body["device"] not in api.DEVICES:
        raise SerializationError(
            f"`device` must be one of {list(api.DEVICES)}, got {body['device']!r}."
        )
    return body

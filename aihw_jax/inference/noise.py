"""Programming and drift of a tile's weights through a noise model.

A noise model acts on conductances. These functions convert the weights of
one tile to conductances with the model's converter, apply the model and
convert back, in the order of aihwkit 1.2.0:

1. :func:`apply_programming_noise` once per programming: programming noise
   on every device and one drift exponent per device, drawn from the target
   conductances.
2. :func:`apply_drift_noise` for each inference time, always from the same
   programmed state: drift with the stored exponents and fresh read noise.

Every random draw comes from the ``key`` argument, so the same key gives the
same result eagerly, under ``jit`` and under ``vmap``.
"""

from __future__ import annotations

from types import ModuleType
from typing import NamedTuple

import jax
import jax.numpy as jnp

from aihw_jax.errors import ConfigError
from aihw_jax.inference import _common, converter, pcm, state_independent
from aihw_jax.inference.pcm import PCMLikeNoiseModel
from aihw_jax.inference.state_independent import StateIndependentNoiseModel

__all__ = [
    "NoiseModel",
    "ProgrammedState",
    "apply_drift_noise",
    "apply_drift_noise_to_conductance",
    "apply_programming_noise",
    "apply_programming_noise_to_conductance",
    "generate_drift_coefficients",
]

NoiseModel = PCMLikeNoiseModel | StateIndependentNoiseModel

# The module of each model type contains its three conductance-level functions.
_MODEL_MODULES: dict[type, ModuleType] = {
    PCMLikeNoiseModel: pcm,
    StateIndependentNoiseModel: state_independent,
}

# Stream ids for ``jax.random.fold_in`` within one programming.
_PROGRAMMING_NOISE, _DRIFT_COEFFICIENTS = range(2)


class ProgrammedState(NamedTuple):
    """The weights of one tile right after programming, and their drift exponents."""

    programmed_weights: jax.Array
    """Weights after programming noise, same shape as the target weights."""
    drift_noise_parameters: jax.Array
    """Drift exponents ``nu`` ``[slices, *weights.shape]``, one per device."""


def apply_programming_noise(
    model: NoiseModel, weights: jax.Array, *, key: jax.Array
) -> ProgrammedState:
    """Program the weights of one tile: add programming noise, draw drift exponents.

    The drift exponents depend on the target conductances, not on the
    programmed ones.

    Args:
        model: the noise model.
        weights: target weights of one tile, any shape.
        key: PRNG key of this programming.

    Returns:
        The programmed weights and the drift exponents.

    Raises:
        ConfigError: if ``model`` is not a supported noise model.
    """
    _model_module(model)
    weights = _common.as_float(weights)
    targets, scale_ratio = converter.convert_to_conductances(model.g_converter, weights)
    programmed = apply_programming_noise_to_conductance(
        model, targets, key=jax.random.fold_in(key, _PROGRAMMING_NOISE)
    )
    drift_nu = generate_drift_coefficients(
        model, targets, key=jax.random.fold_in(key, _DRIFT_COEFFICIENTS)
    )
    programmed_weights = converter.convert_back_to_weights(
        model.g_converter, programmed, scale_ratio
    )
    return ProgrammedState(programmed_weights, drift_nu)


def apply_drift_noise(
    model: NoiseModel,
    programmed: ProgrammedState,
    t_inference: jax.Array | float,
    *,
    key: jax.Array,
) -> jax.Array:
    """Drift the weights of one tile to ``t_inference`` seconds after programming.

    As aihwkit does, the programmed weights are converted to conductances
    again, with a new scale from their own absolute maximum. So each pair
    has one device back at ``g_min``, and the separate programming noise of
    the two devices is lost. Each call draws fresh read noise, while the
    drift exponents stay those of the programming.

    Returns:
        The drifted weights, same shape as the programmed ones.

    Args:
        model: the noise model used for programming.
        programmed: the result of :func:`apply_programming_noise`.
        t_inference: seconds since the end of programming (>= 0).
        key: PRNG key of the read noise.

    Raises:
        ConfigError: if ``t_inference`` is negative or not finite, or the
            drift exponents do not fit the weights.
    """
    _model_module(model)
    _common.check_t_inference(t_inference)
    weights = _common.as_float(programmed.programmed_weights)
    conductances, scale_ratio = converter.convert_to_conductances(
        model.g_converter, weights
    )
    drift_nu = jnp.asarray(programmed.drift_noise_parameters, weights.dtype)
    if drift_nu.shape != conductances.shape:
        raise ConfigError(
            f"The drift exponents must have shape {conductances.shape} (one per "
            f"device), got {drift_nu.shape}; pass the state returned by "
            "apply_programming_noise for these weights."
        )
    drifted = apply_drift_noise_to_conductance(
        model, conductances, drift_nu, t_inference, key=key
    )
    return converter.convert_back_to_weights(model.g_converter, drifted, scale_ratio)


def apply_programming_noise_to_conductance(
    model: NoiseModel, g_target: jax.Array, *, key: jax.Array
) -> jax.Array:
    """Draw programmed conductances in µS for the target conductances."""
    module = _model_module(model)
    return module.apply_programming_noise_to_conductance(model, g_target, key=key)


def generate_drift_coefficients(
    model: NoiseModel, g_target: jax.Array, *, key: jax.Array
) -> jax.Array:
    """Draw one drift exponent per device from its target conductance in µS."""
    module = _model_module(model)
    return module.generate_drift_coefficients(model, g_target, key=key)


def apply_drift_noise_to_conductance(
    model: NoiseModel,
    g_prog: jax.Array,
    drift_nu: jax.Array,
    t_inference: jax.Array | float,
    *,
    key: jax.Array,
) -> jax.Array:
    """Drift programmed conductances in µS to ``t_inference`` and add read noise.

    Raises:
        ConfigError: if ``t_inference`` is negative or not finite.
    """
    module = _model_module(model)
    _common.check_t_inference(t_inference)
    return module.apply_drift_noise_to_conductance(
        model, g_prog, drift_nu, t_inference, key=key
    )


def _model_module(model: object) -> ModuleType:
    module = _MODEL_MODULES.get(type(model))
    if module is None:
        names = ", ".join(kind.__name__ for kind in _MODEL_MODULES)
        raise ConfigError(
            f"`noise_model` must be one of {names}, got {type(model).__name__}."
        )
    return module

"""The weight modifier of hardware-aware training: noisy or quantised weight copies.

The formulas follow aihwkit 1.2.0's C++ tile (``weight_modifier.cpp``) and,
for PCM_NOISE, which that tile does not implement, its CUDA kernel.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from aihw_jax.errors import ConfigError
from aihw_jax.simulator import _static
from aihw_jax.simulator.parameters.inference import WeightModifierParameter
from aihw_jax.simulator.parameters.inference_enums import WeightModifierType

__all__ = ["modify_weights"]

# Stream ids for ``jax.random.fold_in``: one per random source of a call.
(
    _ROUNDING,
    _NOISE,
    _DROP,
    _AT_RESET,
    _AT_GMAX,
    _AT_RANDOM,
    _PROGRAMMING,
    _DRIFT,
    _READ,
) = range(9)

# Constants that aihwkit 1.2.0 hard-codes in its CUDA PCM_NOISE kernel. The
# programming-noise polynomial is in µS at g_max = 25 µS. The drift-exponent
# std and the 1/f read noise are those of aihwkit's PCMLikeNoiseModel.
PCM_PROG_COEFF = (0.26348, 1.9650, -1.1731)
PCM_T_READ = 250e-9
"""Read duration of the 1/f noise fit, in seconds."""
PCM_NU_STD_SLOPE, PCM_NU_STD_OFFSET = -0.0125, -0.0059
PCM_NU_STD_MIN, PCM_NU_STD_MAX = 0.008, 0.045
PCM_Q_COEFFICIENT, PCM_Q_EXPONENT, PCM_Q_FLOOR, PCM_Q_MAX = 0.0088, 0.65, 1e-3, 0.2
PCM_MIN_RELATIVE_G = 1e-6
"""Smallest ``|g| / g_max`` in the logarithm of the drift-exponent std."""


def modify_weights(
    weights: jax.Array,
    modifier: WeightModifierParameter,
    *,
    key: jax.Array,
    assumed_wmax: jax.Array | float | None = None,
) -> jax.Array:
    """Draw the modified weight copy that the training passes use.

    The reference magnitude ``a`` scales ``std_dev`` and ``res``: it is the
    absolute maximum of ``weights`` (1 if all are zero) when
    ``modifier.rel_to_actual_wmax`` is set, otherwise
    ``modifier.assumed_wmax``. After the type's formula, every type but NONE
    sets each weight to zero with probability ``pdrop``, and
    ``copy_last_column`` restores the last column. Rounding is half away
    from zero, as aihwkit's C ``roundf``.

    Args:
        weights: weights of one tile ``[out, in]``; map stacks of tiles with
            ``jax.vmap``.
        modifier: the modifier parameters.
        key: PRNG key of all random numbers drawn in this call.
        assumed_wmax: if given, the reference magnitude ``a``, in place of
            the one that ``modifier`` selects.

    Returns:
        The modified weights ``[out, in]``; ``weights`` itself if the type
        is NONE.

    Raises:
        ConfigError: if ``weights`` is not a 2-D array.
    """
    if modifier.type is WeightModifierType.NONE:
        return weights
    weights = jnp.asarray(weights)
    if weights.ndim != 2:
        raise ConfigError(
            f"`weights` must have the shape [out, in] of one tile, got shape "
            f"{list(weights.shape)}; map stacks of tiles with jax.vmap."
        )
    zeros = frozenset(
        name for name in _SKIPPABLE if _static.is_zero(getattr(modifier, name))
    )
    if assumed_wmax is not None:
        assumed_wmax = jnp.asarray(assumed_wmax, weights.dtype)
    return _modify(weights, modifier, key, assumed_wmax, zeros=zeros)


_SKIPPABLE = (
    "std_dev",
    "res",
    "pdrop",
    "pcm_prob_at_reset",
    "pcm_prob_at_gmax",
    "pcm_prob_at_random",
)
"""Fields whose concrete value 0 turns a step off and out of the compiled code."""


@functools.partial(jax.jit, static_argnames=("zeros",))
def _modify(
    weights: jax.Array,
    modifier: WeightModifierParameter,
    key: jax.Array,
    assumed_wmax: jax.Array | None,
    *,
    zeros: frozenset[str],
) -> jax.Array:
    """Compute :func:`modify_weights`, given that the fields in ``zeros`` are 0."""
    if assumed_wmax is None:
        magnitude = _reference_magnitude(weights, modifier)
    else:
        magnitude = assumed_wmax
    formula = _FORMULAS.get(modifier.type, _unchanged)
    modified = formula(weights, modifier, magnitude, key, zeros)
    if "pdrop" not in zeros:
        drop_key = jax.random.fold_in(key, _DROP)
        dropped = jax.random.uniform(drop_key, weights.shape, weights.dtype)
        modified = jnp.where(dropped < modifier.pdrop, 0.0, modified)
    if modifier.copy_last_column:
        modified = modified.at[:, -1].set(weights[:, -1])
    return modified.astype(weights.dtype)


def _reference_magnitude(
    weights: jax.Array, modifier: WeightModifierParameter
) -> jax.Array:
    """Return ``a``: the weights' absolute maximum, or the assumed one."""
    if not modifier.rel_to_actual_wmax or modifier.type is WeightModifierType.COPY:
        return jnp.asarray(modifier.assumed_wmax, weights.dtype)
    counted = weights[:, :-1] if modifier.copy_last_column else weights
    if counted.size == 0:
        return jnp.ones((), weights.dtype)
    amax = jnp.max(jnp.abs(counted))
    return jnp.where(amax > 0, amax, jnp.ones((), weights.dtype))


def _round_half_away(values: jax.Array) -> jax.Array:
    """Round to the nearest integer, halves away from zero (C ``roundf``)."""
    magnitude = jnp.abs(values)
    lower = jnp.floor(magnitude)
    rounded = jnp.where(magnitude - lower >= 0.5, lower + 1, lower)
    return jnp.sign(values) * rounded


def _discretize(
    values: jax.Array, res: jax.Array | float, sto_round: bool, key: jax.Array
) -> jax.Array:
    """Round ``values`` to multiples of ``res``, or leave them if ``res`` <= 0.

    Stochastic rounding adds ``u - 1/2`` with ``u ~ U(0, 1)`` before
    rounding, so the expected result is ``values`` itself.
    """
    step = jnp.where(res > 0, res, 1.0)
    scaled = values / step
    if sto_round:
        uniform = jax.random.uniform(
            jax.random.fold_in(key, _ROUNDING), values.shape, values.dtype
        )
        scaled = scaled + (uniform - 0.5)
    return jnp.where(res > 0, _round_half_away(scaled) * step, values)


def _gaussian(key: jax.Array, weights: jax.Array) -> jax.Array:
    return jax.random.normal(
        jax.random.fold_in(key, _NOISE), weights.shape, weights.dtype
    )


def _polynomial(coeffs: tuple, relative: jax.Array) -> jax.Array:
    """Return ``sum_k coeffs[k] * relative**k``."""
    total = coeffs[0] + jnp.zeros_like(relative)
    power = jnp.ones_like(relative)
    for coefficient in coeffs[1:]:
        power = power * relative
        total = total + coefficient * power
    return total


def _unchanged(weights, modifier, magnitude, key, zeros):
    del modifier, magnitude, key, zeros
    return weights


def _discretize_weights(weights, modifier, magnitude, key, zeros):
    if "res" in zeros:
        return weights
    relative = _discretize(weights / magnitude, modifier.res, modifier.sto_round, key)
    return jnp.where(modifier.res > 0, magnitude * relative, weights)


def _mult_normal(weights, modifier, magnitude, key, zeros):
    if "std_dev" in zeros:
        return weights
    std = modifier.std_dev * magnitude
    return weights + weights * std * _gaussian(key, weights)


def _add_normal(weights, modifier, magnitude, key, zeros):
    if "std_dev" in zeros:
        return weights
    return weights + modifier.std_dev * magnitude * _gaussian(key, weights)


def _discretize_add_normal(weights, modifier, magnitude, key, zeros):
    discretized = _discretize_weights(weights, modifier, magnitude, key, zeros)
    if "std_dev" in zeros:
        return discretized
    return discretized + modifier.std_dev * magnitude * _gaussian(key, weights)


def _dorefa(weights, modifier, magnitude, key, zeros):
    if "res" in zeros:
        return weights
    scale = jnp.abs(modifier.dorefa_clip / jnp.tanh(magnitude))
    quantised = _discretize(
        jnp.tanh(weights) * scale, modifier.res, modifier.sto_round, key
    )
    return jnp.where(modifier.res > 0, quantised, weights)


def _poly_std(weights, modifier, magnitude, std_dev):
    return std_dev * _polynomial(modifier.coeffs, jnp.abs(weights) / magnitude)


def _poly(weights, modifier, magnitude, key, zeros):
    if "std_dev" in zeros or not modifier.coeffs:
        return weights
    sigma = _poly_std(weights, modifier, magnitude, modifier.std_dev)
    return weights + magnitude * sigma * _gaussian(key, weights)


def _prog_noise(weights, modifier, magnitude, key, zeros):
    if "std_dev" in zeros or not modifier.coeffs:
        return weights
    std_dev = modifier.std_dev / modifier.g_max
    sigma = _poly_std(weights, modifier, magnitude, std_dev)
    noisy = jnp.abs(weights + magnitude * sigma * _gaussian(key, weights))
    return jnp.where(weights < 0, -noisy, noisy)


def _pcm_noise(weights, modifier, magnitude, key, zeros):
    """Apply aihwkit's statistical PCM model: stuck devices, programming, drift, read.

    Only the device-to-device variation of the drift is modelled, not its
    mean, and a weight keeps its sign.
    """
    noise_scale, g_max = modifier.std_dev, modifier.g_max
    t_0 = modifier.pcm_t0
    t = modifier.pcm_t_inference + t_0
    shape, dtype = weights.shape, weights.dtype

    def uniform(stream, count=()):
        stream_key = jax.random.fold_in(key, stream)
        return jax.random.uniform(stream_key, count + shape, dtype)

    def normal(stream):
        return jax.random.normal(jax.random.fold_in(key, stream), shape, dtype)

    g = jnp.clip(weights, -magnitude, magnitude) * g_max / magnitude
    zero_threshold = modifier.pcm_zero_thres * noise_scale * PCM_PROG_COEFF[0]
    g = jnp.where(jnp.abs(g) > zero_threshold, g, 0.0)
    negative = g < 0
    g = _apply_stuck_devices(g, modifier, uniform, zeros)
    g = jnp.clip(g, -g_max, g_max)

    relative = jnp.abs(g / g_max)
    g_programmed = g + noise_scale * _polynomial(PCM_PROG_COEFF, relative) * normal(
        _PROGRAMMING
    )
    programmed_relative = jnp.abs(g_programmed / g_max)

    nu_std = PCM_NU_STD_SLOPE * jnp.log(
        jnp.maximum(programmed_relative, PCM_MIN_RELATIVE_G)
    )
    nu_std = jnp.clip(nu_std + PCM_NU_STD_OFFSET, PCM_NU_STD_MIN, PCM_NU_STD_MAX)
    nu = jnp.abs(normal(_DRIFT) * nu_std)
    g_drifted = jnp.where(t > t_0, g_programmed * (t / t_0) ** (-nu), g_programmed)

    q = PCM_Q_COEFFICIENT / jnp.maximum(
        programmed_relative**PCM_Q_EXPONENT, PCM_Q_FLOOR
    )
    q = jnp.minimum(q, PCM_Q_MAX)
    read_factor = jnp.sqrt(jnp.log((t + PCM_T_READ) / (2 * PCM_T_READ)))
    read_std = noise_scale * jnp.abs(g_drifted) * q * read_factor
    g_final = g_drifted + read_std * normal(_READ)

    magnitude_out = jnp.abs(g_final / g_max * magnitude)
    signed = jnp.where(negative, -magnitude_out, magnitude_out)
    return jnp.where(g != 0, signed, 0.0)


def _apply_stuck_devices(g, modifier, uniform, zeros):
    """Set devices to zero, ``±g_max`` or a random conductance.

    A device pushed to ``±g_max`` moves by ``g_max`` in a random direction
    and is clipped later. A random conductance takes the sign of ``g``, and
    the negative one when ``g`` is zero.
    """
    g_max = modifier.g_max
    if "pcm_prob_at_reset" not in zeros:
        g = jnp.where(uniform(_AT_RESET) < modifier.pcm_prob_at_reset, 0.0, g)
    if "pcm_prob_at_gmax" not in zeros:
        hit, direction = uniform(_AT_GMAX, (2,))
        shifted = jnp.where(direction > 0.5, g - g_max, g + g_max)
        g = jnp.where(hit < modifier.pcm_prob_at_gmax, shifted, g)
    if "pcm_prob_at_random" not in zeros:
        hit, level = uniform(_AT_RANDOM, (2,))
        random_g = jnp.where(g > 0, level * g_max, -level * g_max)
        g = jnp.where(hit < modifier.pcm_prob_at_random, random_g, g)
    return g


_FORMULAS = {
    WeightModifierType.DISCRETIZE: _discretize_weights,
    WeightModifierType.MULT_NORMAL: _mult_normal,
    WeightModifierType.ADD_NORMAL: _add_normal,
    WeightModifierType.DISCRETIZE_ADD_NORMAL: _discretize_add_normal,
    WeightModifierType.DOREFA: _dorefa,
    WeightModifierType.POLY: _poly,
    WeightModifierType.PROG_NOISE: _prog_noise,
    WeightModifierType.PCM_NOISE: _pcm_noise,
}
"""Formula of each type. DROP_CONNECT and COPY leave the weights to ``pdrop``."""

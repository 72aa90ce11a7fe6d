"""The IO-managed analog matrix-vector product of one tile.

Every input vector is processed on its own: noise management picks its
scale, the DAC quantises and clips it, the crossbar multiplies it, noise
is added, the ADC quantises and clips the result, and bound management
repeats the whole pass with a halved input while an output saturates.
Weights have shape ``[out, in]``; inputs may have any leading batch shape.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

from aihw_jax.errors import ConfigError
from aihw_jax.simulator import _random, _static
from aihw_jax.simulator.parameters.enums import (
    AnalogMVType,
    BoundManagementType,
    NoiseManagementType,
    WeightNoiseType,
)
from aihw_jax.simulator.parameters.io import IOParameters

__all__ = ["backward", "forward", "forward_with_mask"]

# Fixed constants of aihwkit's C++ periphery that its Python API does not expose.
NM_ASSUMED_WMAX = 0.6
"""Assumed maximal weight in ABS_MAX_NP_SUM noise management."""
OUT_BOUND_MASK_FRACTION = 0.999
"""Outputs at or above this fraction of the output bound get no gradient."""

# Stream ids for ``jax.random.fold_in``: one per noise source of a pass.
_INPUT_ROUNDING, _INPUT_NOISE, _WEIGHT_NOISE, _OUTPUT_NOISE, _OUTPUT_ROUNDING = range(5)


def forward(
    weights: jax.Array,
    x: jax.Array,
    io: IOParameters,
    *,
    key: jax.Array,
    nm_scale: jax.Array | None = None,
) -> jax.Array:
    """Compute the noisy analog product ``W x`` for every vector of ``x``.

    Args:
        weights: tile weights ``[out, in]`` in normalised conductance units.
        x: inputs ``[..., in]``.
        io: the forward periphery.
        key: PRNG key of all noise drawn in this call.
        nm_scale: scale used by ``AVERAGE_ABS_MAX`` noise management; if
            None, the batch mean of the vectors' absolute maxima.

    Returns:
        The outputs ``[..., out]``.
    """
    y, _ = forward_with_mask(weights, x, io, key=key, nm_scale=nm_scale)
    return y


def forward_with_mask(
    weights: jax.Array,
    x: jax.Array,
    io: IOParameters,
    *,
    key: jax.Array,
    nm_scale: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Like :func:`forward`, and also flag the outputs at the output bound.

    An output is flagged when ``|y| >= 0.999 * out_bound * out_scale`` after
    the final rescaling, which is the test aihwkit uses to stop the gradient
    of saturated outputs in the backward pass.

    Returns:
        The outputs ``[..., out]`` and a boolean mask of the same shape.
    """
    weights, x = _check_call(weights, x, io, transpose=False)
    y = _managed_mvm(
        weights,
        x,
        io,
        key,
        transpose=False,
        use_bound_management=io.bound_management is BoundManagementType.ITERATIVE,
        zero_shortcut_needs_no_input_noise=True,
        nm_scale=nm_scale,
    )
    bound = jnp.asarray(io.out_bound, y.dtype) * io.out_scale
    limit = OUT_BOUND_MASK_FRACTION * jnp.abs(bound)
    saturated = (jnp.abs(y) >= limit) & (io.out_bound > 0) & ~_is_perfect(io)
    return y, saturated


def backward(
    weights: jax.Array,
    d: jax.Array,
    io: IOParameters,
    *,
    key: jax.Array,
    nm_scale: jax.Array | None = None,
) -> jax.Array:
    """Compute the noisy transposed product ``W^T d`` for every vector of ``d``.

    The same periphery as :func:`forward`, except that bound management is
    never applied and a vector whose noise-management scale is not positive
    gives exactly zero, whatever ``inp_noise`` is.

    Args:
        weights: tile weights ``[out, in]``.
        d: output errors ``[..., out]``.
        io: the backward periphery.
        key: PRNG key of all noise drawn in this call.
        nm_scale: as for :func:`forward`.

    Returns:
        The input errors ``[..., in]``.
    """
    weights, d = _check_call(weights, d, io, transpose=True)
    return _managed_mvm(
        weights,
        d,
        io,
        key,
        transpose=True,
        use_bound_management=False,
        zero_shortcut_needs_no_input_noise=False,
        nm_scale=nm_scale,
    )


def _check_call(
    weights: jax.Array, x: jax.Array, io: IOParameters, *, transpose: bool
) -> tuple[jax.Array, jax.Array]:
    """Check the arguments of a tile MVM in Python; return them as float arrays."""
    if not isinstance(io, IOParameters):
        raise ConfigError(f"`io` must be an IOParameters, got {type(io).__name__}.")
    io.check_support()
    weights = jnp.asarray(weights)
    x = jnp.asarray(x)
    if weights.ndim != 2:
        raise ConfigError(f"Tile weights must be [out, in], got shape {weights.shape}.")
    width = weights.shape[0] if transpose else weights.shape[1]
    if x.ndim < 1 or x.shape[-1] != width:
        what = "errors" if transpose else "inputs"
        raise ConfigError(
            f"Tile {what} must have {width} features in their last axis for weights "
            f"of shape {weights.shape}, got shape {x.shape}."
        )
    dtype = jnp.result_type(weights.dtype, x.dtype, jnp.float32)
    return weights.astype(dtype), x.astype(dtype)


def _is_perfect(io: IOParameters) -> bool:
    return io.is_perfect or io.mv_type is AnalogMVType.IDEAL


def _matmul(v: jax.Array, weights: jax.Array, transpose: bool) -> jax.Array:
    return v @ weights if transpose else v @ weights.T


def _managed_mvm(
    weights: jax.Array,
    x: jax.Array,
    io: IOParameters,
    key: jax.Array,
    *,
    transpose: bool,
    use_bound_management: bool,
    zero_shortcut_needs_no_input_noise: bool,
    nm_scale: jax.Array | None,
) -> jax.Array:
    if _is_perfect(io):
        return io.out_scale * _matmul(x, weights, transpose)

    batch_shape = x.shape[:-1]
    vectors = x.reshape(-1, x.shape[-1])
    s_nm = _noise_management_scale(vectors, io, nm_scale)
    managed = io.noise_management is not NoiseManagementType.NONE
    if managed:
        zero = s_nm <= 0
        if zero_shortcut_needs_no_input_noise:
            zero = zero & (io.inp_noise <= 0)
        s_nm = jnp.where(s_nm > 0, s_nm, 1.0)
    else:
        zero = jnp.zeros_like(s_nm, dtype=bool)

    y, reduction = _bound_managed_passes(
        weights, vectors, s_nm, io, key, transpose, use_bound_management
    )
    y = y * (io.out_scale * s_nm * reduction)[:, None]
    y = jnp.where(zero[:, None], 0.0, y)
    return y.reshape(*batch_shape, y.shape[-1])


def _noise_management_scale(
    vectors: jax.Array, io: IOParameters, nm_scale: jax.Array | None
) -> jax.Array:
    """Return the scale ``s_nm`` of every input vector (one per row)."""
    kind = io.noise_management
    n = vectors.shape[0]
    abs_max = jnp.max(jnp.abs(vectors), axis=-1)
    thres = jnp.asarray(io.nm_thres, vectors.dtype)

    def capped(value: jax.Array) -> jax.Array:
        return jnp.where(thres > 0, jnp.minimum(value, thres), value)

    if kind is NoiseManagementType.NONE:
        return jnp.ones(n, vectors.dtype)
    if kind is NoiseManagementType.ABS_MAX:
        return capped(abs_max)
    if kind is NoiseManagementType.MAX:
        return capped(jnp.max(vectors, axis=-1))
    if kind is NoiseManagementType.CONSTANT:
        return jnp.broadcast_to(jnp.where(thres > 0, thres, 1.0), (n,))
    if kind is NoiseManagementType.AVERAGE_ABS_MAX:
        scale = jnp.mean(abs_max) if nm_scale is None else nm_scale
        return jnp.broadcast_to(jnp.asarray(scale, vectors.dtype), (n,))
    if kind is NoiseManagementType.ABS_MAX_NP_SUM:
        a = capped(abs_max)
        positive = jnp.sum(jnp.maximum(vectors, 0), axis=-1)
        negative = -jnp.sum(jnp.minimum(vectors, 0), axis=-1)
        out_bound = jnp.where(io.out_bound > 0, io.out_bound, 1.0)
        np_scale = jnp.maximum(positive, negative) * NM_ASSUMED_WMAX / out_bound
        step = input_step(io)
        limit = a * io.max_bm_res / jnp.where(step > 0, step, 1.0)
        np_scale = jnp.where(step > 0, jnp.minimum(np_scale, limit), np_scale)
        return jnp.maximum(a, np_scale)
    raise AssertionError(f"unhandled noise management {kind}")


def relative_resolution(res: jax.Array | float) -> jax.Array:
    """Normalise a resolution: negative is 0, above 1 is a number of steps."""
    res = jnp.maximum(jnp.asarray(res, jnp.float32), 0.0)
    return jnp.where(res > 1.0, 1.0 / jnp.where(res > 1.0, res, 1.0), res)


def quantization_step(res: jax.Array | float, bound: jax.Array | float) -> jax.Array:
    """Absolute quantisation step over ``[-bound, bound]`` (0: no quantisation)."""
    bound = jnp.asarray(bound, jnp.float32)
    return jnp.where(bound > 0, relative_resolution(res) * 2.0 * bound, 0.0)


def input_step(io: IOParameters) -> jax.Array:
    """DAC step ``inp_res * 2 * inp_bound``; used by the bound-management stop rule."""
    return quantization_step(io.inp_res, io.inp_bound)


def _quantize(v: jax.Array, step: jax.Array, key: jax.Array | None) -> jax.Array:
    """Round ``v`` to the grid ``step * k`` (half to even), stochastically if keyed."""
    safe_step = jnp.where(step > 0, step, 1.0)
    scaled = v / safe_step
    if key is not None:
        scaled = scaled + _random.uniform_like(key, v.shape) - 0.5
    return jnp.where(step > 0, safe_step * jnp.round(scaled), v)


def _clip(v: jax.Array, bound: jax.Array | float) -> jax.Array:
    bound = jnp.asarray(bound, v.dtype)
    return jnp.where(bound > 0, jnp.clip(v, -bound, bound), v)


def max_bound_management_passes(io: IOParameters) -> int:
    """Static upper bound on the passes: reductions 1, 2, 4, ... past max_bm_factor."""
    return math.floor(math.log2(io.max_bm_factor)) + 2


def _bound_managed_passes(
    weights: jax.Array,
    vectors: jax.Array,
    s_nm: jax.Array,
    io: IOParameters,
    key: jax.Array,
    transpose: bool,
    use_bound_management: bool,
) -> tuple[jax.Array, jax.Array]:
    """Run the analog pass, repeating it per vector while outputs clip.

    Returns the un-rescaled outputs and each vector's input reduction ``red``.
    """
    n = vectors.shape[0]
    scaled = io.noise_management is not NoiseManagementType.NONE
    if not use_bound_management:
        scale = 1.0 / s_nm if scaled else None
        y, _ = _analog_pass(weights, vectors, scale, io, key, transpose)
        return y, jnp.ones(n, vectors.dtype)

    step = input_step(io)
    reduction_limit = jnp.where(
        step > 0, io.max_bm_res / jnp.where(step > 0, step, 1.0), jnp.inf
    )
    max_passes = max_bound_management_passes(io)
    out_size = weights.shape[1] if transpose else weights.shape[0]

    def run_pass(carry):
        index, reduction, done, y_kept = carry
        pass_key = jax.random.fold_in(key, index)
        y, clipped = _analog_pass(
            weights, vectors, 1.0 / (s_nm * reduction), io, pass_key, transpose
        )
        y_kept = jnp.where(done[:, None], y_kept, y)
        stop = (
            ~clipped
            | (jnp.floor(reduction) > io.max_bm_factor)
            | (reduction > reduction_limit)
        )
        reduction = jnp.where(done | stop, reduction, 2.0 * reduction)
        return index + 1, reduction, done | stop, y_kept

    def keep_going(carry):
        index, _, done, _ = carry
        return (index < max_passes) & ~jnp.all(done)

    initial = (
        jnp.int32(0),
        jnp.ones(n, vectors.dtype),
        jnp.zeros(n, bool),
        jnp.zeros((n, out_size), vectors.dtype),
    )
    _, reduction, _, y = lax.while_loop(keep_going, run_pass, initial)
    return y, reduction


def _analog_pass(
    weights: jax.Array,
    vectors: jax.Array,
    scale: jax.Array | None,
    io: IOParameters,
    key: jax.Array,
    transpose: bool,
) -> tuple[jax.Array, jax.Array]:
    """One pass of DAC, crossbar, noise and ADC; also return which vectors clipped."""
    v = vectors if scale is None else vectors * scale[:, None]
    v = _prepare_input(v, io, key)
    y = _matmul(v, weights, transpose)
    y = _add_weight_noise(y, v, weights, io, key, transpose)
    if not _static.is_zero(io.out_asymmetry):
        y = jnp.where(y < 0, y * (1.0 - io.out_asymmetry), y)
    if not _static.is_zero(io.out_noise):
        noise_key = jax.random.fold_in(key, _OUTPUT_NOISE)
        y = y + io.out_noise * _random.normal(noise_key, y.shape)
    rounding_key = (
        jax.random.fold_in(key, _OUTPUT_ROUNDING) if io.out_sto_round else None
    )
    y = _quantize(y, quantization_step(io.out_res, io.out_bound), rounding_key)
    bound = jnp.asarray(io.out_bound, y.dtype)
    over = y > bound
    if io.bm_test_negative_bound:
        over = over | (y < -bound)
    clipped = jnp.any(over & (bound > 0), axis=-1)
    return _clip(y, bound), clipped


def _prepare_input(v: jax.Array, io: IOParameters, key: jax.Array) -> jax.Array:
    """DAC: quantise, clip to the input bound, add input noise and asymmetry."""
    rounding_key = (
        jax.random.fold_in(key, _INPUT_ROUNDING) if io.inp_sto_round else None
    )
    v = _quantize(v, input_step(io), rounding_key)
    v = _clip(v, io.inp_bound)
    if not _static.is_zero(io.inp_noise):
        noise_key = jax.random.fold_in(key, _INPUT_NOISE)
        v = v + io.inp_noise * _random.normal(noise_key, v.shape)
    if not _static.is_zero(io.inp_asymmetry):
        v = jnp.where(v < 0, v * (1.0 - io.inp_asymmetry), v)
    return v


def _add_weight_noise(
    y: jax.Array,
    v: jax.Array,
    weights: jax.Array,
    io: IOParameters,
    key: jax.Array,
    transpose: bool,
) -> jax.Array:
    """Add IR drop and output-referred weight noise, in aihwkit's order."""
    if not _static.is_zero(io.ir_drop):
        y = y - io.ir_drop * _ir_drop(v, weights, io, transpose)
    kind = io.w_noise_type
    if kind is WeightNoiseType.NONE or _static.is_zero(io.w_noise):
        return y
    noise = jax.random.normal(jax.random.fold_in(key, _WEIGHT_NOISE), y.shape, y.dtype)
    if kind is WeightNoiseType.ADDITIVE_CONSTANT:
        spread = jnp.linalg.norm(v, axis=-1, keepdims=True)
    else:
        spread = jnp.sqrt(_matmul(v * v, jnp.abs(weights), transpose))
    return y + io.w_noise * spread * noise


def _ir_drop(
    v: jax.Array, weights: jax.Array, io: IOParameters, transpose: bool
) -> jax.Array:
    """Output change of the IR-drop model (before the ``ir_drop`` factor)."""
    n = v.shape[-1]
    a = (n / io.ir_drop_g_ratio) * _matmul(jnp.abs(v), jnp.abs(weights), transpose)
    c = a * (a * (0.05 * a - 0.2) + 0.5)
    position = jnp.arange(n, dtype=v.dtype) / n
    weighted = v * (1.0 - (1.0 - position) ** 2)
    return c * _matmul(weighted, weights, transpose)

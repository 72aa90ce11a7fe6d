"""Pulsed devices: device-to-device draws, pulses and per-batch maintenance.

``init`` draws every cross-point's bounds and step sizes once, from an
explicit key, as aihwkit does when a tile is created. ``apply_pulses`` moves
the weights by a number of same-direction pulses per cross-point, and
``post_update`` applies the per-mini-batch diffusion and decay. The rules
of the state-dependent devices are in ``models``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from aihw_jax.simulator import _static
from aihw_jax.simulator.devices import models
from aihw_jax.simulator.parameters.devices import (
    ConstantStepDevice,
    LinearStepDevice,
    PulsedDevice,
    SoftBoundsDevice,
)

__all__ = [
    "PulsedDeviceState",
    "apparent_weight",
    "apply_pulses",
    "granularity",
    "has_maintenance",
    "init",
    "is_affine_step",
    "is_constant_step",
    "post_update",
    "redraw_write_noise",
]


@struct.dataclass
class PulsedDeviceState:
    """Per-cross-point device values drawn at construction, each ``[out, in]``."""

    w_min: jax.Array
    """Lower weight bound."""
    w_max: jax.Array
    """Upper weight bound."""
    dw_up: jax.Array
    """Mean weight change of an up pulse (positive)."""
    dw_down: jax.Array
    """Mean weight change of a down pulse (positive)."""
    decay: jax.Array
    """Factor applied to ``w - reset_bias`` once per mini-batch (1: no decay)."""
    diffusion_rate: jax.Array
    """Std of the diffusion step applied once per mini-batch."""
    reset_bias: jax.Array
    """Reset value, also the target of decay."""
    hidden: dict = struct.field(default_factory=dict)
    """Device-specific values, e.g. the slopes of soft-bounds devices."""


def granularity(params: PulsedDevice) -> jax.Array:
    """Weight change ``epsilon`` that update management assumes for one pulse.

    It comes from the mean parameters, not from drawn values: ``dw_min`` for
    the constant-step device.
    """
    return models.granularity(params)


def init(
    key: jax.Array, shape: tuple[int, int], params: PulsedDevice
) -> PulsedDeviceState:
    """Draw the device-to-device values of a tile of ``shape`` cross-points.

    Follows aihwkit's construction: Gaussian spreads of the bounds, of the
    step gain and of the up/down asymmetry, consistency enforcement, stuck
    (corrupt) devices, and the decay, diffusion and reset draws.
    """
    params = models.resolve(params)
    if params.construction_seed:
        key = jax.random.key(params.construction_seed)
    keys = jax.random.split(key, 11)

    def gauss(index: int) -> jax.Array:
        return jax.random.normal(keys[index], shape, jnp.float32)

    b_max = params.w_max * (1.0 + params.w_max_dtod * gauss(0))
    b_min = params.w_min * (1.0 + params.w_min_dtod * gauss(1))
    if params.dw_min_dtod_log_normal:
        gain = jnp.exp(params.dw_min_dtod * gauss(2))
    else:
        gain = 1.0 + params.dw_min_dtod * gauss(2)
    spread = params.up_down_dtod * gauss(3)
    up_bias = jnp.minimum(params.up_down, 0.0)
    down_bias = -jnp.maximum(params.up_down, 0.0)
    dw_up = (up_bias + gain + spread) * params.dw_min
    dw_down = (down_bias + gain - spread) * params.dw_min

    if params.enforce_consistency:
        dw_up, dw_down = jnp.abs(dw_up), jnp.abs(dw_down)
        low, high = jnp.minimum(b_min, b_max), jnp.maximum(b_min, b_max)
        b_max, b_min = jnp.abs(high), -jnp.abs(low)
    else:
        middle = 0.5 * (b_min + b_max)
        frozen = b_min > b_max
        b_min = jnp.where(frozen, middle, b_min)
        b_max = jnp.where(frozen, middle, b_max)

    corrupt = jax.random.uniform(keys[4], shape) < params.corrupt_devices_prob
    stuck_range = jnp.abs(params.corrupt_devices_range)
    low = jnp.maximum(jnp.minimum(b_min, b_max), -stuck_range)
    high = jnp.minimum(jnp.maximum(b_min, b_max), stuck_range)
    stuck = low + (high - low) * jax.random.uniform(keys[5], shape)
    b_min = jnp.where(corrupt, stuck, b_min)
    b_max = jnp.where(corrupt, stuck, b_max)
    dw_up = jnp.where(corrupt, 0.0, dw_up)
    dw_down = jnp.where(corrupt, 0.0, dw_down)

    diffusion_rate = jnp.abs(
        params.diffusion * (1.0 + params.diffusion_dtod * gauss(6))
    )
    reset_bias = params.reset + params.reset_dtod * gauss(7)
    lifetime = params.lifetime * (1.0 + params.lifetime_dtod * gauss(8))
    decay = jnp.where(
        lifetime > 1.0, 1.0 - 1.0 / jnp.where(lifetime > 1.0, lifetime, 2.0), 0.0
    )
    decay = jnp.where(params.lifetime > 0, decay, 1.0)
    common = {
        "w_min": b_min,
        "w_max": b_max,
        "dw_up": dw_up,
        "dw_down": dw_down,
        "decay": decay,
        "diffusion_rate": diffusion_rate,
        "reset_bias": reset_bias,
    }
    common, hidden = models.init_hidden(keys[9], shape, params, common)
    if models.has_write_noise(params):
        noise = models.write_noise_std(params) * gauss(10)
        hidden["write_noise"] = (
            noise if params.apply_write_noise_on_set else 0.0 * noise
        )
    return PulsedDeviceState(**common, hidden=hidden)


def apparent_weight(weight: jax.Array, state: PulsedDeviceState) -> jax.Array:
    """Return the weight that the MVMs see: the device's weight plus its write noise.

    Pulses, decay and diffusion act on ``weight`` itself (aihwkit's persistent
    weight); the write noise is redrawn for every cross-point they touch.
    """
    return (
        weight + state.hidden["write_noise"]
        if "write_noise" in state.hidden
        else weight
    )


def redraw_write_noise(
    state: PulsedDeviceState, where: jax.Array, params: PulsedDevice, key: jax.Array
) -> PulsedDeviceState:
    """Draw new write noise for the cross-points selected by ``where``."""
    if "write_noise" not in state.hidden:
        return state
    old = state.hidden["write_noise"]
    fresh = models.write_noise_std(params) * jax.random.normal(
        key, old.shape, old.dtype
    )
    hidden = {**state.hidden, "write_noise": jnp.where(where, fresh, old)}
    return state.replace(hidden=hidden)


def is_constant_step(params: PulsedDevice) -> bool:
    """True if the step does not depend on the weight (pulses can be merged)."""
    return type(params) in (PulsedDevice, ConstantStepDevice)


def is_affine_step(params: PulsedDevice) -> bool:
    """True if one pulse maps the weight affinely (linear-step, soft bounds)."""
    return isinstance(params, (LinearStepDevice, SoftBoundsDevice))


def apply_pulses(
    weight: jax.Array,
    state: PulsedDeviceState,
    count: jax.Array,
    up: jax.Array,
    noise,
    params: PulsedDevice,
    max_count: int = 1024,
) -> jax.Array:
    """Apply ``count`` pulses per cross-point, all up or all down.

    ``noise(k)`` returns the standard-normal cycle-to-cycle draws of pulse
    ``k`` of every cross-point. Cross-points without pulses keep their
    weight. ``max_count`` bounds ``count`` (a sample gets at most
    ``desired_bl`` pulses), which shortens the closed form below; with
    ``max_count`` 1, linear-step and soft-bounds devices take a shorter
    path. For the constant-step device, ``n`` pulses of one direction move
    the weight by ``n * dw`` plus noise of std ``dw_min_std * dw * sqrt(n)``
    (the sum of the ``n`` per-pulse noises, drawn at once with ``noise(0)``),
    followed by one clip. Linear-step and soft-bounds devices take their
    ``n`` pulses at once in closed form (see ``_apply_affine``). Other
    devices take one pulse at a time, since their step depends on the weight.

    NOTE: clipping once after the ``n`` pulses equals clipping after each
    pulse as long as every single step keeps its sign, i.e. unless a
    cycle-to-cycle draw falls below ``-1 / dw_min_std`` (3.3 sigma for the
    default 0.3), where one pulse would move the weight backwards.
    """
    if is_affine_step(params) and max_count <= 1:
        return _apply_affine_once(weight, state, count, up, noise(0), params)
    if is_affine_step(params):
        bits = max(int(max_count), 1).bit_length()
        return _apply_affine(weight, state, count, up, noise(0), params, bits)
    if not is_constant_step(params):
        return _apply_one_by_one(weight, state, count, up, noise, params)
    count_f = count.astype(weight.dtype)
    step = jnp.where(up, state.dw_up, -state.dw_down)
    change = step * (count_f + params.dw_min_std * jnp.sqrt(count_f) * noise(0))
    # Without pulses the change is 0 and the clip leaves the weight as it is.
    return jnp.clip(weight + change, state.w_min, state.w_max)


def _power(base: jax.Array, exponent: jax.Array, bits: int) -> jax.Array:
    """Return ``base ** exponent`` for exponents below ``2**bits``, by squaring."""
    result = jnp.ones_like(base)
    for bit in range(bits):
        result = jnp.where((exponent >> bit) & 1, result * base, result)
        base = base * base
    return result


def _geometric_sum(slope: jax.Array, count: jax.Array, power: jax.Array) -> jax.Array:
    """Return ``sum_{k<n} (1 + slope)**k``, with ``power = (1 + slope)**n``.

    Exactly ``n`` for ``n`` of 0 or 1, so that ``_apply_affine`` and
    ``_apply_affine_once`` agree to the bit on such counts.
    """
    n = count.astype(slope.dtype)
    small = jnp.abs(slope * n) < 1e-3
    series = n + slope * n * (n - 1.0) / 2.0
    safe = jnp.where(small, 1.0, slope)
    return jnp.where(small | (count <= 1), series, (power - 1.0) / safe)


def _signed_slope_and_step(state, up) -> tuple[jax.Array, jax.Array]:
    """Return the slope and step of one up (where ``up``) or down pulse."""
    slope = jnp.where(up, state.hidden["slope_up"], -state.hidden["slope_down"])
    step = jnp.where(up, state.dw_up, -state.dw_down)
    return slope, step


def _apply_affine(weight, state, count, up, noise, params, bits) -> jax.Array:
    """Apply ``n`` pulses of a linear-step or soft-bounds device at once.

    One pulse maps ``w`` to ``w + s w + b`` (``s`` the signed slope, ``b``
    the signed step), so ``n`` pulses give ``w + (s w + b) S`` with ``S =
    sum_{k<n} (1 + s)**k`` without noise. The cycle-to-cycle noise of the
    ``n`` pulses is one Gaussian draw with their summed variance, each
    pulse's noise carried forward by the later pulses' factors ``1 + s``.
    For one pulse this is the single-pulse rule exactly.

    NOTE: for ``n > 1`` the noise is exact to first order in
    ``dw_min_std``: it uses the steps of the noiseless trajectory, and the
    weight is clipped once after the ``n`` pulses.
    """
    params = models.resolve(params)
    slope, step = _signed_slope_and_step(state, up)
    factor = 1.0 + slope
    power = _power(factor, count, bits)
    first = slope * weight + step
    mean = weight + first * _geometric_sum(slope, count, power)

    n = count.astype(weight.dtype)
    if params.mult_noise:
        # Pulse k's noise is sigma * first * factor**k, carried forward by
        # factor**(n-1-k): every pulse adds sigma * first * factor**(n-1).
        spread = jnp.abs(first) * jnp.sqrt(n) * (power / factor)
    else:
        square = factor * factor - 1.0
        squares = _geometric_sum(square, count, power * power)
        spread = jnp.abs(step) * jnp.sqrt(jnp.maximum(squares, 0.0))
    new = jnp.clip(mean + params.dw_min_std * spread * noise, state.w_min, state.w_max)
    return jnp.where(count > 0, new, weight)


def _apply_affine_once(weight, state, count, up, noise, params) -> jax.Array:
    """Apply at most one pulse per cross-point, as ``_apply_affine`` does to the bit."""
    params = models.resolve(params)
    slope, step = _signed_slope_and_step(state, up)
    first = slope * weight + step
    spread = jnp.abs(first) if params.mult_noise else jnp.abs(step)
    mean = weight + first
    new = jnp.clip(mean + params.dw_min_std * spread * noise, state.w_min, state.w_max)
    return jnp.where(count > 0, new, weight)


def _apply_one_by_one(weight, state, count, up, noise, params) -> jax.Array:
    def one_pulse(k, weight):
        new = models.pulse_once(weight, state, up, noise(k), params)
        return jnp.where(k < count, new, weight)

    return jax.lax.fori_loop(0, jnp.max(count), one_pulse, weight)


def has_maintenance(params: PulsedDevice) -> bool:
    """True unless diffusion and decay are both concretely off."""
    return not (_static.is_zero(params.diffusion) and _static.is_zero(params.lifetime))


def post_update(
    weight: jax.Array,
    state: PulsedDeviceState,
    params: PulsedDevice,
    key: jax.Array,
) -> jax.Array:
    """Apply diffusion and then decay, once per mini-batch, as aihwkit orders them."""
    if not _static.is_zero(params.diffusion):
        noise = jax.random.normal(key, weight.shape, weight.dtype)
        weight = jnp.clip(
            weight + state.diffusion_rate * noise, state.w_min, state.w_max
        )
    if not _static.is_zero(params.lifetime):
        decayed = state.reset_bias + state.decay * (weight - state.reset_bias)
        weight = jnp.clip(decayed, state.w_min, state.w_max)
    return weight

"""The state-dependent pulsed devices: their hidden draws and one-pulse rules.

Each rule moves the weights of the cross-points that receive a pulse by one
pulse (up where ``up`` is True, down elsewhere), with one cycle-to-cycle
draw ``noise`` per cross-point, and clips to the device's bounds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from aihw_jax.simulator import _static
from aihw_jax.simulator.parameters import devices as p

__all__ = [
    "granularity",
    "has_write_noise",
    "init_hidden",
    "pulse_once",
    "resolve",
    "write_noise_std",
]


def resolve(params: p.PulsedDevice) -> p.PulsedDevice:
    """Turn re-parameterised devices into the device that is simulated."""
    if isinstance(params, p.SoftBoundsPmaxDevice):
        return params.as_soft_bounds()
    return params


def has_write_noise(params: p.PulsedDevice) -> bool:
    """True unless the device's write noise is concretely zero."""
    return not _static.is_zero(getattr(params, "write_noise_std", 0.0))


def write_noise_std(params: p.PulsedDevice) -> jax.Array:
    """Absolute std of the write noise: ``write_noise_std`` times the mean ``dw_min``."""
    params = resolve(params)
    return jnp.asarray(params.write_noise_std * params.dw_min, jnp.float32)


def granularity(params: p.PulsedDevice) -> jax.Array:
    """Weight change ``epsilon`` that update management assumes for one pulse.

    It is computed from the mean parameters, as in aihwkit: ExpStep uses the
    down step at ``w = 0``, PowStep the step at mid-range and PiecewiseStep
    the middle table entry.
    """
    params = resolve(params)
    dw_min = jnp.asarray(params.dw_min, jnp.float32)
    if isinstance(params, p.ExpStepDevice):
        down_bias = -jnp.maximum(params.up_down, 0.0)
        factor = jnp.maximum(
            1.0 - params.A_down * jnp.exp(-params.gamma_down * params.b), 0.0
        )
        value = (1.0 + down_bias) * dw_min * factor
        return jnp.where(value > 0, value, dw_min)
    if isinstance(params, (p.PowStepDevice, p.PowStepReferenceDevice)):
        return dw_min * 0.5**params.pow_gamma
    if isinstance(params, p.PiecewiseStepDevice):
        return dw_min * params.piecewise_up[len(params.piecewise_up) // 2]
    return dw_min


def _safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    safe = jnp.where(denominator == 0, 1.0, denominator)
    return jnp.where(denominator == 0, 0.0, numerator / safe)


def init_hidden(
    key: jax.Array, shape: tuple[int, int], params: p.PulsedDevice, base: dict
) -> tuple[dict, dict]:
    """Draw the device-specific values after the common ones in ``base``.

    Returns the (possibly changed) common values and the hidden values.
    """
    keys = jax.random.split(key, 4)

    def gauss(index: int) -> jax.Array:
        return jax.random.normal(keys[index], shape, jnp.float32)

    if isinstance(params, (p.LinearStepDevice, p.SoftBoundsDevice)):
        if isinstance(params, p.LinearStepDevice):
            gamma_up = params.gamma_up + params.gamma_up_dtod * gauss(0)
            gamma_down = params.gamma_down + params.gamma_down_dtod * gauss(1)
            if not params.allow_increasing:
                gamma_up, gamma_down = jnp.abs(gamma_up), jnp.abs(gamma_down)
            by_mean = params.mean_bound_reference
        else:
            gamma_up = gamma_down = jnp.ones(shape, jnp.float32)
            by_mean = False
        upper = params.w_max if by_mean else base["w_max"]
        lower = params.w_min if by_mean else base["w_min"]
        reference_up = lower - params.reverse_offset if params.reverse_up else upper
        reference_down = upper + params.reverse_offset if params.reverse_down else lower
        reference_up = jnp.broadcast_to(jnp.asarray(reference_up, jnp.float32), shape)
        reference_down = jnp.broadcast_to(
            jnp.asarray(reference_down, jnp.float32), shape
        )
        hidden = {
            "slope_up": _safe_divide(-gamma_up * base["dw_up"], reference_up),
            "slope_down": _safe_divide(-gamma_down * base["dw_down"], reference_down),
        }
        return base, hidden

    if isinstance(params, (p.PowStepDevice, p.PowStepReferenceDevice)):
        gain = 1.0 + params.pow_gamma_dtod * gauss(0)
        spread = params.pow_up_down_dtod * gauss(1)
        gamma_up = (
            jnp.minimum(params.pow_up_down, 0.0) + gain + spread
        ) * params.pow_gamma
        gamma_down = (
            -jnp.maximum(params.pow_up_down, 0.0) + gain - spread
        ) * params.pow_gamma
        if params.enforce_consistency:
            gamma_up, gamma_down = jnp.abs(gamma_up), jnp.abs(gamma_down)
        hidden = {"gamma_up": gamma_up, "gamma_down": gamma_down}
        if isinstance(params, p.PowStepReferenceDevice):
            reference = params.reference_mean + params.reference_std * gauss(2)
            if params.subtract_symmetry_point:
                point = _pow_symmetry_point(base, hidden, params)
                reference = reference + point
                base = {**base, "reset_bias": base["reset_bias"] + point}
            hidden["reference"] = reference
        return base, hidden

    if isinstance(params, p.SoftBoundsReferenceDevice):
        straddles = (base["w_max"] > 0) & (base["w_min"] < 0)
        w_max = base["w_max"] / jnp.abs(1.0 + params.slope_up_dtod * gauss(0))
        w_min = base["w_min"] / jnp.abs(1.0 + params.slope_down_dtod * gauss(1))
        base = {
            **base,
            "w_max": jnp.where(straddles, w_max, base["w_max"]),
            "w_min": jnp.where(straddles, w_min, base["w_min"]),
        }
        reference = params.reference_mean + params.reference_std * gauss(2)
        if params.subtract_symmetry_point:
            up, down = base["dw_up"], base["dw_down"]
            slope = _safe_divide(up, base["w_max"]) - _safe_divide(down, base["w_min"])
            point = jnp.where(straddles, _safe_divide(up - down, slope), 0.0)
            reference = reference + point
            base = {**base, "reset_bias": base["reset_bias"] + point}
        return base, {"reference": reference}

    return base, {}


def _pow_symmetry_point(
    base: dict, hidden: dict, params: p.PowStepReferenceDevice
) -> jax.Array:
    """Find where up and down steps of a power-step device balance, by iteration."""
    span = base["w_max"] - base["w_min"]
    safe_span = jnp.where(span > 0, span, 1.0)
    if params.n_estimation_steps > 0:
        steps = params.n_estimation_steps
    else:
        smallest = float(params.dw_min) * max(1e-6, 1.0 - 3 * float(params.dw_min_dtod))
        steps = min(
            round(10 * (float(params.w_max) - float(params.w_min)) / smallest), 10000
        )

    def step(_, point):
        up = (
            base["dw_up"]
            * jnp.clip((base["w_max"] - point) / safe_span, 0.0) ** hidden["gamma_up"]
        )
        down = (
            base["dw_down"]
            * jnp.clip((point - base["w_min"]) / safe_span, 0.0) ** hidden["gamma_down"]
        )
        return point + up - down

    return jax.lax.fori_loop(0, steps, step, jnp.zeros_like(span))


def pulse_once(
    weight: jax.Array,
    state,
    up: jax.Array,
    noise: jax.Array,
    params: p.PulsedDevice,
) -> jax.Array:
    """Apply one pulse to every cross-point of ``weight`` and clip."""
    params = resolve(params)
    sigma = params.dw_min_std
    dw_up, dw_down, hidden = state.dw_up, state.dw_down, state.hidden

    if isinstance(params, (p.LinearStepDevice, p.SoftBoundsDevice)):
        slope = jnp.where(up, hidden["slope_up"], hidden["slope_down"])
        step = jnp.where(up, dw_up, -dw_down)
        sign = jnp.where(up, 1.0, -1.0)
        if params.mult_noise:
            change = (sign * slope * weight + step) * (1.0 + sigma * noise)
        else:
            change = sign * slope * weight + step * (1.0 + sigma * noise)
        return jnp.clip(weight + change, state.w_min, state.w_max)

    if isinstance(params, p.SoftBoundsReferenceDevice):
        physical = weight + hidden["reference"]
        up_factor = 1.0 - jnp.where(
            state.w_max > 0, _safe_divide(physical, state.w_max), 0.0
        )
        down_factor = 1.0 - jnp.where(
            state.w_min < 0, _safe_divide(physical, state.w_min), 0.0
        )
        factor = jnp.where(up, up_factor, down_factor)
        step = jnp.where(up, dw_up, -dw_down)
        if params.mult_noise:
            change = step * factor * (1.0 + sigma * noise)
        else:
            change = step * (factor + sigma * noise)
        physical = jnp.clip(physical + change, state.w_min, state.w_max)
        return physical - hidden["reference"]

    if isinstance(params, p.ExpStepDevice):
        span = state.w_max - state.w_min
        z = 2.0 * params.a * _safe_divide(weight, span) + params.b
        # One exponential per pulse: the direction picks amplitude and rate.
        amplitude = jnp.where(up, params.A_up, params.A_down)
        rate = jnp.where(up, params.gamma_up, -params.gamma_down)
        factor = jnp.maximum(1.0 - amplitude * jnp.exp(rate * z), 0.0)
        change = factor * jnp.where(up, dw_up, -dw_down)
        spread = (
            jnp.abs(change)
            + params.dw_min_std_add
            + params.dw_min_std_slope * jnp.abs(weight)
        )
        change = change + sigma * spread * noise
        new = jnp.clip(weight + change, state.w_min, state.w_max)
        return jnp.where(span > 0, new, weight)

    if isinstance(params, (p.PowStepDevice, p.PowStepReferenceDevice)):
        reference = hidden.get("reference", 0.0)
        physical = weight + reference
        span = state.w_max - state.w_min
        safe_span = jnp.where(span > 0, span, 1.0)
        to_top = jnp.clip((state.w_max - physical) / safe_span, 0.0)
        to_bottom = jnp.clip((physical - state.w_min) / safe_span, 0.0)
        change = jnp.where(
            up,
            dw_up * to_top ** hidden["gamma_up"],
            -dw_down * to_bottom ** hidden["gamma_down"],
        )
        physical = jnp.clip(
            physical + change * (1.0 + sigma * noise), state.w_min, state.w_max
        )
        return jnp.where(span > 0, physical - reference, weight)

    if isinstance(params, p.PiecewiseStepDevice):
        factor_up = _interpolate(params.piecewise_up, weight, state)
        factor_down = _interpolate(params.piecewise_down, weight, state)
        change = jnp.where(up, dw_up * factor_up, -dw_down * factor_down)
        return jnp.clip(
            weight + change * (1.0 + sigma * noise), state.w_min, state.w_max
        )

    # Constant step.
    change = jnp.where(up, dw_up, -dw_down) * (1.0 + sigma * noise)
    return jnp.clip(weight + change, state.w_min, state.w_max)


def _interpolate(table: tuple[float, ...], weight: jax.Array, state) -> jax.Array:
    """Piecewise-linear step factor of ``table`` over each device's range."""
    values = jnp.asarray(table, jnp.float32)
    sections = len(table) - 1
    span = state.w_max - state.w_min
    if sections == 0:
        return jnp.full_like(weight, table[0])
    position = jnp.maximum(_safe_divide(weight - state.w_min, span) * sections, 0.0)
    index = jnp.minimum(jnp.floor(position), sections - 1).astype(jnp.int32)
    fraction = jnp.minimum(position - index, 1.0)
    factor = (1.0 - fraction) * values[index] + fraction * values[index + 1]
    return jnp.where(span > 0, factor, table[0])

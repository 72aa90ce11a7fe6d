"""PCMLikeNoiseModel: programming noise, drift and read noise fitted to PCM devices."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from aihw_jax.inference import _common
from aihw_jax.inference.converter import ZERO_CLIP, SinglePairConductanceConverter
from aihw_jax.simulator.parameters import _validation as v

__all__ = [
    "PCMLikeNoiseModel",
    "apply_drift_noise_to_conductance",
    "apply_programming_noise_to_conductance",
    "generate_drift_coefficients",
]

# The constants below are the fits that aihwkit 1.2.0's PCMLikeNoiseModel uses.
DEFAULT_PROG_COEFF = (0.26348, 1.9650, -1.1731)
"""Programming-noise polynomial in µS, fitted at ``g_max`` = 25 µS."""
DEFAULT_PROG_COEFF_G_MAX_REFERENCE = 25.0
"""The ``g_max`` in µS at which :data:`DEFAULT_PROG_COEFF` was fitted."""
# Mean and std of the drift exponent: slope * ln(g / g_max) + offset, clipped.
NU_MEAN_SLOPE, NU_MEAN_OFFSET, NU_MEAN_MIN, NU_MEAN_MAX = -0.0155, 0.0244, 0.049, 0.1
NU_STD_SLOPE, NU_STD_OFFSET, NU_STD_MIN, NU_STD_MAX = -0.0125, -0.0059, 0.008, 0.045
# Relative 1/f read noise Q_s = min(coefficient / max((g / g_max)**exponent, floor), max).
Q_S_COEFFICIENT, Q_S_EXPONENT, Q_S_FLOOR, Q_S_MAX = 0.0088, 0.65, 1e-3, 0.2


@struct.dataclass
class PCMLikeNoiseModel:
    """Statistical noise of phase-change-memory devices, as aihwkit's model.

    Field names, order and defaults follow aihwkit 1.2.0. Conductances are in
    µS and times in seconds. Numeric fields are pytree leaves, so ``jax.vmap``
    can sweep them. ``g_max`` enters the noise formulas, while
    ``g_converter.g_max`` sets the weight-to-conductance mapping: to sweep the
    conductance range, sweep both.
    """

    prog_coeff: tuple[float, ...] | None = None
    """Programming-noise std polynomial ``sum_i c_i (g_T / g_max)**i`` in µS.

    None means :data:`DEFAULT_PROG_COEFF` with a reference ``g_max`` of 25 µS.
    """
    g_converter: SinglePairConductanceConverter | None = None
    """Weight-to-conductance mapping; None means a single pair up to ``g_max``."""
    g_max: float | None = None
    """Maximal conductance in µS; None means the converter's (25 µS by default)."""
    t_read: float = 250e-9
    """Read duration of the 1/f noise fit, in seconds."""
    t_0: float = 20.0
    """Time of the first read after programming, in seconds: the drift reference."""
    prog_noise_scale: float = 1.0
    """Factor on the programming-noise std."""
    read_noise_scale: float = 1.0
    """Factor on the read-noise std."""
    drift_scale: float = 1.0
    """Factor on the drift exponents."""
    prog_coeff_g_max_reference: float | None = None
    """``g_max`` in µS at which ``prog_coeff`` was fitted; None means ``g_max``.

    The programming-noise std is multiplied by ``g_max / reference``.
    """

    def __post_init__(self) -> None:
        if self.prog_coeff is None:
            object.__setattr__(self, "prog_coeff", DEFAULT_PROG_COEFF)
            if self.prog_coeff_g_max_reference is None:
                object.__setattr__(
                    self,
                    "prog_coeff_g_max_reference",
                    DEFAULT_PROG_COEFF_G_MAX_REFERENCE,
                )
        _common.check_coefficients(self, "prog_coeff")
        _common.resolve_converter_and_g_max(self)
        if self.prog_coeff_g_max_reference is not None:
            v.check_number(self, "prog_coeff_g_max_reference", low=0.0, low_open=True)
        _common.check_times(self)
        for name in ("prog_noise_scale", "read_noise_scale", "drift_scale"):
            v.check_number(self, name, low=0.0)


def apply_programming_noise_to_conductance(
    model: PCMLikeNoiseModel, g_target: jax.Array, *, key: jax.Array
) -> jax.Array:
    """Draw programmed conductances around the targets, clipped at 0 µS.

    The std is ``prog_noise_scale * (g_max / reference) * sum_i c_i (g_T /
    g_max)**i``. A device at 0 µS (the unused side of a pair) is programmed
    too, so its mean ends up above 0.

    Args:
        model: the noise model.
        g_target: target conductances in µS.
        key: PRNG key of the programming noise.
    """
    g_target = _common.as_float(g_target)
    reference = model.prog_coeff_g_max_reference
    if reference is None:
        reference = model.g_max
    relative = g_target / model.g_max
    sigma = _common.polynomial(model.prog_coeff, relative) * (model.g_max / reference)
    noise = jax.random.normal(key, g_target.shape, g_target.dtype)
    return jnp.maximum(g_target + model.prog_noise_scale * sigma * noise, 0.0)


def generate_drift_coefficients(
    model: PCMLikeNoiseModel, g_target: jax.Array, *, key: jax.Array
) -> jax.Array:
    """Draw one drift exponent ``nu`` per device from its target conductance.

    ``nu = drift_scale * |mean + std * xi|``, where mean and std fall with
    ``ln(g_T / g_max)`` between the clipping limits above. A device at 0 µS
    gets mean 0.1 and std 0.045.
    """
    g_target = _common.as_float(g_target)
    log_relative = jnp.log(jnp.maximum(jnp.abs(g_target / model.g_max), ZERO_CLIP))
    mean = jnp.clip(
        NU_MEAN_SLOPE * log_relative + NU_MEAN_OFFSET, NU_MEAN_MIN, NU_MEAN_MAX
    )
    std = jnp.clip(NU_STD_SLOPE * log_relative + NU_STD_OFFSET, NU_STD_MIN, NU_STD_MAX)
    noise = jax.random.normal(key, g_target.shape, g_target.dtype)
    return model.drift_scale * jnp.abs(mean + std * noise)


def apply_drift_noise_to_conductance(
    model: PCMLikeNoiseModel,
    g_prog: jax.Array,
    drift_nu: jax.Array,
    t_inference: jax.Array | float,
    *,
    key: jax.Array,
) -> jax.Array:
    """Drift programmed conductances to ``t_inference`` and add 1/f read noise.

    ``g_D = g_prog * ((t_inference + t_0) / t_0)**-nu``, then Gaussian noise
    of std ``read_noise_scale * |g_D| * Q_s * sqrt(ln((t + t_read) / (2
    t_read)))`` with ``t = t_inference + t_0`` and ``Q_s`` from ``|g_prog|``.
    The read noise is present at ``t_inference = 0`` too. The result is
    clipped at 0 µS.

    Args:
        model: the noise model.
        g_prog: programmed conductances in µS.
        drift_nu: the drift exponents drawn at programming, same shape.
        t_inference: seconds since the end of programming (>= 0).
        key: PRNG key of the read noise.
    """
    g_prog = _common.as_float(g_prog)
    t_inference = jnp.asarray(t_inference, g_prog.dtype)
    g_drift = g_prog * _common.drift_factor(drift_nu, t_inference, model.t_0)
    power = (jnp.abs(g_prog) / model.g_max) ** Q_S_EXPONENT
    q_s = jnp.minimum(Q_S_COEFFICIENT / jnp.maximum(power, Q_S_FLOOR), Q_S_MAX)
    t = t_inference + model.t_0
    sigma = q_s * _common.read_noise_time_factor(t, model.t_read)
    noise = jax.random.normal(key, g_prog.shape, g_prog.dtype)
    g_final = g_drift + jnp.abs(g_drift) * model.read_noise_scale * sigma * noise
    return jnp.maximum(g_final, 0.0)

"""StateIndependentNoiseModel: drift and read noise that do not depend on the conductance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from aihw_jax.inference import _common
from aihw_jax.inference.converter import SinglePairConductanceConverter
from aihw_jax.simulator.parameters import _validation as v

__all__ = [
    "StateIndependentNoiseModel",
    "apply_drift_noise_to_conductance",
    "apply_programming_noise_to_conductance",
    "generate_drift_coefficients",
]


@struct.dataclass
class StateIndependentNoiseModel:
    """A generic device model, as aihwkit's ``StateIndependentNoiseModel``.

    The drift exponents share one distribution for all conductances, and by
    default the programming noise has a constant std of 0.2 µS. Field names,
    order and defaults follow aihwkit 1.2.0; conductances are in µS and times
    in seconds. Numeric fields are pytree leaves, so ``jax.vmap`` can sweep
    them. As in :class:`~aihw_jax.inference.pcm.PCMLikeNoiseModel`, ``g_max``
    enters the noise formulas and ``g_converter.g_max`` the mapping.
    """

    g_converter: SinglePairConductanceConverter | None = None
    """Weight-to-conductance mapping; None means a single pair up to ``g_max``."""
    g_max: float | None = None
    """Maximal conductance in µS; None means the converter's (25 µS by default)."""
    prog_coeff: tuple[float, ...] = (0.2, 0.0, 0.0)
    """Programming-noise std polynomial ``sum_i c_i (g_T / g_max)**i`` in µS."""
    prog_noise_scale: float = 1.0
    """Factor on the programming-noise std."""
    drift_nu_mean: float = 0.1
    """Mean of the drift exponent before ``drift_scale``."""
    drift_nu_std: float = 0.05
    """Device-to-device std of the drift exponent before ``drift_scale``."""
    drift_scale: float = 1.0
    """Factor on the drift exponents."""
    t_0: float = 20.0
    """Time of the first read after programming, in seconds: the drift reference."""
    read_noise_scale: float = 1.0
    """Factor on the read-noise std."""
    t_read: float = 250e-9
    """Read duration of the 1/f noise fit, in seconds."""

    def __post_init__(self) -> None:
        if self.prog_coeff is None:
            object.__setattr__(self, "prog_coeff", (0.2, 0.0, 0.0))
        _common.check_coefficients(self, "prog_coeff")
        _common.resolve_converter_and_g_max(self)
        _common.check_times(self)
        for name in (
            "prog_noise_scale",
            "drift_nu_mean",
            "drift_nu_std",
            "drift_scale",
            "read_noise_scale",
        ):
            v.check_number(self, name, low=0.0)


def apply_programming_noise_to_conductance(
    model: StateIndependentNoiseModel, g_target: jax.Array, *, key: jax.Array
) -> jax.Array:
    """Draw programmed conductances around the targets, clipped at 0 µS.

    The std is ``prog_noise_scale * sum_i c_i (g_T / g_max)**i`` in µS, with
    no rescaling by a reference ``g_max``.
    """
    g_target = _common.as_float(g_target)
    sigma = _common.polynomial(model.prog_coeff, g_target / model.g_max)
    noise = jax.random.normal(key, g_target.shape, g_target.dtype)
    return jnp.maximum(g_target + model.prog_noise_scale * sigma * noise, 0.0)


def generate_drift_coefficients(
    model: StateIndependentNoiseModel, g_target: jax.Array, *, key: jax.Array
) -> jax.Array:
    """Draw ``nu = drift_scale * |drift_nu_mean + drift_nu_std * xi|`` per device."""
    g_target = _common.as_float(g_target)
    noise = jax.random.normal(key, g_target.shape, g_target.dtype)
    return model.drift_scale * jnp.abs(model.drift_nu_mean + model.drift_nu_std * noise)


def apply_drift_noise_to_conductance(
    model: StateIndependentNoiseModel,
    g_prog: jax.Array,
    drift_nu: jax.Array,
    t_inference: jax.Array | float,
    *,
    key: jax.Array,
) -> jax.Array:
    """Drift programmed conductances to ``t_inference`` and add read noise.

    ``g_D = g_prog * ((t_inference + t_0) / t_0)**-nu``, then Gaussian noise
    of std ``read_noise_scale * |g_D / g_max| * sqrt(ln((t + t_read) / (2
    t_read)))`` with ``t = t_inference + t_0``. aihwkit 1.2.0 uses this std
    as µS, so a device at ``g_max`` has about 4.18 µS of read noise at
    ``t_inference = 0``. The result is clipped at 0 µS.
    """
    g_prog = _common.as_float(g_prog)
    t_inference = jnp.asarray(t_inference, g_prog.dtype)
    g_drift = g_prog * _common.drift_factor(drift_nu, t_inference, model.t_0)
    t = t_inference + model.t_0
    sigma = _common.read_noise_time_factor(t, model.t_read)
    noise = jax.random.normal(key, g_prog.shape, g_prog.dtype)
    spread = jnp.abs(g_drift / model.g_max) * model.read_noise_scale * sigma
    return jnp.maximum(g_drift + spread * noise, 0.0)

"""Checks and formulas shared by the PCM-like and state-independent noise models."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aihw_jax.errors import ConfigError
from aihw_jax.inference.converter import SinglePairConductanceConverter
from aihw_jax.simulator.parameters import _validation as v

DEFAULT_G_MAX = 25.0
"""Maximal conductance in µS when neither ``g_max`` nor a converter is given."""


def resolve_converter_and_g_max(model: Any) -> None:
    """Fill ``g_converter`` and ``g_max`` of a noise model from each other.

    Without a converter, the model gets a single-pair converter with its
    ``g_max`` (25 µS if none is given). Without ``g_max``, the model takes the
    converter's. When both are given they must agree, whereas aihwkit 1.2.0
    silently uses the converter's value.
    """
    name = type(model).__name__
    v.check_number(model, "g_max", low=0.0, low_open=True)
    if model.g_converter is None:
        g_max = DEFAULT_G_MAX if model.g_max is None else model.g_max
        object.__setattr__(
            model, "g_converter", SinglePairConductanceConverter(g_max=g_max)
        )
    if not isinstance(model.g_converter, SinglePairConductanceConverter):
        raise ConfigError(
            f"`{name}.g_converter` must be a SinglePairConductanceConverter or None, "
            f"got {type(model.g_converter).__name__}."
        )
    if model.g_max is None:
        object.__setattr__(model, "g_max", model.g_converter.g_max)
    v.check_number(model, "g_max", low=0.0, low_open=True)
    model_g_max = v._concrete(model.g_max)
    converter_g_max = v._concrete(model.g_converter.g_max)
    if (
        model_g_max is not None
        and converter_g_max is not None
        and (model_g_max != converter_g_max).any()
    ):
        raise ConfigError(
            f"`{name}.g_max`={model.g_max!r} differs from g_converter.g_max="
            f"{model.g_converter.g_max!r}; give only one of them, or the same value."
        )


def check_coefficients(model: Any, name: str) -> None:
    """Turn a list or 1-D array of polynomial coefficients into a tuple, and check it.

    Each coefficient becomes its own pytree leaf, so a sweep can map any one.
    """
    value = getattr(model, name)
    where = f"{type(model).__name__}.{name}"
    if isinstance(value, (np.ndarray, jax.Array)) and value.ndim == 1:
        value = tuple(value[index] for index in range(value.shape[0]))
    if isinstance(value, list):
        value = tuple(value)
    object.__setattr__(model, name, value)
    if not isinstance(value, tuple) or not value:
        raise ConfigError(
            f"`{where}` must be a non-empty list of numbers in µS, got {value!r}."
        )
    for index, coefficient in enumerate(value):
        if not _is_finite_scalar(coefficient):
            raise ConfigError(
                f"`{where}[{index}]` must be a finite number in µS, got "
                f"{coefficient!r}."
            )


def _is_finite_scalar(value: Any) -> bool:
    """True for a finite real scalar, and for tracers and sweep placeholders."""
    if isinstance(value, (str, bytes, complex, list, tuple, dict)):
        return False
    array = v._concrete(value)
    if array is None:
        return True
    numeric = np.issubdtype(array.dtype, np.integer) or np.issubdtype(
        array.dtype, np.floating
    )
    return numeric and array.ndim == 0 and bool(np.isfinite(array))


def as_float(values: Any) -> jax.Array:
    """Return ``values`` as an array of at least float32 precision."""
    values = jnp.asarray(values)
    return values.astype(jnp.result_type(values.dtype, jnp.float32))


def check_times(model: Any) -> None:
    """Check ``t_0`` and ``t_read``, which the read noise needs as ``t_0 >= t_read``."""
    name = type(model).__name__
    v.check_number(model, "t_0", low=0.0, low_open=True)
    v.check_number(model, "t_read", low=0.0, low_open=True)
    t_0 = v._concrete(model.t_0)
    t_read = v._concrete(model.t_read)
    if t_0 is not None and t_read is not None and (t_0 < t_read).any():
        raise ConfigError(
            f"`{name}.t_0` must be at least t_read={model.t_read!r} s, got "
            f"{model.t_0!r}; otherwise the read-noise std "
            "sqrt(ln((t + t_read) / (2 t_read))) is not a real number."
        )


def check_t_inference(t_inference: Any) -> None:
    """Raise ConfigError unless a concrete ``t_inference`` is finite and >= 0."""
    if isinstance(t_inference, jax.core.Tracer):
        return
    array = np.asarray(t_inference)
    valid = np.issubdtype(array.dtype, np.integer) or np.issubdtype(
        array.dtype, np.floating
    )
    if not valid or not np.isfinite(array).all() or (array < 0).any():
        raise ConfigError(
            "`t_inference` must be a finite time in seconds >= 0 (0 is the end of "
            f"programming), got {t_inference!r}."
        )


def polynomial(coefficients: tuple, x: jax.Array) -> jax.Array:
    """Evaluate ``sum_i coefficients[i] * x**i`` (Horner's scheme)."""
    result = jnp.zeros_like(x) + coefficients[-1]
    for coefficient in reversed(coefficients[:-1]):
        result = result * x + coefficient
    return result


def drift_factor(
    drift_nu: jax.Array, t_inference: jax.Array, t_0: jax.Array
) -> jax.Array:
    """Return the power-law drift ``((t_inference + t_0) / t_0) ** -nu``.

    The factor is exactly 1 unless ``t_inference + t_0 > t_0`` in the working
    precision, as in aihwkit.
    """
    t = t_inference + t_0
    return jnp.where(t > t_0, (t / t_0) ** (-drift_nu), 1.0)


def read_noise_time_factor(t: jax.Array, t_read: jax.Array) -> jax.Array:
    """Return ``sqrt(ln((t + t_read) / (2 t_read)))``, the 1/f noise accumulated by ``t``.

    ``t`` counts from the start of programming, so it is ``t_inference + t_0``.
    """
    return jnp.sqrt(jnp.log((t + t_read) / (2.0 * t_read)))

"""Checks that config dataclasses run on construction, before any tracing."""

from __future__ import annotations

import enum
import math
from typing import Any

import jax
import numpy as np

from aihw_jax.errors import ConfigError


def _concrete(value: Any) -> np.ndarray | None:
    """Return the value as a numpy array, or None if it is abstract or absent.

    Configs are rebuilt by JAX with tracers, ``None`` placeholders (``vmap``
    axis specs) and other sentinels as leaves; those are not checked.
    """
    if value is None or isinstance(value, jax.core.Tracer):
        return None
    if isinstance(value, (bool, int, float, np.number, np.ndarray, jax.Array)):
        return np.asarray(value)
    return None


def check_number(
    config: Any,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    allowed: str | None = None,
) -> None:
    """Raise ConfigError unless ``config.name`` is a number in the range."""
    value = getattr(config, name)
    where = f"{type(config).__name__}.{name}"
    if isinstance(value, (str, bytes, enum.Enum, list, tuple, dict, complex)):
        raise ConfigError(f"`{where}` must be a real number, got {value!r}.")
    array = _concrete(value)
    if array is None:
        return
    numeric = np.issubdtype(array.dtype, np.integer) or np.issubdtype(
        array.dtype, np.floating
    )
    if not numeric and array.dtype != np.bool_:
        raise ConfigError(f"`{where}` must be a real number, got {value!r}.")
    values = array.astype(np.float64)
    too_low = values <= low if low_open else values < low
    if not np.isfinite(values).all() or too_low.any() or (values > high).any():
        span = allowed or _describe_range(low, high, low_open)
        expected = f"a finite number {span}".rstrip()
        raise ConfigError(f"`{where}` must be {expected}, got {value!r}.")


def _describe_range(low: float, high: float, low_open: bool) -> str:
    if high == math.inf and low == -math.inf:
        return ""
    if high == math.inf:
        return f"{'>' if low_open else '>='} {low:g}"
    if low == -math.inf:
        return f"<= {high:g}"
    opener = "(" if low_open else "["
    return f"in {opener}{low:g}, {high:g}]"


def coerce_enum(config: Any, name: str, enum_type: type[enum.Enum]) -> None:
    """Turn a member name or value string into the enum member, or raise."""
    value = getattr(config, name)
    where = f"{type(config).__name__}.{name}"
    if isinstance(value, enum_type):
        return
    if isinstance(value, str):
        for member in enum_type:
            if value in (member.name, member.value):
                object.__setattr__(config, name, member)
                return
    names = ", ".join(member.name for member in enum_type)
    raise ConfigError(f"`{where}` must be one of {names}, got {value!r}.")


def _reject_traced(value: Any, where: str) -> None:
    if isinstance(value, jax.core.Tracer):
        raise ConfigError(
            f"`{where}` is a static field: it fixes shapes or loop bounds, so it "
            "cannot be traced or swept with jax.vmap. Give a Python value and "
            "sweep it with a Python loop."
        )


def check_int(config: Any, name: str, *, low: int, high: int | None = None) -> None:
    """Raise ConfigError unless ``config.name`` is an integer in the range."""
    value = getattr(config, name)
    where = f"{type(config).__name__}.{name}"
    _reject_traced(value, where)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"`{where}` must be an integer, got {value!r}.")
    if value < low or (high is not None and value > high):
        span = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"`{where}` must be {span}, got {value!r}.")


def check_bool(config: Any, name: str) -> None:
    """Raise ConfigError unless ``config.name`` is a bool."""
    value = getattr(config, name)
    _reject_traced(value, f"{type(config).__name__}.{name}")
    if not isinstance(value, (bool, np.bool_)):
        where = f"{type(config).__name__}.{name}"
        raise ConfigError(f"`{where}` must be True or False, got {value!r}.")


def check_type(config: Any, name: str, expected: type | tuple[type, ...]) -> None:
    """Raise ConfigError unless ``config.name`` is an instance of ``expected``."""
    value = getattr(config, name)
    if not isinstance(value, expected):
        where = f"{type(config).__name__}.{name}"
        kinds = expected if isinstance(expected, tuple) else (expected,)
        names = " or ".join(kind.__name__ for kind in kinds)
        raise ConfigError(
            f"`{where}` must be a {names}, got {type(value).__name__} {value!r}."
        )

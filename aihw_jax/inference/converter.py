"""Conductance converters: map a tile's weights to device conductances and back."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.parameters import _validation as v

__all__ = [
    "SinglePairConductanceConverter",
    "convert_back_to_weights",
    "convert_to_conductances",
]

ZERO_CLIP = 1e-7
"""Floor of a tile's absolute maximum weight, so that an all-zero tile maps to 0."""


@struct.dataclass
class SinglePairConductanceConverter:
    """One pair of devices per cross-point, with aihwkit's names and defaults.

    The positive part of a weight is stored on the first device of the pair
    and the negative part on the second, so one device of each pair sits at
    ``g_min``. The largest absolute weight of the tile maps to ``g_max``.
    """

    g_max: float = 25.0
    """Maximal conductance in µS, reached by the tile's largest absolute weight."""
    g_min: float = 0.0
    """Conductance in µS of a device that stores zero."""

    def __post_init__(self) -> None:
        v.check_number(self, "g_max", low=0.0, low_open=True)
        v.check_number(self, "g_min", low=0.0)
        g_max = v._concrete(self.g_max)
        g_min = v._concrete(self.g_min)
        if g_max is not None and g_min is not None and (g_min >= g_max).any():
            raise ConfigError(
                f"`SinglePairConductanceConverter.g_min` must be smaller than "
                f"g_max={self.g_max!r}, got {self.g_min!r}; lower g_min or raise "
                "g_max."
            )


def convert_to_conductances(
    converter: SinglePairConductanceConverter, weights: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Map the weights of one tile to the conductances of the device pairs.

    The scale is one scalar for the whole array, because aihwkit converts each
    tile as a unit, including its analog-bias column.

    Args:
        converter: the conductance range.
        weights: the weights of one tile, any shape.

    Returns:
        The conductances ``[2, *weights.shape]`` in µS (the positive device
        first), and the scale ratio in µS per weight unit.
    """
    _check_converter(converter)
    weights = jnp.asarray(weights)
    span = converter.g_max - converter.g_min
    scale_ratio = span / jnp.maximum(jnp.max(jnp.abs(weights)), ZERO_CLIP)
    scaled = weights * scale_ratio
    positive = jnp.clip(scaled, 0.0, converter.g_max) + converter.g_min
    negative = jnp.clip(-scaled, 0.0, converter.g_max) + converter.g_min
    return jnp.stack([positive, negative]), scale_ratio


def convert_back_to_weights(
    converter: SinglePairConductanceConverter,
    conductances: jax.Array,
    scale_ratio: jax.Array,
) -> jax.Array:
    """Map device-pair conductances back to weights: ``(g+ - g-) / scale_ratio``.

    Args:
        converter: the conductance range used to convert the weights.
        conductances: ``[2, ...]`` in µS, as from :func:`convert_to_conductances`.
        scale_ratio: the scale returned by :func:`convert_to_conductances`.

    Raises:
        ConfigError: if the leading axis does not hold exactly two devices.
    """
    _check_converter(converter)
    conductances = jnp.asarray(conductances)
    if conductances.ndim < 1 or conductances.shape[0] != 2:
        raise ConfigError(
            "A single-pair converter needs conductances of shape [2, ...] (one "
            f"slice per device of the pair), got shape {conductances.shape}."
        )
    positive = conductances[0] - converter.g_min
    negative = conductances[1] - converter.g_min
    return (positive - negative) / scale_ratio


def _check_converter(converter: object) -> None:
    if not isinstance(converter, SinglePairConductanceConverter):
        raise ConfigError(
            "`g_converter` must be a SinglePairConductanceConverter, got "
            f"{type(converter).__name__}."
        )

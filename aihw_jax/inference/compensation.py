"""Drift compensation: a digital output factor that undoes the mean drift of a tile.

Right after programming, the tile reads one-hot inputs (one per input line)
through its forward periphery and stores a summary of the outputs, the
baseline. After each drift it reads them again, and the eval outputs of the
tile are multiplied by ``alpha = baseline / current``. Training outputs are
not compensated. The functions here follow aihwkit 1.2.0; its tiles start
with ``alpha = 1`` and apply it after the mapping scales.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.simulator import tiles
from aihw_jax.simulator.parameters.io import IOParameters

__all__ = [
    "DriftCompensation",
    "GlobalDriftCompensation",
    "GlobalDriftCompensationWithExactReference",
    "PerColumnDriftCompensation",
    "compensation_factor",
    "get_readout_tensor",
    "init_baseline",
    "readout",
    "readout_forward",
]

READOUT_FLOOR = 1e-4
"""Smallest read-out value, so that an all-zero tile gives a finite factor."""


@struct.dataclass
class GlobalDriftCompensation:
    """One factor per tile: the mean absolute output of the one-hot read-out."""


@struct.dataclass
class GlobalDriftCompensationWithExactReference(GlobalDriftCompensation):
    """Like :class:`GlobalDriftCompensation`, with an exact baseline.

    The baseline is the exact product of the one-hot inputs with the target
    weights, so it has neither programming noise nor periphery noise.
    """


@struct.dataclass
class PerColumnDriftCompensation:
    """One factor per output: the mean absolute output over the read-out inputs."""


DriftCompensation = (
    GlobalDriftCompensation
    | GlobalDriftCompensationWithExactReference
    | PerColumnDriftCompensation
)


def get_readout_tensor(compensation: DriftCompensation, in_size: int) -> jax.Array:
    """Return the read-out inputs ``[in_size, in_size]``: one one-hot vector per line."""
    _check_compensation(compensation)
    return jnp.eye(in_size, dtype=jnp.float32)


def readout(compensation: DriftCompensation, outputs: jax.Array) -> jax.Array:
    """Summarise read-out outputs ``[vectors, out]`` as ``mean |y|``, floored at 1e-4.

    Returns:
        A scalar for the global compensations, or one value per output
        (mean over the read-out vectors) for :class:`PerColumnDriftCompensation`.
    """
    _check_compensation(compensation)
    magnitudes = jnp.abs(outputs)
    if isinstance(compensation, PerColumnDriftCompensation):
        return jnp.maximum(jnp.mean(magnitudes, axis=0), READOUT_FLOOR)
    return jnp.maximum(jnp.mean(magnitudes), READOUT_FLOOR)


def readout_forward(
    compensation: DriftCompensation,
    weights: jax.Array,
    io: IOParameters,
    *,
    key: jax.Array,
) -> jax.Array:
    """Read the tile with the read-out inputs through the full forward periphery.

    No input range, mapping scale, compensation factor or bias is applied:
    this is the plain tile forward of aihwkit's eval mode.

    Args:
        compensation: the drift compensation.
        weights: tile weights ``[out, in]``.
        io: the forward periphery of the tile.
        key: PRNG key of the periphery noise.

    Returns:
        The outputs ``[in, out]``, one row per read-out vector.
    """
    inputs = get_readout_tensor(compensation, jnp.shape(weights)[1])
    return tiles.forward(weights, inputs, io, key=key)


def init_baseline(
    compensation: DriftCompensation,
    programmed_weights: jax.Array,
    io: IOParameters,
    *,
    key: jax.Array,
    reference_weights: jax.Array | None = None,
) -> jax.Array:
    """Compute the baseline read-out right after programming.

    Args:
        compensation: the drift compensation.
        programmed_weights: tile weights ``[out, in]`` after programming noise,
            before any drift or read noise.
        io: the forward periphery of the tile.
        key: PRNG key of the periphery noise of this read.
        reference_weights: the target weights ``[out, in]``; needed only by
            :class:`GlobalDriftCompensationWithExactReference`.

    Returns:
        The baseline, a scalar or one value per output.

    Raises:
        ConfigError: if the exact-reference compensation gets no
            ``reference_weights``.
    """
    _check_compensation(compensation)
    if isinstance(compensation, GlobalDriftCompensationWithExactReference):
        if reference_weights is None:
            raise ConfigError(
                "GlobalDriftCompensationWithExactReference needs the target weights "
                "for its baseline; pass `reference_weights`."
            )
        reference = jnp.asarray(reference_weights)
        inputs = get_readout_tensor(compensation, reference.shape[1])
        return readout(compensation, inputs @ reference.T)
    outputs = readout_forward(compensation, programmed_weights, io, key=key)
    return readout(compensation, outputs)


def compensation_factor(
    compensation: DriftCompensation,
    weights: jax.Array,
    baseline: jax.Array,
    io: IOParameters,
    *,
    key: jax.Array,
) -> jax.Array:
    """Return ``alpha = baseline / readout``, the factor on the tile's eval outputs.

    Args:
        compensation: the drift compensation.
        weights: the current (drifted) tile weights ``[out, in]``.
        baseline: the result of :func:`init_baseline`.
        io: the forward periphery of the tile.
        key: PRNG key of the periphery noise of this read.

    Returns:
        A scalar, or one factor per output for :class:`PerColumnDriftCompensation`.
    """
    outputs = readout_forward(compensation, weights, io, key=key)
    return baseline / readout(compensation, outputs)


def _check_compensation(compensation: object) -> None:
    kinds = (GlobalDriftCompensation, PerColumnDriftCompensation)
    if not isinstance(compensation, kinds):
        raise ConfigError(
            "`drift_compensation` must be a GlobalDriftCompensation, "
            "GlobalDriftCompensationWithExactReference or PerColumnDriftCompensation, "
            f"got {type(compensation).__name__}."
        )

"""Weight transforms of hardware-aware training: modifier, clipping and remapping.

aihwkit's InferenceTile runs them after every optimizer step, in the order
clip, remap, modify: clipping and remapping change the stored weights,
while the modifier draws the copy that the next training passes use.

Weights have aihwkit's tile layout ``[out, in]``: row ``i`` contains the
weights of output ``i``, so "per channel" and "per row" both mean per
output, the reductions of each row run over axis 1, and scales have shape
``[out]``. The functions take one tile; map stacks of tiles with
``jax.vmap``. They are pure and can be jitted, with configs as arguments.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from aihw_jax.errors import ConfigError
from aihw_jax.simulator import _static
from aihw_jax.simulator.parameters.inference import (
    WeightClipParameter,
    WeightRemapParameter,
)
from aihw_jax.simulator.parameters.inference_enums import (
    WeightClipType,
    WeightRemapType,
)
from aihw_jax.simulator.tiles._modifier import modify_weights

__all__ = ["clip_weights", "modify_weights", "remap_weights"]


def _check_tile(weights: jax.Array) -> jax.Array:
    weights = jnp.asarray(weights)
    if weights.ndim != 2:
        raise ConfigError(
            f"`weights` must have the shape [out, in] of one tile, got shape "
            f"{list(weights.shape)}; map stacks of tiles with jax.vmap."
        )
    return weights


def clip_weights(weights: jax.Array, clip: WeightClipParameter) -> jax.Array:
    """Clip the weights symmetrically at the value that ``clip.type`` selects.

    FIXED_VALUE clips at ``fixed_value``. LAYER_GAUSSIAN clips at ``sigma``
    times the sample std (N - 1) of all weights. AVERAGE_CHANNEL_MAX clips
    at the mean over rows of each row's absolute maximum. Both are capped
    at ``fixed_value`` when it is positive. A clip value of 0 or less
    leaves the weights as they are.

    Args:
        weights: weights of one tile ``[out, in]``.
        clip: the clipping parameters.

    Returns:
        The clipped weights ``[out, in]``.

    Raises:
        ConfigError: if ``weights`` is not a 2-D array.
    """
    if clip.type is WeightClipType.NONE:
        return weights
    return _clip(_check_tile(weights), clip)


@jax.jit
def _clip(weights: jax.Array, clip: WeightClipParameter) -> jax.Array:
    fixed_value = jnp.asarray(clip.fixed_value, weights.dtype)
    if clip.type is WeightClipType.FIXED_VALUE:
        limit = fixed_value
    else:
        if clip.type is WeightClipType.LAYER_GAUSSIAN:
            limit = clip.sigma * jnp.std(weights, ddof=1)
        else:
            limit = jnp.mean(jnp.max(jnp.abs(weights), axis=1))
        limit = jnp.where(fixed_value > 0, jnp.minimum(limit, fixed_value), limit)
    clipped = jnp.clip(weights, -limit, limit)
    return jnp.where(limit > 0, clipped, weights).astype(weights.dtype)


def remap_weights(
    weights: jax.Array,
    remap: WeightRemapParameter,
    *,
    scales: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Divide the weights so that they fill ``[-remapped_wmax, remapped_wmax]``.

    Each row is divided by a factor and its output scale multiplied by the
    same factor, so ``weights * scales[:, None]`` (the logical weights) stays
    the same. LAYERWISE_SYMMETRIC uses one factor, the absolute maximum of
    all weights over ``remapped_wmax``. CHANNELWISE_SYMMETRIC uses each
    row's absolute maximum over ``remapped_wmax``. A factor of 0 (an
    all-zero row or tile) is replaced by 1.

    With ``max_scale_range`` > 0, CHANNELWISE_SYMMETRIC caps each new scale
    at ``max_scale_range`` times the smallest old scale (raised to
    ``max_scale_ref`` if that is set), so rows whose scale hits the cap keep
    weights above 1.

    Args:
        weights: weights of one tile ``[out, in]``.
        remap: the remapping parameters.
        scales: the tile's current positive output scales ``[out]`` (in
            aihwkit, the mapping scales times the learned output scales);
            ones if None.

    Returns:
        The remapped weights ``[out, in]`` and the new output scales
        ``[out]``, which the layer multiplies into the tile outputs in
        place of the old ones. In aihwkit they become the mapping scales and
        the learned output scales are reset to 1.

    Raises:
        ConfigError: if ``weights`` is not a 2-D array.
    """
    weights = _check_tile(weights)
    out_size = weights.shape[0]
    if scales is None:
        scales = jnp.ones((out_size,), weights.dtype)
    scales = jnp.broadcast_to(jnp.asarray(scales, weights.dtype), (out_size,))
    if remap.type is WeightRemapType.NONE:
        return weights, scales
    limited = not _static.is_zero(remap.max_scale_range)
    return _remap(weights, remap, scales, limited=limited)


@functools.partial(jax.jit, static_argnames=("limited",))
def _remap(
    weights: jax.Array,
    remap: WeightRemapParameter,
    scales: jax.Array,
    *,
    limited: bool,
) -> tuple[jax.Array, jax.Array]:
    """Compute :func:`remap_weights`. ``limited`` is False if max_scale_range is 0."""
    magnitude = jnp.abs(weights)
    if remap.type is WeightRemapType.LAYERWISE_SYMMETRIC:
        factor = jnp.max(magnitude) / remap.remapped_wmax
        factor = jnp.where(factor > 0, factor, 1.0)
        return weights / factor, scales * factor
    row_max = jnp.max(magnitude, axis=1)
    factor = row_max / remap.remapped_wmax
    factor = jnp.where(factor > 0, factor, 1.0)
    remapped, new_scales = weights / factor[:, None], scales * factor
    if not limited:
        return remapped, new_scales
    bounded, bounded_scales = _remap_with_scale_range(weights, remap, scales, row_max)
    use_bounded = remap.max_scale_range > 0
    return (
        jnp.where(use_bounded, bounded, remapped),
        jnp.where(use_bounded, bounded_scales, new_scales),
    )


def _remap_with_scale_range(
    weights: jax.Array,
    remap: WeightRemapParameter,
    scales: jax.Array,
    row_max: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Remap channel-wise with each new scale capped relative to the smallest old one.

    As in aihwkit, ``remapped_wmax`` is taken to be 1 here (the config
    rejects any other value).
    """
    smallest = jnp.maximum(jnp.min(scales), 0.0)
    raise_to_reference = (smallest > 0) & (remap.max_scale_ref != 0)
    smallest = jnp.where(
        raise_to_reference, jnp.maximum(smallest, remap.max_scale_ref), smallest
    )
    new_scales = jnp.where(row_max > 0, row_max * scales, scales)
    safe_smallest = jnp.where(smallest > 0, smallest, 1.0)
    capped = (smallest > 0) & (new_scales / safe_smallest > remap.max_scale_range)
    new_scales = jnp.where(capped, smallest * remap.max_scale_range, new_scales)
    remapped = weights * scales[:, None] / new_scales[:, None]
    return remapped, new_scales

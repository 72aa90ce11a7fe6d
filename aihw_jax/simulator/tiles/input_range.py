"""The learned input range of inference tiles: clipping, data initialisation, gradient.

Each column of tiles (the tiles that share one slice of the inputs) has a
range ``r``. Inputs are clipped to ``[-r, r]`` and divided by ``r`` before
the MVM, and the tile outputs are multiplied by ``r`` again. The range is
set from the data in the first training batches and then follows its own
gradient rule, not autograd's.

NOTE: aihwkit keeps one range per tile. Here the tiles of one input slice
share theirs, so a layer split along its outputs trains one range per input
slice from the summed clipping gradients. A layer of one tile (at most 512
outputs by default) is not affected.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from aihw_jax.simulator.parameters.inference import InputRangeParameter

__all__ = ["clip_inputs", "init_from_data", "range_gradient"]


def init_from_data(
    input_range: jax.Array,
    count: jax.Array,
    x_tiles: jax.Array,
    real_columns: jax.Array,
    params: InputRangeParameter,
) -> tuple[jax.Array, jax.Array]:
    """Move ``r`` towards ``init_std_alpha`` times the input std, in early batches.

    While fewer than ``init_from_data`` batches were seen and the inputs
    vary, ``r`` becomes the running mean of ``init_std_alpha * std(x)`` over
    those batches (the initial value does not count).

    Args:
        input_range: ``[n_in]`` current ranges.
        count: ``[n_in]`` batches used so far.
        x_tiles: ``[n_in, ..., columns]`` raw tile inputs of this batch.
        real_columns: ``[n_in, columns]``, False at padding columns.
        params: the input-range parameters.

    Returns:
        The ranges to use for this batch (positive) and the new counts.
    """
    columns = real_columns.reshape(
        real_columns.shape[0], *(1,) * (x_tiles.ndim - 2), -1
    )
    mask = jnp.broadcast_to(columns, x_tiles.shape)
    axes = tuple(range(1, x_tiles.ndim))
    n = jnp.sum(mask, axis=axes)
    mean = jnp.sum(jnp.where(mask, x_tiles, 0.0), axis=axes) / n
    centred = jnp.where(
        mask, x_tiles - mean.reshape(-1, *(1,) * (x_tiles.ndim - 1)), 0.0
    )
    std = jnp.sqrt(jnp.sum(centred**2, axis=axes) / jnp.maximum(n - 1, 1))
    active = (count < params.init_from_data) & (std > 0)
    moved = (input_range * count + params.init_std_alpha * std) / (count + 1)
    new_range = jnp.abs(jnp.where(active, moved, input_range))
    return new_range, count + active.astype(count.dtype)


def clip_inputs(x_tiles: jax.Array, input_range: jax.Array) -> jax.Array:
    """Return ``clip(x, -r, r) / r`` per input slice, with a straight-through gradient.

    The gradient with respect to ``x`` is ``1 / r`` everywhere, clipped
    inputs included, as aihwkit's inference tile passes it on.
    """
    r = jnp.abs(input_range).reshape(-1, *(1,) * (x_tiles.ndim - 1))
    scaled = x_tiles / r
    clipped = jnp.clip(x_tiles, -r, r) / r
    return scaled + jax.lax.stop_gradient(clipped - scaled)


def range_gradient(
    x_scaled: jax.Array,
    dx_tiles: jax.Array,
    input_range: jax.Array,
    real_columns: jax.Array,
    params: InputRangeParameter,
) -> jax.Array:
    """aihwkit's gradient of the input range, one value per input slice.

    Clipped inputs whose gradient would push them further out vote to
    widen the range; with ``decay`` the range shrinks while more than
    ``input_min_percentage`` of the inputs lie inside it.

    Args:
        x_scaled: ``[n_in, batch, columns]`` clipped and scaled inputs
            (``clip(x, -r, r) / r``), so ``|x| >= r`` where they are +-1.
        dx_tiles: ``[n_in, batch, columns]`` gradients of the loss with
            respect to the raw inputs.
        input_range: ``[n_in]`` ranges used in the forward.
        real_columns: ``[n_in, columns]``, False at padding columns.
        params: the input-range parameters.

    Returns:
        ``[n_in]`` gradients.
    """
    mask = jnp.broadcast_to(real_columns[:, None, :], x_scaled.shape)
    upper = mask & (x_scaled >= 1.0)
    lower = mask & (x_scaled <= -1.0)
    axes = (1, 2)
    gradient = jnp.sum(jnp.where(upper, jnp.minimum(dx_tiles, 0.0), 0.0), axis=axes)
    gradient -= jnp.sum(jnp.where(lower, jnp.maximum(dx_tiles, 0.0), 0.0), axis=axes)
    r = jnp.abs(input_range)
    if params.gradient_relative:
        gradient = gradient * r * params.gradient_scale
    inside = jnp.sum(mask & (jnp.abs(x_scaled) < 1.0), axis=axes)
    fraction = inside / jnp.maximum(jnp.sum(mask, axis=axes), 1)
    # The decay is a leaf (it may be traced in a sweep): a zero adds nothing.
    gradient += params.decay * r * (fraction > params.input_min_percentage)
    return gradient

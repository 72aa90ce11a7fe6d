"""One pulsed device inside a compound: its weight, its draws and its pulses.

A member is the dict ``{"weight": w, "device": PulsedDeviceState}`` for one
tile ``[out, in]``; ``weight`` is the persistent weight that pulses, decay
and diffusion act on, without write noise.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from aihw_jax.simulator import _random, devices
from aihw_jax.simulator.parameters.devices import PulsedDevice
from aihw_jax.simulator.parameters.training import UpdateParameters
from aihw_jax.simulator.tiles import update as tile_update

Member = dict[str, Any]


def init(key: jax.Array, shape: tuple[int, int], params: PulsedDevice) -> Member:
    """Draw a member's devices; its weight starts at 0 (clipped to its bounds)."""
    state = devices.init(key, shape, params)
    weight = jnp.clip(jnp.zeros(shape, jnp.float32), state.w_min, state.w_max)
    return {"weight": weight, "device": state}


def set_weight(member: Member, weight: jax.Array) -> Member:
    """Program ``weight``, clipped to the member's own bounds."""
    state = member["device"]
    return {**member, "weight": jnp.clip(weight, state.w_min, state.w_max)}


def apparent(member: Member) -> jax.Array:
    """Return the weight an MVM uses: the persistent weight plus write noise."""
    return devices.apparent_weight(member["weight"], member["device"])


def pulse(
    member: Member,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    params: PulsedDevice,
    update: UpdateParameters,
    key: jax.Array,
    granularity: jax.Array | None = None,
) -> tuple[Member, jax.Array]:
    """Apply ``-lr d x^T`` as pulses, sample after sample.

    Returns the new member and the mask of cross-points that were pulsed.
    """
    weight, pulsed = tile_update.pulsed_update_tiles(
        member["weight"][None],
        jax.tree.map(lambda a: a[None], member["device"]),
        x[None],
        d[None],
        lr,
        params,
        update,
        key=key,
        granularity=granularity,
        return_pulsed=True,
    )
    return {**member, "weight": weight[0]}, pulsed[0]


def pulse_columns(
    member: Member,
    columns: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    params: PulsedDevice,
    update: UpdateParameters,
    key: jax.Array,
) -> tuple[Member, jax.Array]:
    """Write ``-lr d_r`` into the distinct columns ``columns[r]``, one sample each.

    A sample with a one-hot input changes only its own column, so writes to
    distinct columns do not interact and run side by side. ``columns`` must
    not repeat.
    """
    weight, state = member["weight"], member["device"]

    def take(a):
        return a[:, columns].T[:, :, None] if a.ndim == 2 else a

    tiles = take(weight)
    states = jax.tree.map(take, state)
    count = columns.shape[0]
    ones = jnp.ones((count, 1, 1), jnp.float32)
    new, pulsed = tile_update.pulsed_update_tiles(
        tiles,
        states,
        ones,
        d[:, None, :],
        lr,
        params,
        update,
        key=key,
        granularity=devices.granularity(params),
        return_pulsed=True,
    )
    weight = weight.at[:, columns].set(new[:, :, 0].T)
    mask = jnp.zeros(weight.shape, bool).at[:, columns].set(pulsed[:, :, 0].T)
    return {**member, "weight": weight}, mask


def pulse_rows(
    member: Member,
    x: jax.Array,
    lr: jax.Array,
    params: PulsedDevice,
    update: UpdateParameters,
    key: jax.Array,
) -> tuple[Member, jax.Array]:
    """Write ``-lr x_i`` into every row ``i``: one sample per row with ``d = e_i``.

    Rows are disjoint, so the samples run side by side. ``x`` is ``[out, in]``.
    """
    weight, state = member["weight"], member["device"]

    def take(a):
        return a[:, None, :] if a.ndim == 2 else a

    count = weight.shape[0]
    new, pulsed = tile_update.pulsed_update_tiles(
        take(weight),
        jax.tree.map(take, state),
        x[:, None, :],
        jnp.ones((count, 1, 1), jnp.float32),
        lr,
        params,
        update,
        key=key,
        granularity=devices.granularity(params),
        return_pulsed=True,
    )
    return {**member, "weight": new[:, 0, :]}, pulsed[:, 0, :]


def maintain(
    member: Member, params: PulsedDevice, touched: jax.Array, key: jax.Array
) -> Member:
    """Per-mini-batch diffusion and decay, then fresh write noise where touched."""
    maintenance_key, noise_key = jax.random.split(key)
    weight = devices.post_update(
        member["weight"], member["device"], params, maintenance_key
    )
    if devices.has_maintenance(params):
        touched = jnp.ones_like(touched)
    state = devices.redraw_write_noise(member["device"], touched, params, noise_key)
    return {"weight": weight, "device": state}


def reset(
    member: Member, where: jax.Array, params: PulsedDevice, key: jax.Array
) -> Member:
    """Reset the selected cross-points to ``reset_bias + reset_std * xi``, clipped."""
    state = member["device"]
    noise = _random.normal(key, member["weight"].shape)
    value = jnp.clip(
        state.reset_bias + params.reset_std * noise, state.w_min, state.w_max
    )
    return {**member, "weight": jnp.where(where, value, member["weight"])}

"""Mixed precision: a digital accumulator ``chi`` that writes whole pulses to the device.

The samples' outer products ``lr d x^T`` add up in ``chi``. From the second
mini-batch on, every ``transfer_every`` mini-batches, the whole multiples of
the granularity in each row of ``chi`` are written to the analog device as
one pulsed update per row (``x = counts``, ``d = e_i``, with update
management) and removed from ``chi``. As on aihwkit's CPU tiles, the
transfer runs after the batch's first sample is accumulated (aihwkit's GPU
tiles run it after the whole batch).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from aihw_jax.simulator.compounds import unit_cells
from aihw_jax.simulator.parameters.compounds import MixedPrecisionCompound
from aihw_jax.simulator.parameters.training import UpdateParameters

State = dict[str, Any]


def granularity(cell: MixedPrecisionCompound) -> jax.Array:
    """Threshold of ``chi`` per pulse: ``granularity`` or the device's ``epsilon``."""
    device = unit_cells.granularity(cell.device)
    return jnp.where(jnp.asarray(cell.granularity) > 0, cell.granularity, device)


def init(key: jax.Array, shape: tuple[int, int], cell: MixedPrecisionCompound) -> State:
    """Draw the analog device; ``chi`` and the counters start at 0."""
    key = unit_cells.construction_key(key, cell)
    return {
        "device": unit_cells.init(key, shape, cell.device),
        "chi": jnp.zeros(shape, jnp.float32),
        "batches": jnp.zeros((), jnp.int32),
        "pointer": jnp.zeros((), jnp.int32),
    }


def set_weight(state: State, weight: jax.Array, cell: MixedPrecisionCompound) -> State:
    """Program the analog device and clear ``chi``."""
    device = unit_cells.set_weight(state["device"], weight, cell.device)
    return {**state, "device": device, "chi": jnp.zeros_like(state["chi"])}


def weight(state: State, cell: MixedPrecisionCompound) -> jax.Array:
    """Return the analog device's weight: the MVMs never use ``chi``."""
    return unit_cells.weight(state["device"], cell.device)


def _quantize(v: jax.Array, bins: int, stochastic: bool, key: jax.Array) -> jax.Array:
    if bins <= 0:
        return v
    half = bins // 2
    top = jnp.max(jnp.abs(v), axis=-1, keepdims=True)
    scale = jnp.where(top > 0, top / half, 1.0)
    scaled = v / scale
    if stochastic:
        scaled = scaled + jax.random.uniform(key, v.shape) - 0.5
    return jnp.clip(jnp.round(scaled), -half, half) * scale


def update(
    state: State,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    cell: MixedPrecisionCompound,
    update_params: UpdateParameters,
    key: jax.Array,
) -> State:
    """Accumulate one mini-batch in ``chi``; transfer when due; maintain the device.

    Samples are quantised one by one (if ``n_x_bins`` or ``n_d_bins`` is set).
    """
    x_key, d_key, row_key, write_key, maintain_key = jax.random.split(key, 5)
    q_x = _quantize(x, cell.n_x_bins, cell.stoc_round_x, x_key)
    q_d = _quantize(d, cell.n_d_bins, cell.stoc_round_d, d_key)
    chi = state["chi"] + lr * jnp.outer(q_d[0], q_x[0])
    batches = state["batches"]
    due = batches > 0
    if cell.transfer_every > 0:
        due = due & (batches % cell.transfer_every == 0)
    else:
        due = jnp.zeros((), bool)
    state = {**state, "chi": chi, "batches": batches + 1}

    def run(state):
        return _transfer(state, cell, update_params, row_key, write_key)

    def skip(state):
        return state, jnp.zeros(state["chi"].shape, bool)

    state, touched = jax.lax.cond(due, run, skip, state)
    chi = state["chi"] + lr * q_d[1:].T @ q_x[1:]
    device = unit_cells.maintain(state["device"], cell.device, touched, maintain_key)
    return {**state, "device": device, "chi": chi}


def _transfer(state, cell, update_params, row_key, write_key):
    """Write the whole granularity steps of the selected rows of ``chi``."""
    chi = state["chi"]
    out_size = chi.shape[0]
    rows = (
        out_size
        if cell.n_rows_per_transfer < 0
        else min(cell.n_rows_per_transfer, out_size)
    )
    if cell.random_row and rows < out_size:
        start = jax.random.randint(row_key, (), 0, out_size, jnp.int32)
    else:
        start = state["pointer"]
    offset = (jnp.arange(out_size) - start) % out_size
    selected = (offset < rows)[:, None]

    epsilon = granularity(cell)
    counts = jnp.where(selected, jnp.trunc(chi / epsilon), 0.0)
    chi = chi - counts * epsilon
    managed = update_params.replace(update_management=True, update_bl_management=True)
    device, touched = unit_cells.pulse_rows(
        state["device"],
        counts,
        epsilon * cell.transfer_lr,
        cell.device,
        managed,
        write_key,
    )
    pointer = (start + rows) % out_size
    return {**state, "device": device, "chi": chi, "pointer": pointer}, touched

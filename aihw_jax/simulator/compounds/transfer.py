"""Tiki-Taka: gradient updates on a fast device, column transfers to slow ones.

``TransferCompound`` copies read columns with pulsed updates;
``BufferedTransferCompound`` collects them in a digital buffer first and
writes single pulses where the buffer passes a threshold. The state of one
tile contains the members, the sample counter and one column pointer (and, when
buffered, one buffer) per transferring member.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from aihw_jax.simulator import _static, devices
from aihw_jax.simulator.compounds import _members, unit_cells
from aihw_jax.simulator.parameters.compounds import (
    BufferedTransferCompound,
    TransferCompound,
    transfer_read_io,
)
from aihw_jax.simulator.parameters.devices import PulsedDevice
from aihw_jax.simulator.parameters.training import UpdateParameters
from aihw_jax.simulator.tiles import mvm

State = dict[str, Any]


def member_params(cell: TransferCompound) -> tuple[PulsedDevice, ...]:
    """Member 0 uses the first device; all later members use the second."""
    first, second = cell.unit_cell_devices[:2]
    return (first,) + (second,) * (len(cell.unit_cell_devices) - 1)


def granularity(cell: TransferCompound) -> jax.Array:
    """Update-management ``epsilon`` of the fast update: the members' mean."""
    values = [devices.granularity(params) for params in member_params(cell)]
    return sum(values) / len(values)


def gammas(cell: TransferCompound) -> tuple:
    """Weight of each member in the visible weight: ``gamma**(n-1-k)``."""
    if cell.gamma_vec:
        return tuple(cell.gamma_vec)
    n = len(cell.unit_cell_devices)
    return tuple(cell.gamma ** (n - 1 - k) for k in range(n - 1)) + (1.0,)


def periods(cell: TransferCompound, out_size: int) -> tuple:
    """Transfer period of each member (0: the member does not transfer)."""
    n = len(cell.unit_cell_devices)
    if cell.transfer_every_vec:
        values = list(cell.transfer_every_vec)
    else:
        values = [cell.transfer_every]
        for _ in range(n - 1):
            values.append(values[-1] * out_size / cell.n_reads_per_transfer)
        if cell.no_self_transfer:
            values[-1] = 0.0
    return tuple(values)


def fast_learning_rate(cell: TransferCompound, lr: jax.Array) -> jax.Array:
    """Learning rate of the gradient update of the fast member."""
    fast = cell.fast_lr * lr if cell.scale_fast_lr else cell.fast_lr
    return jnp.where(jnp.asarray(cell.fast_lr) > 0, fast, lr)


def transfer_learning_rates(cell: TransferCompound, lr: jax.Array) -> tuple:
    """Learning rate of each member's transfer writes."""
    n = len(cell.unit_cell_devices)
    rates = cell.transfer_lr_vec or (cell.transfer_lr,) * n
    scale = lr if cell.scale_transfer_lr else 1.0
    return tuple(rate * scale for rate in rates)


def init(key: jax.Array, shape: tuple[int, int], cell: TransferCompound) -> State:
    """Draw the members of one tile; all weights start at 0."""
    params = member_params(cell)
    keys = jax.random.split(unit_cells.construction_key(key, cell), len(params))
    members = tuple(_members.init(k, shape, p) for k, p in zip(keys, params))
    state = {
        "members": members,
        "samples": jnp.zeros((), jnp.int32),
        "pointers": jnp.zeros((len(params),), jnp.int32),
    }
    if isinstance(cell, BufferedTransferCompound):
        state["buffers"] = jnp.zeros((len(params) - 1, *shape), jnp.float32)
    return state


def set_weight(state: State, weight: jax.Array, cell: TransferCompound) -> State:
    """Zero every member and program the last one with ``weight / gamma_last``."""
    members = tuple(
        _members.set_weight(m, jnp.zeros_like(weight)) for m in state["members"]
    )
    last = _members.set_weight(members[-1], weight / gammas(cell)[-1])
    state = {**state, "members": members[:-1] + (last,)}
    if "buffers" in state:
        state["buffers"] = jnp.zeros_like(state["buffers"])
    return state


def weight(state: State, cell: TransferCompound) -> jax.Array:
    """Return the visible weight ``sum_k gamma_k w_k`` (the last member if gamma is 0)."""
    members = state["members"]
    if not cell.gamma_vec and isinstance(cell.gamma, float) and cell.gamma == 0.0:
        return _members.apparent(members[-1])
    return sum(g * _members.apparent(m) for g, m in zip(gammas(cell), members))


def update(
    state: State,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    cell: TransferCompound,
    update_params: UpdateParameters,
    key: jax.Array,
) -> State:
    """Apply one mini-batch: fast update, due transfers, then maintenance.

    Transfers that fall due within the batch run after its fast update.
    For the Tiki-Taka presets (one transfer per mini-batch, after its last
    sample) this is exact.
    """
    params = member_params(cell)
    fast_key, transfer_key, maintain_key = jax.random.split(key, 3)
    members = list(state["members"])
    members[0], touched_fast = _members.pulse(
        members[0],
        x,
        d,
        fast_learning_rate(cell, lr),
        params[0],
        update_params,
        fast_key,
        granularity(cell),
    )
    touched = [touched_fast] + [jnp.zeros_like(touched_fast)] * (len(members) - 1)
    state = {**state, "members": tuple(members)}

    batch = x.shape[0]
    samples = state["samples"]
    rates = transfer_learning_rates(cell, lr)
    out_size = d.shape[-1]
    for k, every in enumerate(periods(cell, out_size)[:-1]):
        due = transfers_due(samples, batch, period(every, batch, cell.units_in_mbatch))

        def one_transfer(i, carry, k=k):
            state, touched = carry
            step_key = jax.random.fold_in(jax.random.fold_in(transfer_key, k), i)
            state, written = _transfer(state, k, rates[k], cell, params, step_key)
            touched = list(touched)
            touched[k + 1] = touched[k + 1] | written
            return state, tuple(touched)

        state, touched = jax.lax.fori_loop(
            0, due, one_transfer, (state, tuple(touched))
        )
    state = {**state, "samples": samples + batch}

    keys = jax.random.split(maintain_key, len(params))
    members = tuple(
        _members.maintain(m, p, t, k)
        for m, p, t, k in zip(state["members"], params, touched, keys)
    )
    return {**state, "members": members}


def period(every: Any, batch: int, units_in_mbatch: bool) -> jax.Array:
    """Samples between transfers: ``ceil(every * batch)`` or ``round(every)``."""
    every = jnp.asarray(every, jnp.float32)
    if units_in_mbatch:
        return jnp.ceil(every * batch).astype(jnp.int32)
    return jnp.round(every).astype(jnp.int32)


def transfers_due(samples: jax.Array, batch: int, every: jax.Array) -> jax.Array:
    """Number of multiples of ``every`` in ``(samples, samples + batch]``."""
    safe = jnp.maximum(every, 1)
    return jnp.where(every > 0, (samples + batch) // safe - samples // safe, 0)


def _transfer(
    state: State,
    k: int,
    lr: jax.Array,
    cell: TransferCompound,
    params: tuple,
    key: jax.Array,
) -> tuple[State, jax.Array]:
    """Read the next columns of member ``k`` and write them to member ``k + 1``."""
    members = list(state["members"])
    source, target = members[k], members[k + 1]
    in_size = source["weight"].shape[1]
    reads = min(cell.n_reads_per_transfer, in_size)
    select_key, read_key, reset_key, write_key = jax.random.split(key, 4)
    if cell.random_selection:
        start = jax.random.randint(select_key, (), 0, in_size, jnp.int32)
    else:
        start = state["pointers"][k]
    columns = (start + jnp.arange(reads)) % in_size
    probe = jax.nn.one_hot(columns, in_size, dtype=jnp.float32)
    io = transfer_read_io(cell.transfer_forward)
    values = mvm.forward(_members.apparent(source), probe, io, key=read_key)

    if not _static.is_zero(cell.with_reset_prob):
        draw_key, noise_key = jax.random.split(reset_key)
        chosen = jax.random.uniform(draw_key) < cell.with_reset_prob
        mask = jnp.any(probe > 0, axis=0)[None, :] & chosen
        members[k] = _members.reset(source, mask, params[k], noise_key)

    if isinstance(cell, BufferedTransferCompound):
        state, counts, lr_write = _buffer_columns(
            state, k, columns, values, lr, cell, params
        )
        d = -counts
    else:
        d, lr_write = -values, lr
    members[k + 1], written = _members.pulse_columns(
        target, columns, d, lr_write, params[k + 1], cell.transfer_update, write_key
    )
    pointers = state["pointers"].at[k].set((start + reads) % in_size)
    return {**state, "members": tuple(members), "pointers": pointers}, written


def _buffer_columns(state, k, columns, values, lr, cell, params):
    """Add the reads to the buffer and take out whole threshold steps."""
    gamma = gammas(cell)
    if gamma[k] != 0 and gamma[k + 1] != 0:
        lr = lr * gamma[k] / gamma[k + 1]
    epsilon = devices.granularity(params[k + 1])
    threshold = cell.thres_scale * epsilon
    steps = cell.transfer_update.desired_bl
    buffer = state["buffers"][k][:, columns].T + lr * values
    counts = jnp.clip(jnp.trunc(buffer / threshold), -steps, steps)
    if cell.forget_buffer:
        kept = cell.momentum * buffer
    else:
        kept = buffer - (1.0 - cell.momentum) * counts * threshold
    buffer = jnp.where(counts != 0, kept, buffer)
    buffers = state["buffers"].at[k, :, columns].set(buffer)
    return {**state, "buffers": buffers}, counts, cell.step * epsilon

"""Chopped Tiki-Taka v2 (c-TTv2) and AGAD: sign choppers and buffered transfers.

The fast device ``A`` learns the gradient multiplied by the output chopper of
its row and the input chopper of its column. After every ``period`` samples
one column of ``A`` is read; its chopper may then flip. Reads are
de-chopped and added to a digital buffer ``H``, and whole units of the buffer
become single pulses on the slow device ``C``. AGAD transfers the change of a
read against the running mean of the previous chopper period instead.

As on aihwkit's GPU tiles, reads are taken at their sample positions inside
the mini-batch, and the buffer and ``C`` are written after it. The running
maxima of ``auto_scale`` are updated once per mini-batch.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from aihw_jax.simulator import devices
from aihw_jax.simulator.compounds import _members, transfer, unit_cells
from aihw_jax.simulator.parameters.compounds import (
    ChoppedTransferCompound,
    DynamicTransferCompound,
    transfer_read_io,
)
from aihw_jax.simulator.parameters.training import UpdateParameters
from aihw_jax.simulator.tiles import mvm, update as tile_update

State = dict[str, Any]

granularity = transfer.granularity


def init(
    key: jax.Array, shape: tuple[int, int], cell: ChoppedTransferCompound
) -> State:
    """Draw both members; choppers start at +1 and every buffer at 0."""
    out_size, in_size = shape
    params = transfer.member_params(cell)
    keys = jax.random.split(unit_cells.construction_key(key, cell), 2)
    members = tuple(_members.init(k, shape, p) for k, p in zip(keys, params))
    zero = jnp.zeros((), jnp.float32)
    state = {
        "members": members,
        "samples": jnp.zeros((), jnp.int32),
        "pointer": jnp.zeros((), jnp.int32),
        "sweeps": jnp.zeros((), jnp.int32),
        "buffer": jnp.zeros(shape, jnp.float32),
        "chop_in": jnp.ones((in_size,), jnp.float32),
        "chop_out": jnp.ones((out_size,), jnp.float32),
        "max_x": zero,
        "max_d": zero,
    }
    if isinstance(cell, DynamicTransferCompound):
        state["past_mean"] = jnp.zeros(shape, jnp.float32)
        state["mean"] = jnp.zeros(shape, jnp.float32)
        state["switched"] = jnp.zeros((in_size,), bool)
    return state


def set_weight(state: State, weight: jax.Array, cell: ChoppedTransferCompound) -> State:
    """Zero ``A`` and the buffers, and program ``C`` with ``weight / gamma_C``."""
    fast, slow = state["members"]
    fast = _members.set_weight(fast, jnp.zeros_like(weight))
    slow = _members.set_weight(slow, weight / transfer.gammas(cell)[-1])
    state = {**state, "members": (fast, slow), "buffer": jnp.zeros_like(weight)}
    if "mean" in state:
        state["mean"] = jnp.zeros_like(weight)
        state["past_mean"] = jnp.zeros_like(weight)
    return state


def weight(state: State, cell: ChoppedTransferCompound) -> jax.Array:
    """Return ``C``, plus ``gamma`` times the de-chopped ``A`` when ``gamma > 0``."""
    fast, slow = state["members"]
    visible = _members.apparent(slow)
    if not cell.gamma_vec and isinstance(cell.gamma, float) and cell.gamma == 0.0:
        return visible
    gamma_fast, gamma_slow = transfer.gammas(cell)
    signs = state["chop_out"][:, None] * state["chop_in"][None, :]
    return gamma_slow * visible + gamma_fast * signs * _members.apparent(fast)


def _period(cell: ChoppedTransferCompound, batch: int, in_size: int) -> jax.Array:
    every = jnp.asarray(cell.transfer_every, jnp.float32)
    fast = cell.unit_cell_devices[0]
    states = (fast.w_max - fast.w_min) / fast.dw_min
    from_states = jnp.maximum(jnp.round(states / in_size * jnp.abs(every)), 1)
    regular = transfer.period(every, batch, cell.units_in_mbatch)
    return jnp.where(every < 0, from_states.astype(jnp.int32), regular)


def _chop_period(cell: ChoppedTransferCompound) -> jax.Array:
    probability = jnp.asarray(cell.in_chop_prob, jnp.float32)
    safe = jnp.where(probability > 0, probability, 1.0)
    return jnp.maximum(jnp.ceil(1.0 / safe), 2).astype(jnp.int32)


def _fast_learning_rate(state, cell, lr, update_params):
    base = transfer.fast_learning_rate(cell, lr)
    if not cell.auto_scale:
        return base
    epsilon = devices.granularity(cell.unit_cell_devices[0])
    scaled = cell.fast_lr * update_params.desired_bl * epsilon
    product = state["max_x"] * state["max_d"]
    scaled = scaled / jnp.where(product > 0, product, 1.0)
    if cell.scale_fast_lr:
        scaled = scaled * lr
    use = (product > 0) & (jnp.asarray(cell.fast_lr) > 0)
    return jnp.where(use, scaled, base)


def _running_max(current: jax.Array, new: jax.Array, momentum: Any) -> jax.Array:
    blended = momentum * current + (1.0 - momentum) * new
    return jnp.where(current <= 0, new, jnp.where(new <= 0, current, blended))


def update(
    state: State,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    cell: ChoppedTransferCompound,
    update_params: UpdateParameters,
    key: jax.Array,
) -> State:
    """Apply one mini-batch: chopped fast update and reads, buffered writes, maintenance."""
    params = transfer.member_params(cell)
    batch, in_size = x.shape
    out_size = d.shape[-1]
    count_key, noise_key, chop_key, read_key, write_key, maintain_key = (
        jax.random.split(key, 6)
    )
    fast_lr = _fast_learning_rate(state, cell, lr, update_params)
    inputs, count_of = tile_update.coincidences(
        x, d, fast_lr, granularity(cell), update_params, count_key
    )
    noise_of = tile_update.step_noise(noise_key, (out_size, in_size))
    every = _period(cell, batch, in_size)
    chop_every = _chop_period(cell)
    dynamic = isinstance(cell, DynamicTransferCompound)

    fast = state["members"][0]
    record = {
        "column": jnp.zeros((batch,), jnp.int32),
        "value": jnp.zeros((batch, out_size), jnp.float32),
        "chop_in": jnp.ones((batch,), jnp.float32),
        "chop_out": jnp.ones((batch, out_size), jnp.float32),
        "sweeps": jnp.zeros((batch,), jnp.int32),
        "switched": jnp.zeros((batch,), bool),
        "valid": jnp.zeros((batch,), bool),
    }
    carry = {
        "weight": fast["weight"],
        "touched": jnp.zeros((out_size, in_size), bool),
        "chop_in": state["chop_in"],
        "chop_out": state["chop_out"],
        "pointer": state["pointer"],
        "sweeps": state["sweeps"],
        "switched": state.get("switched", jnp.zeros((in_size,), bool)),
        "reads": jnp.zeros((), jnp.int32),
        "record": record,
    }
    write_noise = fast["device"].hidden.get("write_noise", 0.0)

    def step(carry, index, count, up):
        signs = carry["chop_out"][:, None] * carry["chop_in"][None, :]
        up = jnp.where(signs < 0, ~up, up)
        new = devices.apply_pulses(
            carry["weight"],
            fast["device"],
            count,
            up,
            noise_of(index),
            params[0],
            update_params.desired_bl,
        )
        carry = {**carry, "weight": new, "touched": carry["touched"] | (count > 0)}
        is_read = (every > 0) & (
            (state["samples"] + index + 1) % jnp.maximum(every, 1) == 0
        )
        return lax.cond(
            is_read,
            lambda c: _read(c, index, write_noise, cell, chop_key, chop_every, dynamic),
            lambda c: c,
            carry,
        )

    carry = tile_update.scan_samples(carry, inputs, count_of, step)
    fast = {**fast, "weight": carry["weight"]}
    record = carry["record"]

    io = transfer_read_io(cell.transfer_forward)
    read_keys = jax.random.split(read_key, batch)
    one = jnp.ones((1,), jnp.float32)
    values = jax.vmap(lambda v, k: mvm.forward(v[:, None], one, io, key=k))(
        record["value"], read_keys
    )
    state, counts = _buffer_reads(state, record, values, lr, fast_lr, cell, chop_every)

    slow = state["members"][1]
    step_size = cell.step * devices.granularity(params[1])
    # Reads take consecutive columns from the pointer; unused slots continue
    # the sequence with zero counts, so the columns stay distinct.
    columns = (state["pointer"] + jnp.arange(batch, dtype=jnp.int32)) % in_size
    slow, written = _write_columns(
        slow, columns, -counts, step_size, params[1], cell, write_key
    )

    max_x = jnp.mean(jnp.max(jnp.abs(x), axis=-1))
    max_d = jnp.mean(jnp.max(jnp.abs(d), axis=-1))
    keys = jax.random.split(maintain_key, 2)
    members = (
        _members.maintain(fast, params[0], carry["touched"], keys[0]),
        _members.maintain(slow, params[1], written, keys[1]),
    )
    state = {
        **state,
        "members": members,
        "samples": state["samples"] + batch,
        "pointer": carry["pointer"],
        "sweeps": carry["sweeps"],
        "chop_in": carry["chop_in"],
        "chop_out": carry["chop_out"],
        "max_x": _running_max(state["max_x"], max_x, cell.auto_momentum),
        "max_d": _running_max(state["max_d"], max_d, cell.auto_momentum),
    }
    if dynamic:
        state["switched"] = carry["switched"]
    return state


def _read(carry, index, write_noise, cell, key, chop_every, dynamic):
    """Record the read of the pointer's column, then move the choppers."""
    in_size = carry["chop_in"].shape[0]
    column = carry["pointer"]
    apparent = carry["weight"] + write_noise
    slot = carry["reads"]
    record = carry["record"]
    record = {
        "column": record["column"].at[slot].set(column),
        "value": record["value"].at[slot].set(apparent[:, column]),
        "chop_in": record["chop_in"].at[slot].set(carry["chop_in"][column]),
        "chop_out": record["chop_out"].at[slot].set(carry["chop_out"]),
        "sweeps": record["sweeps"].at[slot].set(carry["sweeps"]),
        "switched": record["switched"].at[slot].set(carry["switched"][column]),
        "valid": record["valid"].at[slot].set(True),
    }

    flip_key, out_key = jax.random.split(jax.random.fold_in(key, index))
    regular = (carry["sweeps"] % chop_every) + 1 == chop_every
    chance = jax.random.uniform(flip_key) < cell.in_chop_prob
    if cell.in_chop_random:
        flip = (regular | chance) if dynamic else chance
    else:
        flip = regular
    flip = flip & (jnp.asarray(cell.in_chop_prob) > 0)
    chop_in = carry["chop_in"].at[column].multiply(jnp.where(flip, -1.0, 1.0))
    switched = carry["switched"].at[column].set(flip)

    sweep_done = column == in_size - 1
    out_flip = jax.random.uniform(out_key, carry["chop_out"].shape) < cell.out_chop_prob
    chop_out = jnp.where(sweep_done & out_flip, -carry["chop_out"], carry["chop_out"])
    return {
        **carry,
        "record": record,
        "reads": slot + 1,
        "chop_in": chop_in,
        "chop_out": chop_out,
        "switched": switched,
        "sweeps": carry["sweeps"] + sweep_done.astype(jnp.int32),
        "pointer": (column + 1) % in_size,
    }


def _buffer_reads(state, record, values, lr, fast_lr, cell, chop_every):
    """Add the de-chopped reads to the buffer in order; return the write counts."""
    params = transfer.member_params(cell)
    in_size = state["buffer"].shape[1]
    epsilon_fast = devices.granularity(params[0])
    epsilon_slow = devices.granularity(params[1])
    granularity_ = jnp.where(
        jnp.asarray(cell.buffer_granularity) > 0, cell.buffer_granularity, 1.0
    )
    auto = jnp.asarray(cell.auto_granularity, jnp.float32)
    every = jnp.abs(jnp.asarray(cell.transfer_every, jnp.float32))
    auto_factor = jnp.where(
        auto > 0, auto / (in_size * jnp.where(every > 0, every, 1.0)), 1.0
    )
    threshold = granularity_ * epsilon_fast * auto_factor

    rate = transfer.transfer_learning_rates(cell, lr)[0]
    gamma_fast, gamma_slow = transfer.gammas(cell)
    if gamma_fast != 0:
        rate = rate * gamma_fast / gamma_slow
    if cell.correct_gradient_magnitudes:
        scale = rate / (fast_lr * threshold * epsilon_slow / epsilon_fast)
    else:
        scale = rate / threshold
    steps = cell.transfer_update.desired_bl
    dynamic = isinstance(cell, DynamicTransferCompound)
    mix = jnp.minimum(cell.tail_weightening / chop_every, 1.0) if dynamic else None

    def one(carry, read):
        buffer, past, mean = carry
        j = read["column"]
        signs = read["chop_in"] * read["chop_out"]
        value = read["value"]
        held = jnp.zeros_like(value) if cell.no_buffer else buffer[:, j]
        factor = scale
        if dynamic:
            past_j = jnp.where(read["switched"], mean[:, j], past[:, j])
            if cell.experimental_correct_accumulation:
                phase = (read["sweeps"] % chop_every) + 1
                factor = factor / jnp.minimum(phase, 1.0 / epsilon_fast)
            change = value - past_j
        else:
            change = value
        h = held + factor * signs * change
        count = jnp.where(jnp.abs(h) >= 1.0, jnp.clip(jnp.trunc(h), -steps, steps), 0.0)
        if cell.forget_buffer:
            kept = cell.momentum * h
        else:
            kept = h - (1.0 - cell.momentum) * count
            if dynamic:
                cap = cell.buffer_cap * steps
                kept = jnp.where(cap > 0, jnp.clip(kept, -cap, cap), kept)
        h = jnp.where(count != 0, kept, h)
        if dynamic:
            count = jnp.where(read["sweeps"] > chop_every, count, 0.0)
            new_mean = (1.0 - mix) * mean[:, j] + mix * value
            past = past.at[:, j].set(jnp.where(read["valid"], past_j, past[:, j]))
            mean = mean.at[:, j].set(jnp.where(read["valid"], new_mean, mean[:, j]))
        buffer = buffer.at[:, j].set(jnp.where(read["valid"], h, buffer[:, j]))
        return (buffer, past, mean), jnp.where(read["valid"], count, 0.0)

    reads = {**record, "value": values}
    past = state.get("past_mean", state["buffer"])
    mean = state.get("mean", state["buffer"])
    (buffer, past, mean), counts = lax.scan(one, (state["buffer"], past, mean), reads)
    state = {**state, "buffer": buffer}
    if dynamic:
        state = {**state, "past_mean": past, "mean": mean}
    return state, counts


def _write_columns(slow, columns, d, lr, params, cell, key):
    """Write every read's counts into its column of ``C``.

    Reads of one mini-batch hit consecutive columns. These are distinct
    when the batch is no larger than the number of columns, and then all
    writes run side by side. Otherwise they run one after the other.
    """
    reads, _out_size = d.shape
    in_size = slow["weight"].shape[1]
    if reads <= in_size:
        return _members.pulse_columns(
            slow, columns, d, lr, params, cell.transfer_update, key
        )

    def one(carry, item):
        member, touched = carry
        column, d_column, index = item
        member, written = _members.pulse_columns(
            member,
            column[None],
            d_column[None],
            lr,
            params,
            cell.transfer_update,
            jax.random.fold_in(key, index),
        )
        return (member, touched | written), None

    touched = jnp.zeros(slow["weight"].shape, bool)
    items = (columns, d, jnp.arange(reads))
    (slow, touched), _ = lax.scan(one, (slow, touched), items)
    return slow, touched

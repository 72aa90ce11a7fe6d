"""Unit cells: a pulsed device, a vector of devices, and one-sided pairs.

Each kind provides the same pure functions on the state of one tile:
``init``, ``set_weight``, ``weight`` (what the MVMs see), ``granularity``,
``apply_counts`` (one sample's coincidence counts) and ``maintain`` (the
per-mini-batch diffusion, decay and write-noise redraw). ``pulse`` runs a
whole batch through ``apply_counts`` sample after sample; the transfer
compounds and mixed precision build on these functions.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from aihw_jax.simulator import devices
from aihw_jax.simulator.compounds import _members
from aihw_jax.simulator.parameters.compounds import OneSidedUnitCell, VectorUnitCell
from aihw_jax.simulator.parameters.devices import PulsedDevice
from aihw_jax.simulator.parameters.enums import VectorUnitCellUpdatePolicy as Policy
from aihw_jax.simulator.parameters.training import UpdateParameters
from aihw_jax.simulator.tiles import mvm, update as tile_update

UnitCell = PulsedDevice | VectorUnitCell | OneSidedUnitCell
State = dict[str, Any]


def member_params(cell: UnitCell) -> tuple[PulsedDevice, ...]:
    """Return the parameters of every member device, in order."""
    if isinstance(cell, PulsedDevice):
        return (cell,)
    if isinstance(cell, OneSidedUnitCell):
        first = cell.unit_cell_devices[0]
        return (first, first)
    return tuple(cell.unit_cell_devices)


def construction_key(key: jax.Array, cell: Any) -> jax.Array:
    """Return the key of a compound's draws: from its construction seed if set."""
    seed = getattr(cell, "construction_seed", 0)
    return jax.random.key(seed) if seed else key


def granularity(cell: UnitCell) -> jax.Array:
    """Update-management ``epsilon``: the mean over the member devices."""
    values = [devices.granularity(params) for params in member_params(cell)]
    return sum(values) / len(values)


def gammas(cell: VectorUnitCell) -> tuple:
    """Weight of each member in the visible weight (default ``1 / n``)."""
    n = len(cell.unit_cell_devices)
    return tuple(cell.gamma_vec) if cell.gamma_vec else (1.0 / n,) * n


def init(key: jax.Array, shape: tuple[int, int], cell: UnitCell) -> State:
    """Draw the member devices of one tile; all weights start at 0."""
    if isinstance(cell, PulsedDevice):
        return _members.init(key, shape, cell)
    params = member_params(cell)
    keys = jax.random.split(construction_key(key, cell), len(params))
    members = tuple(_members.init(k, shape, p) for k, p in zip(keys, params))
    if isinstance(cell, OneSidedUnitCell):
        zero = jnp.zeros((), jnp.int32)
        return {"members": members, "samples": zero, "batches": zero}
    return {"members": members, "index": jnp.asarray(cell.first_update_idx, jnp.int32)}


def set_weight(state: State, weight: jax.Array, cell: UnitCell) -> State:
    """Program the visible weight ``weight`` as aihwkit's ``set_weights`` does."""
    if isinstance(cell, PulsedDevice):
        return _members.set_weight(state, weight)
    members = state["members"]
    if isinstance(cell, OneSidedUnitCell):
        minus, plus = members
        members = (
            _members.set_weight(minus, jnp.maximum(-weight, 0.0)),
            _members.set_weight(plus, jnp.maximum(weight, 0.0)),
        )
    elif cell.update_policy is Policy.SINGLE_FIXED:
        index = cell.first_update_idx
        members = tuple(
            _members.set_weight(m, weight) if k == index else m
            for k, m in enumerate(members)
        )
    else:
        members = tuple(_members.set_weight(m, weight) for m in members)
    return {**state, "members": members}


def weight(state: State, cell: UnitCell) -> jax.Array:
    """Return the visible weight of the tile, write noise included."""
    if isinstance(cell, PulsedDevice):
        return _members.apparent(state)
    members = state["members"]
    if isinstance(cell, OneSidedUnitCell):
        minus, plus = members
        return _members.apparent(plus) - _members.apparent(minus)
    return sum(g * _members.apparent(m) for g, m in zip(gammas(cell), members))


def apply_counts(
    state: State,
    count: jax.Array,
    up: jax.Array,
    cell: UnitCell,
    noise_of,
    max_count: int = 1024,
) -> tuple[State, jax.Array]:
    """Apply one sample's coincidences: ``count`` pulses, up where ``up``.

    ``noise_of(member)(k)`` returns the cycle-to-cycle draws of pulse ``k``
    of a member, and ``max_count`` bounds ``count``. Returns the new state
    and the mask of pulsed cross-points.
    """
    params = member_params(cell)
    if isinstance(cell, PulsedDevice):
        new = devices.apply_pulses(
            state["weight"], state["device"], count, up, noise_of(0), cell, max_count
        )
        return {**state, "weight": new}, count > 0
    members = state["members"]
    if isinstance(cell, OneSidedUnitCell):
        # Both devices are only potentiated: up pulses on g+ raise the
        # weight, up pulses on g- lower it.
        always_up = jnp.ones_like(up)
        counts = (jnp.where(up, 0, count), jnp.where(up, count, 0))
    else:
        always_up = up
        selected = _selected(state, cell)
        counts = tuple(jnp.where(selected[k], count, 0) for k in range(len(members)))
    new_members = []
    for k, (member, member_count) in enumerate(zip(members, counts)):
        new = devices.apply_pulses(
            member["weight"],
            member["device"],
            member_count,
            always_up,
            noise_of(k),
            params[k],
            max_count,
        )
        new_members.append({**member, "weight": new})
    return {**state, "members": tuple(new_members)}, count > 0


def _selected(state: State, cell: VectorUnitCell) -> jax.Array:
    n = len(cell.unit_cell_devices)
    if cell.update_policy is Policy.ALL:
        return jnp.ones((n,), bool)
    return jnp.arange(n) == state["index"]


def _choose_member(state: State, cell: UnitCell, key: jax.Array) -> State:
    """Pick the member of a vector unit cell that this mini-batch updates."""
    if not isinstance(cell, VectorUnitCell):
        return state
    n = len(cell.unit_cell_devices)
    if cell.update_policy is Policy.SINGLE_SEQUENTIAL:
        return {**state, "index": (state["index"] + 1) % n}
    if cell.update_policy is Policy.SINGLE_RANDOM:
        return {**state, "index": jax.random.randint(key, (), 0, n, jnp.int32)}
    return state


def member_noise(key: jax.Array, shape: tuple[int, int]):
    """Return ``noise_of(index)``, whose value ``noise(member)`` gives pulse noise."""

    def noise_of(index):
        def for_member(member):
            stream = tile_update.step_noise(jax.random.fold_in(key, member), shape)
            return stream(index)

        return for_member

    return noise_of


def pulse(
    state: State,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    cell: UnitCell,
    update: UpdateParameters,
    key: jax.Array,
    granularity_: jax.Array | None = None,
) -> tuple[State, jax.Array]:
    """Apply a batch as pulses, sample after sample (no per-batch maintenance).

    Every member of a vector unit cell selected by its update policy gets
    the same coincidences with its own cycle-to-cycle noise.
    """
    if isinstance(cell, PulsedDevice):
        return _members.pulse(state, x, d, lr, cell, update, key, granularity_)
    choice_key, count_key, noise_key = jax.random.split(key, 3)
    state = _choose_member(state, cell, choice_key)
    epsilon = granularity(cell) if granularity_ is None else granularity_
    inputs, count_of = tile_update.coincidences(x, d, lr, epsilon, update, count_key)
    shape = x.shape[-1:]
    noise_of = member_noise(noise_key, (d.shape[-1], *shape))

    def step(carry, index, count, up):
        state, touched = carry
        state, pulsed = apply_counts(
            state, count, up, cell, noise_of(index), update.desired_bl
        )
        return state, touched | pulsed

    touched = jnp.zeros((d.shape[-1], x.shape[-1]), bool)
    state, touched = tile_update.scan_samples((state, touched), inputs, count_of, step)
    if isinstance(cell, OneSidedUnitCell):
        state = {**state, "samples": state["samples"] + x.shape[0]}
    return state, touched


def pulse_rows(
    state: State,
    x: jax.Array,
    lr: jax.Array,
    cell: UnitCell,
    update: UpdateParameters,
    key: jax.Array,
) -> tuple[State, jax.Array]:
    """Write ``-lr x_i`` into every row ``i``, as one sample with ``d = e_i`` each.

    The rows are disjoint, so every row's pulse train is drawn and applied
    at once; the result equals applying the samples one after the other.
    """
    if isinstance(cell, PulsedDevice):
        return _members.pulse_rows(state, x, lr, cell, update, key)
    epsilon = granularity(cell)
    count_key, noise_key = jax.random.split(key)
    keys = jax.random.split(count_key, x.shape[0])

    def row(x_row, row_key):
        inputs, count_of = tile_update.coincidences(
            x_row[None], jnp.ones((1, 1)), lr, epsilon, update, row_key
        )
        count, up = count_of(*(a[0] for a in inputs))
        return count[0], up[0]

    count, up = jax.vmap(row)(x, keys)
    noise_of = member_noise(noise_key, x.shape)
    return apply_counts(state, count, up, cell, noise_of(0), update.desired_bl)


def maintain(state: State, cell: UnitCell, touched: jax.Array, key: jax.Array) -> State:
    """Per-mini-batch maintenance of every member, then the one-sided refresh."""
    if isinstance(cell, PulsedDevice):
        return _members.maintain(state, cell, touched, key)
    params = member_params(cell)
    keys = jax.random.split(key, len(params) + 1)
    members = tuple(
        _members.maintain(m, p, touched, k)
        for m, p, k in zip(state["members"], params, keys)
    )
    state = {**state, "members": members}
    if isinstance(cell, OneSidedUnitCell) and cell.refresh_every > 0:
        state = _maybe_refresh(state, cell, keys[-1])
    return state


def _maybe_refresh(state: State, cell: OneSidedUnitCell, key: jax.Array) -> State:
    """Refresh saturated pairs when the sample counter reaches the period.

    NOTE: with ``units_in_mbatch=False`` a refresh that falls due inside a
    mini-batch runs after it.
    """
    samples = state["samples"]
    if cell.units_in_mbatch:
        # One refresh check per mini-batch: count the batches instead.
        batches = state["batches"] + 1
        state = {**state, "batches": batches}
        due = batches % cell.refresh_every == 0
    else:
        due = samples % cell.refresh_every == 0
    return jax.lax.cond(due, lambda s: _refresh(s, cell, key), lambda s: s, state)


def _refresh(state: State, cell: OneSidedUnitCell, key: jax.Array) -> State:
    """Read both devices, reset saturated pairs and write their difference back."""
    params = cell.unit_cell_devices[0]
    minus, plus = state["members"]
    read_key, reset_key, write_key = jax.random.split(key, 3)
    plus_key, minus_key = jax.random.split(read_key)
    in_size = plus["weight"].shape[1]
    probe = jnp.eye(in_size, dtype=jnp.float32)
    io = cell.refresh_forward
    read_plus = mvm.forward(_members.apparent(plus), probe, io, key=plus_key).T
    read_minus = mvm.forward(_members.apparent(minus), probe, io, key=minus_key).T

    full = jnp.abs(jnp.asarray(params.w_max, jnp.float32))
    rel_plus, rel_minus = read_plus / full, read_minus / full
    upper, lower = cell.refresh_upper_thres, cell.refresh_lower_thres
    larger = read_plus > read_minus
    refresh = (larger & (rel_plus > upper) & (rel_minus > lower)) | (
        ~larger & (rel_plus > lower) & (rel_minus > upper)
    )
    keys = jax.random.split(reset_key, 2)
    minus = _members.reset(minus, refresh, params, keys[0])
    plus = _members.reset(plus, refresh, params, keys[1])

    difference = jnp.where(refresh, read_plus - read_minus, 0.0)
    columns = jnp.arange(in_size)
    plus_d = -jnp.where(larger, difference, 0.0).T
    minus_d = jnp.where(larger, 0.0, difference).T
    keys = jax.random.split(write_key, 2)
    update = cell.refresh_update
    plus, _ = _members.pulse_columns(
        plus, columns, plus_d, 1.0, params, update, keys[0]
    )
    minus, _ = _members.pulse_columns(
        minus, columns, minus_d, 1.0, params, update, keys[1]
    )
    return {**state, "members": (minus, plus)}

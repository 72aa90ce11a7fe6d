"""The pulsed update of analog tiles: per-sample pulse trains, applied in order.

For each sample of a batch, update management chooses the pulse-train
length ``BL`` and the probabilities with which every input line ``x_j`` and
every output line ``d_i`` fires in each of the ``BL`` time slots. A
cross-point receives one pulse per slot in which both of its lines fire
(a coincidence): up if ``x_j d_i < 0``, down otherwise, so that the expected
change is ``-lr * x_j * d_i``. The pulse trains do not depend on the
weights, so they are drawn for all samples at once. The samples are then
applied one after the other to the evolving device state, as aihwkit does.

The default evaluation scans the samples: per-sample coincidence counts
are population counts of AND-ed pulse words, and each sample's pulses are
followed by a clip to the device bounds. A sample fires few output lines
(under 20 of 256 in the documented network), so each sample updates only
the rows it fires when they fit in ``ROW_CAPACITY``.

The ``"summed"`` evaluation counts the coincidences of the whole batch per
cross-point and direction with two matrix products of 0/1 pulse matrices
and applies them at once; it uses the same pulse trains and differs only
where a bound is reached within a batch.
:func:`pulsed_update_tiles` updates a stack of tiles (a layer split into
several tiles) in one call.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from aihw_jax.errors import ConfigError
from aihw_jax.simulator import _random, _static, devices
from aihw_jax.simulator.parameters.devices import PulsedDevice
from aihw_jax.simulator.parameters.enums import PulseType
from aihw_jax.simulator.parameters.training import UpdateParameters

__all__ = [
    "PulsePlan",
    "coincidences",
    "plan_pulses",
    "pulsed_update",
    "pulsed_update_tiles",
    "scan_samples",
    "sequential_update",
    "step_noise",
    "train_lengths",
]

_X_BITS, _D_BITS, _STEP_NOISE, _ROUNDING, _SUM_NOISE = range(5)
_WORD = 32

ROW_CAPACITY = 32
"""Maximum number of rows one sample may fire for the gathered per-sample update."""


class PulsePlan(NamedTuple):
    """Everything that decides the pulse trains of one tile and one batch."""

    bl: jax.Array
    """Train length of every sample ``[batch]`` (0: no pulses)."""
    p_x: jax.Array
    """Firing probability of every input line ``[batch, in]``."""
    p_d: jax.Array
    """Firing probability of every output line ``[batch, out]``."""
    x_negative: jax.Array
    """Sign of every input ``[batch, in]``."""
    d_negative: jax.Array
    """Sign of every error ``[batch, out]``."""
    x_seed: jax.Array
    """Seed words of the input trains."""
    d_seed: jax.Array
    """Seed words of the output trains."""
    noise_key: jax.Array
    """Key of the cycle-to-cycle noise."""


def train_lengths(
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    granularity: jax.Array,
    params: UpdateParameters,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Return each sample's train length and its ``x`` and ``d`` probabilities.

    Args:
        x: inputs ``[batch, in]``.
        d: output errors ``[batch, out]``.
        lr: learning rate (positive).
        granularity: weight change ``epsilon`` of one mean pulse.
        params: update parameters.

    Returns:
        ``bl`` ``[batch]`` (int32, 0 for samples without pulses), ``p_x``
        ``[batch, in]`` and ``p_d`` ``[batch, out]``. A probability of 1 or
        more means "fires in every slot".
    """
    lr = jnp.abs(jnp.asarray(lr, jnp.float32))
    x_max = jnp.max(jnp.abs(x), axis=-1)
    d_max = jnp.max(jnp.abs(d), axis=-1)
    desired = params.desired_bl

    if not (params.update_management or params.update_bl_management):
        scale = jnp.sqrt(lr / (granularity * desired))
        bl = jnp.where(lr > 0, desired, 0) * jnp.ones(x.shape[:1], jnp.int32)
        return bl, jnp.abs(x) * scale, jnp.abs(d) * scale

    d_scaled = params.um_grad_scale * d_max
    required = lr * x_max * d_scaled / granularity
    if params.update_bl_management:
        bl = jnp.minimum(jnp.ceil(required), desired)
    else:
        bl = jnp.full_like(required, desired)
    active = (x_max > 0) & (d_max > 0) & (lr > 0)
    bl = jnp.where(active, bl, 0.0)
    base = jnp.sqrt(lr / (granularity * jnp.where(bl > 0, bl, 1.0)))
    d_scaled = jnp.where(required > desired, d_scaled * desired / required, d_scaled)
    safe_x = jnp.where(active, x_max, 1.0)
    safe_d = jnp.where(active, d_scaled, 1.0)
    scale_d = jnp.where(active, base * jnp.sqrt(safe_x / safe_d), 0.0)
    scale_x = jnp.where(active, base * jnp.sqrt(safe_d / safe_x), 0.0)
    return (
        bl.astype(jnp.int32),
        jnp.abs(x) * scale_x[:, None],
        jnp.abs(d) * scale_d[:, None],
    )


def _quantize_probabilities(
    p: jax.Array, res: jax.Array, sto_round: bool, key: jax.Array | None
) -> jax.Array:
    res = jnp.asarray(res, p.dtype)
    safe = jnp.where(res > 0, res, 1.0)
    scaled = p / safe
    if sto_round and key is not None:
        scaled = scaled + jax.random.uniform(key, p.shape, p.dtype) - 0.5
    return jnp.where(res > 0, jnp.round(scaled) * safe, p)


def plan_pulses(
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    granularity: jax.Array,
    params: UpdateParameters,
    key: jax.Array,
) -> PulsePlan:
    """Compute train lengths, probabilities and seeds of one tile's batch."""
    bl, p_x, p_d = train_lengths(x, d, lr, granularity, params)
    if params.sto_round or not _static.is_zero(params.res):
        x_key, d_key = jax.random.split(jax.random.fold_in(key, _ROUNDING))
        p_x = _quantize_probabilities(p_x, params.res, params.sto_round, x_key)
        p_d = _quantize_probabilities(p_d, params.res, params.sto_round, d_key)
    return PulsePlan(
        bl=bl,
        p_x=p_x,
        p_d=p_d,
        x_negative=x < 0,
        d_negative=d < 0,
        x_seed=_random.seed_words(jax.random.fold_in(key, _X_BITS)),
        d_seed=_random.seed_words(jax.random.fold_in(key, _D_BITS)),
        noise_key=jax.random.fold_in(key, _STEP_NOISE),
    )


def _fires(
    seed: jax.Array, p: jax.Array, sample: jax.Array, slot: jax.Array, slots: int
) -> jax.Array:
    """Return whether each line fires in slot ``slot`` of sample ``sample``.

    ``p`` is ``[..., n]`` with the leading shape of ``sample`` and ``slot``.
    The draw of a (sample, slot, line) triple does not depend on which other
    triples are evaluated with it, so the sequential and the summed update
    see the same pulses.
    """
    n = p.shape[-1]
    base = sample.astype(jnp.uint32) * jnp.uint32(slots) + slot.astype(jnp.uint32)
    counter = base[..., None] * jnp.uint32(n) + jnp.arange(n, dtype=jnp.uint32)
    return _random.uniform(seed, counter) < p


def _packed_trains(
    seed: jax.Array, p: jax.Array, bl: jax.Array, slots: int, generated: jax.Array
) -> jax.Array:
    """Pulse trains of every sample, packed 32 slots a word: ``[batch, n, words]``.

    A loop draws the first ``generated`` slots (at least the longest train,
    usually 1), so short trains cost little. Under ``vmap`` it runs as long
    as the longest train of the whole batch. Draws do not depend on ``generated``.
    """
    batch, n = p.shape
    words = -(-slots // _WORD)
    sample = jnp.arange(batch, dtype=jnp.int32)

    def draw_slot(t, packed):
        fired = _fires(seed, p, sample, jnp.full((batch,), t), slots)
        fired = fired & (t < bl)[:, None]
        bit = fired.astype(jnp.uint32) << (t % _WORD).astype(jnp.uint32)
        word = jax.nn.one_hot(t // _WORD, words, dtype=jnp.uint32)
        return packed | (bit[..., None] * word)

    packed = jnp.zeros((batch, n, words), jnp.uint32)
    return lax.fori_loop(0, generated, draw_slot, packed)


def _trains_for(plan: PulsePlan, params: UpdateParameters, generated: jax.Array):
    slots = params.desired_bl
    return (
        _packed_trains(plan.x_seed, plan.p_x, plan.bl, slots, generated),
        _packed_trains(plan.d_seed, plan.p_d, plan.bl, slots, generated),
    )


def _slot_matrices(
    plan: PulsePlan, capacity: int, slots: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """0/1 firing matrices of the batch's active slots, split by sign.

    Active slots ``(b, t < bl_b)`` are laid out one after the other; the
    first ``capacity`` are evaluated (the caller picks a capacity that fits
    them all). Returns ``x_pos, x_neg`` ``[capacity, in]`` and ``d_pos,
    d_neg`` ``[capacity, out]`` as float32.
    """
    ends = jnp.cumsum(plan.bl)
    slot = jnp.arange(capacity, dtype=jnp.int32)
    sample = jnp.minimum(
        jnp.searchsorted(ends, slot, side="right"), plan.bl.shape[0] - 1
    )
    start = ends[sample] - plan.bl[sample]
    valid = (slot < ends[-1])[:, None]
    t = slot - start
    x_fired = _fires(plan.x_seed, plan.p_x[sample], sample, t, slots) & valid
    d_fired = _fires(plan.d_seed, plan.p_d[sample], sample, t, slots) & valid
    x_neg = plan.x_negative[sample]
    d_neg = plan.d_negative[sample]
    as_float = lambda mask: mask.astype(jnp.float32)
    return (
        as_float(x_fired & ~x_neg),
        as_float(x_fired & x_neg),
        as_float(d_fired & ~d_neg),
        as_float(d_fired & d_neg),
    )


def _summed_counts(
    plan: PulsePlan, capacity: int, slots: int
) -> tuple[jax.Array, jax.Array]:
    """Up and down coincidences of the whole batch per cross-point ``[out, in]``.

    With ``F = F+ + F-`` and ``G = F+ - F-`` per side, ``F_d^T F_x`` counts all
    coincidences and ``G_d^T G_x`` same-sign minus opposite-sign ones.
    """
    x_pos, x_neg, d_pos, d_neg = _slot_matrices(plan, capacity, slots)
    total = (d_pos + d_neg).T @ (x_pos + x_neg)
    same_minus_opposite = (d_pos - d_neg).T @ (x_pos - x_neg)
    up = jnp.round(0.5 * (total - same_minus_opposite))
    return up, total - up


def _summed_apply(
    weight: jax.Array,
    state: devices.PulsedDeviceState,
    up: jax.Array,
    down: jax.Array,
    device: PulsedDevice,
    key: jax.Array,
) -> jax.Array:
    """Apply a batch's summed up and down counts at once, then clip."""
    spread = jnp.sqrt(up * state.dw_up**2 + down * state.dw_down**2)
    out_size, in_size = weight.shape
    seed = _random.seed_words(jax.random.fold_in(key, _SUM_NOISE))
    counter = jnp.arange(out_size * in_size, dtype=jnp.uint32).reshape(
        out_size, in_size
    )
    noise = _random.binomial_normal(seed, counter)
    change = (
        up * state.dw_up - down * state.dw_down + device.dw_min_std * spread * noise
    )
    return jnp.clip(weight + change, state.w_min, state.w_max), (up + down) > 0


def _step_noise(noise_seed, index, cross_points, size):
    """Return ``noise(k)``: the cycle-to-cycle draws of pulse ``k`` of sample ``index``."""
    sample_seed = _random.fold_seed(noise_seed, index)

    def noise(k):
        counter = jnp.asarray(k, jnp.uint32) * size + cross_points
        return _random.binomial_normal(sample_seed, counter)

    return noise


def step_noise(key: jax.Array, shape: tuple[int, int]):
    """Return ``noise_of(index)``: the per-pulse noise function of each sample.

    ``noise_of(index)(k)`` gives the standard-normal cycle-to-cycle draws of
    pulse ``k`` of sample ``index`` for every cross-point of ``shape``.
    """
    seed = _random.seed_words(key)
    size = jnp.uint32(shape[0] * shape[1])
    cross_points = jnp.arange(shape[0] * shape[1], dtype=jnp.uint32).reshape(shape)
    return lambda index: _step_noise(seed, index, cross_points, size)


def _word_counts(x_word, d_word, x_neg, d_neg):
    both = d_word[:, None, :] & x_word[None, :, :]
    count = jnp.sum(lax.population_count(both), axis=-1, dtype=jnp.int32)
    return count, d_neg[:, None] != x_neg[None, :]


def coincidences(
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    granularity: jax.Array,
    params: UpdateParameters,
    key: jax.Array,
):
    """Prepare the per-sample coincidence counts of one tile's batch.

    Returns ``(inputs, count_of)``: ``inputs`` is a tuple of arrays with the
    batch as leading axis, and ``count_of(*inputs_of_one_sample)`` returns
    that sample's pulse count ``[out, in]`` and direction (True: up). The
    counts do not depend on the weights, so any per-sample rule (a single
    device, the members of a unit cell, chopped signs) can consume them in
    :func:`scan_samples`.
    """
    if params.pulse_type in (PulseType.DETERMINISTIC_IMPLICIT, PulseType.MEAN_COUNT):
        return _deterministic_counts(x, d, lr, granularity, params)
    plan = plan_pulses(x, d, lr, granularity, params, key)
    trains = _trains_for(plan, params, jnp.max(plan.bl))
    return (*trains, plan.x_negative, plan.d_negative), _word_counts


def _deterministic_counts(x, d, lr, granularity, params):
    """DETERMINISTIC_IMPLICIT and MEAN_COUNT: counts from rounded probabilities."""
    bl, p_x, p_d = train_lengths(x, d, lr, granularity, params)
    blf = bl.astype(jnp.float32)
    implicit = params.pulse_type is PulseType.DETERMINISTIC_IMPLICIT
    if implicit:
        factor_x = jnp.clip(
            _quantize_probabilities(p_x, params.x_res_implicit, False, None), 0, 1
        )
        factor_d = jnp.clip(
            _quantize_probabilities(p_d, params.d_res_implicit, False, None), 0, 1
        )
    else:
        factor_x = jnp.clip(jnp.round(blf[:, None] * p_x), 0.0, blf[:, None])
        factor_d = jnp.clip(jnp.round(blf[:, None] * p_d), 0.0, blf[:, None])

    def count_of(bl_b, f_x, f_d, x_neg, d_neg):
        product = f_d[:, None] * f_x[None, :]
        if implicit:
            count = jnp.round(bl_b * product)
        else:
            count = jnp.round(product / jnp.where(bl_b > 0, bl_b, 1.0))
        return count.astype(jnp.int32), d_neg[:, None] != x_neg[None, :]

    return (blf, factor_x, factor_d, x < 0, d < 0), count_of


@jax.custom_batching.custom_vmap
def _all_of(flags: jax.Array) -> jax.Array:
    """Reduce ``flags`` with ``jnp.all``, and under ``vmap`` over every mapped axis too.

    The result only chooses between two steps that give the same weights,
    so reducing over the mapped axes is safe. It keeps the choice a scalar,
    so that ``lax.cond`` runs one branch instead of a select of both.
    """
    return jnp.all(flags)


@_all_of.def_vmap
def _all_of_batched(axis_size, in_batched, flags):
    del axis_size, in_batched
    # Calling ``_all_of`` again reduces over the enclosing maps as well.
    return _all_of(flags), False


def scan_samples(carry, inputs, count_of, step, single=None, step_single=None):
    """Apply ``step(carry, index, count, up) -> carry`` to every sample in order.

    With ``single`` (``[batch]`` flags of the samples whose counts are all 0
    or 1) and ``step_single`` (a step that gives the same weights as ``step``
    on such counts), the whole batch takes ``step_single`` when every flag is
    set. The choice is made once per batch, because a ``lax.cond`` per sample
    made the update twice as slow on CPU.
    """
    indices = jnp.arange(inputs[0].shape[0], dtype=jnp.int32)

    def scan_with(step):
        def body(carry, item):
            index, *rest = item
            count, up = count_of(*rest)
            return step(carry, index, count, up), None

        return lambda carry: lax.scan(body, carry, (indices, *inputs))[0]

    if single is None or step_single is None:
        return scan_with(step)(carry)
    return lax.cond(_all_of(single), scan_with(step_single), scan_with(step), carry)


def sequential_update(
    weight: jax.Array,
    state: devices.PulsedDeviceState,
    plan: PulsePlan,
    trains: tuple[jax.Array, jax.Array],
    device: PulsedDevice,
    max_count: int = 1024,
    single: jax.Array | None = None,
    row_capacity: int = ROW_CAPACITY,
) -> tuple[jax.Array, jax.Array]:
    """Apply the batch sample after sample, clipping after every sample.

    Only the rows whose output line fires in a sample can change in it.
    On a tile of at least ``4 * row_capacity`` rows, when no sample of the
    batch fires more than ``row_capacity`` rows, each sample gathers its
    firing rows, updates them and scatters them back. Otherwise every
    sample runs over the whole tile. Both paths give the same weights and
    pulsed masks. The weights agree to the bit for constant-step,
    linear-step, soft-bounds, exponential-step and piecewise-step devices.
    Power-step devices and devices with a per-device reference differed by
    up to 3e-7, because the two kernels round their arithmetic differently.

    Args:
        weight: tile weights ``[out, in]``.
        state: the tile's device values.
        plan: the batch's pulse plan.
        trains: packed ``(x_words, d_words)`` of the plan.
        device: device parameters.
        max_count: bound of a sample's pulse count (its ``desired_bl``).
        single: optional ``[batch]`` flags of the samples whose trains are
            at most one slot long. When every flag is set, linear-step and
            soft-bounds devices take their one-pulse path for the batch.
        row_capacity: maximum number of rows that one sample may fire for
            the gathered path. With 0, every sample runs over the whole tile.

    Returns:
        The new weights and the ``[out, in]`` mask of the cross-points that
        received at least one pulse.
    """
    noise_of = step_noise(plan.noise_key, weight.shape)

    def step_with(bound):
        def step(carry, index, count, up):
            weight, pulsed = carry
            new = devices.apply_pulses(
                weight, state, count, up, noise_of(index), device, bound
            )
            return new, pulsed | (count > 0)

        return step

    inputs = (*trains, plan.x_negative, plan.d_negative)
    carry = (weight, jnp.zeros(weight.shape, bool))
    if not devices.is_affine_step(device):
        single = None

    def whole_tile(carry):
        return scan_samples(
            carry, inputs, _word_counts, step_with(max_count), single, step_with(1)
        )

    # On smaller tiles, gathering cost more than it saved: 1.4x to 1.8x
    # slower for 64-row tiles with 30 firing rows.
    if not 0 < 4 * row_capacity <= weight.shape[0]:
        return whole_tile(carry)
    fired = jnp.any(trains[1] != 0, axis=-1)
    fits = jnp.sum(fired, axis=-1) <= row_capacity
    gathered = functools.partial(
        _gathered_rows_update,
        state=state,
        plan=plan,
        trains=trains,
        fired=fired,
        device=device,
        max_count=max_count,
        single=single,
        capacity=row_capacity,
    )
    return lax.cond(_all_of(fits), gathered, whole_tile, carry)


def _firing_rows_first(fired: jax.Array, capacity: int) -> jax.Array:
    """Return ``capacity`` distinct rows per sample, its firing rows first.

    A cumulative count gives every row its place (firing rows in order,
    then idle rows), and a scatter keeps the first ``capacity`` places.
    """
    batch, out_size = fired.shape
    firing_place = jnp.cumsum(fired, axis=-1) - 1
    idle_place = (
        jnp.sum(fired, axis=-1, keepdims=True) + jnp.cumsum(~fired, axis=-1) - 1
    )
    place = jnp.where(fired, firing_place, idle_place)
    samples = jnp.broadcast_to(jnp.arange(batch)[:, None], place.shape)
    rows = jnp.broadcast_to(jnp.arange(out_size, dtype=jnp.int32), place.shape)
    chosen = jnp.zeros((batch, capacity), jnp.int32)
    return chosen.at[samples, place].set(rows, mode="drop", unique_indices=True)


def _gathered_rows_update(
    carry, *, state, plan, trains, fired, device, max_count, single, capacity
):
    """Update only each sample's firing rows, ``capacity`` rows a sample.

    The whole-tile path clips every row of a constant-step device after
    each sample, so rows outside their bounds that the first sample does
    not fire are clipped here first. Apart from that, a row that no
    sample fires keeps its weight.
    """
    weight, pulsed = carry
    out_size, in_size = weight.shape
    if devices.is_constant_step(device):
        clipped = jnp.clip(weight, state.w_min, state.w_max)
        weight = jnp.where(fired[0][:, None], weight, clipped)
    rows = _firing_rows_first(fired, capacity)
    x_words, d_words = trains
    seed = _random.seed_words(plan.noise_key)
    size = jnp.uint32(out_size * in_size)
    columns = jnp.arange(in_size, dtype=jnp.uint32)

    def step_with(bound):
        def step(carry, item):
            weight, pulsed = carry
            index, row, x_word, d_word, x_neg, d_neg = item
            count, up = _word_counts(x_word, d_word[row], x_neg, d_neg[row])
            cross_points = row.astype(jnp.uint32)[:, None] * in_size + columns
            noise = _step_noise(seed, index, cross_points, size)
            row_state = jax.tree.map(
                lambda a: a[row] if jnp.shape(a) == weight.shape else a, state
            )
            new = devices.apply_pulses(
                weight[row], row_state, count, up, noise, device, bound
            )
            weight = weight.at[row].set(new, unique_indices=True)
            pulsed = pulsed.at[row].set(pulsed[row] | (count > 0), unique_indices=True)
            return (weight, pulsed), None

        return lambda carry: lax.scan(step, carry, items)[0]

    indices = jnp.arange(rows.shape[0], dtype=jnp.int32)
    items = (indices, rows, x_words, d_words, plan.x_negative, plan.d_negative)
    if single is None:
        return step_with(max_count)((weight, pulsed))
    return lax.cond(
        _all_of(single), step_with(1), step_with(max_count), (weight, pulsed)
    )


def _deterministic_update(
    weight: jax.Array,
    state: devices.PulsedDeviceState,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    device: PulsedDevice,
    params: UpdateParameters,
    key: jax.Array,
    granularity: jax.Array,
) -> jax.Array:
    """DETERMINISTIC_IMPLICIT and MEAN_COUNT, sample after sample."""
    inputs, count_of = _deterministic_counts(x, d, lr, granularity, params)
    noise_of = step_noise(jax.random.fold_in(key, _STEP_NOISE), weight.shape)

    def step(carry, index, count, up):
        weight, pulsed = carry
        new = devices.apply_pulses(
            weight, state, count, up, noise_of(index), device, params.desired_bl
        )
        return new, pulsed | (count > 0)

    carry = (weight, jnp.zeros(weight.shape, bool))
    return scan_samples(carry, inputs, count_of, step)


def _exact_clipped_update(
    weight: jax.Array,
    state: devices.PulsedDeviceState,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """NONE_WITH_DEVICE: ``W -= lr d x^T`` per sample, clipped to the device bounds."""

    def apply_sample(carry, sample):
        weight, touched = carry
        x_b, d_b = sample
        change = lr * jnp.outer(d_b, x_b)
        weight = jnp.clip(weight - change, state.w_min, state.w_max)
        return (weight, touched | (change != 0)), None

    carry = (weight, jnp.zeros(weight.shape, bool))
    (weight, touched), _ = lax.scan(apply_sample, carry, (x, d))
    return weight, touched


def pulsed_update(
    weight: jax.Array,
    state: devices.PulsedDeviceState,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    device: PulsedDevice,
    params: UpdateParameters,
    *,
    key: jax.Array,
    method: str = "sequential",
    granularity: jax.Array | None = None,
) -> jax.Array:
    """Update one tile's weights with one batch, sample after sample.

    Args:
        weight: tile weights ``[out, in]``.
        state: the tile's device-to-device values.
        x: inputs of the forward pass ``[batch, in]``.
        d: errors at the tile output ``[batch, out]``, with the loss's
            ``1/batch`` factor, as the backward pass delivers them.
        lr: learning rate.
        device: device parameters.
        params: update parameters.
        key: PRNG key of every draw of this update.
        method: ``"sequential"`` (the default) applies the samples one
            after the other, as aihwkit does. ``"summed"`` applies the
            coincidences of the whole batch at once and clips once: faster,
            and the same in distribution except for cross-points that reach
            a bound during the batch, whose pulse order it ignores.
        granularity: the ``epsilon`` of update management (default: the
            device's own); compound devices pass the mean of their members'.

    Returns:
        The new weights.
    """
    new = pulsed_update_tiles(
        weight[None],
        jax.tree.map(lambda a: a[None], state),
        x[None],
        d[None],
        lr,
        device,
        params,
        key=key,
        method=method,
        granularity=granularity,
    )
    return new[0]


def pulsed_update_tiles(
    weights: jax.Array,
    states: devices.PulsedDeviceState,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    device: PulsedDevice,
    params: UpdateParameters,
    *,
    key: jax.Array,
    method: str = "sequential",
    return_pulsed: bool = False,
    granularity: jax.Array | None = None,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Update a stack of tiles ``[tiles, out, in]`` with ``x [tiles, batch, in]``.

    Each tile gets its own key stream; ``method`` is as for
    :func:`pulsed_update`. With ``return_pulsed``, also return which
    cross-points received at least one pulse (their write noise is redrawn).
    """
    if granularity is None:
        granularity = devices.granularity(device)
    weights, pulsed = _update_tiles(
        weights, states, x, d, lr, device, params, key, method, granularity
    )
    return (weights, pulsed) if return_pulsed else weights


def _update_tiles(weights, states, x, d, lr, device, params, key, method, epsilon):
    if method not in ("sequential", "summed"):
        raise ValueError(f"`method` must be 'sequential' or 'summed', got {method!r}.")
    if x.shape[1] == 0:
        # A batch without samples sends no pulses.
        return weights, jnp.zeros(weights.shape, bool)
    if params.pulse_type is PulseType.NONE:
        change = lr * jnp.einsum("tbo,tbi->toi", d, x)
        return weights - change, change != 0
    if params.pulse_type is PulseType.NONE_WITH_DEVICE:
        return jax.vmap(lambda w, s, xt, dt: _exact_clipped_update(w, s, xt, dt, lr))(
            weights, states, x, d
        )
    if method == "summed" and not devices.is_constant_step(device):
        raise ConfigError(
            f"`method`='summed' needs a constant-step device, got "
            f"{type(device).__name__}, whose step depends on the weight; use "
            "'sequential'."
        )
    keys = jax.random.split(key, weights.shape[0])
    if params.pulse_type in (PulseType.DETERMINISTIC_IMPLICIT, PulseType.MEAN_COUNT):
        return jax.vmap(
            lambda w, s, xt, dt, k: _deterministic_update(
                w, s, xt, dt, lr, device, params, k, epsilon
            )
        )(weights, states, x, d, keys)

    plans = jax.vmap(lambda xt, dt, k: plan_pulses(xt, dt, lr, epsilon, params, k))(
        x, d, keys
    )
    longest = jnp.max(plans.bl)
    batch = x.shape[1]
    slots = params.desired_bl

    if method == "summed":
        # Summed counts need one matrix row per active slot; a few static
        # capacities keep the common short trains cheap.
        capacities = sorted({batch, min(4 * batch, batch * slots), batch * slots})
        needed = jnp.max(jnp.sum(plans.bl, axis=-1))
        branch = jnp.minimum(
            jnp.searchsorted(jnp.asarray(capacities), needed), len(capacities) - 1
        )

        def summed_with(capacity):
            def run(_):
                def one(w, s, p):
                    up, down = _summed_counts(p, capacity, slots)
                    return _summed_apply(w, s, up, down, device, p.noise_key)

                return jax.vmap(one)(weights, states, plans)

            return run

        return lax.switch(branch, [summed_with(c) for c in capacities], None)

    # Most samples have trains of one slot. Draw only as many slots as needed,
    # and take the devices' one-pulse path when no tile's train is longer.
    trains = jax.vmap(lambda p: _trains_for(p, params, longest))(plans)
    single = jnp.max(plans.bl, axis=0) <= 1
    return jax.vmap(
        lambda w, s, p, t: sequential_update(
            w, s, p, t, device, params.desired_bl, single
        )
    )(weights, states, plans, trains)

"""Compound devices and their presets against aihwkit 1.2.0.

``tests/data/train_preset_*.json`` were measured with aihwkit 1.2.0 (CPU):
one 8-input, 4-output tile of each preset, set to a stored ``W0`` and
trained for 50 steps of 4 samples with stored inputs ``X`` and injected
output errors ``D`` at learning rate 0.1, in 200 independent runs (each with
its own construction seed). The files hold the mean and std over runs of the
final weights and of the total per-step weight change. Each file's ``note``
says how it was made.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_reference

from aihw_jax.errors import ConfigError
from aihw_jax.simulator import compounds, presets
from aihw_jax.simulator.configs import (
    ChoppedTransferCompound,
    ConstantStepDevice,
    DynamicTransferCompound,
    MixedPrecisionCompound,
    OneSidedUnitCell,
    PulsedDevice,
    ReferenceUnitCell,
    TransferCompound,
    UpdateParameters,
    VectorUnitCell,
)

COMPOSER_PRESETS = [
    "CapacitorPreset",
    "EcRamPreset",
    "IdealizedPreset",
    "PCMPreset",
    "ReRamESPreset",
    "ReRamSBPreset",
    "MixedPrecisionCapacitorPreset",
    "MixedPrecisionEcRamPreset",
    "MixedPrecisionIdealizedPreset",
    "MixedPrecisionPCMPreset",
    "MixedPrecisionReRamESPreset",
    "MixedPrecisionReRamSBPreset",
    "TikiTakaCapacitorPreset",
    "TikiTakaEcRamPreset",
    "TikiTakaIdealizedPreset",
    "TikiTakaReRamESPreset",
    "TikiTakaReRamSBPreset",
]
RUNS = 200


def train_tile(cell, update, w0, x, d, lr, key, runs):
    """Set ``w0`` on ``runs`` fresh tiles, apply every step; return the weights.

    Returns the weights right after setting ``[runs, out, in]`` and after each
    step ``[runs, steps, out, in]``.
    """
    shape = w0.shape

    def run(key):
        init_key, step_key = jax.random.split(key)
        state = compounds.init(init_key, shape, cell)
        state = compounds.set_weight(state, w0, cell)

        def step(state, inputs):
            x_k, d_k, key_k = inputs
            state = compounds.update(state, x_k, d_k, lr, cell, update, key_k)
            return state, compounds.weight(state, cell)

        keys = jax.random.split(step_key, x.shape[0])
        _, weights = jax.lax.scan(step, state, (x, d, keys))
        return compounds.weight(state, cell), weights

    return jax.jit(jax.vmap(run))(jax.random.split(key, runs))


@pytest.mark.parametrize("name", COMPOSER_PRESETS)
def test_preset_training_matches_aihwkit(name, key):
    reference = load_reference(f"train_preset_{name}.json")
    config = getattr(presets, name)()
    w0 = jnp.asarray(reference["W0"], jnp.float32)
    x = jnp.asarray(reference["X"], jnp.float32)
    d = jnp.asarray(reference["D"], jnp.float32)
    after_set, weights = train_tile(
        config.device, config.update, w0, x, d, reference["lr"], key, RUNS
    )
    final = np.asarray(weights[:, -1])

    # Final weight, element by element: both means rest on 200 runs, so
    # their difference has standard error sqrt(2) * std / sqrt(200). 544
    # elements over all presets: 4.5 standard errors keep a false alarm of
    # the whole file below 0.5 %.
    ref_mean = np.asarray(reference["final_weight"]["mean"])
    ref_std = np.asarray(reference["final_weight"]["std"])
    standard_error = np.sqrt(2.0) * np.maximum(ref_std, 1e-4) / np.sqrt(RUNS)
    z = (final.mean(axis=0) - ref_mean) / standard_error
    assert np.max(np.abs(z)) < 4.5, (name, np.round(z, 1))

    # Spread over runs, averaged over the 32 elements: each std has a relative
    # standard error of about 1 / sqrt(2 * 200) = 5 %, and the average of 32
    # (partly correlated) ones about 2 %; 8 % leaves room for the heavy tails
    # of the saturating devices.
    ratio = final.std(axis=0).mean() / ref_std.mean()
    assert abs(ratio - 1.0) < 0.08, (name, ratio)

    # Total weight movement, sum over steps of mean |W_k - W_(k-1)|: mean over
    # 200 runs within 5 standard errors of the two means' difference.
    previous = jnp.concatenate([after_set[:, None], weights[:, :-1]], axis=1)
    total = np.asarray(jnp.abs(weights - previous).mean(axis=(2, 3)).sum(axis=1))
    ref_total = reference["total_mean_abs_dW"]
    error = np.sqrt(2.0) * ref_total["std"] / np.sqrt(RUNS)
    assert abs(total.mean() - ref_total["mean"]) < 5 * error + 1e-4, (
        name,
        total.mean(),
        ref_total,
    )


def _constant(**fields):
    return ConstantStepDevice(
        dw_min_std=0.0, dw_min_dtod=0.0, up_down_dtod=0.0, **fields
    )


def _run_one(cell, x, d, lr=0.1, update=None, steps=1, w0=None, key=None):
    key = jax.random.key(0) if key is None else key
    update = update or UpdateParameters()
    state = compounds.init(key, (d.shape[-1], x.shape[-1]), cell)
    if w0 is not None:
        state = compounds.set_weight(state, w0, cell)
    step = jax.jit(lambda s, k: compounds.update(s, x, d, lr, cell, update, k))
    for k in range(steps):
        state = step(state, jax.random.fold_in(key, k))
    return state


def test_tiki_taka_column_per_batch():
    cell = TransferCompound(unit_cell_devices=[_constant(), _constant()])
    x = jnp.ones((4, 6))
    d = -jnp.ones((4, 3))
    state = _run_one(cell, x, d, steps=5)
    # Five mini-batches: five transfers, columns 0..4, so column 5 of the
    # slow device is still untouched while the fast device moved everywhere.
    slow = state["members"][1]["weight"]
    assert int(state["pointers"][0]) == 5
    assert np.all(np.asarray(slow[:, :5]) >= 0)
    assert np.mean(slow[:, :5]) > 0.01
    assert np.all(np.asarray(slow[:, 5]) == 0)
    assert np.all(np.asarray(state["members"][0]["weight"]) > 0)
    np.testing.assert_array_equal(compounds.weight(state, cell), slow)


def test_mixed_precision_chi_remainder():
    cell = MixedPrecisionCompound(device=_constant(dw_min=0.01))
    x = jax.random.uniform(jax.random.key(1), (8, 5), minval=-1, maxval=1)
    d = jax.random.uniform(jax.random.key(2), (8, 4), minval=-1, maxval=1)
    state = _run_one(cell, x, d, lr=0.2, steps=3)
    # After a transfer only the remainders of the later samples stay: the
    # first sample of the last batch was accumulated before the transfer.
    chi_after_transfer = state["chi"] - 0.2 * (d[1:].T @ x[1:])
    assert np.max(np.abs(np.asarray(chi_after_transfer))) < 0.01


def test_one_sided_cell_only_potentiates():
    cell = OneSidedUnitCell(unit_cell_devices=[_constant(dw_min=0.01)])
    x = jax.random.uniform(jax.random.key(3), (16, 6), minval=-1, maxval=1)
    d = jax.random.uniform(jax.random.key(4), (16, 4), minval=-1, maxval=1)
    state = _run_one(cell, x, d, steps=3)
    for member in state["members"]:
        assert np.all(np.asarray(member["weight"]) >= 0)
    minus, plus = state["members"]
    np.testing.assert_allclose(
        compounds.weight(state, cell), plus["weight"] - minus["weight"]
    )


def test_reference_cell_updates_only_the_first_device():
    cell = ReferenceUnitCell(unit_cell_devices=[_constant()])
    assert len(cell.unit_cell_devices) == 2
    x = jnp.ones((4, 3))
    d = jnp.ones((4, 2))
    state = _run_one(cell, x, d, steps=2)
    first, reference = state["members"]
    assert np.all(np.asarray(first["weight"]) < 0)
    assert np.all(np.asarray(reference["weight"]) == 0)


@pytest.mark.parametrize(
    "cell",
    [
        VectorUnitCell(unit_cell_devices=[_constant(), _constant()]),
        TransferCompound(
            unit_cell_devices=[_constant(), _constant(), _constant()], gamma=0.5
        ),
        ChoppedTransferCompound(unit_cell_devices=[_constant(), _constant()]),
        DynamicTransferCompound(unit_cell_devices=[_constant(), _constant()]),
        MixedPrecisionCompound(device=_constant()),
    ],
    ids=lambda cell: type(cell).__name__,
)
def test_update_moves_the_weight_against_the_gradient(cell):
    x = jnp.ones((8, 5))
    d = jnp.ones((8, 3))
    state = _run_one(cell, x, d, lr=0.05, steps=20)
    weight = np.asarray(compounds.weight(state, cell))
    assert np.isfinite(weight).all()
    assert weight.mean() < -0.005


def test_chopped_slow_device_dechopped():
    cell = ChoppedTransferCompound(
        unit_cell_devices=[_constant(), _constant()], in_chop_prob=0.5
    )
    x = jnp.ones((4, 4))
    d = jnp.ones((4, 2))
    state = _run_one(cell, x, d, lr=0.05, steps=40)
    assert np.any(np.asarray(state["chop_in"]) < 0)
    assert np.all(np.asarray(state["members"][1]["weight"]) < 0)


def test_compound_configs_name_the_bad_value():
    with pytest.raises(ConfigError, match="at least 2"):
        TransferCompound(unit_cell_devices=[_constant()])
    with pytest.raises(ConfigError, match="exactly 2"):
        ChoppedTransferCompound(unit_cell_devices=[_constant()] * 3)
    with pytest.raises(ConfigError, match="unit_cell_devices\\[1\\]"):
        VectorUnitCell(unit_cell_devices=[_constant(), "ReRam"])
    with pytest.raises(ConfigError, match="empty VectorUnitCell"):
        MixedPrecisionCompound().check_support()
    with pytest.raises(ConfigError, match="transfer_columns"):
        TransferCompound(
            unit_cell_devices=[_constant(), _constant()], transfer_columns=False
        ).check_support()


def test_every_family_preset_builds_and_checks():
    names = sorted(presets.configs.FAMILY_PRESETS)
    assert len(names) == 44
    for name in names:
        config = getattr(presets, name)()
        config.check_support()
    chopped = presets.ChoppedTTv2EcRamPreset()
    assert chopped.device.fast_lr == 1.0
    assert chopped.update.desired_bl == 100
    agad = presets.AGADCapacitorPreset().device
    assert (agad.tail_weightening, agad.in_chop_prob) == (20.0, 0.01)
    assert presets.MixedPrecisionPCMPreset().device.device.refresh_every == 1


EXTREME = {
    "dw_min_dtod": 2.0,
    "w_max_dtod": 2.0,
    "w_min_dtod": 2.0,
    "up_down_dtod": 1.0,
    "dw_min_std": 3.0,
}
FAMILY_SAMPLE = [
    "ReRamES2Preset",
    "EcRam4Preset",
    "TikiTakaReRamSBPreset",
    "TikiTakaCapacitorPreset",
    "TTv2EcRamMOPreset",
    "ChoppedTTv2IdealizedPreset",
    "ChoppedTTv2ReRamESPreset",
    "AGADEcRamPreset",
    "AGADReRamSBPreset",
    "MixedPrecisionPCMPreset",
    "MixedPrecisionGokmenVlasovPreset",
    "PCMPreset",
]


def _extreme(cell):
    """Replace every member device's variations by extreme ones."""
    if isinstance(cell, PulsedDevice):
        return cell.replace(**EXTREME)
    if isinstance(cell, MixedPrecisionCompound):
        return cell.replace(device=_extreme(cell.device))
    devices_ = tuple(_extreme(device) for device in cell.unit_cell_devices)
    return cell.replace(unit_cell_devices=devices_)


def _members_of(state):
    if "members" in state:
        return state["members"]
    if "device" in state and isinstance(state["device"], dict):
        return _members_of(state["device"])
    return (state,)


@pytest.mark.parametrize("name", FAMILY_SAMPLE)
def test_member_weights_stay_in_their_bounds(name, key):
    config = getattr(presets, name)()
    cell = _extreme(config.device)
    x = jax.random.uniform(jax.random.key(5), (10, 8, 8), minval=-1, maxval=1)
    d = jax.random.uniform(jax.random.key(6), (10, 8, 16), minval=-1, maxval=1)
    state = compounds.init(key, (16, 8), cell)
    # Start at zero. aihwkit clips a reference device's programmed weight to
    # the bounds without its reference, so its physical value may start out
    # of bounds. Pulses keep it within them.
    state = compounds.set_weight(state, jnp.zeros((16, 8)), cell)
    step = jax.jit(
        lambda s, x_k, d_k, k: compounds.update(
            s, x_k, d_k, 0.5, cell, config.update, k
        )
    )
    for index in range(10):
        state = step(state, x[index], d[index], jax.random.fold_in(key, index))
    assert bool(jnp.all(jnp.isfinite(compounds.weight(state, cell))))
    for member in _members_of(state):
        device = member["device"]
        physical = member["weight"] + device.hidden.get("reference", 0.0)
        assert bool(jnp.all(jnp.isfinite(physical)))
        assert bool(jnp.all(physical <= device.w_max + 1e-6))
        assert bool(jnp.all(physical >= device.w_min - 1e-6))


def test_compound_configs_reject_silent_failures():
    pair = [_constant(), _constant()]
    with pytest.raises(ConfigError, match="n_x_bins"):
        MixedPrecisionCompound(device=_constant(), n_x_bins=1)
    with pytest.raises(ConfigError, match=r"gamma_vec\[0\]"):
        TransferCompound(unit_cell_devices=pair, gamma_vec=[float("nan"), 1.0])
    with pytest.raises(ConfigError, match=r"transfer_lr_vec\[0\]"):
        TransferCompound(unit_cell_devices=pair, transfer_lr_vec=[-1.0, 1.0])
    with pytest.raises(ConfigError, match="transfer_every"):
        TransferCompound(unit_cell_devices=pair, transfer_every=-1.0)
    with pytest.raises(ConfigError, match="is empty"):
        ReferenceUnitCell(unit_cell_devices=[])
    with pytest.raises(ConfigError, match="refresh_upper_thres"):
        OneSidedUnitCell(
            unit_cell_devices=pair, refresh_upper_thres=0.2, refresh_lower_thres=0.8
        )
    with pytest.raises(ConfigError, match="with_reset_prob"):
        ChoppedTransferCompound(unit_cell_devices=pair, with_reset_prob=0.5)
    # The chopped compounds derive a period from the device for negative values.
    ChoppedTransferCompound(unit_cell_devices=pair, transfer_every=-1.0)

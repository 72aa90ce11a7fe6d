"""The pulsed update: update management, pulse statistics and the ConstantStep device."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_reference

from aihw_jax.errors import ConfigError
from aihw_jax.simulator import devices
from aihw_jax.simulator.configs import (
    ConstantStepDevice,
    ExpStepDevice,
    LinearStepDevice,
    PiecewiseStepDevice,
    PowStepDevice,
    SoftBoundsDevice,
    SoftBoundsPmaxDevice,
    SoftBoundsReferenceDevice,
    UpdateParameters,
)
from aihw_jax.simulator.presets import EcRamPresetDevice
from aihw_jax.simulator.tiles import update as tile_update
from aihw_jax.simulator.tiles.update import (
    plan_pulses,
    pulsed_update,
    sequential_update,
    train_lengths,
)

DEVICE = ConstantStepDevice()
UPDATE = UpdateParameters()
IDEAL_STEPS = ConstantStepDevice(
    dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0
)


def test_short_update_gets_one_slot():
    # lr 0.05, epsilon 0.001, max|x| 1, max|d| 0.01: k = 0.5 pulses.
    x = jnp.array([[1.0, -0.5, 0.0]])
    d = jnp.array([[0.01, -0.005]])
    bl, p_x, p_d = train_lengths(x, d, 0.05, 0.001, UPDATE)
    assert int(bl[0]) == 1
    np.testing.assert_allclose(
        np.asarray(p_x[0]), np.sqrt(0.5) * np.array([1.0, 0.5, 0.0]), rtol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(p_d[0]), np.sqrt(0.5) * np.array([1.0, 0.5]), rtol=1e-5
    )


def test_long_update_saturates_at_desired_bl():
    # k = 50 > 31: BL 31, the largest x fires always, d is scaled by 50/31.
    x = jnp.array([[1.0, 0.5]])
    d = jnp.array([[1.0, 0.5]])
    bl, p_x, p_d = train_lengths(x, d, 0.05, 0.001, UPDATE)
    assert int(bl[0]) == 31
    np.testing.assert_allclose(np.asarray(p_x[0]), [1.0, 0.5], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(p_d[0]), [50 / 31, 25 / 31], rtol=1e-5)


def test_zero_sample_gets_no_pulses():
    bl, p_x, _ = train_lengths(jnp.zeros((1, 3)), jnp.ones((1, 2)), 0.05, 0.001, UPDATE)
    assert int(bl[0]) == 0
    assert float(jnp.sum(p_x)) == 0.0


def _ensemble(key, x, d, lr, device, params, repeats, method="sequential"):
    shape = (d.shape[1], x.shape[1])
    state = devices.init(jax.random.key(7), shape, device)
    start = jnp.zeros(shape)
    keys = jax.random.split(key, repeats)
    update = lambda k: pulsed_update(
        start, state, x, d, lr, device, params, key=k, method=method
    )
    return jax.jit(jax.vmap(update))(keys)


def test_expected_change_is_minus_lr_x_d(key):
    x = jnp.array([[1.0, -0.6, 0.3]])
    d = jnp.array([[0.01, -0.004]])
    weights = _ensemble(key, x, d, 0.05, IDEAL_STEPS, UPDATE, 20000)
    expected = -0.05 * d.T @ x
    # Each cross-point gets at most one pulse of 0.001 with probability
    # p <= 0.5: the mean over 20000 runs has a standard error below 3.6e-6.
    np.testing.assert_allclose(
        np.asarray(weights.mean(0)), np.asarray(expected), atol=5 * 3.6e-6
    )


def test_positive_x_times_d_decreases_weight(key):
    weights = _ensemble(
        key, jnp.ones((4, 2)), jnp.ones((4, 2)), 0.05, IDEAL_STEPS, UPDATE, 50
    )
    assert bool(jnp.all(weights < 0))
    weights = _ensemble(
        key, jnp.ones((4, 2)), -jnp.ones((4, 2)), 0.05, IDEAL_STEPS, UPDATE, 50
    )
    assert bool(jnp.all(weights > 0))


def test_pulses_per_sample_never_exceed_desired_bl(key):
    # Every sample requires 50 pulses, but at most 31 are given, each of at
    # most 0.001 * (1 + 0.3 * 5.66) under the bounded step noise.
    x = jnp.ones((1, 3))
    d = -jnp.ones((1, 2))
    weights = _ensemble(key, x, d, 0.05, IDEAL_STEPS, UPDATE, 200)
    assert float(jnp.max(weights)) <= 31 * 0.001 * (1 + 0.3 * 5.66)
    assert float(jnp.mean(weights)) == pytest.approx(0.031, rel=0.01)


def test_samples_apply_in_order_and_clip(key):
    # Four samples of 31 up pulses each from 0 reach a bound of 0.05 and stay.
    device = IDEAL_STEPS.replace(w_max=0.05, dw_min_std=0.0)
    weights = _ensemble(
        key, jnp.ones((4, 1)), -jnp.ones((4, 1)), 0.05, device, UPDATE, 10
    )
    np.testing.assert_allclose(np.asarray(weights), 0.05, rtol=1e-6)


def test_bounds_are_never_exceeded(key):
    shape = (32, 16)
    state = devices.init(key, shape, DEVICE)
    weight = jnp.zeros(shape)
    x = jax.random.uniform(jax.random.fold_in(key, 1), (64, 16), minval=-1, maxval=1)
    d = jax.random.uniform(jax.random.fold_in(key, 2), (64, 32), minval=-1, maxval=1)
    step = jax.jit(
        lambda w, k: pulsed_update(w, state, x, d, 0.5, DEVICE, UPDATE, key=k)
    )
    for index in range(20):
        weight = step(weight, jax.random.fold_in(key, 10 + index))
    assert bool(jnp.all(weight <= state.w_max))
    assert bool(jnp.all(weight >= state.w_min))
    assert bool(jnp.any(weight == state.w_max))


def test_device_to_device_spread(key):
    state = devices.init(key, (200, 200), DEVICE)
    # 40000 devices: standard errors are 0.5 % of a spread.
    gain_up = np.asarray(state.dw_up) / 0.001
    assert gain_up.mean() == pytest.approx(1.0, abs=0.01)
    assert gain_up.std() == pytest.approx(0.3, rel=0.03)
    assert float(jnp.mean(state.w_max)) == pytest.approx(0.6, abs=0.005)
    assert float(jnp.std(state.w_max)) == pytest.approx(0.18, rel=0.03)
    assert float(jnp.mean(state.w_min)) == pytest.approx(-0.6, abs=0.005)
    assert bool(jnp.all(state.dw_up > 0))
    assert bool(jnp.all(state.w_min <= 0))
    asymmetry = (np.asarray(state.dw_up) - np.asarray(state.dw_down)) / 0.001
    # up - down = 2 * up_down_dtod * xi: std 0.02 steps.
    assert asymmetry.std() == pytest.approx(0.02, rel=0.03)


def test_construction_seed_fixes_devices(key):
    seeded = DEVICE.replace(construction_seed=42)
    first = devices.init(key, (4, 4), seeded)
    second = devices.init(jax.random.fold_in(key, 1), (4, 4), seeded)
    np.testing.assert_array_equal(np.asarray(first.w_max), np.asarray(second.w_max))


def test_summed_method_matches_sequential_away_from_bounds(key):
    x = jax.random.uniform(jax.random.fold_in(key, 1), (16, 6), minval=-1, maxval=1)
    d = jax.random.uniform(
        jax.random.fold_in(key, 2), (16, 4), minval=-0.02, maxval=0.02
    )
    sequential = _ensemble(key, x, d, 0.05, DEVICE, UPDATE, 4000)
    summed = _ensemble(key, x, d, 0.05, DEVICE, UPDATE, 4000, method="summed")
    # The same pulse trains are drawn by both, so the means agree to the
    # noise of the steps alone (std <= 0.3 * 0.0013 * sqrt(16) per run).
    np.testing.assert_allclose(
        np.asarray(summed.mean(0)),
        np.asarray(sequential.mean(0)),
        atol=5 * 0.0016 / np.sqrt(4000) * 1.5,
    )
    np.testing.assert_allclose(
        np.asarray(summed.std(0)), np.asarray(sequential.std(0)), rtol=0.1, atol=2e-5
    )


def test_update_is_reproducible_under_jit(key):
    state = devices.init(key, (8, 8), DEVICE)
    x = jnp.ones((4, 8))
    d = 0.01 * jnp.ones((4, 8))
    eager = pulsed_update(jnp.zeros((8, 8)), state, x, d, 0.05, DEVICE, UPDATE, key=key)
    jitted = jax.jit(
        lambda k: pulsed_update(
            jnp.zeros((8, 8)), state, x, d, 0.05, DEVICE, UPDATE, key=k
        )
    )(key)
    np.testing.assert_array_equal(np.asarray(eager), np.asarray(jitted))


PULSE_RESPONSE = load_reference("pulse_response_ConstantStepDevice.json")


def _pulse_response(key, run: str, noisy: bool) -> tuple[np.ndarray, np.ndarray]:
    """200 up then 200 down single pulses on 1000 devices, as aihwkit's plots do."""
    n = PULSE_RESPONSE["n_traces"]
    device = DEVICE if noisy else DEVICE.replace(dw_min_std=0.0)
    params = UpdateParameters(
        desired_bl=1, update_management=False, update_bl_management=False
    )
    state = devices.init(key, (n, 1), device)
    start = 0.0 if run == "w0" else -0.6
    weight = jnp.clip(jnp.full((n, 1), start), state.w_min, state.w_max)
    directions = jnp.concatenate([-jnp.ones(200), jnp.ones(200)])

    def pulse(weight, inputs):
        sign, step_key = inputs
        d = jnp.full((1, n), sign)
        new = pulsed_update(
            weight, state, jnp.ones((1, 1)), d, 1.0, device, params, key=step_key
        )
        return new, new[:, 0]

    keys = jax.random.split(jax.random.fold_in(key, 1), 400)
    _, trace = jax.jit(lambda w: jax.lax.scan(pulse, w, (directions, keys)))(weight)
    return np.asarray(trace.mean(1)), np.asarray(trace.std(1))


@pytest.mark.parametrize("run", ["w0", "wmin"])
@pytest.mark.parametrize("noisy", [True, False], ids=["noisy", "noise-free"])
def test_pulse_response_matches_aihwkit(run, noisy, key):
    mean, std = _pulse_response(key, run, noisy)
    reference = PULSE_RESPONSE["runs"][run]["noisy" if noisy else "noise_free"]
    ref_mean = np.asarray(reference["mean"])
    ref_std = np.asarray(reference["std"])
    # Both sides average 1000 devices: the difference of two means has a
    # standard error of sqrt(2 / 1000) std, that of two stds sqrt(1 / 1000).
    for index in (0, 49, 99, 199, 249, 299, 399):
        scale = max(ref_std[index], 1e-4)
        assert mean[index] == pytest.approx(
            ref_mean[index], abs=5 * np.sqrt(2 / 1000) * scale
        )
        assert std[index] == pytest.approx(
            ref_std[index], rel=5 * np.sqrt(1 / 1000), abs=2e-5
        )


def test_open_uniform_stays_inside_unit_interval():
    from aihw_jax.simulator import _random

    bits = jnp.array([0, 1, 2**31, 2**32 - 1], dtype=jnp.uint32)
    values = _random.open_uniform(bits)
    assert float(values.min()) > 0.0
    assert float(values.max()) < 1.0
    normals = jax.scipy.special.ndtri(values)
    assert bool(jnp.all(jnp.isfinite(normals)))


def test_counter_normal_has_unit_moments(key):
    from aihw_jax.simulator import _random

    samples = np.asarray(_random.normal(key, (1_000_000,)))
    assert np.isfinite(samples).all()
    # 1e6 samples: standard errors 0.001 (mean) and 0.0007 (std).
    assert abs(samples.mean()) < 0.005
    assert samples.std() == pytest.approx(1.0, abs=0.0035)


def test_step_noise_is_binomial_and_uncorrelated(key):
    """The per-pulse noise: a population count of hashed bits, one stream per
    sample. Its histogram must be Binomial(32, 1/2), and neither neighbouring
    cross-points nor consecutive samples may be correlated."""
    from scipy import stats

    from aihw_jax.simulator import _random

    n = 1 << 21
    seed = _random.seed_words(key)
    counter = jnp.arange(n, dtype=jnp.uint32)
    noise = np.asarray(_random.binomial_normal(seed, counter))
    counts = np.rint(noise * np.sqrt(8.0) + 16.0).astype(int)
    observed = np.bincount(counts, minlength=33)
    expected = stats.binom.pmf(np.arange(33), 32, 0.5) * n
    populated = expected > 5
    expected = (
        expected[populated] * observed[populated].sum() / expected[populated].sum()
    )
    assert stats.chisquare(observed[populated], expected).pvalue > 1e-4

    # A correlation over m pairs has standard error 1/sqrt(m): allow 5 of them.
    for lag in (1, 2, 392):
        r = np.corrcoef(noise[:-lag], noise[lag:])[0, 1]
        assert abs(r) < 5 / np.sqrt(n - lag), lag
    m = 1 << 16
    samples = np.stack(
        [
            np.asarray(_random.binomial_normal(_random.fold_seed(seed, i), counter[:m]))
            for i in range(16)
        ]
    )
    r = np.corrcoef(samples[:-1].ravel(), samples[1:].ravel())[0, 1]
    assert abs(r) < 5 / np.sqrt(15 * m)


def test_none_with_device_is_exact_then_clipped(key):
    params = UpdateParameters(pulse_type="NONE_WITH_DEVICE")
    device = IDEAL_STEPS.replace(w_max=0.05)
    state = devices.init(key, (2, 3), device)
    x = jnp.array([[1.0, 0.5, 0.0], [1.0, 0.5, 0.0]])
    d = jnp.array([[-0.8, 0.1], [0.2, 0.1]])
    new = pulsed_update(jnp.zeros((2, 3)), state, x, d, 0.1, device, params, key=key)
    # Cross-point (0, 0) gains 0.08, clipped to 0.05, then loses 0.02: 0.03.
    # Clipping the sum instead would give 0.05. Cross-point (0, 1) never
    # reaches the bound: 0.04 - 0.01.
    np.testing.assert_allclose(np.asarray(new[0]), [0.03, 0.03, 0.0], atol=1e-7)
    np.testing.assert_allclose(np.asarray(new[1]), [-0.02, -0.01, 0.0], atol=1e-7)


def test_unmanaged_variable_bl_is_reported():
    with pytest.raises(ConfigError, match="fixed_bl"):
        UpdateParameters(
            fixed_bl=False, update_management=False, update_bl_management=False
        ).check_support()


AFFINE_DEVICES = [
    LinearStepDevice(),
    LinearStepDevice(mult_noise=False, gamma_up=0.4, gamma_down=0.7),
    SoftBoundsDevice(),
    SoftBoundsPmaxDevice(),
    EcRamPresetDevice(),
]


@pytest.mark.parametrize("device", AFFINE_DEVICES, ids=lambda d: type(d).__name__)
def test_one_pulse_path_agrees_to_the_bit(device, key):
    """The shortcut for counts of 0 or 1 must not change any weight."""
    shape = (64, 96)
    state = devices.init(key, shape, device)
    weight = jax.random.uniform(jax.random.fold_in(key, 1), shape, minval=-0.5)
    count = jax.random.bernoulli(jax.random.fold_in(key, 2), 0.5, shape)
    up = jax.random.bernoulli(jax.random.fold_in(key, 3), 0.5, shape)
    noise = jax.random.normal(jax.random.fold_in(key, 4), shape)

    def apply(max_count):
        return jax.jit(
            lambda w: devices.apply_pulses(
                w,
                state,
                count.astype(jnp.int32),
                up,
                lambda k: noise,
                device,
                max_count,
            )
        )(weight)

    np.testing.assert_array_equal(np.asarray(apply(1)), np.asarray(apply(31)))
    assert np.any(np.asarray(apply(1)) != np.asarray(weight))


def test_vmapped_learning_rates_equal_separate_updates(key):
    """Under vmap, one choice of path serves every variation. Each variation
    must still get its own update, here a low rate (trains of one slot)
    beside a high one."""
    device = EcRamPresetDevice()
    state = devices.init(key, (32, 48), device)
    x = jax.random.uniform(jax.random.fold_in(key, 1), (16, 48))
    d = 0.01 * jax.random.normal(jax.random.fold_in(key, 2), (16, 32))
    rates = jnp.array([0.01, 2.0])
    bl = [
        train_lengths(x, d, lr, devices.granularity(device), UPDATE)[0] for lr in rates
    ]
    assert int(jnp.max(bl[0])) == 1
    assert int(jnp.max(bl[1])) > 1

    def update(lr):
        return pulsed_update(
            jnp.zeros((32, 48)), state, x, d, lr, device, UPDATE, key=key
        )

    # Batched and unbatched arithmetic round differently, by an ulp or two;
    # a wrong path would be off by whole steps (dw_min is 2e-3).
    swept = jax.jit(jax.vmap(update))(rates)
    for row, lr in enumerate(rates):
        np.testing.assert_allclose(
            np.asarray(swept[row]),
            np.asarray(jax.jit(update)(lr)),
            rtol=1e-6,
            atol=1e-8,
        )


GATHERED_DEVICES = [
    ConstantStepDevice(),
    LinearStepDevice(),
    SoftBoundsDevice(),
    ExpStepDevice(),
    PowStepDevice(),
    PiecewiseStepDevice(),
    SoftBoundsReferenceDevice(reference_std=0.05),
    EcRamPresetDevice(),
]


def _tile_update(device, lr, d_rows, row_capacity, key):
    """Run one tile's sequential update with ``d`` non-zero only on ``d_rows`` rows."""
    shape = (96, 40)
    state = devices.init(key, shape, device)
    weight = jax.random.uniform(jax.random.fold_in(key, 1), shape, minval=-0.5)
    x = jax.random.uniform(jax.random.fold_in(key, 2), (16, shape[1]))
    d = 0.01 * jax.random.normal(jax.random.fold_in(key, 3), (16, shape[0]))
    d = d * (jnp.arange(shape[0]) < d_rows)
    plan = plan_pulses(x, d, lr, devices.granularity(device), UPDATE, key)
    trains = (
        tile_update._packed_trains(plan.x_seed, plan.p_x, plan.bl, 31, 31),
        tile_update._packed_trains(plan.d_seed, plan.p_d, plan.bl, 31, 31),
    )
    single = plan.bl <= 1
    fired = jnp.sum(jnp.any(trains[1] != 0, axis=-1), axis=-1)
    update = jax.jit(
        lambda w: sequential_update(
            w, state, plan, trains, device, 31, single, row_capacity
        )
    )
    return update(weight), weight, int(jnp.max(fired)), int(jnp.max(plan.bl))


@pytest.mark.parametrize("device", GATHERED_DEVICES, ids=lambda d: type(d).__name__)
@pytest.mark.parametrize("lr", [0.01, 2.0])
def test_gathered_rows_agree_to_the_bit(device, lr, key):
    """Updating only the firing rows must give the whole-tile weights exactly."""
    (new, pulsed), weight, fired, longest = _tile_update(device, lr, 12, 16, key)
    (whole, whole_pulsed), _, _, _ = _tile_update(device, lr, 12, 0, key)
    # At most 12 rows can fire, which fits the 16 gathered rows.
    assert 0 < fired <= 12
    assert (longest == 1) if lr == 0.01 else (longest > 1)
    if isinstance(device, (PowStepDevice, SoftBoundsReferenceDevice)):
        # The two kernels round these devices' arithmetic differently (up to
        # 6e-8 here). A wrong row or pulse would be off by a whole step of
        # about dw_min = 1e-3.
        np.testing.assert_allclose(np.asarray(new), np.asarray(whole), atol=1e-6)
    else:
        np.testing.assert_array_equal(np.asarray(new), np.asarray(whole))
    np.testing.assert_array_equal(np.asarray(pulsed), np.asarray(whole_pulsed))
    assert np.any(np.asarray(new) != np.asarray(weight))
    assert not np.any(np.asarray(pulsed)[12:])


def test_too_many_firing_rows_take_the_whole_tile(key):
    (new, _), weight, fired, _ = _tile_update(ConstantStepDevice(), 2.0, 96, 16, key)
    (whole, _), _, _, _ = _tile_update(ConstantStepDevice(), 2.0, 96, 0, key)
    assert fired > 16
    np.testing.assert_array_equal(np.asarray(new), np.asarray(whole))
    assert np.any(np.asarray(new) != np.asarray(weight))


@pytest.mark.parametrize("device", [ConstantStepDevice(), LinearStepDevice()])
def test_empty_batch_leaves_the_weights(device, key):
    state = devices.init(key, (64, 20), device)
    weight = jax.random.uniform(key, (64, 20), minval=-0.5, maxval=0.5)
    new = pulsed_update(
        weight,
        state,
        jnp.zeros((0, 20)),
        jnp.zeros((0, 64)),
        0.1,
        device,
        UPDATE,
        key=key,
    )
    np.testing.assert_array_equal(np.asarray(new), np.asarray(weight))

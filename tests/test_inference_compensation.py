"""Drift compensation and the tile-level inference flow against aihwkit 1.2.0.

The reference measured one 32 x 32 tile (weights ~ U(-0.5, 0.5)) with the
default forward periphery, 300 times: program, take the compensation
baseline, then for each time drift, compute ``alpha`` and run 16 fixed
inputs through the noisy forward. We repeat that with our functions.

All elements of one repeat share its programming, so they are not
independent. Each statistic is therefore compared through its per-repeat
values: a mean over repeats has standard error ``sd(per-repeat values) /
sqrt(R)``, and a pooled std ``s`` (from the pooled mean square ``q``) has
``SE(s) = SE(q) / (2 s)``. aihwkit's standard error is ours scaled by
``sqrt(R / 300)``, except for the error mean, whose spread over repeats the
reference stores. Each check allows ``Z`` standard errors of the difference.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_reference

from aihw_jax.errors import ConfigError
from aihw_jax.inference import (
    GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference,
    PCMLikeNoiseModel,
    PerColumnDriftCompensation,
    StateIndependentNoiseModel,
    apply_drift_noise,
    apply_programming_noise,
    compensation_factor,
    init_baseline,
    readout,
)
from aihw_jax.simulator.configs import IOParameters
from aihw_jax.simulator.tiles import forward

REFERENCE = load_reference("inference_drift.json")
W = jnp.asarray(np.array(REFERENCE["W"], np.float32))
X = jnp.asarray(np.array(REFERENCE["X"], np.float32))
IDEAL = X @ W.T
TIMES = [float(t) for t in REFERENCE["times"]]
REPEATS = 300
Z = 5.0
"""Standard errors allowed: a two-sided 5-sigma test fails by chance with p ~ 6e-7."""
# aihwkit's CPU tile draws its output noise from a fixed table of 32768
# normals, whose mean is off by about 1/sqrt(32768) sigma. Three times that,
# on out_noise 0.06 and input scales up to 1, may bias aihwkit's error mean.
TABLE_MEAN_BIAS = 3 * 0.06 / math.sqrt(32768)

VARIANTS = {
    "pcm_gdc": (PCMLikeNoiseModel(), GlobalDriftCompensation(), IOParameters()),
    "pcm_no_compensation": (PCMLikeNoiseModel(), None, IOParameters()),
    "pcm_gdc_perfect_io": (
        PCMLikeNoiseModel(),
        GlobalDriftCompensation(),
        IOParameters(is_perfect=True),
    ),
    "state_independent_default_gdc": (
        StateIndependentNoiseModel(),
        GlobalDriftCompensation(),
        IOParameters(),
    ),
    "state_independent_default_no_compensation": (
        StateIndependentNoiseModel(),
        None,
        IOParameters(),
    ),
    "state_independent_custom_gdc": (
        StateIndependentNoiseModel(
            prog_noise_scale=2.0,
            drift_nu_mean=0.05,
            drift_nu_std=0.02,
            read_noise_scale=0.5,
        ),
        GlobalDriftCompensation(),
        IOParameters(),
    ),
}


@functools.partial(jax.jit, static_argnames=("compensation", "repeats"))
def _simulate(model, compensation, io, key: jax.Array, repeats: int) -> dict:
    """Program the tile ``repeats`` times and read it at every time of TIMES.

    Returns arrays with leading axes ``[repeat, time]``: the drifted weights,
    ``alpha`` (1 without compensation) and the compensated outputs for X.
    """
    times = jnp.asarray(TIMES, jnp.float32)

    def one_repeat(repeat_key):
        program_key, baseline_key, drift_key = jax.random.split(repeat_key, 3)
        state = apply_programming_noise(model, W, key=program_key)
        if compensation is not None:
            baseline = init_baseline(
                compensation, state.programmed_weights, io, key=baseline_key
            )

        def at_time(t, time_key):
            weights_key, readout_key, forward_key = jax.random.split(time_key, 3)
            drifted = apply_drift_noise(model, state, t, key=weights_key)
            alpha = jnp.float32(1.0)
            if compensation is not None:
                alpha = compensation_factor(
                    compensation, drifted, baseline, io, key=readout_key
                )
            outputs = forward(drifted, X, io, key=forward_key) * alpha
            return {"weights": drifted, "alpha": alpha, "outputs": outputs}

        time_keys = jax.random.split(drift_key, len(TIMES))
        return jax.vmap(at_time)(times, time_keys)

    keys = jax.random.split(key, repeats)
    return jax.vmap(one_repeat)(keys)


@functools.cache
def _run(variant: str) -> dict[str, np.ndarray]:
    model, compensation, io = VARIANTS[variant]
    result = _simulate(model, compensation, io, SIMULATION_KEY, REPEATS)
    return {name: np.asarray(value, np.float64) for name, value in result.items()}


def _reference(variant: str, index: int) -> dict:
    return list(REFERENCE["variants"][variant]["per_time"].values())[index]


def _assert_mean_over_repeats(per_repeat: np.ndarray, expected: float, label: str):
    """Compare the mean of per-repeat values; both sides have the same spread."""
    error = per_repeat.std() / math.sqrt(len(per_repeat))
    both = error * math.sqrt(1 + len(per_repeat) / REPEATS)
    assert abs(per_repeat.mean() - expected) <= Z * both + 1e-9, label


def _assert_pooled_std(deviations: np.ndarray, expected: float, label: str):
    """Compare the pooled std of ``deviations [repeat, ...]`` with aihwkit's."""
    flat = deviations.reshape(len(deviations), -1)
    centred = flat - flat.mean()
    mean_square = (centred**2).mean(axis=1)
    std = math.sqrt(mean_square.mean())
    error = mean_square.std() / math.sqrt(len(flat)) / (2 * std)
    both = error * math.sqrt(1 + len(flat) / REPEATS)
    assert abs(std - expected) <= Z * both + 1e-9, label


SIMULATION_KEY = jax.random.key(2024)
"""One key for all variants, so variants that differ only in the compensation
share their programming and drift draws."""
TIME_INDICES = range(len(TIMES))
COMPENSATED = [name for name, variant in VARIANTS.items() if variant[1] is not None]


@pytest.mark.parametrize("variant", COMPENSATED)
def test_alpha_matches_aihwkit(variant):
    # Per time: mean and std of alpha over repeats. alpha is a ratio of two
    # means over 1024 outputs, so close to Gaussian: SE(std) = s / sqrt(2 R).
    alpha = _run(variant)["alpha"]
    for index in TIME_INDICES:
        reference = _reference(variant, index)
        label = f"{variant} t={TIMES[index]}"
        _assert_mean_over_repeats(alpha[:, index], reference["alpha_mean"], label)
        std = alpha[:, index].std()
        error = std / math.sqrt(2 * REPEATS) * math.sqrt(2)
        assert abs(std - reference["alpha_std"]) <= Z * error, label


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_output_error_matches_aihwkit(variant):
    # err = compensated output - X @ W.T over 16 x 32 outputs per repeat.
    run = _run(variant)
    errors = run["outputs"] - np.asarray(IDEAL)
    for index in TIME_INDICES:
        reference = _reference(variant, index)
        label = f"{variant} t={TIMES[index]}"
        per_repeat_mean = errors[:, index].mean(axis=(1, 2))
        ours = per_repeat_mean.std() / math.sqrt(REPEATS)
        theirs = reference["std_over_repeats_of_mean_err"] / math.sqrt(REPEATS)
        allowed = Z * math.hypot(ours, theirs) + TABLE_MEAN_BIAS
        assert abs(per_repeat_mean.mean() - reference["err_mean"]) <= allowed, label
        _assert_pooled_std(errors[:, index], reference["err_std"], label)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_output_magnitude_matches_aihwkit(variant):
    # mean |y| / mean |X @ W.T|: below 1 when drift is not compensated.
    outputs = _run(variant)["outputs"]
    ideal = np.abs(np.asarray(IDEAL)).mean()
    for index in TIME_INDICES:
        reference = _reference(variant, index)
        ratio = np.abs(outputs[:, index]).mean(axis=(1, 2)) / ideal
        _assert_mean_over_repeats(
            ratio,
            reference["output_abs_mean_ratio_to_ideal"],
            f"{variant} t={TIMES[index]}",
        )


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_drifted_weights_match_aihwkit(variant):
    # The weights after drift (no periphery noise), with and without alpha.
    run = _run(variant)
    for index in TIME_INDICES:
        reference = _reference(variant, index)
        label = f"{variant} t={TIMES[index]}"
        deviation = run["weights"][:, index] - np.asarray(W)
        expected = reference["weight_drifted_minus_W"]
        _assert_mean_over_repeats(deviation.mean(axis=(1, 2)), expected["mean"], label)
        _assert_pooled_std(deviation, expected["std"], label)
        alpha = run["alpha"][:, index, None, None]
        compensated = alpha * run["weights"][:, index] - np.asarray(W)
        expected = reference["weight_alpha_times_drifted_minus_W"]
        _assert_pooled_std(compensated, expected["std"], label)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_first_output_row_matches_aihwkit(variant):
    # Each of the 32 outputs of input row 0, averaged over the repeats. Its
    # standard error is the stored per-element std / sqrt(300) on both sides.
    outputs = _run(variant)["outputs"]
    for index in TIME_INDICES:
        reference = _reference(variant, index)
        expected = np.array(reference["output_row0_mean"])
        spread = np.array(reference["output_row0_std"])
        error = spread / math.sqrt(REPEATS) * math.sqrt(2)
        difference = np.abs(outputs[:, index, 0].mean(axis=0) - expected)
        np.testing.assert_array_less(
            difference, Z * error + TABLE_MEAN_BIAS, f"{variant} t={TIMES[index]}"
        )


def test_compensation_reduces_drift_error():
    # After one day, alpha * W_drift is far closer to W than W_drift is:
    # aihwkit measured stds 0.0326 and 0.1003.
    run = _run("pcm_gdc")
    day = TIMES.index(86400.0)
    drifted = run["weights"][:, day]
    compensated = run["alpha"][:, day, None, None] * drifted
    assert np.std(compensated - np.asarray(W)) < 0.04
    assert np.std(drifted - np.asarray(W)) > 0.09


def test_programming_noise_independent_of_compensation():
    # Programming does not depend on the compensation: the same key gives the
    # same noisy weights, 0.023 away from W (aihwkit: 0.0233 and 0.0234).
    on = _run("pcm_gdc")
    off = _run("pcm_no_compensation")
    np.testing.assert_array_equal(on["weights"], off["weights"])
    for run in (on, off):
        deviation = run["weights"][:, 0] - np.asarray(W)
        assert 0.018 < deviation.std() < 0.029
    assert not np.allclose(on["outputs"], off["outputs"])


# --- Deterministic cases ------------------------------------------------------

UNIFORM_DRIFT = StateIndependentNoiseModel(
    prog_noise_scale=0.0, drift_nu_std=0.0, read_noise_scale=0.0
)
"""Every device drifts by the same factor ((t + 20) / 20) ** -0.1, without noise."""
PERFECT_IO = IOParameters(is_perfect=True)


@pytest.mark.parametrize(
    "compensation",
    [
        GlobalDriftCompensation(),
        GlobalDriftCompensationWithExactReference(),
        PerColumnDriftCompensation(),
    ],
    ids=["global", "exact_reference", "per_column"],
)
def test_uniform_drift_is_undone_exactly(compensation, key):
    state = apply_programming_noise(UNIFORM_DRIFT, W, key=key)
    np.testing.assert_allclose(state.programmed_weights, W, rtol=1e-6, atol=1e-7)
    baseline = init_baseline(
        compensation, state.programmed_weights, PERFECT_IO, key=key, reference_weights=W
    )
    drifted = apply_drift_noise(UNIFORM_DRIFT, state, 86400.0, key=key)
    factor = (86420.0 / 20.0) ** -0.1
    np.testing.assert_allclose(drifted, factor * W, rtol=1e-5, atol=1e-7)
    alpha = compensation_factor(compensation, drifted, baseline, PERFECT_IO, key=key)
    expected_shape = (
        (32,) if isinstance(compensation, PerColumnDriftCompensation) else ()
    )
    assert alpha.shape == expected_shape
    np.testing.assert_allclose(alpha, 1 / factor, rtol=1e-5)


def test_exact_reference_baseline_is_noise_free(key):
    # The baseline is mean |W| of the target weights, whatever the programming.
    model = PCMLikeNoiseModel()
    state = apply_programming_noise(model, W, key=key)
    baseline = init_baseline(
        GlobalDriftCompensationWithExactReference(),
        state.programmed_weights,
        IOParameters(),
        key=key,
        reference_weights=W,
    )
    assert float(baseline) == pytest.approx(float(jnp.mean(jnp.abs(W))), rel=1e-5)


def test_exact_reference_needs_reference_weights(key):
    with pytest.raises(ConfigError, match="pass `reference_weights`"):
        init_baseline(
            GlobalDriftCompensationWithExactReference(), W, PERFECT_IO, key=key
        )


def test_per_column_alpha_is_one_per_output(key):
    # Each output gets its own factor. Their mean is close to the global
    # factor, which aihwkit measured as 1.4772 at one day.
    model = PCMLikeNoiseModel()
    io = IOParameters()
    program_key, baseline_key, drift_key, readout_key = jax.random.split(key, 4)
    state = apply_programming_noise(model, W, key=program_key)
    compensation = PerColumnDriftCompensation()
    baseline = init_baseline(
        compensation, state.programmed_weights, io, key=baseline_key
    )
    drifted = apply_drift_noise(model, state, 86400.0, key=drift_key)
    alpha = compensation_factor(compensation, drifted, baseline, io, key=readout_key)
    assert alpha.shape == (32,)
    assert 1.35 < float(jnp.mean(alpha)) < 1.6
    outputs = forward(drifted, X, io, key=readout_key) * alpha
    assert outputs.shape == (16, 32)


def test_readout_floor_keeps_alpha_finite(key):
    zeros = jnp.zeros((4, 3))
    compensation = GlobalDriftCompensation()
    baseline = init_baseline(compensation, zeros, PERFECT_IO, key=key)
    assert float(baseline) == pytest.approx(1e-4)
    alpha = compensation_factor(compensation, zeros, baseline, PERFECT_IO, key=key)
    assert float(alpha) == pytest.approx(1.0)


def test_readout_shapes():
    outputs = jnp.array([[1.0, -2.0], [-3.0, 4.0]])
    assert float(readout(GlobalDriftCompensation(), outputs)) == 2.5
    per_column = readout(PerColumnDriftCompensation(), outputs)
    np.testing.assert_allclose(per_column, [2.0, 3.0])


def test_unknown_compensation_raises(key):
    with pytest.raises(ConfigError, match="must be a GlobalDriftCompensation"):
        init_baseline(object(), W, PERFECT_IO, key=key)


def test_compensation_factor_under_jit_and_vmap(key):
    io = IOParameters()
    compensation = GlobalDriftCompensation()
    keys = jax.random.split(key, 3)

    def factor(k):
        return compensation_factor(compensation, 0.8 * W, jnp.float32(0.25), io, key=k)

    batched = jax.jit(jax.vmap(factor))(keys)
    for index in range(3):
        single = factor(keys[index])
        np.testing.assert_allclose(batched[index], single, rtol=1e-5)

"""Noise models and conductance converters against aihwkit 1.2.0 statistics.

The reference file holds Monte-Carlo statistics of aihwkit's
``PCMLikeNoiseModel(g_max=25)``: 200000 draws per target conductance, and
20000 copies per weight for the whole-tile flow. Our draws use other random
numbers, so each comparison allows ``Z`` standard errors of the difference
between two independent estimates of the same quantity.

Standard errors used below, for ``n`` samples of std ``s``:

* of a mean: ``s / sqrt(n)``;
* of a std: ``Var(s**2) ~ (m4 - s**4) / n`` with ``m4`` the fourth central
  moment, so ``SE(s) ~ sqrt(m4 - s**4) / (2 s sqrt(n))``. For Gaussian
  samples ``m4 = 3 s**4`` and this is ``s / sqrt(2 n)``. Clipped and drift
  distributions are not Gaussian, so ``m4`` is estimated from our samples;
* of a difference of our estimate and aihwkit's: our standard error times
  ``sqrt(1 + n_ours / n_aihwkit)``, because both estimate the same
  distribution.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_reference

from aihw_jax.errors import ConfigError
from aihw_jax.inference import (
    PCMLikeNoiseModel,
    ProgrammedState,
    SinglePairConductanceConverter,
    StateIndependentNoiseModel,
    apply_drift_noise,
    apply_drift_noise_to_conductance,
    apply_programming_noise,
    apply_programming_noise_to_conductance,
    convert_back_to_weights,
    convert_to_conductances,
    generate_drift_coefficients,
)

REFERENCE = load_reference("pcm_noise_model.json")
N_REFERENCE = REFERENCE["n_samples"]
TARGETS = REFERENCE["targets"]
TARGET_G = np.array([row["g_target"] for row in TARGETS], np.float32)
N_SAMPLES = 200_000
Z = 5.0
"""Standard errors allowed: a two-sided 5-sigma test fails by chance with p ~ 6e-7."""
HOUR, DAY = 3600.0, 86400.0


def _standard_errors(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the standard errors of the mean and of the std along the last axis."""
    samples = np.asarray(samples, np.float64)
    n = samples.shape[-1]
    std = samples.std(axis=-1)
    centred = samples - samples.mean(axis=-1, keepdims=True)
    fourth = (centred**4).mean(axis=-1)
    safe_std = np.where(std > 0, std, 1.0)
    std_error = np.sqrt(np.maximum(fourth - std**4, 0.0)) / (2 * safe_std * np.sqrt(n))
    return std / np.sqrt(n), std_error


def _assert_statistics_match(
    samples: np.ndarray,
    expected_mean: np.ndarray,
    expected_std: np.ndarray,
    n_reference: int,
    floor: float = 1e-6,
) -> None:
    """Compare mean and std along the last axis with aihwkit's, within Z errors.

    ``floor`` absorbs float32 rounding where both stds are exactly zero.
    """
    samples = np.asarray(samples, np.float64)
    n = samples.shape[-1]
    mean_error, std_error = _standard_errors(samples)
    both = math.sqrt(1 + n / n_reference)
    np.testing.assert_array_less(
        np.abs(samples.mean(axis=-1) - expected_mean), Z * both * mean_error + floor
    )
    np.testing.assert_array_less(
        np.abs(samples.std(axis=-1) - expected_std), Z * both * std_error + floor
    )


def _reference_column(name: str) -> np.ndarray:
    return np.array([row[name] for row in TARGETS])


def _reference_per_time(name: str, t: float) -> np.ndarray:
    return np.array([row["per_time"][str(int(t))][name] for row in TARGETS])


@pytest.fixture(scope="module")
def pcm_samples() -> dict[str, jax.Array]:
    """Programmed conductances and drift exponents, N_SAMPLES per target."""
    model = PCMLikeNoiseModel()
    g_target = jnp.broadcast_to(
        jnp.asarray(TARGET_G)[:, None], (len(TARGETS), N_SAMPLES)
    )
    key = jax.random.key(20240501)
    prog_key, nu_key = jax.random.split(key)
    return {
        "g_target": g_target,
        "g_prog": apply_programming_noise_to_conductance(model, g_target, key=prog_key),
        "nu": generate_drift_coefficients(model, g_target, key=nu_key),
    }


# --- PCMLikeNoiseModel at the conductance level ------------------------------


def test_pcm_programming_noise_matches_aihwkit(pcm_samples):
    # Means and stds at the 9 stored targets (0 to 25 µS): each within
    # Z * sqrt(2) standard errors of aihwkit's (both sides have 200000 draws).
    _assert_statistics_match(
        pcm_samples["g_prog"],
        _reference_column("prog_mean"),
        _reference_column("prog_std"),
        N_REFERENCE,
    )


def test_pcm_programming_clips_at_zero(pcm_samples):
    g_prog = np.asarray(pcm_samples["g_prog"])
    assert g_prog.min() == 0.0
    fraction = (g_prog == 0.0).mean(axis=-1)
    expected = _reference_column("prog_frac_clamped_zero")
    # A binomial fraction p of n draws has standard error sqrt(p (1 - p) / n).
    # The difference of two such estimates has sqrt(2) times that.
    error = np.sqrt(2 * expected * (1 - expected) / N_SAMPLES)
    np.testing.assert_array_less(np.abs(fraction - expected), Z * error + 1e-6)


def test_pcm_programming_std_follows_polynomial(pcm_samples):
    # Above 5 µS the clip at 0 is more than 8 sigma away, so the std is the
    # closed-form polynomial. The standard error of the std is s / sqrt(2 n).
    closed_form = _reference_column("prog_sigma_closed_form")
    unclipped = TARGET_G >= 5.0
    std = np.asarray(pcm_samples["g_prog"]).std(axis=-1)
    error = closed_form / np.sqrt(2 * N_SAMPLES)
    np.testing.assert_array_less(
        np.abs(std - closed_form)[unclipped], (Z * error)[unclipped]
    )


def test_pcm_drift_coefficients_match_aihwkit(pcm_samples):
    _assert_statistics_match(
        pcm_samples["nu"],
        _reference_column("nu_mean"),
        _reference_column("nu_std"),
        N_REFERENCE,
    )


@pytest.mark.parametrize("t_inference", [1.0, 60.0, HOUR, DAY, 31536000.0])
def test_pcm_drift_factor_matches_aihwkit(pcm_samples, t_inference):
    # With no read noise, a conductance of 1 µS drifts to exactly the factor
    # ((t + t_0) / t_0) ** -nu, with nu drawn from each target.
    model = PCMLikeNoiseModel(read_noise_scale=0.0)
    ones = jnp.ones_like(pcm_samples["g_target"])
    factor = apply_drift_noise_to_conductance(
        model, ones, pcm_samples["nu"], t_inference, key=jax.random.key(0)
    )
    _assert_statistics_match(
        factor,
        _reference_per_time("drift_factor_mean", t_inference),
        _reference_per_time("drift_factor_std", t_inference),
        N_REFERENCE,
    )


def test_pcm_drift_factor_at_zero_time_is_one(pcm_samples):
    model = PCMLikeNoiseModel(read_noise_scale=0.0)
    ones = jnp.ones_like(pcm_samples["g_target"])
    factor = apply_drift_noise_to_conductance(
        model, ones, pcm_samples["nu"], 0.0, key=jax.random.key(0)
    )
    assert bool(jnp.all(factor == 1.0))


@pytest.mark.parametrize("t_inference", [0.0, HOUR, DAY])
def test_pcm_drifted_conductance_matches_aihwkit(pcm_samples, t_inference):
    # Programming noise, drift and read noise together, per target.
    model = PCMLikeNoiseModel()
    g_final = apply_drift_noise_to_conductance(
        model,
        pcm_samples["g_prog"],
        pcm_samples["nu"],
        t_inference,
        key=jax.random.key(int(t_inference) + 1),
    )
    _assert_statistics_match(
        g_final,
        _reference_per_time("after_drift_mean", t_inference),
        _reference_per_time("after_drift_std", t_inference),
        N_REFERENCE,
    )


@pytest.mark.parametrize("t_inference", [0.0, HOUR, DAY])
def test_pcm_read_noise_std_matches_closed_form(t_inference):
    # A device held at its target (no programming noise, nu = 0) keeps only
    # the read noise: relative std Q_s * sqrt(ln((t + t_0 + t_read) /
    # (2 t_read))), stored in the reference as an exact number. Targets below
    # 2.5 µS are left out, because there the clip at 0 (within 3.4 sigma)
    # shrinks the std. Standard error of our std: s / sqrt(2 n).
    model = PCMLikeNoiseModel()
    unclipped_targets = TARGET_G >= 2.5
    g = jnp.broadcast_to(
        jnp.asarray(TARGET_G[unclipped_targets])[:, None],
        (unclipped_targets.sum(), N_SAMPLES),
    )
    g_final = apply_drift_noise_to_conductance(
        model, g, jnp.zeros_like(g), t_inference, key=jax.random.key(7)
    )
    relative = np.asarray(g_final / g, np.float64)
    expected = _reference_per_time("read_noise_rel_std", t_inference)[unclipped_targets]
    std_error = expected / np.sqrt(2 * N_SAMPLES)
    np.testing.assert_array_less(
        np.abs(relative.std(axis=-1) - expected), Z * std_error
    )
    mean_error = expected / np.sqrt(N_SAMPLES)
    np.testing.assert_array_less(np.abs(relative.mean(axis=-1) - 1.0), Z * mean_error)


def test_pcm_read_noise_present_at_zero_time():
    # At t_inference = 0 the relative read noise at g_max is about
    # 0.0088 * 4.184 = 3.7 %, not zero.
    model = PCMLikeNoiseModel()
    g = jnp.full((N_SAMPLES,), 25.0)
    g_final = apply_drift_noise_to_conductance(
        model, g, jnp.zeros_like(g), 0.0, key=jax.random.key(3)
    )
    assert float(jnp.std(g_final / g)) == pytest.approx(0.0368, rel=0.02)


def test_pcm_programming_std_scales_with_g_max():
    # The default coefficients were fitted at 25 µS: at g_max = 50 µS the
    # std at g_max doubles to 2 * 1.05538 µS. Standard error s / sqrt(2 n).
    model = PCMLikeNoiseModel(g_max=50.0)
    g = jnp.full((N_SAMPLES,), 50.0)
    g_prog = apply_programming_noise_to_conductance(model, g, key=jax.random.key(5))
    expected = 2 * 1.05538
    error = expected / math.sqrt(2 * N_SAMPLES)
    assert abs(float(jnp.std(g_prog)) - expected) < Z * error


# --- The whole-tile flow: conversion, programming and drift -----------------

WEIGHT_ROWS = REFERENCE["weight_level"]["rows"]
WEIGHT_VALUES = sorted({row["w"] for row in WEIGHT_ROWS})
N_WEIGHT_COPIES = 20_000


@pytest.fixture(scope="module")
def weight_level_run() -> dict[float, np.ndarray]:
    """Program one tile holding every stored weight 20000 times, then drift it."""
    model = PCMLikeNoiseModel()
    weights = jnp.repeat(
        jnp.asarray(WEIGHT_VALUES, jnp.float32)[:, None], N_WEIGHT_COPIES, axis=1
    )
    key = jax.random.key(11)
    program_key, drift_key = jax.random.split(key)
    state = apply_programming_noise(model, weights, key=program_key)
    times = sorted({row["t_inference"] for row in WEIGHT_ROWS})
    drift_keys = jax.random.split(drift_key, len(times))
    results = {"prog": np.asarray(state.programmed_weights)}
    for t, t_key in zip(times, drift_keys):
        drifted = apply_drift_noise(model, state, t, key=t_key)
        results[t] = np.asarray(drifted)
    return results


@pytest.mark.parametrize("t_inference", [0.0, HOUR, DAY])
def test_pcm_weight_level_matches_aihwkit(weight_level_run, t_inference):
    # The tile's absolute maximum is 1, so weight 1 maps to 25 µS. Our
    # 20000 copies per weight against aihwkit's 20000.
    rows = [row for row in WEIGHT_ROWS if row["t_inference"] == t_inference]
    rows.sort(key=lambda row: row["w"])
    _assert_statistics_match(
        weight_level_run["prog"],
        np.array([row["prog_mean"] for row in rows]),
        np.array([row["prog_std"] for row in rows]),
        N_WEIGHT_COPIES,
    )
    _assert_statistics_match(
        weight_level_run[t_inference],
        np.array([row["drift_mean"] for row in rows]),
        np.array([row["drift_std"] for row in rows]),
        N_WEIGHT_COPIES,
    )


def test_pcm_programming_biases_weights_towards_zero(weight_level_run):
    # Both devices of a pair get programming noise and are clipped at 0 µS,
    # so |w| shrinks by about 0.105 µS / 25 µS = 0.0042 on average.
    means = weight_level_run["prog"].mean(axis=-1)
    shrink = np.abs(np.array(WEIGHT_VALUES)) - np.abs(means)
    nonzero = np.array(WEIGHT_VALUES) != 0
    np.testing.assert_allclose(shrink[nonzero], 0.0042, atol=0.0015)


# --- StateIndependentNoiseModel: closed-form checks --------------------------


def test_state_independent_programming_std_is_constant():
    # Default prog_coeff (0.2, 0, 0): std 0.2 µS at any unclipped target.
    model = StateIndependentNoiseModel()
    g = jnp.broadcast_to(jnp.array([[5.0], [25.0]]), (2, N_SAMPLES))
    g_prog = apply_programming_noise_to_conductance(model, g, key=jax.random.key(1))
    error = 0.2 / math.sqrt(2 * N_SAMPLES)
    np.testing.assert_array_less(np.abs(np.std(g_prog, axis=-1) - 0.2), Z * error)


def test_state_independent_nu_is_folded_normal():
    # nu = |0.1 + 0.05 xi|: a folded normal with mean
    # s sqrt(2/pi) exp(-m^2 / 2s^2) + m (1 - 2 Phi(-m/s)), for any target.
    model = StateIndependentNoiseModel()
    g = jnp.linspace(0.0, 25.0, N_SAMPLES)
    nu = np.asarray(generate_drift_coefficients(model, g, key=jax.random.key(2)))
    m, s = 0.1, 0.05
    phi = 0.5 * (1 + math.erf(-m / s / math.sqrt(2)))
    expected = s * math.sqrt(2 / math.pi) * math.exp(-(m**2) / (2 * s**2)) + m * (
        1 - 2 * phi
    )
    assert nu.min() >= 0.0
    assert abs(nu.mean() - expected) < Z * nu.std() / math.sqrt(N_SAMPLES)


def test_state_independent_read_noise_is_absolute():
    # std = read_noise_scale * |g_D / g_max| * sqrt(ln((t + t_read) / (2
    # t_read))) in µS: about 4.18 µS at g_max and t_inference = 0.
    model = StateIndependentNoiseModel()
    g = jnp.full((N_SAMPLES,), 25.0)
    g_final = apply_drift_noise_to_conductance(
        model, g, jnp.zeros_like(g), 0.0, key=jax.random.key(4)
    )
    expected = math.sqrt(math.log((20.0 + 250e-9) / (2 * 250e-9)))
    error = expected / math.sqrt(2 * N_SAMPLES)
    assert abs(float(jnp.std(g_final)) - expected) < Z * error


# --- SinglePairConductanceConverter ------------------------------------------


def test_converter_maps_abs_max_to_g_max(key):
    weights = jax.random.uniform(key, (8, 6), minval=-0.5, maxval=0.5)
    weights = weights.at[2, 3].set(-0.8)
    converter = SinglePairConductanceConverter(g_max=30.0, g_min=2.0)
    conductances, scale = convert_to_conductances(converter, weights)
    assert conductances.shape == (2, 8, 6)
    assert float(scale) == pytest.approx(28.0 / 0.8)
    assert float(conductances[1, 2, 3]) == pytest.approx(30.0)
    assert float(conductances[0, 2, 3]) == pytest.approx(2.0)
    unused = jnp.minimum(conductances[0], conductances[1])
    np.testing.assert_allclose(unused, 2.0)


def test_converter_round_trip_returns_weights(key):
    weights = jax.random.normal(key, (5, 7))
    converter = SinglePairConductanceConverter()
    conductances, scale = convert_to_conductances(converter, weights)
    back = convert_back_to_weights(converter, conductances, scale)
    np.testing.assert_allclose(back, weights, rtol=1e-6, atol=1e-6)


def test_converter_zero_tile_stays_finite():
    converter = SinglePairConductanceConverter()
    conductances, scale = convert_to_conductances(converter, jnp.zeros((3, 3)))
    back = convert_back_to_weights(converter, conductances, scale)
    assert bool(jnp.all(conductances == 0.0))
    assert bool(jnp.all(back == 0.0))


def test_converter_rejects_wrong_slice_count():
    converter = SinglePairConductanceConverter()
    with pytest.raises(ConfigError, match=r"shape \[2, \.\.\.\]"):
        convert_back_to_weights(converter, jnp.zeros((3, 4)), 1.0)


# --- Keys, jit and vmap -------------------------------------------------------

W_SMALL = jnp.asarray(
    np.random.default_rng(0).uniform(-0.5, 0.5, (6, 5)).astype(np.float32)
)


def test_same_key_gives_same_programming(key):
    model = PCMLikeNoiseModel()
    first = apply_programming_noise(model, W_SMALL, key=key)
    second = apply_programming_noise(model, W_SMALL, key=key)
    np.testing.assert_array_equal(first.programmed_weights, second.programmed_weights)
    np.testing.assert_array_equal(
        first.drift_noise_parameters, second.drift_noise_parameters
    )


def test_other_key_gives_other_programming(key):
    model = PCMLikeNoiseModel()
    first = apply_programming_noise(model, W_SMALL, key=key)
    other = apply_programming_noise(model, W_SMALL, key=jax.random.fold_in(key, 1))
    assert not np.allclose(first.programmed_weights, other.programmed_weights)
    assert not np.allclose(first.drift_noise_parameters, other.drift_noise_parameters)


def test_programming_adds_noise(key):
    model = PCMLikeNoiseModel()
    state = apply_programming_noise(model, W_SMALL, key=key)
    assert state.drift_noise_parameters.shape == (2, *W_SMALL.shape)
    assert float(jnp.std(state.programmed_weights - W_SMALL)) > 0.005


@pytest.mark.parametrize("model_type", [PCMLikeNoiseModel, StateIndependentNoiseModel])
def test_jit_matches_eager(model_type, key):
    model = model_type()
    program_key, drift_key = jax.random.split(key)

    def program_and_drift(model, t_inference):
        state = apply_programming_noise(model, W_SMALL, key=program_key)
        return apply_drift_noise(model, state, t_inference, key=drift_key)

    eager = program_and_drift(model, HOUR)
    compiled = jax.jit(program_and_drift)(model, HOUR)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6)


def test_vmap_over_keys_matches_single_calls(key):
    model = PCMLikeNoiseModel()
    keys = jax.random.split(key, 4)
    batched = jax.vmap(lambda k: apply_programming_noise(model, W_SMALL, key=k))(keys)
    assert isinstance(batched, ProgrammedState)
    for index in range(4):
        single = apply_programming_noise(model, W_SMALL, key=keys[index])
        np.testing.assert_allclose(
            batched.programmed_weights[index],
            single.programmed_weights,
            rtol=1e-6,
            atol=1e-7,
        )
        np.testing.assert_allclose(
            batched.drift_noise_parameters[index],
            single.drift_noise_parameters,
            rtol=1e-6,
        )


def test_vmap_over_t_inference_matches_single_calls(key):
    model = PCMLikeNoiseModel()
    program_key, drift_key = jax.random.split(key)
    state = apply_programming_noise(model, W_SMALL, key=program_key)
    times = jnp.array([0.0, 1.0, HOUR, DAY])
    batched = jax.vmap(lambda t: apply_drift_noise(model, state, t, key=drift_key))(
        times
    )
    for index, t in enumerate([0.0, 1.0, HOUR, DAY]):
        single = apply_drift_noise(model, state, t, key=drift_key)
        np.testing.assert_allclose(batched[index], single, rtol=1e-5, atol=1e-7)


def test_vmap_sweeps_prog_noise_scale(key):
    model = PCMLikeNoiseModel(prog_noise_scale=jnp.array([0.0, 1.0, 2.0]))
    axes = jax.tree.map(lambda _: None, PCMLikeNoiseModel()).replace(prog_noise_scale=0)
    swept = jax.vmap(
        lambda m: apply_programming_noise(m, W_SMALL, key=key).programmed_weights,
        in_axes=(axes,),
    )(model)
    for index, scale in enumerate([0.0, 1.0, 2.0]):
        single = apply_programming_noise(
            PCMLikeNoiseModel(prog_noise_scale=scale), W_SMALL, key=key
        ).programmed_weights
        np.testing.assert_allclose(swept[index], single, rtol=1e-5, atol=1e-7)
    # Without programming noise the tile keeps its weights exactly.
    np.testing.assert_allclose(swept[0], W_SMALL, rtol=1e-6, atol=1e-7)


# --- Configuration errors -----------------------------------------------------


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (lambda: PCMLikeNoiseModel(g_max=-1.0), r"PCMLikeNoiseModel.g_max.*> 0"),
        (lambda: PCMLikeNoiseModel(g_max=float("nan")), r"g_max.*finite"),
        (lambda: PCMLikeNoiseModel(t_0=float("inf")), r"t_0.*finite"),
        (lambda: PCMLikeNoiseModel(t_0=1e-8), r"t_0.*at least t_read"),
        (lambda: PCMLikeNoiseModel(prog_noise_scale=-0.5), r"prog_noise_scale.*>= 0"),
        (lambda: PCMLikeNoiseModel(read_noise_scale=float("nan")), r"read_noise"),
        (lambda: PCMLikeNoiseModel(prog_coeff=[0.1, float("nan")]), r"prog_coeff\[1\]"),
        (lambda: PCMLikeNoiseModel(prog_coeff=[]), r"non-empty list"),
        (lambda: PCMLikeNoiseModel(prog_coeff=[[0.1]]), r"prog_coeff\[0\]"),
        (
            lambda: PCMLikeNoiseModel(prog_coeff_g_max_reference=0.0),
            r"prog_coeff_g_max_reference.*> 0",
        ),
        (
            lambda: PCMLikeNoiseModel(
                g_max=30.0, g_converter=SinglePairConductanceConverter(g_max=25.0)
            ),
            r"g_max.*differs from g_converter.g_max",
        ),
        (
            lambda: StateIndependentNoiseModel(drift_nu_std=-0.1),
            r"StateIndependentNoiseModel.drift_nu_std.*>= 0",
        ),
        (lambda: StateIndependentNoiseModel(g_max=float("inf")), r"g_max.*finite"),
        (
            lambda: SinglePairConductanceConverter(g_max=-25.0),
            r"SinglePairConductanceConverter.g_max.*> 0",
        ),
        (lambda: SinglePairConductanceConverter(g_min=-1.0), r"g_min.*>= 0"),
        (
            lambda: SinglePairConductanceConverter(g_max=10.0, g_min=10.0),
            r"g_min.*smaller than g_max",
        ),
    ],
)
def test_invalid_config_raises(build, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build()


@pytest.mark.parametrize("t_inference", [-1.0, float("nan"), float("inf")])
def test_invalid_t_inference_raises(t_inference, key):
    model = PCMLikeNoiseModel()
    state = apply_programming_noise(model, W_SMALL, key=key)
    with pytest.raises(ConfigError, match=r"`t_inference` must be .*>= 0"):
        apply_drift_noise(model, state, t_inference, key=key)


def test_unknown_noise_model_raises(key):
    with pytest.raises(
        ConfigError, match="PCMLikeNoiseModel, StateIndependentNoiseModel"
    ):
        apply_programming_noise(object(), W_SMALL, key=key)


def test_mismatched_drift_exponents_raise(key):
    model = PCMLikeNoiseModel()
    state = apply_programming_noise(model, W_SMALL, key=key)
    wrong = state._replace(drift_noise_parameters=state.drift_noise_parameters[:1])
    with pytest.raises(ConfigError, match="drift exponents must have shape"):
        apply_drift_noise(model, wrong, 0.0, key=key)


def test_defaults_match_aihwkit():
    model = PCMLikeNoiseModel()
    assert model.prog_coeff == (0.26348, 1.9650, -1.1731)
    assert model.prog_coeff_g_max_reference == 25.0
    assert model.g_max == 25.0
    assert model.g_converter == SinglePairConductanceConverter(g_max=25.0, g_min=0.0)
    assert (model.t_0, model.t_read) == (20.0, 250e-9)
    custom = PCMLikeNoiseModel(prog_coeff=[0.1, 0.2], g_max=40.0)
    assert custom.prog_coeff == (0.1, 0.2)
    # Custom coefficients are taken as fitted at the model's own g_max.
    assert custom.prog_coeff_g_max_reference is None
    assert custom.g_converter.g_max == 40.0
    independent = StateIndependentNoiseModel()
    assert independent.prog_coeff == (0.2, 0.0, 0.0)
    from_array = StateIndependentNoiseModel(prog_coeff=np.array([0.2, 0.0, 0.0]))
    assert from_array.prog_coeff == (0.2, 0.0, 0.0)
    assert (independent.drift_nu_mean, independent.drift_nu_std) == (0.1, 0.05)

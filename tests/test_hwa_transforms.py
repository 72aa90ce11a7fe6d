"""Weight modifier, clipping and remapping against aihwkit 1.2.0.

The reference file holds, for one stored weight ``W`` [16 out, 32 in] with
absolute maximum ``a`` = 1.2, the weights after aihwkit's clipping and
remapping, and statistics of 1000 modified copies per modifier drawn by
its C++ tile. Clipping, remapping and DISCRETIZE are deterministic and are
compared value by value. The stochastic modifiers use other random numbers
here, so each statistic may differ from aihwkit's by ``Z`` standard errors
of the difference between two independent estimates:

* of a mean of ``n`` samples of std ``s``: ``s / sqrt(n)``;
* of a std: ``Var(s**2) ~ (m4 - s**4) / n`` with the fourth central
  moment ``m4``, so ``SE(s) ~ sqrt(m4 - s**4) / (2 s sqrt(n))``, which is
  ``s / sqrt(2 n)`` for Gaussian samples. ``m4`` is estimated from our
  samples, because rounding and drop connect are not Gaussian;
* of a fraction ``p``: ``sqrt(p (1 - p) / n)``;
* of our estimate minus aihwkit's: our standard error times
  ``sqrt(1 + n_ours / n_aihwkit)``.

Pooled statistics run over all 512 weights and all copies. Their samples
are independent but not identically distributed, and treating them as one
distribution overestimates the standard error, so those checks are
conservative.
"""

from __future__ import annotations

import functools
import math
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_reference

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.parameters.inference import (
    WeightClipParameter,
    WeightModifierParameter,
    WeightRemapParameter,
)
from aihw_jax.simulator.tiles.transforms import (
    clip_weights,
    modify_weights,
    remap_weights,
)

REFERENCE = load_reference("hwa_transforms.json")
WEIGHTS = np.asarray(REFERENCE["W"], np.float32)
AMAX = float(np.abs(WEIGHTS).max())
N_SAMPLES = 4000
"""Modified copies drawn here per modifier (aihwkit drew 1000)."""
Z_ELEMENT = 6.0
"""Errors allowed per weight: 1024 checks per modifier, eight modifiers.

A two-sided 6-sigma test fails by chance with p ~ 2e-9, so all ~8200
element checks together fail by chance with p ~ 2e-5.
"""
Z_POOLED = 5.0
"""Errors allowed for a pooled statistic: p ~ 6e-7 per check."""
FLOAT_TOLERANCE = 1e-6
"""Absolute tolerance of stored values: 7 significant digits, float32 sums."""

STOCHASTIC_CASES = {
    "ADD_NORMAL_std0.1": {"type": "ADD_NORMAL", "std_dev": 0.1},
    "MULT_NORMAL_std0.1": {"type": "MULT_NORMAL", "std_dev": 0.1},
    "DISCRETIZE_res1/31_sto_round": {
        "type": "DISCRETIZE",
        "res": 1 / 31,
        "sto_round": True,
    },
    "DISCRETIZE_ADD_NORMAL_res1/31_std0.1": {
        "type": "DISCRETIZE_ADD_NORMAL",
        "res": 1 / 31,
        "std_dev": 0.1,
    },
    "POLY_std0.1_default_coeffs": {"type": "POLY", "std_dev": 0.1},
    "PROG_NOISE_std1.0_gmax25": {"type": "PROG_NOISE", "std_dev": 1.0},
    "DROP_CONNECT_pdrop0.3": {"type": "DROP_CONNECT", "pdrop": 0.3},
    "ADD_NORMAL_std0.1_assumed_wmax1": {
        "type": "ADD_NORMAL",
        "std_dev": 0.1,
        "rel_to_actual_wmax": False,
    },
}

TWO_LEVEL_CASES = {"DISCRETIZE_res1/31_sto_round"}
"""Cases whose copies take two levels per weight, so the std follows from the mean.

Near a probability of 1/2 the sample std of a two-level variable is far
from Gaussian, so the standard error above underestimates its spread.
``test_stochastic_rounding_two_levels`` checks these cases instead.
"""


@functools.cache
def _draw_case(name: str) -> np.ndarray:
    """Return the copies of one reference case, drawn once per test session."""
    modifier = WeightModifierParameter(**STOCHASTIC_CASES[name])
    return _draw(modifier, jax.random.key(zlib.crc32(name.encode())))


@jax.jit
def _draw_copies(weights, modifier, keys):
    return jax.vmap(lambda k: modify_weights(weights, modifier, key=k))(keys)


def _draw(modifier, key, count=N_SAMPLES, weights=WEIGHTS) -> np.ndarray:
    """Return ``count`` modified copies ``[count, out, in]`` as float64."""
    keys = jax.random.split(key, count)
    return np.asarray(_draw_copies(jnp.asarray(weights), modifier, keys), np.float64)


def _standard_errors(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the standard errors of the mean and of the std along axis 0."""
    n = samples.shape[0]
    std = samples.std(axis=0)
    fourth = ((samples - samples.mean(axis=0)) ** 4).mean(axis=0)
    safe_std = np.where(std > 0, std, 1.0)
    std_error = np.sqrt(np.maximum(fourth - std**4, 0.0)) / (2 * safe_std * np.sqrt(n))
    return std / np.sqrt(n), std_error


def _difference_factor(n_ours: int, n_reference: int) -> float:
    return math.sqrt(1 + n_ours / n_reference)


@pytest.mark.parametrize("name", sorted(STOCHASTIC_CASES))
def test_modifier_statistics_per_weight(name):
    reference = REFERENCE["modifiers"][name]
    samples = _draw_case(name)
    mean_error, std_error = _standard_errors(samples)
    factor = _difference_factor(N_SAMPLES, reference["repeats"])

    mean_gap = np.abs(samples.mean(axis=0) - np.asarray(reference["per_element_mean"]))
    mean_limit = Z_ELEMENT * factor * mean_error + FLOAT_TOLERANCE
    assert (mean_gap <= mean_limit).all(), np.max(mean_gap / mean_limit)

    if name in TWO_LEVEL_CASES:
        return
    std_gap = np.abs(samples.std(axis=0) - np.asarray(reference["per_element_std"]))
    std_limit = Z_ELEMENT * factor * std_error + FLOAT_TOLERANCE
    assert (std_gap <= std_limit).all(), np.max(std_gap / std_limit)


@pytest.mark.parametrize("name", sorted(STOCHASTIC_CASES))
def test_modifier_pooled_statistics(name):
    reference = REFERENCE["modifiers"][name]
    samples = _draw_case(name)
    differences = (samples - WEIGHTS).reshape(-1, 1)
    n_ours = differences.shape[0]
    factor = _difference_factor(n_ours, reference["repeats"] * WEIGHTS.size)
    mean_error, std_error = _standard_errors(differences)

    mean_gap = abs(differences.mean() - reference["diff_mean"])
    assert mean_gap <= Z_POOLED * factor * mean_error[0] + FLOAT_TOLERANCE
    std_gap = abs(differences.std() - reference["diff_std"])
    assert std_gap <= Z_POOLED * factor * std_error[0] + FLOAT_TOLERANCE

    zero_fraction = float(np.mean(samples == 0))
    expected_zero = reference["frac_exact_zero"]
    zero_error = math.sqrt(expected_zero * (1 - expected_zero) / n_ours)
    assert abs(zero_fraction - expected_zero) <= Z_POOLED * factor * zero_error


def test_add_normal_std_is_std_dev_times_amax(key):
    # Pooled Gaussian noise: SE(std) = s / sqrt(2 n) with n = 4000 * 512.
    relative = WeightModifierParameter(type="ADD_NORMAL", std_dev=0.1)
    absolute = relative.replace(rel_to_actual_wmax=False, assumed_wmax=0.5)
    for modifier, expected in ((relative, 0.1 * AMAX), (absolute, 0.05)):
        noise = _draw(modifier, key) - WEIGHTS
        error = expected / math.sqrt(2 * noise.size)
        assert abs(noise.std() - expected) <= Z_POOLED * error
        assert abs(noise.mean()) <= Z_POOLED * expected / math.sqrt(noise.size)


def test_mult_normal_relative_std():
    # (W_fb - W) / W = std_dev * a * xi: Gaussian with std 0.12 for every weight.
    reference = REFERENCE["modifiers"]["MULT_NORMAL_std0.1"]
    samples = _draw_case("MULT_NORMAL_std0.1")
    relative = (samples - WEIGHTS) / WEIGHTS
    expected = 0.1 * AMAX
    error = expected / math.sqrt(2 * relative.size)
    assert abs(relative.std() - expected) <= Z_POOLED * error
    reference_error = expected / math.sqrt(2 * reference["repeats"] * WEIGHTS.size)
    assert abs(reference["rel_diff_std"] - expected) <= Z_POOLED * reference_error


def test_discretize_matches_aihwkit_exactly(key):
    reference = REFERENCE["modifiers"]["DISCRETIZE_res1/31"]
    modifier = WeightModifierParameter(type="DISCRETIZE", res=1 / 31)
    modified = np.asarray(modify_weights(WEIGHTS, modifier, key=key))
    expected = np.asarray(reference["modified_weight"])
    np.testing.assert_allclose(modified, expected, rtol=0, atol=FLOAT_TOLERANCE)
    assert np.mean(modified == 0) == reference["frac_exact_zero"]
    assert len(np.unique(modified)) == reference["n_distinct_levels"]
    step = AMAX / 31
    np.testing.assert_allclose(modified / step, np.round(modified / step), atol=1e-4)


def test_discretize_rounds_halves_away_from_zero(key):
    weights = jnp.array([[1.0, 0.125, -0.125, 0.375, -0.375, 0.0]])
    modifier = WeightModifierParameter(type="DISCRETIZE", res=0.25)
    modified = modify_weights(weights, modifier, key=key)
    expected = np.array([[1.0, 0.25, -0.25, 0.5, -0.5, 0.0]])
    np.testing.assert_array_equal(np.asarray(modified), expected)


def test_stochastic_rounding_is_unbiased(key):
    # Only the neighbouring levels 0.25 and 0.5 occur, with P(0.5) = 0.3.
    weights = jnp.array([[1.0, 0.325]])
    modifier = WeightModifierParameter(type="DISCRETIZE", res=0.25, sto_round=True)
    samples = _draw(modifier, key, weights=weights)[:, 0, 1]
    assert set(np.round(samples, 6)) == {0.25, 0.5}
    upper = np.mean(samples > 0.4)
    assert abs(upper - 0.3) <= Z_POOLED * math.sqrt(0.3 * 0.7 / samples.size)


def test_stochastic_rounding_two_levels(key):
    # Each weight becomes step * k or step * (k + 1), k = floor(w / step), so
    # with p the fraction at the upper level, mean = step * (k + p) and
    # std = step * sqrt(p (1 - p)). aihwkit's statistics obey this exactly.
    reference = REFERENCE["modifiers"]["DISCRETIZE_res1/31_sto_round"]
    step = AMAX / 31
    lower = np.floor(WEIGHTS.astype(np.float64) / step + 1e-6)
    reference_mean = np.asarray(reference["per_element_mean"])
    upper_fraction = np.clip(reference_mean / step - lower, 0.0, 1.0)
    two_level_std = step * np.sqrt(upper_fraction * (1 - upper_fraction))
    np.testing.assert_allclose(
        reference["per_element_std"], two_level_std, atol=FLOAT_TOLERANCE
    )

    modifier = WeightModifierParameter(type="DISCRETIZE", res=1 / 31, sto_round=True)
    levels = _draw(modifier, key, count=500) / step - lower
    assert np.isin(np.round(levels, 4), [0.0, 1.0]).all()


def test_drop_connect_zeroes_or_keeps(key):
    modifier = WeightModifierParameter(type="DROP_CONNECT", pdrop=0.3)
    samples = _draw(modifier, key, count=1000)
    kept_mask = samples != 0
    assert np.array_equal(
        samples[kept_mask], np.broadcast_to(WEIGHTS, samples.shape)[kept_mask]
    )
    dropped = 1 - kept_mask.mean()
    assert abs(dropped - 0.3) <= Z_POOLED * math.sqrt(0.3 * 0.7 / samples.size)
    assert REFERENCE["modifiers"]["DROP_CONNECT_pdrop0.3"]["kept_values_equal_W"]


def test_none_ignores_pdrop_and_copy_drops(key):
    none = WeightModifierParameter(type="NONE", pdrop=0.5, std_dev=0.3)
    assert modify_weights(WEIGHTS, none, key=key) is WEIGHTS
    copy = WeightModifierParameter(type="COPY", pdrop=0.5, std_dev=0.3)
    copied = np.asarray(modify_weights(WEIGHTS, copy, key=key))
    kept_mask = copied != 0
    assert np.array_equal(copied[kept_mask], WEIGHTS[kept_mask])
    assert 0 < kept_mask.mean() < 1


def test_noise_with_zero_strength_returns_weights(key):
    for kind in ("ADD_NORMAL", "MULT_NORMAL", "POLY", "PROG_NOISE", "DISCRETIZE"):
        modifier = WeightModifierParameter(type=kind)
        modified = modify_weights(WEIGHTS, modifier, key=key)
        np.testing.assert_array_equal(np.asarray(modified), WEIGHTS, err_msg=kind)


def test_dorefa_formula(key):
    # res * round(tanh(w) * |clip / tanh(a)| / res), halves away from zero.
    modifier = WeightModifierParameter(type="DOREFA", res=1 / 15, dorefa_clip=0.6)
    modified = np.asarray(modify_weights(WEIGHTS, modifier, key=key), np.float64)
    scaled = np.tanh(WEIGHTS.astype(np.float64)) * abs(0.6 / np.tanh(AMAX))
    steps = scaled * 15
    rounded = np.sign(steps) * np.floor(np.abs(steps) + 0.5)
    np.testing.assert_allclose(modified, rounded / 15, atol=FLOAT_TOLERANCE)
    assert np.isclose(np.abs(modified).max(), 0.6, atol=1 / 30)


def test_poly_std_follows_polynomial():
    # std of W_fb - W per weight: a * std_dev * (c0 + c1 r + c2 r^2), r = |w| / a.
    modifier = WeightModifierParameter(type="POLY", std_dev=0.1)
    samples = _draw_case("POLY_std0.1_default_coeffs")
    relative = np.abs(WEIGHTS.astype(np.float64)) / AMAX
    c0, c1, c2 = modifier.coeffs
    expected = AMAX * 0.1 * np.abs(c0 + c1 * relative + c2 * relative**2)
    _, std_error = _standard_errors(samples)
    gap = np.abs(samples.std(axis=0) - expected)
    assert (gap <= Z_ELEMENT * std_error + FLOAT_TOLERANCE).all()


def test_prog_noise_keeps_sign(key):
    modifier = WeightModifierParameter(type="PROG_NOISE", std_dev=25.0)
    samples = _draw(modifier, key, count=200)
    signs = np.broadcast_to(np.sign(WEIGHTS), samples.shape)
    assert (np.sign(samples)[samples != 0] == signs[samples != 0]).all()
    assert not np.allclose(samples, WEIGHTS)


def test_copy_last_column_excluded_and_restored(key):
    weights = WEIGHTS.copy()
    weights[3, -1] = 5.0
    modifier = WeightModifierParameter(
        type="ADD_NORMAL", std_dev=0.1, copy_last_column=True
    )
    samples = _draw(modifier, key, count=2000, weights=weights)
    np.testing.assert_array_equal(
        samples[:, :, -1], np.broadcast_to(weights[:, -1], (2000, 16))
    )
    # a = max |W[:, :-1]| = 1.2, not 5: SE(std) = s / sqrt(2 n).
    noise = samples[:, :, :-1] - weights[:, :-1]
    error = 0.12 / math.sqrt(2 * noise.size)
    assert abs(noise.std() - 0.12) <= Z_POOLED * error


def test_assumed_wmax_argument_sets_magnitude(key):
    modifier = WeightModifierParameter(type="DISCRETIZE", res=0.5)
    modified = modify_weights(WEIGHTS, modifier, key=key, assumed_wmax=4.0)
    steps = np.asarray(modified) / 2.0
    np.testing.assert_array_equal(steps, np.round(steps))
    assert set(np.unique(np.asarray(modified))) <= {-2.0, 0.0, 2.0}


def test_pcm_noise_without_noise_returns_clipped_weights(key):
    modifier = WeightModifierParameter(type="PCM_NOISE", std_dev=0.0)
    modified = modify_weights(WEIGHTS, modifier, key=key, assumed_wmax=1.0)
    expected = np.clip(WEIGHTS, -1.0, 1.0)
    np.testing.assert_allclose(np.asarray(modified), expected, atol=FLOAT_TOLERANCE)


def test_pcm_noise_stuck_at_reset_gives_zero(key):
    modifier = WeightModifierParameter(
        type="PCM_NOISE", std_dev=1.0, pcm_prob_at_reset=1.0
    )
    modified = modify_weights(WEIGHTS, modifier, key=key)
    np.testing.assert_array_equal(np.asarray(modified), np.zeros_like(WEIGHTS))


def test_pcm_noise_stuck_at_gmax_moves_by_gmax(key):
    # Without noise, a device moved by +-g_max is clipped at g_max or ends at
    # g_max - |g|, and the weight keeps its sign: |w_fb| is a or a - |w|.
    modifier = WeightModifierParameter(
        type="PCM_NOISE", std_dev=0.0, pcm_prob_at_gmax=1.0
    )
    modified = np.asarray(modify_weights(WEIGHTS, modifier, key=key))
    saturated = np.isclose(np.abs(modified), AMAX, atol=FLOAT_TOLERANCE)
    reflected = np.isclose(
        np.abs(modified), AMAX - np.abs(WEIGHTS), atol=FLOAT_TOLERANCE
    )
    assert (saturated | reflected).all()
    assert 0.3 < saturated.mean() < 0.7
    nonzero = modified != 0
    assert (np.sign(modified)[nonzero] == np.sign(WEIGHTS)[nonzero]).all()


def test_pcm_noise_programming_and_read_std(key):
    # At t = t0 (no drift): g_p = g + s sig_prog(r) xi1, then read noise of std
    # s |g_p| Q(r) L with Q = 0.0088 / r**0.65, L = sqrt(ln((t0 + 250e-9) /
    # 500e-9)). For w = 0.5 a: g = 12.5 uS, r = 0.5. To first order the two
    # add in quadrature; the neglected terms are below 1 %, so 3 % is allowed.
    weights = jnp.full((4, 8), 0.5).at[0, 0].set(1.0)
    modifier = WeightModifierParameter(type="PCM_NOISE", std_dev=1.0)
    samples = _draw(modifier, key, count=4000, weights=weights)[:, 1:, :]
    sig_prog = 0.26348 + 1.9650 * 0.5 - 1.1731 * 0.25
    read = 12.5 * 0.0088 / 0.5**0.65 * math.sqrt(math.log((20 + 250e-9) / 500e-9))
    expected = math.sqrt(sig_prog**2 + read**2) / 25.0
    assert abs(samples.std() / expected - 1) <= 0.03
    assert abs(samples.mean() - 0.5) <= Z_POOLED * expected / math.sqrt(samples.size)


def test_pcm_noise_drift_variation(key):
    # Without noise scale only the drift variation acts: ln(w_fb / w) =
    # -nu ln(t / t0), nu = |xi| * 0.008 at these conductances, so its mean is
    # -0.008 sqrt(2 / pi) ln(t / t0) and its std 0.008 sqrt(1 - 2 / pi) ln(t / t0).
    weights = jnp.full((4, 8), 0.5).at[0, 0].set(1.0)
    modifier = WeightModifierParameter(
        type="PCM_NOISE", std_dev=0.0, pcm_t_inference=1e4
    )
    samples = _draw(modifier, key, count=2000, weights=weights)[:, 1:, :]
    log_ratio = np.log(samples / 0.5)
    log_time = math.log((1e4 + 20.0) / 20.0)
    expected_mean = -0.008 * math.sqrt(2 / math.pi) * log_time
    expected_std = 0.008 * math.sqrt(1 - 2 / math.pi) * log_time
    n = log_ratio.size
    assert abs(log_ratio.mean() - expected_mean) <= Z_POOLED * expected_std / math.sqrt(
        n
    )
    # |xi| has kurtosis 3.87, so SE(std) = s sqrt((3.87 - 1) / (4 n)).
    std_error = expected_std * math.sqrt(2.87 / (4 * n))
    assert abs(log_ratio.std() - expected_std) <= Z_POOLED * std_error


@pytest.mark.parametrize(
    ("name", "clip"),
    [
        ("FIXED_VALUE_0.5", WeightClipParameter(type="FIXED_VALUE", fixed_value=0.5)),
        ("LAYER_GAUSSIAN_sigma2.5", WeightClipParameter(type="LAYER_GAUSSIAN")),
        ("AVERAGE_CHANNEL_MAX", WeightClipParameter(type="AVERAGE_CHANNEL_MAX")),
    ],
)
def test_clip_matches_aihwkit(name, clip):
    reference = REFERENCE["clips"][name]
    clipped = np.asarray(clip_weights(WEIGHTS, clip))
    expected = np.asarray(reference["raw_tile_weight"])
    np.testing.assert_allclose(clipped, expected, rtol=0, atol=FLOAT_TOLERANCE)
    assert abs(np.abs(clipped).max() - reference["raw_abs_max"]) <= FLOAT_TOLERANCE
    assert np.mean(clipped != WEIGHTS) == reference["frac_changed"]


def test_clip_levels_follow_their_definitions():
    gaussian = clip_weights(WEIGHTS, WeightClipParameter(type="LAYER_GAUSSIAN"))
    expected = 2.5 * WEIGHTS.astype(np.float64).std(ddof=1)
    assert abs(float(jnp.abs(gaussian).max()) - expected) <= FLOAT_TOLERANCE
    assert abs(expected - REFERENCE["layer_gaussian_expected_threshold"]) <= 1e-6
    channel = clip_weights(WEIGHTS, WeightClipParameter(type="AVERAGE_CHANNEL_MAX"))
    expected = np.abs(WEIGHTS).max(axis=1).mean()
    assert abs(float(jnp.abs(channel).max()) - expected) <= FLOAT_TOLERANCE


def test_clip_caps_at_fixed_value_and_skips_nonpositive():
    capped = WeightClipParameter(type="LAYER_GAUSSIAN", fixed_value=0.3)
    assert float(jnp.abs(clip_weights(WEIGHTS, capped)).max()) == pytest.approx(0.3)
    for clip in (
        WeightClipParameter(type="FIXED_VALUE", fixed_value=-1.0),
        WeightClipParameter(type="FIXED_VALUE", fixed_value=0.0),
        WeightClipParameter(type="LAYER_GAUSSIAN", sigma=0.0),
        WeightClipParameter(type="NONE", fixed_value=0.1),
    ):
        np.testing.assert_array_equal(np.asarray(clip_weights(WEIGHTS, clip)), WEIGHTS)


@pytest.mark.parametrize("name", ["LAYERWISE_SYMMETRIC", "CHANNELWISE_SYMMETRIC"])
def test_remap_matches_aihwkit(name):
    reference = REFERENCE["remaps"][name]
    remapped, scales = remap_weights(WEIGHTS, WeightRemapParameter(type=name))
    tolerance = {"rtol": 0, "atol": FLOAT_TOLERANCE}
    expected = np.asarray(reference["raw_tile_weight"])
    np.testing.assert_allclose(np.asarray(remapped), expected, **tolerance)
    np.testing.assert_allclose(np.asarray(scales), reference["scales"], **tolerance)
    logical = np.asarray(remapped) * np.asarray(scales)[:, None]
    np.testing.assert_allclose(logical, reference["effective_weight"], **tolerance)
    np.testing.assert_allclose(logical, WEIGHTS, **tolerance)
    assert abs(np.abs(np.asarray(remapped)).max() - reference["raw_abs_max"]) < 1e-6


def test_remap_multiplies_existing_scales():
    old = jnp.linspace(0.5, 2.0, 16)
    layerwise = WeightRemapParameter(type="LAYERWISE_SYMMETRIC", remapped_wmax=0.5)
    remapped, scales = remap_weights(WEIGHTS, layerwise, scales=old)
    np.testing.assert_allclose(np.asarray(scales), np.asarray(old) * AMAX / 0.5)
    assert float(jnp.abs(remapped).max()) == pytest.approx(0.5)
    none = WeightRemapParameter()
    remapped, scales = remap_weights(WEIGHTS, none, scales=old)
    np.testing.assert_array_equal(np.asarray(remapped), WEIGHTS)
    np.testing.assert_array_equal(np.asarray(scales), np.asarray(old))


def test_remap_zero_row_keeps_scale():
    weights = WEIGHTS.copy()
    weights[5] = 0.0
    remap = WeightRemapParameter(type="CHANNELWISE_SYMMETRIC")
    remapped, scales = remap_weights(weights, remap, scales=jnp.full(16, 3.0))
    assert float(scales[5]) == 3.0
    np.testing.assert_array_equal(np.asarray(remapped[5]), np.zeros(32))
    row_max = np.abs(np.asarray(remapped)).max(axis=1)
    np.testing.assert_allclose(np.delete(row_max, 5), 1.0, rtol=1e-6)


def test_remap_max_scale_range_caps_scales():
    # Rows with maxima 4, 1 and 0.5 and unit scales: the smallest old scale is
    # 1, so new scales are capped at 2, and the first row keeps weights up to 2.
    weights = jnp.array([[4.0, -1.0], [1.0, 0.5], [0.25, -0.5]])
    remap = WeightRemapParameter(type="CHANNELWISE_SYMMETRIC", max_scale_range=2.0)
    remapped, scales = remap_weights(weights, remap)
    np.testing.assert_allclose(np.asarray(scales), [2.0, 1.0, 0.5])
    np.testing.assert_allclose(
        np.asarray(remapped), [[2.0, -0.5], [1.0, 0.5], [0.5, -1.0]]
    )
    referenced = remap.replace(max_scale_ref=1.5)
    _, scales = remap_weights(weights, referenced)
    np.testing.assert_allclose(np.asarray(scales), [3.0, 1.0, 0.5])


MODIFIERS_FOR_KEYS = [
    WeightModifierParameter(type="ADD_NORMAL", std_dev=0.1, pdrop=0.1),
    WeightModifierParameter(type="DISCRETIZE_ADD_NORMAL", res=0.1, sto_round=True),
    WeightModifierParameter(
        type="PCM_NOISE",
        std_dev=1.0,
        pcm_t_inference=100.0,
        pcm_prob_at_gmax=0.1,
        pcm_prob_at_random=0.1,
    ),
]


@pytest.mark.parametrize("modifier", MODIFIERS_FOR_KEYS, ids=lambda m: m.type.name)
def test_same_key_same_result(modifier, key):
    first = modify_weights(WEIGHTS, modifier, key=key)
    second = modify_weights(WEIGHTS, modifier, key=key)
    other = modify_weights(WEIGHTS, modifier, key=jax.random.fold_in(key, 1))
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


@pytest.mark.parametrize("modifier", MODIFIERS_FOR_KEYS, ids=lambda m: m.type.name)
def test_vmap_over_keys_equals_single_calls(modifier, key):
    keys = jax.random.split(key, 3)
    mapped = jax.vmap(lambda k: modify_weights(WEIGHTS, modifier, key=k))(keys)
    for index in range(3):
        single = modify_weights(WEIGHTS, modifier, key=keys[index])
        np.testing.assert_allclose(
            np.asarray(mapped[index]), np.asarray(single), rtol=1e-6, atol=1e-7
        )


def test_jit_equals_eager(key):
    modifiers = [
        WeightModifierParameter(type=kind, std_dev=0.1, res=0.05, pdrop=0.1)
        for kind in ("DOREFA", "PCM_NOISE")
    ]
    jitted = jax.jit(lambda w, m, k: modify_weights(w, m, key=k))
    for modifier in modifiers:
        eager = modify_weights(WEIGHTS, modifier, key=key)
        compiled = jitted(WEIGHTS, modifier, key)
        np.testing.assert_allclose(
            np.asarray(compiled),
            np.asarray(eager),
            rtol=1e-5,
            atol=1e-6,
            err_msg=modifier.type.name,
        )
    clip = WeightClipParameter(type="LAYER_GAUSSIAN")
    np.testing.assert_allclose(
        np.asarray(jax.jit(clip_weights)(WEIGHTS, clip)),
        np.asarray(clip_weights(WEIGHTS, clip)),
        atol=1e-7,
    )
    remap = WeightRemapParameter(type="CHANNELWISE_SYMMETRIC", max_scale_range=3.0)
    compiled_weights, compiled_scales = jax.jit(remap_weights)(WEIGHTS, remap)
    eager_weights, eager_scales = remap_weights(WEIGHTS, remap)
    np.testing.assert_allclose(np.asarray(compiled_weights), np.asarray(eager_weights))
    np.testing.assert_allclose(np.asarray(compiled_scales), np.asarray(eager_scales))


def test_vmap_sweeps_modifier_strength(key):
    sweep = WeightModifierParameter(
        type="ADD_NORMAL", std_dev=jnp.array([0.0, 0.1, 0.2])
    )
    axes = jax.tree.map(lambda _: None, sweep).replace(std_dev=0)
    modified = jax.vmap(lambda m: modify_weights(WEIGHTS, m, key=key), in_axes=(axes,))(
        sweep
    )
    noise = np.asarray(modified) - WEIGHTS
    np.testing.assert_array_equal(noise[0], np.zeros_like(WEIGHTS))
    np.testing.assert_allclose(noise[2], 2 * noise[1], rtol=1e-4, atol=1e-6)


def test_clip_and_remap_sweep_values():
    clips = WeightClipParameter(type="FIXED_VALUE", fixed_value=jnp.array([0.2, 0.6]))
    axes = jax.tree.map(lambda _: None, clips).replace(fixed_value=0)
    clipped = jax.vmap(clip_weights, in_axes=(None, axes))(WEIGHTS, clips)
    assert float(jnp.abs(clipped[0]).max()) == pytest.approx(0.2)
    assert float(jnp.abs(clipped[1]).max()) == pytest.approx(0.6)


def test_transforms_reject_non_matrix_weights(key):
    vector = jnp.ones(8)
    with pytest.raises(ConfigError, match=r"shape \[out, in\].*got shape \[8\]"):
        modify_weights(vector, WeightModifierParameter(type="ADD_NORMAL"), key=key)
    with pytest.raises(ConfigError, match="jax.vmap"):
        clip_weights(vector, WeightClipParameter(type="FIXED_VALUE", fixed_value=1))
    with pytest.raises(ConfigError, match=r"shape \[out, in\]"):
        remap_weights(vector, WeightRemapParameter(type="LAYERWISE_SYMMETRIC"))

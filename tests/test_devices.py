"""Pulse responses of every pulsed device model against aihwkit 1.2.0.

The reference files in ``tests/data/pulse_response_*.json`` were measured
with aihwkit 1.2.0: 1000 devices with device-to-device variation, 200 up
then 200 down single pulses, from w = 0 and from w = w_min, with and
without cycle-to-cycle noise (mean and std over the devices per pulse).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_reference

from aihw_jax.simulator import devices
from aihw_jax.simulator.configs import UpdateParameters
from aihw_jax.simulator.parameters import devices as params
from aihw_jax.simulator.tiles.update import pulsed_update

MODELS = {
    "ConstantStepDevice": params.ConstantStepDevice(),
    "LinearStepDevice": params.LinearStepDevice(),
    "SoftBoundsDevice": params.SoftBoundsDevice(),
    "SoftBoundsPmaxDevice": params.SoftBoundsPmaxDevice(),
    "SoftBoundsReferenceDevice": params.SoftBoundsReferenceDevice(),
    "ExpStepDevice": params.ExpStepDevice(),
    "PowStepDevice": params.PowStepDevice(),
    "PowStepReferenceDevice": params.PowStepReferenceDevice(),
    "PiecewiseStepDevice": params.PiecewiseStepDevice(
        piecewise_up=[1.5, 1.2, 1.0, 0.8, 0.6, 0.45, 0.3],
        piecewise_down=[0.3, 0.5, 0.7, 0.9, 1.0, 1.2, 1.6],
    ),
}
PULSES = (0, 49, 99, 199, 249, 299, 399)


def _standard_error_of_std(samples: np.ndarray) -> float:
    """Standard error of a sample std, from the sample's own kurtosis.

    Devices that reach a bound make the population heavy-tailed, so the
    Gaussian value std / sqrt(2 n) would be too small.
    """
    centered = samples - samples.mean()
    variance = np.mean(centered**2)
    if variance == 0:
        return 0.0
    kurtosis = np.mean(centered**4) / variance**2
    return float(
        np.sqrt(variance) * np.sqrt(max(kurtosis - 1, 0.0) / (4 * samples.size))
    )


@pytest.mark.parametrize("noisy", [True, False], ids=["noisy", "noise-free"])
@pytest.mark.parametrize("start", ["w0", "wmin"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_pulse_response_matches_aihwkit(name, start, noisy, key):
    reference = load_reference(f"pulse_response_{name}.json")["runs"][start]
    reference = reference["noisy" if noisy else "noise_free"]
    device = MODELS[name] if noisy else MODELS[name].replace(dw_min_std=0.0)
    trace = devices.pulse_response(
        device, key=key, n_devices=1000, w_init=0.0 if start == "w0" else None
    )
    trace = np.asarray(trace)
    for pulse in PULSES:
        samples = trace[pulse]
        ref_mean = reference["mean"][pulse]
        ref_std = reference["std"][pulse]
        # Both sides average 1000 devices; 5 standard errors of the
        # difference, the reference's taken equal to ours.
        mean_error = np.sqrt(2) * samples.std() / np.sqrt(samples.size)
        std_error = np.sqrt(2) * _standard_error_of_std(samples)
        assert samples.mean() == pytest.approx(ref_mean, abs=5 * mean_error + 1e-6), (
            pulse
        )
        assert samples.std() == pytest.approx(ref_std, abs=5 * std_error + 1e-6), pulse


def test_granularity_of_each_model():
    assert float(devices.granularity(MODELS["ExpStepDevice"])) == pytest.approx(
        0.00098342, rel=1e-4
    )
    assert float(devices.granularity(MODELS["PowStepDevice"])) == pytest.approx(0.0005)
    assert float(devices.granularity(MODELS["PiecewiseStepDevice"])) == pytest.approx(
        0.0008
    )
    assert float(devices.granularity(MODELS["SoftBoundsPmaxDevice"])) == pytest.approx(
        0.0025415, rel=1e-4
    )


def test_soft_bounds_converge_to_bound(key):
    device = params.SoftBoundsDevice(dw_min=0.01, dw_min_std=0.0)
    trace = devices.pulse_response(device, key=key, n_pulses=2000, n_devices=50)
    state = devices.init(jax.random.split(key)[0], (50, 1), device)
    np.testing.assert_allclose(
        np.asarray(trace[1999]), np.asarray(state.w_max[:, 0]), rtol=1e-3
    )


EXTREME = {
    "dw_min_dtod": 2.0,
    "w_max_dtod": 2.0,
    "w_min_dtod": 2.0,
    "up_down_dtod": 1.0,
    "dw_min_std": 3.0,
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_weights_stay_in_bounds_under_extreme_variation(name, key):
    device = MODELS[name].replace(**EXTREME)
    device = (
        device
        if not isinstance(device, params.SoftBoundsPmaxDevice)
        else device.as_soft_bounds()
    )
    state = devices.init(key, (16, 8), device)
    weight = jnp.clip(jnp.zeros((16, 8)), state.w_min, state.w_max)
    update = UpdateParameters()
    step = jax.jit(
        lambda w, k, x, d: pulsed_update(w, state, x, d, 0.5, device, update, key=k)
    )
    for index in range(10):
        step_key = jax.random.fold_in(key, index)
        x = jax.random.uniform(
            jax.random.fold_in(step_key, 1), (8, 8), minval=-1, maxval=1
        )
        d = jax.random.uniform(
            jax.random.fold_in(step_key, 2), (8, 16), minval=-1, maxval=1
        )
        weight = step(weight, step_key, x, d)
    physical = weight + state.hidden.get("reference", 0.0)
    assert bool(jnp.all(jnp.isfinite(weight)))
    assert bool(jnp.all(physical <= state.w_max + 1e-6))
    assert bool(jnp.all(physical >= state.w_min - 1e-6))

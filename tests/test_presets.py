"""Presets: exact values, and pulse responses against aihwkit 1.2.0.

The reference files ``tests/data/pulse_response_*PresetDevice.json`` were
measured with aihwkit 1.2.0 in the same way as the device models' (see
``test_devices.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_reference
from test_devices import _standard_error_of_std

from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicTraining
from aihw_jax.experiments.runners import run_local
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax
from aihw_jax.simulator import devices, presets
from aihw_jax.simulator.configs import (
    ConstantStepDevice,
    ExpStepDevice,
    LinearStepDevice,
    SingleRPUConfig,
    SoftBoundsReferenceDevice,
)

DEVICE_PRESETS = [
    "ReRamESPresetDevice",
    "ReRamSBPresetDevice",
    "CapacitorPresetDevice",
    "EcRamPresetDevice",
    "EcRamMOPresetDevice",
    "IdealizedPresetDevice",
    "GokmenVlasovPresetDevice",
    "PCMPresetDevice",
]
PULSES = (0, 49, 99, 199, 249, 299, 399)


def _cases():
    for name in DEVICE_PRESETS:
        for start in ("w0", "wmin"):
            yield pytest.param(name, start, True, id=f"{name}-{start}-noisy")
            # aihwkit's noise-free plot keeps the write noise drawn when the
            # weights were set and drops it at later pulses. aihw_jax does not
            # reproduce that plotting quirk, so those cases are not compared.
            if getattr(getattr(presets, name)(), "write_noise_std", 0.0) == 0.0:
                yield pytest.param(name, start, False, id=f"{name}-{start}-noise-free")


@pytest.mark.parametrize("name, start, noisy", list(_cases()))
def test_preset_pulse_response_matches_aihwkit(name, start, noisy, key):
    reference = load_reference(f"pulse_response_{name}.json")["runs"][start]
    reference = reference["noisy" if noisy else "noise_free"]
    device = getattr(presets, name)()
    if not noisy:
        device = device.replace(dw_min_std=0.0)
    trace = devices.pulse_response(
        device, key=key, n_devices=1000, w_init=0.0 if start == "w0" else None
    )
    trace = np.asarray(trace)
    for pulse in PULSES:
        samples = trace[pulse]
        # Both sides average 1000 devices: 5 standard errors of a difference.
        mean_error = np.sqrt(2) * samples.std() / np.sqrt(samples.size)
        std_error = np.sqrt(2) * _standard_error_of_std(samples)
        assert samples.mean() == pytest.approx(
            reference["mean"][pulse], abs=5 * mean_error + 1e-6
        ), pulse
        assert samples.std() == pytest.approx(
            reference["std"][pulse], abs=5 * std_error + 1e-6
        ), pulse


@pytest.mark.parametrize(
    "name, cls, granularity",
    [
        ("ReRamESPresetDevice", ExpStepDevice, 0.0019914),
        ("ReRamSBPresetDevice", SoftBoundsReferenceDevice, 0.002),
        ("CapacitorPresetDevice", LinearStepDevice, 0.005),
        ("EcRamPresetDevice", LinearStepDevice, 0.002),
        ("EcRamMOPresetDevice", LinearStepDevice, 2.8214e-4),
        ("IdealizedPresetDevice", ConstantStepDevice, 0.0002),
        ("GokmenVlasovPresetDevice", ConstantStepDevice, 0.0016),
        ("PCMPresetDevice", ExpStepDevice, 0.03235),
    ],
)
def test_device_preset_class_and_granularity(name, cls, granularity):
    device = getattr(presets, name)()
    assert type(device) is cls
    assert float(devices.granularity(device)) == pytest.approx(granularity, rel=1e-4)


def test_device_preset_accepts_overrides():
    device = presets.ReRamESPresetDevice(dw_min_std=0.0)
    assert device.dw_min_std == 0.0
    assert device.dw_min == 0.00135


@pytest.mark.parametrize(
    "name",
    [
        "ReRamESPreset",
        "ReRamSBPreset",
        "CapacitorPreset",
        "EcRamPreset",
        "EcRamMOPreset",
        "IdealizedPreset",
        "GokmenVlasovPreset",
    ],
)
def test_single_device_config_presets(name):
    config = getattr(presets, name)()
    assert isinstance(config, SingleRPUConfig)
    assert (
        type(config.device).__name__
        == type(getattr(presets, f"{name}Device")()).__name__
    )
    assert config.forward.out_bound == 20.0
    assert config.forward.out_noise == 0.1
    assert config.backward.out_bound == 20.0
    assert config.update.desired_bl == 31


@pytest.mark.parametrize(
    "name", ["ReRamESPreset", "ReRamSBPreset", "CapacitorPreset", "EcRamPreset"]
)
def test_preset_layers_train(name):
    experiment = BasicTraining(
        dataset=FashionMNIST,
        model=AnalogSequential(
            Flatten(),
            AnalogLinear(784, 10, rpu_config=getattr(presets, name)()),
            LogSoftmax(dim=1),
        ),
        epochs=1,
    )
    result = run_local(experiment, max_elements=640, stdout=False)
    epoch = result["epochs"][0]
    assert np.isfinite(epoch["train_loss"])
    # Chance is 0.1 for 10 classes, and one pass over 640 images does far better.
    assert epoch["accuracy"] > 0.3

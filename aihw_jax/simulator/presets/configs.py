"""Peripheral presets and the single-device RPU-config presets."""

from __future__ import annotations

from typing import Any

from aihw_jax.simulator.configs import IOParameters, SingleRPUConfig, UpdateParameters
from aihw_jax.simulator.presets import devices

__all__ = [
    "CapacitorPreset",
    "EcRamMOPreset",
    "EcRamPreset",
    "GokmenVlasovPreset",
    "IdealizedPreset",
    "PresetIOParameters",
    "PresetUpdateParameters",
    "ReRamESPreset",
    "ReRamSBPreset",
    "StandardIOParameters",
]


def PresetIOParameters(**overrides: Any) -> IOParameters:
    """Periphery of the training presets: out_bound 20, out_noise 0.1, 7/9 bits."""
    fields = {
        "out_bound": 20.0,
        "out_noise": 0.1,
        "inp_res": 1 / 126,
        "out_res": 1 / 510,
    }
    return IOParameters(**{**fields, **overrides})


def PresetUpdateParameters(**overrides: Any) -> UpdateParameters:
    """Update of the training presets (numerically the UpdateParameters defaults)."""
    return UpdateParameters(**overrides)


def StandardIOParameters(**overrides: Any) -> IOParameters:
    """8-bit periphery: out_bound 10, out_noise 0.04 (not used by the training presets)."""
    fields = {
        "out_bound": 10.0,
        "out_noise": 0.04,
        "inp_res": 1 / 254,
        "out_res": 1 / 254,
    }
    return IOParameters(**{**fields, **overrides})


def _single(device) -> SingleRPUConfig:
    return SingleRPUConfig(
        device=device,
        forward=PresetIOParameters(),
        backward=PresetIOParameters(),
        update=PresetUpdateParameters(),
    )


def ReRamESPreset() -> SingleRPUConfig:
    """Build a SingleRPUConfig with one ReRamESPresetDevice per cross-point."""
    return _single(devices.ReRamESPresetDevice())


def ReRamSBPreset() -> SingleRPUConfig:
    """Build a SingleRPUConfig with one ReRamSBPresetDevice per cross-point."""
    return _single(devices.ReRamSBPresetDevice())


def CapacitorPreset() -> SingleRPUConfig:
    """Build a SingleRPUConfig with one CapacitorPresetDevice per cross-point."""
    return _single(devices.CapacitorPresetDevice())


def EcRamPreset() -> SingleRPUConfig:
    """Build a SingleRPUConfig with one EcRamPresetDevice per cross-point."""
    return _single(devices.EcRamPresetDevice())


def EcRamMOPreset() -> SingleRPUConfig:
    """Build a SingleRPUConfig with one EcRamMOPresetDevice per cross-point."""
    return _single(devices.EcRamMOPresetDevice())


def IdealizedPreset() -> SingleRPUConfig:
    """Build a SingleRPUConfig with one IdealizedPresetDevice per cross-point."""
    return _single(devices.IdealizedPresetDevice())


def GokmenVlasovPreset() -> SingleRPUConfig:
    """Build a SingleRPUConfig with one GokmenVlasovPresetDevice per cross-point."""
    return _single(devices.GokmenVlasovPresetDevice())

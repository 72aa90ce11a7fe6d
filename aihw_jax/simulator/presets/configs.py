"""Peripheral presets and the RPU-config presets, with aihwkit's names.

Single-device presets are written out. The compound families (2- and
4-device, Tiki-Taka, TTv2, chopped TTv2, AGAD, mixed precision) are built
from tables of their values, one function per preset name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aihw_jax.simulator.configs import (
    BoundManagementType,
    ChoppedTransferCompound,
    DigitalRankUpdateRPUConfig,
    DynamicTransferCompound,
    IOParameters,
    MixedPrecisionCompound,
    NoiseManagementType,
    OneSidedUnitCell,
    SingleRPUConfig,
    TransferCompound,
    UnitCellRPUConfig,
    UpdateParameters,
    VectorUnitCell,
    VectorUnitCellUpdatePolicy,
)
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


def PCMPresetUnitCell(**overrides: Any) -> OneSidedUnitCell:
    """Build a one-sided pair of PCMPresetDevices, refreshed after every mini-batch."""
    fields = {
        "unit_cell_devices": (devices.PCMPresetDevice(), devices.PCMPresetDevice()),
        "refresh_every": 1,
        "units_in_mbatch": True,
        "refresh_forward": PresetIOParameters(),
        "refresh_update": PresetUpdateParameters(desired_bl=31),
        "refresh_upper_thres": 0.75,
        "refresh_lower_thres": 0.25,
    }
    return OneSidedUnitCell(**{**fields, **overrides})


def PCMPreset() -> UnitCellRPUConfig:
    """Build a UnitCellRPUConfig with a PCMPresetUnitCell per cross-point."""
    return UnitCellRPUConfig(
        device=PCMPresetUnitCell(),
        forward=PresetIOParameters(),
        backward=PresetIOParameters(),
        update=PresetUpdateParameters(),
    )


def _transfer_io() -> IOParameters:
    return PresetIOParameters(
        noise_management=NoiseManagementType.NONE,
        bound_management=BoundManagementType.NONE,
    )


def _single_pulse_update() -> UpdateParameters:
    return PresetUpdateParameters(
        desired_bl=1, update_bl_management=False, update_management=False
    )


def _unit_cell_config(device: Any, desired_bl: int = 31) -> UnitCellRPUConfig:
    return UnitCellRPUConfig(
        device=device,
        forward=PresetIOParameters(),
        backward=PresetIOParameters(),
        update=PresetUpdateParameters(desired_bl=desired_bl),
    )


_DEVICES: dict[str, Callable[[], Any]] = {
    "ReRamES": devices.ReRamESPresetDevice,
    "ReRamSB": lambda: devices.ReRamSBPresetDevice(subtract_symmetry_point=True),
    "Capacitor": devices.CapacitorPresetDevice,
    "EcRam": devices.EcRamPresetDevice,
    "EcRamMO": devices.EcRamMOPresetDevice,
    "Idealized": devices.IdealizedPresetDevice,
}
"""Device of each family preset; ReRamSB compounds subtract the symmetry point."""


def _vector_preset(name: str, count: int) -> Callable[[], UnitCellRPUConfig]:
    def preset() -> UnitCellRPUConfig:
        cell = VectorUnitCell(
            unit_cell_devices=tuple(_DEVICES[name]() for _ in range(count)),
            update_policy=VectorUnitCellUpdatePolicy.SINGLE_RANDOM,
        )
        return _unit_cell_config(cell)

    preset.__doc__ = (
        f"Build a UnitCellRPUConfig averaging {count} {name} preset devices, one "
        "of them (drawn at random) updated per mini-batch."
    )
    return preset


def _tiki_taka_preset(name: str) -> Callable[[], UnitCellRPUConfig]:
    def preset() -> UnitCellRPUConfig:
        cell = TransferCompound(
            unit_cell_devices=(_DEVICES[name](), _DEVICES[name]()),
            transfer_forward=_transfer_io(),
            transfer_update=PresetUpdateParameters(),
            transfer_every=1.0,
            units_in_mbatch=True,
        )
        return _unit_cell_config(cell)

    preset.__doc__ = (
        f"Build a Tiki-Taka UnitCellRPUConfig on two {name} preset devices: one "
        "column transferred per mini-batch."
    )
    return preset


_CHOPPED = {
    # name: (in_chop_prob, fast_lr, auto_granularity, desired_bl)
    "TTv2ReRamES": (0.0, 0.5, 1000.0, 31),
    "TTv2ReRamSB": (0.0, 0.5, 1000.0, 31),
    "TTv2Capacitor": (0.0, 0.1, 1000.0, 31),
    "TTv2EcRam": (0.0, 0.1, 500.0, 100),
    "TTv2EcRamMO": (0.0, 0.1, 500.0, 100),
    "TTv2Idealized": (0.0, 0.1, 500.0, 100),
    "ChoppedTTv2ReRamES": (0.01, 0.5, 1000.0, 31),
    "ChoppedTTv2ReRamSB": (0.01, 0.5, 1000.0, 31),
    "ChoppedTTv2Capacitor": (0.01, 0.1, 1000.0, 31),
    "ChoppedTTv2EcRam": (0.01, 1.0, 500.0, 100),
    "ChoppedTTv2EcRamMO": (0.001, 0.1, 500.0, 100),
    "ChoppedTTv2Idealized": (0.001, 0.1, 500.0, 100),
}
"""Chopped-transfer presets (TTv2 has no chopper)."""

_AGAD = {
    # name: (fast_lr, auto_granularity, tail_weightening, in_chop_prob, desired_bl)
    "AGADReRamES": (0.5, 1000.0, 5.0, 0.02, 31),
    "AGADReRamSB": (0.5, 1000.0, 5.0, 0.02, 31),
    "AGADCapacitor": (0.1, 1000.0, 20.0, 0.01, 31),
    "AGADEcRam": (0.1, 750.0, 50.0, 0.005, 31),
    "AGADEcRamMO": (0.1, 500.0, 50.0, 0.005, 100),
    "AGADIdealized": (0.1, 500.0, 50.0, 0.005, 100),
}
"""AGAD (dynamic transfer) presets."""


def _device_of(name: str) -> str:
    return next(d for d in sorted(_DEVICES, key=len, reverse=True) if name.endswith(d))


def _chopped_preset(name: str) -> Callable[[], UnitCellRPUConfig]:
    in_chop_prob, fast_lr, auto_granularity, desired_bl = _CHOPPED[name]
    device = _device_of(name)

    def preset() -> UnitCellRPUConfig:
        cell = ChoppedTransferCompound(
            unit_cell_devices=(_DEVICES[device](), _DEVICES[device]()),
            in_chop_prob=in_chop_prob,
            fast_lr=fast_lr,
            auto_granularity=auto_granularity,
            auto_scale=True,
            units_in_mbatch=False,
            transfer_forward=_transfer_io(),
            transfer_update=_single_pulse_update(),
        )
        return _unit_cell_config(cell, desired_bl)

    kind = "TTv2" if in_chop_prob == 0 else "chopped TTv2"
    preset.__doc__ = (
        f"Build a {kind} UnitCellRPUConfig on two {device} preset devices: one "
        "column read per sample into a digital buffer."
    )
    return preset


def _agad_preset(name: str) -> Callable[[], UnitCellRPUConfig]:
    fast_lr, auto_granularity, tail, in_chop_prob, desired_bl = _AGAD[name]
    device = _device_of(name)

    def preset() -> UnitCellRPUConfig:
        cell = DynamicTransferCompound(
            unit_cell_devices=(_DEVICES[device](), _DEVICES[device]()),
            fast_lr=fast_lr,
            auto_granularity=auto_granularity,
            tail_weightening=tail,
            in_chop_prob=in_chop_prob,
            auto_scale=True,
            units_in_mbatch=False,
            transfer_forward=_transfer_io(),
            transfer_update=_single_pulse_update(),
        )
        return _unit_cell_config(cell, desired_bl)

    preset.__doc__ = (
        f"Build an AGAD UnitCellRPUConfig on two {device} preset devices: "
        "chopped transfers of each read's change over the previous period."
    )
    return preset


_MIXED = {
    "MixedPrecisionReRamES": devices.ReRamESPresetDevice,
    "MixedPrecisionReRamSB": devices.ReRamSBPresetDevice,
    "MixedPrecisionCapacitor": devices.CapacitorPresetDevice,
    "MixedPrecisionEcRam": devices.EcRamPresetDevice,
    "MixedPrecisionEcRamMO": devices.EcRamMOPresetDevice,
    "MixedPrecisionIdealized": devices.IdealizedPresetDevice,
    "MixedPrecisionGokmenVlasov": devices.GokmenVlasovPresetDevice,
    "MixedPrecisionPCM": PCMPresetUnitCell,
}
"""Analog device of each mixed-precision preset (ReRamSB without symmetry point)."""


def _mixed_preset(name: str) -> Callable[[], DigitalRankUpdateRPUConfig]:
    def preset() -> DigitalRankUpdateRPUConfig:
        return DigitalRankUpdateRPUConfig(
            device=MixedPrecisionCompound(device=_MIXED[name]()),
            forward=PresetIOParameters(),
            backward=PresetIOParameters(),
            update=PresetUpdateParameters(),
        )

    preset.__doc__ = (
        f"Build a mixed-precision DigitalRankUpdateRPUConfig whose analog device "
        f"is the {name.removeprefix('MixedPrecision')} preset."
    )
    return preset


def _family_presets() -> dict[str, Callable[[], Any]]:
    presets: dict[str, Callable[[], Any]] = {}
    for name in _DEVICES:
        presets[f"{name}2Preset"] = _vector_preset(name, 2)
        presets[f"{name}4Preset"] = _vector_preset(name, 4)
        presets[f"TikiTaka{name}Preset"] = _tiki_taka_preset(name)
    for name in _CHOPPED:
        presets[f"{name}Preset"] = _chopped_preset(name)
    for name in _AGAD:
        presets[f"{name}Preset"] = _agad_preset(name)
    for name in _MIXED:
        presets[f"{name}Preset"] = _mixed_preset(name)
    for name, preset in presets.items():
        preset.__name__ = preset.__qualname__ = name
    return presets


FAMILY_PRESETS = _family_presets()
"""Every compound config preset by name (2-/4-device, Tiki-Taka, TTv2, AGAD, ...)."""
globals().update(FAMILY_PRESETS)
__all__ += ["PCMPreset", "PCMPresetUnitCell", *FAMILY_PRESETS]  # noqa: PLE0604

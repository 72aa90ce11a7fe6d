"""Presets with aihwkit's names: measured device models and their tile configs.

Each preset is a function that returns a config. Device presets take
keyword arguments that replace fields, e.g. ``ReRamESPresetDevice(dw_min_std=0.0)``.
"""

from aihw_jax.simulator.presets.configs import (
    FAMILY_PRESETS,
    CapacitorPreset as CapacitorPreset,
    EcRamMOPreset as EcRamMOPreset,
    EcRamPreset as EcRamPreset,
    GokmenVlasovPreset as GokmenVlasovPreset,
    IdealizedPreset as IdealizedPreset,
    PCMPreset as PCMPreset,
    PCMPresetUnitCell as PCMPresetUnitCell,
    PresetIOParameters as PresetIOParameters,
    PresetUpdateParameters as PresetUpdateParameters,
    ReRamESPreset as ReRamESPreset,
    ReRamSBPreset as ReRamSBPreset,
    StandardIOParameters as StandardIOParameters,
)
from aihw_jax.simulator.presets.devices import (
    CapacitorPresetDevice as CapacitorPresetDevice,
    EcRamMOPresetDevice as EcRamMOPresetDevice,
    EcRamPresetDevice as EcRamPresetDevice,
    GokmenVlasovPresetDevice as GokmenVlasovPresetDevice,
    IdealizedPresetDevice as IdealizedPresetDevice,
    PCMPresetDevice as PCMPresetDevice,
    ReRamArrayHfO2PresetDevice as ReRamArrayHfO2PresetDevice,
    ReRamArrayOMPresetDevice as ReRamArrayOMPresetDevice,
    ReRamESPresetDevice as ReRamESPresetDevice,
    ReRamSBPresetDevice as ReRamSBPresetDevice,
)
from aihw_jax.simulator.presets.inference import (
    FloatingPointPreset as FloatingPointPreset,
    StandardHWATrainingPreset as StandardHWATrainingPreset,
)

__all__ = [
    "CapacitorPreset",
    "CapacitorPresetDevice",
    "EcRamMOPreset",
    "EcRamMOPresetDevice",
    "EcRamPreset",
    "EcRamPresetDevice",
    "FloatingPointPreset",
    "GokmenVlasovPreset",
    "GokmenVlasovPresetDevice",
    "IdealizedPreset",
    "IdealizedPresetDevice",
    "PCMPreset",
    "PCMPresetDevice",
    "PCMPresetUnitCell",
    "PresetIOParameters",
    "PresetUpdateParameters",
    "ReRamArrayHfO2PresetDevice",
    "ReRamArrayOMPresetDevice",
    "ReRamESPreset",
    "ReRamESPresetDevice",
    "ReRamSBPreset",
    "ReRamSBPresetDevice",
    "StandardHWATrainingPreset",
    "StandardIOParameters",
]

# The compound families (e.g. TikiTakaEcRamPreset, MixedPrecisionEcRamPreset)
# are generated from tables in ``configs``.
globals().update(FAMILY_PRESETS)
__all__ += sorted(FAMILY_PRESETS)  # noqa: PLE0605

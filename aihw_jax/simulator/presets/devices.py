"""Device presets: parameter sets of measured or idealised devices.

Names follow aihwkit; each function returns a device config whose fields
other than the listed ones keep their class defaults.
"""

from __future__ import annotations

from typing import Any

from aihw_jax.simulator.parameters import devices as d

__all__ = [
    "CapacitorPresetDevice",
    "EcRamMOPresetDevice",
    "EcRamPresetDevice",
    "GokmenVlasovPresetDevice",
    "IdealizedPresetDevice",
    "PCMPresetDevice",
    "ReRamArrayHfO2PresetDevice",
    "ReRamArrayOMPresetDevice",
    "ReRamESPresetDevice",
    "ReRamSBPresetDevice",
]

_PRESETS: dict[str, tuple[type, dict[str, Any]]] = {
    "ReRamESPresetDevice": (
        d.ExpStepDevice,
        {
            "dw_min": 0.00135,
            "dw_min_dtod": 0.2,
            "dw_min_std": 5.0,
            "up_down": 0.259359,
            "up_down_dtod": 0.05,
            "w_max": 1.0,
            "w_max_dtod": 0.3,
            "w_min": -1.0,
            "w_min_dtod": 0.3,
            "write_noise_std": 75.0,
            "gamma_up": 5.0,
            "gamma_down": 5.0,
            "A_up": -1.18445,
            "A_down": -0.081404,
            "a": -0.5,
            "b": -0.5,
        },
    ),
    "ReRamSBPresetDevice": (
        d.SoftBoundsReferenceDevice,
        {
            "dw_min": 0.002,
            "dw_min_dtod": 0.3,
            "dw_min_std": 3.75,
            "up_down": 0.0,
            "up_down_dtod": 0.01,
            "w_max": 1.25,
            "w_max_dtod": 0.3 / 1.25,
            "w_min": -0.75,
            "w_min_dtod": 0.3 / 0.75,
            "write_noise_std": 56.0,
            "mult_noise": False,
            "subtract_symmetry_point": False,
        },
    ),
    "CapacitorPresetDevice": (
        d.LinearStepDevice,
        {
            "dw_min": 0.005,
            "dw_min_dtod": 0.1,
            "dw_min_std": 0.3,
            "up_down": 0.0,
            "up_down_dtod": 0.06,
            "w_max": 1.0,
            "w_max_dtod": 0.07,
            "w_min": -1.0,
            "w_min_dtod": 0.07,
            "mult_noise": False,
            "gamma_up": 0.05,
            "gamma_down": 0.05,
            "gamma_up_dtod": 0.01,
            "gamma_down_dtod": 0.01,
            "mean_bound_reference": True,
            "lifetime": 1e6,
            "lifetime_dtod": 0.3,
        },
    ),
    "EcRamPresetDevice": (
        d.LinearStepDevice,
        {
            "dw_min": 0.002,
            "dw_min_dtod": 0.1,
            "dw_min_std": 0.3,
            "up_down": 0.0,
            "up_down_dtod": 0.01,
            "w_max": 1.1724,
            "w_max_dtod": 0.05,
            "w_min": -0.8276,
            "w_min_dtod": 0.05,
            "mult_noise": True,
            "gamma_up": 0.1153,
            "gamma_down": 0.5085,
            "gamma_up_dtod": 0.05,
            "gamma_down_dtod": 0.05,
            "mean_bound_reference": True,
        },
    ),
    "EcRamMOPresetDevice": (
        d.LinearStepDevice,
        {
            "dw_min": 2.8214e-4,
            "dw_min_dtod": 0.1,
            "dw_min_std": 2.0,
            "up_down": 0.0,
            "up_down_dtod": 0.01,
            "w_max": 1.1714,
            "w_max_dtod": 0.05,
            "w_min": -0.8286,
            "w_min_dtod": 0.05,
            "mult_noise": True,
            "gamma_up": 0.4152,
            "gamma_down": 0.7342,
            "gamma_up_dtod": 0.05,
            "gamma_down_dtod": 0.05,
            "mean_bound_reference": True,
        },
    ),
    "IdealizedPresetDevice": (
        d.ConstantStepDevice,
        {
            "dw_min": 0.0002,
            "dw_min_dtod": 0.3,
            "dw_min_std": 0.3,
            "up_down": 0.0,
            "up_down_dtod": 0.0,
            "w_max": 1.0,
            "w_max_dtod": 0.3,
            "w_min": -1.0,
            "w_min_dtod": 0.3,
        },
    ),
    "GokmenVlasovPresetDevice": (
        d.ConstantStepDevice,
        {
            "dw_min": 0.0016,
            "dw_min_dtod": 0.3,
            "dw_min_std": 0.3,
            "up_down": 0.0,
            "up_down_dtod": 0.01,
            "w_max": 1.0,
            "w_max_dtod": 0.3,
            "w_min": -1.0,
            "w_min_dtod": 0.3,
        },
    ),
    "PCMPresetDevice": (
        d.ExpStepDevice,
        {
            "dw_min": 0.01,
            "dw_min_dtod": 0.2,
            "dw_min_std": 0.6,
            "up_down": 0.0,
            "up_down_dtod": 0.05,
            "w_max": 2.0,
            "w_max_dtod": 0.1,
            "w_min": 0.0,
            "w_min_dtod": 0.0,
            "write_noise_std": 0.0,
            "gamma_up": 2.5,
            "gamma_down": 2.5,
            "A_up": -27.235,
            "A_down": -2.235,
            "a": -1.0,
            "b": 0.0,
            "dw_min_std_add": 0.042,
            "dw_min_std_slope": 0.108,
            "reset": 0.01,
            "reset_dtod": 0.02,
        },
    ),
    "ReRamArrayOMPresetDevice": (
        d.SoftBoundsReferenceDevice,
        {
            "enforce_consistency": True,
            "dw_min_dtod_log_normal": True,
            "dw_min": 0.0949,
            "dw_min_dtod": 0.7829,
            "dw_min_std": 0.4158,
            "up_down": 0.0,
            "up_down_dtod": 0.01,
            "w_max": 1.0,
            "w_max_dtod": 0.3499,
            "w_min": -1.0,
            "w_min_dtod": 0.5695,
            "mult_noise": False,
            "write_noise_std": 1.4113,
            "corrupt_devices_prob": 0.0,
            "corrupt_devices_range": 0.01,
            "subtract_symmetry_point": True,
            "reference_std": 0.05,
        },
    ),
    "ReRamArrayHfO2PresetDevice": (
        d.SoftBoundsReferenceDevice,
        {
            "enforce_consistency": True,
            "dw_min_dtod_log_normal": True,
            "dw_min": 0.4622,
            "dw_min_dtod": 0.7125,
            "dw_min_std": 0.2174,
            "up_down": 0.0,
            "up_down_dtod": 0.01,
            "w_max": 1.0,
            "w_max_dtod": 0.4295,
            "w_min": -1.0,
            "w_min_dtod": 0.5990,
            "mult_noise": False,
            "write_noise_std": 0.5841,
            "corrupt_devices_prob": 0.0,
            "corrupt_devices_range": 0.01,
            "subtract_symmetry_point": True,
            "reference_std": 0.05,
        },
    ),
}


def _make(name: str, overrides: dict[str, Any]) -> d.PulsedDevice:
    cls, fields = _PRESETS[name]
    return cls(**{**fields, **overrides})


def ReRamESPresetDevice(**overrides: Any) -> d.ExpStepDevice:
    """ReRAM fitted with an exponential step (ExpStepDevice), with write noise."""
    return _make("ReRamESPresetDevice", overrides)


def ReRamSBPresetDevice(**overrides: Any) -> d.SoftBoundsReferenceDevice:
    """ReRAM fitted with soft bounds (SoftBoundsReferenceDevice), with write noise."""
    return _make("ReRamSBPresetDevice", overrides)


def CapacitorPresetDevice(**overrides: Any) -> d.LinearStepDevice:
    """Capacitor-based cell: linear step, slow leakage (lifetime 1e6 mini-batches)."""
    return _make("CapacitorPresetDevice", overrides)


def EcRamPresetDevice(**overrides: Any) -> d.LinearStepDevice:
    """Electro-chemical RAM (LinearStepDevice)."""
    return _make("EcRamPresetDevice", overrides)


def EcRamMOPresetDevice(**overrides: Any) -> d.LinearStepDevice:
    """Metal-oxide electro-chemical RAM (LinearStepDevice), about 7000 states."""
    return _make("EcRamMOPresetDevice", overrides)


def IdealizedPresetDevice(**overrides: Any) -> d.ConstantStepDevice:
    """Idealised constant-step device with 10000 states."""
    return _make("IdealizedPresetDevice", overrides)


def GokmenVlasovPresetDevice(**overrides: Any) -> d.ConstantStepDevice:
    """Constant-step device with the parameters of Gokmen and Vlasov (2016)."""
    return _make("GokmenVlasovPresetDevice", overrides)


def PCMPresetDevice(**overrides: Any) -> d.ExpStepDevice:
    """Phase-change memory: one-sided exponential step, bounds 0 and 2."""
    return _make("PCMPresetDevice", overrides)


def ReRamArrayOMPresetDevice(**overrides: Any) -> d.SoftBoundsReferenceDevice:
    """ReRAM array (OM) measured device, soft bounds with a reference."""
    return _make("ReRamArrayOMPresetDevice", overrides)


def ReRamArrayHfO2PresetDevice(**overrides: Any) -> d.SoftBoundsReferenceDevice:
    """ReRAM array (HfO2) measured device, soft bounds with a reference."""
    return _make("ReRamArrayHfO2PresetDevice", overrides)

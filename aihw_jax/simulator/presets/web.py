"""Configs of aihwkit's web composer: an inference tile with noisy training.

The composer trains with additive weight noise and clipping at 1, and maps
each output row to the full conductance range with a learned output scale.
"""

from __future__ import annotations

from typing import Any

from aihw_jax.inference.compensation import GlobalDriftCompensation
from aihw_jax.inference.pcm import PCMLikeNoiseModel
from aihw_jax.simulator.configs._inference import InferenceRPUConfig
from aihw_jax.simulator.parameters.enums import (
    BoundManagementType,
    NoiseManagementType,
    WeightNoiseType,
)
from aihw_jax.simulator.parameters.inference import (
    WeightClipParameter,
    WeightModifierParameter,
)
from aihw_jax.simulator.parameters.inference_enums import (
    WeightClipType,
    WeightModifierType,
)
from aihw_jax.simulator.parameters.io import IOParameters
from aihw_jax.simulator.parameters.mapping import MappingParameter

__all__ = [
    "OldWebComposerInferenceRPUConfig",
    "OldWebComposerMappingParameter",
    "WebComposerIOParameters",
    "WebComposerInferenceRPUConfig",
    "WebComposerMappingParameter",
    "WebComposerWeightClipParameter",
    "WebComposerWeightModifierParameter",
]


def WebComposerIOParameters(**overrides: Any) -> IOParameters:
    """Build the composer periphery: 7/9-bit DAC/ADC, out_bound 20, out_noise 0.1."""
    fields = {
        "bound_management": BoundManagementType.ITERATIVE,
        "noise_management": NoiseManagementType.ABS_MAX,
        "inp_res": 1 / (2**7 - 2),
        "inp_sto_round": False,
        "out_bound": 20.0,
        "out_noise": 0.1,
        "out_res": 1 / (2**9 - 2),
        "w_noise": 0.0,
        "w_noise_type": WeightNoiseType.NONE,
    }
    return IOParameters(**{**fields, **overrides})


def WebComposerWeightModifierParameter(**overrides: Any) -> WeightModifierParameter:
    """Build additive Gaussian weight noise of std 0.1 times the weights' maximum."""
    fields = {"type": WeightModifierType.ADD_NORMAL, "std_dev": 0.1}
    return WeightModifierParameter(**{**fields, **overrides})


def WebComposerWeightClipParameter(**overrides: Any) -> WeightClipParameter:
    """Build clipping of the weights at 1."""
    fields = {"type": WeightClipType.FIXED_VALUE, "fixed_value": 1.0}
    return WeightClipParameter(**{**fields, **overrides})


def WebComposerMappingParameter(**overrides: Any) -> MappingParameter:
    """Build the composer mapping: rows scaled to 1, learned scale, 512 x 512 tiles."""
    fields = {
        "digital_bias": True,
        "weight_scaling_omega": 1.0,
        "weight_scaling_columnwise": True,
        "learn_out_scaling": True,
        "out_scaling_columnwise": False,
        "max_input_size": 512,
        "max_output_size": 512,
    }
    return MappingParameter(**{**fields, **overrides})


def OldWebComposerMappingParameter(**overrides: Any) -> MappingParameter:
    """Build the earlier composer mapping: analog bias, no learned scale, no tiling."""
    fields = {
        "digital_bias": False,
        "learn_out_scaling": False,
        "max_input_size": 0,
        "max_output_size": 0,
    }
    return WebComposerMappingParameter(**{**fields, **overrides})


def WebComposerInferenceRPUConfig() -> InferenceRPUConfig:
    """Build the composer's default tile config."""
    return InferenceRPUConfig(
        forward=WebComposerIOParameters(),
        noise_model=PCMLikeNoiseModel(),
        drift_compensation=GlobalDriftCompensation(),
        clip=WebComposerWeightClipParameter(),
        modifier=WebComposerWeightModifierParameter(),
        mapping=WebComposerMappingParameter(),
    )


def OldWebComposerInferenceRPUConfig() -> InferenceRPUConfig:
    """Build the earlier composer config: the analog bias and no tiling."""
    return WebComposerInferenceRPUConfig().replace(
        mapping=OldWebComposerMappingParameter()
    )

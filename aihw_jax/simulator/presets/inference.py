"""Inference presets with aihwkit's names: standard HWA training and an exact tile."""

from __future__ import annotations

from aihw_jax.inference.compensation import GlobalDriftCompensation
from aihw_jax.inference.pcm import PCMLikeNoiseModel
from aihw_jax.simulator.configs._inference import InferenceRPUConfig
from aihw_jax.simulator.parameters.enums import (
    BoundManagementType,
    NoiseManagementType,
    WeightNoiseType,
)
from aihw_jax.simulator.parameters.inference import (
    InputRangeParameter,
    PrePostProcessingParameter,
    WeightClipParameter,
    WeightRemapParameter,
)
from aihw_jax.simulator.parameters.inference_enums import (
    WeightClipType,
    WeightRemapType,
)
from aihw_jax.simulator.parameters.io import IOParameters
from aihw_jax.simulator.parameters.mapping import MappingParameter
from aihw_jax.simulator.presets.configs import PresetIOParameters

__all__ = ["FloatingPointPreset", "StandardHWATrainingPreset"]


def StandardHWATrainingPreset() -> InferenceRPUConfig:
    """Build aihwkit's baseline tile for comparing hardware-aware training methods.

    The periphery has 8-bit DAC and ADC, a fixed input scale of 1 (the
    learned input range takes the place of noise and bound management), PCM
    read noise and IR drop. Weights are clipped at 1 and remapped per output
    row after each step, with a learned scale per output. The input
    dimension is split into tiles of at most 512, the output dimension not
    at all.
    """
    return InferenceRPUConfig(
        mapping=MappingParameter(
            weight_scaling_omega=1.0,
            weight_scaling_columnwise=True,
            max_input_size=512,
            max_output_size=0,
            digital_bias=True,
            learn_out_scaling=True,
            out_scaling_columnwise=True,
        ),
        forward=PresetIOParameters(
            inp_res=254.0,
            out_res=254.0,
            bound_management=BoundManagementType.NONE,
            noise_management=NoiseManagementType.CONSTANT,
            nm_thres=1.0,
            w_noise=0.0175,
            w_noise_type=WeightNoiseType.PCM_READ,
            ir_drop=1.0,
            out_noise=0.04,
            out_bound=10.0,
        ),
        remap=WeightRemapParameter(
            remapped_wmax=1.0, type=WeightRemapType.CHANNELWISE_SYMMETRIC
        ),
        noise_model=PCMLikeNoiseModel(),
        drift_compensation=GlobalDriftCompensation(),
        pre_post=PrePostProcessingParameter(
            input_range=InputRangeParameter(
                enable=True,
                init_value=3.0,
                init_from_data=100,
                init_std_alpha=3.0,
                decay=0.001,
                input_min_percentage=0.95,
                output_min_percentage=0.95,
                manage_output_clipping=False,
                gradient_scale=1.0,
                gradient_relative=True,
            )
        ),
        clip=WeightClipParameter(type=WeightClipType.FIXED_VALUE, fixed_value=1.0),
    )


def FloatingPointPreset() -> InferenceRPUConfig:
    """Build a tile whose forward pass is exact, with one tile per layer.

    ``noise_model`` and ``drift_compensation`` keep their defaults, so
    programming the weights still adds PCM noise, as in aihwkit.
    """
    # NOTE: aihwkit builds this preset on its torch tile
    # (TorchInferenceRPUConfig). With an exact forward and no modifier the
    # two tiles compute the same outputs and gradients.
    return InferenceRPUConfig(
        mapping=MappingParameter(max_input_size=0, max_output_size=0),
        forward=IOParameters(is_perfect=True),
        pre_post=PrePostProcessingParameter(
            input_range=InputRangeParameter(enable=False)
        ),
    )

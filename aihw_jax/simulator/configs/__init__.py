"""Configurations of analog tiles, with aihwkit's class and field names."""

from aihw_jax.simulator.configs._rpu_config import (
    FloatingPointRPUConfig as FloatingPointRPUConfig,
    SingleRPUConfig as SingleRPUConfig,
)
from aihw_jax.simulator.parameters.devices import (
    ConstantStepDevice as ConstantStepDevice,
    ExpStepDevice as ExpStepDevice,
    FloatingPointDevice as FloatingPointDevice,
    IdealDevice as IdealDevice,
    LinearStepDevice as LinearStepDevice,
    PiecewiseStepDevice as PiecewiseStepDevice,
    PowStepDevice as PowStepDevice,
    PowStepReferenceDevice as PowStepReferenceDevice,
    PulsedDevice as PulsedDevice,
    SoftBoundsDevice as SoftBoundsDevice,
    SoftBoundsPmaxDevice as SoftBoundsPmaxDevice,
    SoftBoundsReferenceDevice as SoftBoundsReferenceDevice,
)
from aihw_jax.simulator.parameters.enums import (
    AnalogMVType as AnalogMVType,
    BoundManagementType as BoundManagementType,
    NoiseManagementType as NoiseManagementType,
    PulseType as PulseType,
    WeightNoiseType as WeightNoiseType,
)
from aihw_jax.simulator.parameters.io import IOParameters as IOParameters
from aihw_jax.simulator.parameters.mapping import MappingParameter as MappingParameter
from aihw_jax.simulator.parameters.training import UpdateParameters as UpdateParameters

__all__ = [
    "AnalogMVType",
    "BoundManagementType",
    "ConstantStepDevice",
    "ExpStepDevice",
    "FloatingPointDevice",
    "FloatingPointRPUConfig",
    "IOParameters",
    "IdealDevice",
    "LinearStepDevice",
    "MappingParameter",
    "NoiseManagementType",
    "PiecewiseStepDevice",
    "PowStepDevice",
    "PowStepReferenceDevice",
    "PulseType",
    "PulsedDevice",
    "SingleRPUConfig",
    "SoftBoundsDevice",
    "SoftBoundsPmaxDevice",
    "SoftBoundsReferenceDevice",
    "UpdateParameters",
    "WeightNoiseType",
]

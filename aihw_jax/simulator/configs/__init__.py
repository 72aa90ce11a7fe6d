"""Configurations of analog tiles, with aihwkit's class and field names."""

from aihw_jax.simulator.configs._rpu_config import (
    FloatingPointRPUConfig as FloatingPointRPUConfig,
    SingleRPUConfig as SingleRPUConfig,
)
from aihw_jax.simulator.parameters.devices import (
    ConstantStepDevice as ConstantStepDevice,
    FloatingPointDevice as FloatingPointDevice,
    IdealDevice as IdealDevice,
    PulsedDevice as PulsedDevice,
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
    "FloatingPointDevice",
    "FloatingPointRPUConfig",
    "IOParameters",
    "IdealDevice",
    "MappingParameter",
    "NoiseManagementType",
    "PulseType",
    "PulsedDevice",
    "SingleRPUConfig",
    "UpdateParameters",
    "WeightNoiseType",
]

"""Configurations of analog tiles, with aihwkit's class and field names."""

from aihw_jax.simulator.configs._rpu_config import (
    FloatingPointRPUConfig as FloatingPointRPUConfig,
)
from aihw_jax.simulator.configs._rpu_config import (
    SingleRPUConfig as SingleRPUConfig,
)
from aihw_jax.simulator.parameters.devices import (
    ConstantStepDevice as ConstantStepDevice,
)
from aihw_jax.simulator.parameters.devices import (
    FloatingPointDevice as FloatingPointDevice,
)
from aihw_jax.simulator.parameters.devices import (
    IdealDevice as IdealDevice,
)
from aihw_jax.simulator.parameters.devices import (
    PulsedDevice as PulsedDevice,
)
from aihw_jax.simulator.parameters.enums import (
    AnalogMVType as AnalogMVType,
)
from aihw_jax.simulator.parameters.enums import (
    BoundManagementType as BoundManagementType,
)
from aihw_jax.simulator.parameters.enums import (
    NoiseManagementType as NoiseManagementType,
)
from aihw_jax.simulator.parameters.enums import (
    PulseType as PulseType,
)
from aihw_jax.simulator.parameters.enums import (
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

"""Configurations of analog tiles, with aihwkit's class and field names."""

from aihw_jax.simulator.configs._inference import (
    InferenceRPUConfig as InferenceRPUConfig,
)
from aihw_jax.simulator.configs._rpu_config import (
    DigitalRankUpdateRPUConfig as DigitalRankUpdateRPUConfig,
    FloatingPointRPUConfig as FloatingPointRPUConfig,
    SingleRPUConfig as SingleRPUConfig,
    UnitCellRPUConfig as UnitCellRPUConfig,
)
from aihw_jax.simulator.parameters.compounds import (
    BufferedTransferCompound as BufferedTransferCompound,
    ChoppedTransferCompound as ChoppedTransferCompound,
    DynamicTransferCompound as DynamicTransferCompound,
    MixedPrecisionCompound as MixedPrecisionCompound,
    OneSidedUnitCell as OneSidedUnitCell,
    ReferenceUnitCell as ReferenceUnitCell,
    TransferCompound as TransferCompound,
    VectorUnitCell as VectorUnitCell,
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
    VectorUnitCellUpdatePolicy as VectorUnitCellUpdatePolicy,
    WeightNoiseType as WeightNoiseType,
)
from aihw_jax.simulator.parameters.inference import (
    InputRangeParameter as InputRangeParameter,
    PrePostProcessingParameter as PrePostProcessingParameter,
    WeightClipParameter as WeightClipParameter,
    WeightModifierParameter as WeightModifierParameter,
    WeightRemapParameter as WeightRemapParameter,
)
from aihw_jax.simulator.parameters.inference_enums import (
    WeightClipType as WeightClipType,
    WeightModifierType as WeightModifierType,
    WeightRemapType as WeightRemapType,
)
from aihw_jax.simulator.parameters.io import IOParameters as IOParameters
from aihw_jax.simulator.parameters.mapping import MappingParameter as MappingParameter
from aihw_jax.simulator.parameters.training import UpdateParameters as UpdateParameters

__all__ = [
    "AnalogMVType",
    "BoundManagementType",
    "BufferedTransferCompound",
    "ChoppedTransferCompound",
    "ConstantStepDevice",
    "DigitalRankUpdateRPUConfig",
    "DynamicTransferCompound",
    "ExpStepDevice",
    "FloatingPointDevice",
    "FloatingPointRPUConfig",
    "IOParameters",
    "IdealDevice",
    "InferenceRPUConfig",
    "InputRangeParameter",
    "LinearStepDevice",
    "MappingParameter",
    "MixedPrecisionCompound",
    "NoiseManagementType",
    "OneSidedUnitCell",
    "PiecewiseStepDevice",
    "PowStepDevice",
    "PowStepReferenceDevice",
    "PrePostProcessingParameter",
    "PulseType",
    "PulsedDevice",
    "ReferenceUnitCell",
    "SingleRPUConfig",
    "SoftBoundsDevice",
    "SoftBoundsPmaxDevice",
    "SoftBoundsReferenceDevice",
    "TransferCompound",
    "UnitCellRPUConfig",
    "UpdateParameters",
    "VectorUnitCell",
    "VectorUnitCellUpdatePolicy",
    "WeightClipParameter",
    "WeightClipType",
    "WeightModifierParameter",
    "WeightModifierType",
    "WeightNoiseType",
    "WeightRemapParameter",
    "WeightRemapType",
]

"""RPU configurations: everything one analog layer needs to know about its tiles."""

from __future__ import annotations

from flax import struct

from aihw_jax.simulator.parameters import _validation as v
from aihw_jax.simulator.parameters.compounds import (
    MixedPrecisionCompound,
    OneSidedUnitCell,
    TransferCompound,
    VectorUnitCell,
)
from aihw_jax.simulator.parameters.devices import (
    ConstantStepDevice,
    FloatingPointDevice,
    PulsedDevice,
)
from aihw_jax.simulator.parameters.io import IOParameters
from aihw_jax.simulator.parameters.mapping import MappingParameter
from aihw_jax.simulator.parameters.training import UpdateParameters

__all__ = [
    "DigitalRankUpdateRPUConfig",
    "FloatingPointRPUConfig",
    "SingleRPUConfig",
    "UnitCellRPUConfig",
]


@struct.dataclass
class SingleRPUConfig:
    """One pulsed device per cross-point, with noisy forward and backward MVMs.

    aihwkit's default for analog layers: a ``ConstantStepDevice``, default
    ``IOParameters`` both ways and the default stochastic pulsed update.
    """

    device: PulsedDevice = struct.field(default_factory=ConstantStepDevice)
    """Device at every cross-point."""
    forward: IOParameters = struct.field(default_factory=IOParameters)
    """Periphery of the forward MVM."""
    backward: IOParameters = struct.field(default_factory=IOParameters)
    """Periphery of the backward (transposed) MVM; bound management is ignored."""
    update: UpdateParameters = struct.field(default_factory=UpdateParameters)
    """Conversion of updates into pulses."""
    mapping: MappingParameter = struct.field(default_factory=MappingParameter)
    """Split of the layer into tiles, and the place of its bias."""

    def __post_init__(self) -> None:
        v.check_type(self, "device", PulsedDevice)
        v.check_type(self, "forward", IOParameters)
        v.check_type(self, "backward", IOParameters)
        v.check_type(self, "update", UpdateParameters)
        v.check_type(self, "mapping", MappingParameter)

    def check_support(self) -> None:
        """Raise ConfigError for any option that is valid but not simulated yet."""
        self.device.check_support()
        self.forward.check_support()
        self.backward.check_support()
        self.update.check_support()
        self.mapping.check_support()


@struct.dataclass
class FloatingPointRPUConfig:
    """Exact floating-point tiles: the digital baseline of an analog model."""

    device: FloatingPointDevice = struct.field(default_factory=FloatingPointDevice)
    """Ideal device (optional diffusion and decay)."""
    mapping: MappingParameter = struct.field(default_factory=MappingParameter)
    """Split of the layer into tiles, and the place of its bias."""

    def __post_init__(self) -> None:
        v.check_type(self, "device", FloatingPointDevice)
        v.check_type(self, "mapping", MappingParameter)

    def check_support(self) -> None:
        """Raise ConfigError for any option that is valid but not simulated yet."""
        self.mapping.check_support(scaling=True)


def _default_unit_cell() -> VectorUnitCell:
    return VectorUnitCell()


@struct.dataclass
class UnitCellRPUConfig:
    """Several devices per cross-point: a unit cell or a transfer compound.

    ``device`` is a VectorUnitCell, ReferenceUnitCell, OneSidedUnitCell or a
    TransferCompound (Tiki-Taka) and its buffered, chopped and AGAD forms.
    """

    device: VectorUnitCell | OneSidedUnitCell | TransferCompound = struct.field(
        default_factory=_default_unit_cell
    )
    """Compound device at every cross-point."""
    forward: IOParameters = struct.field(default_factory=IOParameters)
    """Periphery of the forward MVM."""
    backward: IOParameters = struct.field(default_factory=IOParameters)
    """Periphery of the backward (transposed) MVM; bound management is ignored."""
    update: UpdateParameters = struct.field(default_factory=UpdateParameters)
    """Conversion of gradient updates into pulses."""
    mapping: MappingParameter = struct.field(default_factory=MappingParameter)
    """Split of the layer into tiles, and the place of its bias."""

    def __post_init__(self) -> None:
        v.check_type(
            self, "device", (VectorUnitCell, OneSidedUnitCell, TransferCompound)
        )
        v.check_type(self, "forward", IOParameters)
        v.check_type(self, "backward", IOParameters)
        v.check_type(self, "update", UpdateParameters)
        v.check_type(self, "mapping", MappingParameter)

    def check_support(self) -> None:
        """Raise ConfigError for any option that is valid but not simulated yet."""
        self.device.check_support()
        self.forward.check_support()
        self.backward.check_support()
        self.update.check_support()
        self.mapping.check_support()


@struct.dataclass
class DigitalRankUpdateRPUConfig:
    """Analog forward and backward MVMs with updates collected digitally.

    aihwkit's config for ``MixedPrecisionCompound``: the gradient's outer
    products add up in a digital matrix that is written to the analog
    device in whole pulses.
    """

    device: MixedPrecisionCompound = struct.field(
        default_factory=MixedPrecisionCompound
    )
    """Compound with the digital accumulator and the analog device."""
    forward: IOParameters = struct.field(default_factory=IOParameters)
    """Periphery of the forward MVM."""
    backward: IOParameters = struct.field(default_factory=IOParameters)
    """Periphery of the backward (transposed) MVM; bound management is ignored."""
    update: UpdateParameters = struct.field(default_factory=UpdateParameters)
    """Conversion of the transfers into pulses."""
    mapping: MappingParameter = struct.field(default_factory=MappingParameter)
    """Split of the layer into tiles, and the place of its bias."""

    def __post_init__(self) -> None:
        v.check_type(self, "device", MixedPrecisionCompound)
        v.check_type(self, "forward", IOParameters)
        v.check_type(self, "backward", IOParameters)
        v.check_type(self, "update", UpdateParameters)
        v.check_type(self, "mapping", MappingParameter)

    check_support = UnitCellRPUConfig.check_support

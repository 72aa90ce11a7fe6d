"""Compound devices: several pulsed devices per cross-point and their learning rules.

Field names and defaults follow aihwkit. Member devices are full pulsed
devices with their own device-to-device draws. Floats are pytree leaves (so
``jax.vmap`` can sweep them); flags, counts and policies are static.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.parameters import _validation as v
from aihw_jax.simulator.parameters.devices import PulsedDevice
from aihw_jax.simulator.parameters.enums import (
    BoundManagementType,
    NoiseManagementType,
    VectorUnitCellUpdatePolicy,
)
from aihw_jax.simulator.parameters.io import IOParameters
from aihw_jax.simulator.parameters.training import UpdateParameters

__all__ = [
    "BufferedTransferCompound",
    "ChoppedTransferCompound",
    "DynamicTransferCompound",
    "MixedPrecisionCompound",
    "OneSidedUnitCell",
    "ReferenceUnitCell",
    "TransferCompound",
    "VectorUnitCell",
]


def _single_pulse_update() -> UpdateParameters:
    return UpdateParameters(
        desired_bl=1, update_bl_management=False, update_management=False
    )


def _as_tuple(config: Any, name: str) -> None:
    value = getattr(config, name)
    if isinstance(value, list):
        object.__setattr__(config, name, tuple(value))
    elif not isinstance(value, tuple):
        where = f"{type(config).__name__}.{name}"
        raise ConfigError(f"`{where}` must be a list, got {value!r}.")


def _check_devices(config: Any, minimum: int) -> None:
    _as_tuple(config, "unit_cell_devices")
    devices = config.unit_cell_devices
    where = f"{type(config).__name__}.unit_cell_devices"
    if len(devices) < minimum:
        raise ConfigError(
            f"`{where}` needs at least {minimum} pulsed device(s), got {len(devices)}."
        )
    for index, device in enumerate(devices):
        if not isinstance(device, PulsedDevice):
            raise ConfigError(
                f"`{where}[{index}]` must be a pulsed device such as "
                f"ConstantStepDevice(), got {type(device).__name__}."
            )


def _check_numbers(config: Any, names: tuple[str, ...], **bounds: Any) -> None:
    for name in names:
        v.check_number(config, name, **bounds)


def _check_floats(
    config: Any, name: str, length: int | None = None, low: float = -math.inf
) -> None:
    _as_tuple(config, name)
    values = getattr(config, name)
    where = f"{type(config).__name__}.{name}"
    if values and length is not None and len(values) != length:
        raise ConfigError(
            f"`{where}` must be empty or have one entry per device ({length}), got "
            f"{len(values)}."
        )
    for index, value in enumerate(values):
        if isinstance(value, jax.core.Tracer):
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not math.isfinite(value)
            or value < low
        ):
            span = f" >= {low:g}" if low > -math.inf else ""
            raise ConfigError(
                f"`{where}[{index}]` must be a finite number{span}, got {value!r}."
            )


def transfer_read_io(io: IOParameters) -> IOParameters:
    """Return the periphery of a transfer read: noise and bound management off."""
    return io.replace(
        noise_management=NoiseManagementType.NONE,
        bound_management=BoundManagementType.NONE,
    )


@struct.dataclass
class VectorUnitCell:
    """Several devices per cross-point whose weighted sum is the weight.

    The weight is ``sum_k gamma_k w_k`` with ``gamma_k = 1 / n`` (an average)
    unless ``gamma_vec`` is given. ``update_policy`` chooses which members
    receive each mini-batch's pulses.
    """

    unit_cell_devices: tuple = ()
    """Member devices."""
    construction_seed: int = struct.field(pytree_node=False, default=0)
    """Seed of the device-to-device draws (0: drawn from the layer's key)."""
    update_policy: VectorUnitCellUpdatePolicy = struct.field(
        pytree_node=False, default=VectorUnitCellUpdatePolicy.ALL
    )
    """Rule that selects the members receiving each update."""
    first_update_idx: int = struct.field(pytree_node=False, default=0)
    """Member updated first (the only one with ``SINGLE_FIXED``)."""
    gamma_vec: tuple = ()
    """Weight of each member in the sum (empty: ``1 / n`` each)."""

    def __post_init__(self) -> None:
        _check_devices(self, 0)
        v.check_int(self, "construction_seed", low=0)
        v.coerce_enum(self, "update_policy", VectorUnitCellUpdatePolicy)
        last = max(len(self.unit_cell_devices) - 1, 0)
        v.check_int(self, "first_update_idx", low=0, high=last)
        _check_floats(self, "gamma_vec", len(self.unit_cell_devices))

    def check_support(self) -> None:
        """Raise ConfigError for member options that are not simulated yet."""
        if not self.unit_cell_devices:
            raise ConfigError(
                f"`{type(self).__name__}.unit_cell_devices` is empty; give at least "
                "one pulsed device, e.g. [ConstantStepDevice(), ConstantStepDevice()]."
            )
        for device in self.unit_cell_devices:
            device.check_support()


@struct.dataclass
class ReferenceUnitCell(VectorUnitCell):
    """Two devices read as ``w_0 - w_1``; only ``w_0`` is updated.

    A single device is duplicated and devices beyond the second are dropped,
    as in aihwkit.
    """

    update_policy: VectorUnitCellUpdatePolicy = struct.field(
        pytree_node=False, default=VectorUnitCellUpdatePolicy.SINGLE_FIXED
    )
    """Rule that selects the members receiving each update."""
    gamma_vec: tuple = (1.0, -1.0)
    """Weight of each member in the sum."""

    def __post_init__(self) -> None:
        _as_tuple(self, "unit_cell_devices")
        devices = self.unit_cell_devices
        if not devices:
            raise ConfigError(
                "`ReferenceUnitCell.unit_cell_devices` is empty; give one device "
                "(used twice) or two, e.g. [ConstantStepDevice()]."
            )
        if len(devices) == 1:
            object.__setattr__(self, "unit_cell_devices", (devices[0], devices[0]))
        elif len(devices) > 2:
            object.__setattr__(self, "unit_cell_devices", devices[:2])
        super().__post_init__()


@struct.dataclass
class OneSidedUnitCell:
    """A pair of devices that are only potentiated: ``w = g_plus - g_minus``.

    Only the first device's parameters are used; the pair draws them
    independently. A coincidence that should raise the weight pulses
    ``g_plus`` up, one that should lower it pulses ``g_minus`` up. With
    ``refresh_every > 0`` saturated pairs are read, reset and rewritten.
    """

    unit_cell_devices: tuple = ()
    """Member devices (only the first one's parameters are used)."""
    construction_seed: int = struct.field(pytree_node=False, default=0)
    """Seed of the device-to-device draws (0: drawn from the layer's key)."""
    refresh_every: int = struct.field(pytree_node=False, default=0)
    """Refresh period (0: never)."""
    units_in_mbatch: bool = struct.field(pytree_node=False, default=True)
    """Count ``refresh_every`` in mini-batches instead of samples."""
    refresh_upper_thres: float = 0.75
    """Upper threshold of the relative conductance that triggers a refresh."""
    refresh_lower_thres: float = 0.25
    """Lower threshold of the relative conductance that triggers a refresh."""
    refresh_forward: IOParameters = struct.field(default_factory=IOParameters)
    """Periphery of the refresh reads."""
    refresh_update: UpdateParameters = struct.field(default_factory=UpdateParameters)
    """Pulsed update of the refresh writes."""
    copy_inverted: bool = struct.field(pytree_node=False, default=False)
    """Give the second device the first one's draws, mirrored."""

    def __post_init__(self) -> None:
        _check_devices(self, 1)
        v.check_int(self, "construction_seed", low=0)
        v.check_int(self, "refresh_every", low=0)
        v.check_bool(self, "units_in_mbatch")
        v.check_bool(self, "copy_inverted")
        _check_numbers(
            self, ("refresh_upper_thres", "refresh_lower_thres"), low=0.0, high=1.0
        )
        upper, lower = self.refresh_upper_thres, self.refresh_lower_thres
        numbers = isinstance(upper, (int, float)) and isinstance(lower, (int, float))
        if numbers and upper <= lower:
            raise ConfigError(
                "`OneSidedUnitCell.refresh_upper_thres` must be larger than "
                f"`refresh_lower_thres`, got {upper!r} and {lower!r}."
            )
        v.check_type(self, "refresh_forward", IOParameters)
        v.check_type(self, "refresh_update", UpdateParameters)

    def check_support(self) -> None:
        """Raise ConfigError for options that are not simulated yet."""
        self.unit_cell_devices[0].check_support()
        if self.copy_inverted:
            raise ConfigError(
                "`OneSidedUnitCell.copy_inverted`=True is not simulated by aihw_jax "
                "yet; set copy_inverted=False."
            )
        if self.refresh_every:
            self.refresh_forward.check_support()
            self.refresh_update.check_support()


@struct.dataclass
class TransferCompound:
    """Tiki-Taka: a fast device learns, and its columns are copied to a slow one.

    Member 0 receives the gradient updates. Every ``transfer_every`` (in
    mini-batches with ``units_in_mbatch``) one column of a member is read
    with a forward MVM and written to the next member with a pulsed update.
    The weight is ``sum_k gamma_k w_k`` with ``gamma_k = gamma**(n-1-k)``, so
    the default ``gamma = 0`` shows only the last member.
    """

    unit_cell_devices: tuple = ()
    """Member devices: the fast one, then the slow one(s)."""
    construction_seed: int = struct.field(pytree_node=False, default=0)
    """Seed of the device-to-device draws (0: drawn from the layer's key)."""
    gamma: float = 0.0
    """Weight of the members before the last one."""
    gamma_vec: tuple = ()
    """Explicit weight of each member (overrides ``gamma``)."""
    transfer_every: float = 1.0
    """Period of the transfer from member 0 (0: never)."""
    no_self_transfer: bool = struct.field(pytree_node=False, default=True)
    """The last member does not transfer onto itself."""
    transfer_every_vec: tuple = ()
    """Explicit period of each member's transfer."""
    units_in_mbatch: bool = struct.field(pytree_node=False, default=True)
    """Count periods in mini-batches instead of samples."""
    n_reads_per_transfer: int = struct.field(pytree_node=False, default=1)
    """Consecutive columns read and written per transfer."""
    transfer_columns: bool = struct.field(pytree_node=False, default=True)
    """Transfer columns (forward reads); False would transfer rows."""
    with_reset_prob: float = 0.0
    """Probability of resetting the read columns of the source."""
    random_selection: bool = struct.field(pytree_node=False, default=False)
    """Start each transfer at a random column instead of the running pointer."""
    fast_lr: float = 1.0
    """Learning rate of the updates of member 0."""
    transfer_lr: float = 1.0
    """Learning rate of the transfer writes."""
    transfer_lr_vec: tuple = ()
    """Explicit transfer learning rate of each member."""
    scale_transfer_lr: bool = struct.field(pytree_node=False, default=True)
    """Multiply the transfer learning rate by the optimizer's."""
    scale_fast_lr: bool = struct.field(pytree_node=False, default=True)
    """Multiply ``fast_lr`` by the optimizer's learning rate."""
    transfer_forward: IOParameters = struct.field(default_factory=IOParameters)
    """Periphery of the transfer reads (noise and bound management are off)."""
    transfer_update: UpdateParameters = struct.field(default_factory=UpdateParameters)
    """Pulsed update of the transfer writes."""

    def __post_init__(self) -> None:
        _check_devices(self, 2)
        n = len(self.unit_cell_devices)
        v.check_int(self, "construction_seed", low=0)
        v.check_int(self, "n_reads_per_transfer", low=1)
        for name in (
            "no_self_transfer",
            "units_in_mbatch",
            "transfer_columns",
            "random_selection",
            "scale_transfer_lr",
            "scale_fast_lr",
        ):
            v.check_bool(self, name)
        v.check_number(self, "gamma", low=0.0)
        v.check_number(self, "transfer_every")
        v.check_number(self, "with_reset_prob", low=0.0, high=1.0)
        _check_numbers(self, ("fast_lr", "transfer_lr"), low=0.0)
        _check_floats(self, "gamma_vec", n)
        _check_floats(self, "transfer_every_vec", n, low=0.0)
        _check_floats(self, "transfer_lr_vec", n, low=0.0)
        if not isinstance(self, ChoppedTransferCompound):
            # Only the chopped compounds give a negative period a meaning.
            v.check_number(
                self,
                "transfer_every",
                low=0.0,
                allowed=">= 0 (0: never transfer)",
            )
        v.check_type(self, "transfer_forward", IOParameters)
        v.check_type(self, "transfer_update", UpdateParameters)

    def check_support(self) -> None:
        """Raise ConfigError for options that are not simulated yet."""
        for device in self.unit_cell_devices:
            device.check_support()
        self.transfer_forward.check_support()
        self.transfer_update.check_support()
        if not self.transfer_columns:
            # TODO: row transfers (backward reads) are not simulated.
            raise ConfigError(
                f"`{type(self).__name__}.transfer_columns`=False (row transfers) is "
                "not simulated by aihw_jax yet; set transfer_columns=True."
            )


@struct.dataclass
class BufferedTransferCompound(TransferCompound):
    """Tiki-Taka v2 in its original form: transfers collect in a digital buffer.

    A read column is added to a float buffer. Where the buffer passes the
    threshold ``thres_scale`` times the slow device's step, single pulses
    are written and the buffer is reduced.
    """

    thres_scale: float = 1.0
    """Buffer threshold in units of the slow device's step."""
    step: float = 1.0
    """Size of a write in units of the slow device's step."""
    momentum: float = 0.1
    """Fraction of the buffer kept after a write."""
    forget_buffer: bool = struct.field(pytree_node=False, default=True)
    """Set the buffer to ``momentum * H`` after a write."""
    transfer_update: UpdateParameters = struct.field(
        default_factory=_single_pulse_update
    )
    """Pulsed update of the transfer writes."""

    def __post_init__(self) -> None:
        super().__post_init__()
        v.check_bool(self, "forget_buffer")
        _check_numbers(self, ("thres_scale", "step"), low=0.0, low_open=True)
        v.check_number(self, "momentum", low=0.0, high=1.0)


@struct.dataclass
class ChoppedTransferCompound(TransferCompound):
    """Chopped Tiki-Taka v2 (c-TTv2): buffered transfers with sign choppers.

    The fast device learns ``c_out_i c_in_j`` times the gradient. The input
    chopper of a column flips at random (``in_chop_prob``) after the column
    is read, and reads are de-chopped before they enter the buffer.
    ``in_chop_prob = 0`` gives TTv2. Exactly two members.
    """

    in_chop_prob: float = 0.1
    """Probability (or frequency) of flipping a column's input chopper."""
    in_chop_random: bool = struct.field(pytree_node=False, default=True)
    """Flip at random instead of regularly."""
    out_chop_prob: float = 0.0
    """Probability of flipping each output chopper after a full sweep."""
    buffer_granularity: float = 1.0
    """Buffer threshold in units of the fast device's step."""
    auto_granularity: float = 0.0
    """If > 0, scale the threshold by ``auto_granularity / (in_size * period)``."""
    step: float = 1.0
    """Size of a write in units of the slow device's step."""
    momentum: float = 0.0
    """Fraction of the buffer kept after a write."""
    forget_buffer: bool = struct.field(pytree_node=False, default=True)
    """Set the buffer to ``momentum * H`` after a write."""
    no_buffer: bool = struct.field(pytree_node=False, default=False)
    """Ignore the buffer (single-pulse writes of each read)."""
    units_in_mbatch: bool = struct.field(pytree_node=False, default=False)
    """Count periods in mini-batches instead of samples."""
    auto_scale: bool = struct.field(pytree_node=False, default=False)
    """Normalise the fast learning rate by running maxima of ``|x|`` and ``|d|``."""
    auto_momentum: float = 0.99
    """Momentum of those running maxima."""
    correct_gradient_magnitudes: bool = struct.field(pytree_node=False, default=False)
    """Divide the transfer by the fast learning rate."""
    scale_fast_lr: bool = struct.field(pytree_node=False, default=False)
    """Multiply ``fast_lr`` by the optimizer's learning rate."""
    transfer_update: UpdateParameters = struct.field(
        default_factory=_single_pulse_update
    )
    """Pulsed update of the transfer writes; ``desired_bl`` caps the pulses per write."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if len(self.unit_cell_devices) != 2:
            raise ConfigError(
                f"`{name}.unit_cell_devices` must hold exactly 2 devices, got "
                f"{len(self.unit_cell_devices)}."
            )
        if self.n_reads_per_transfer != 1 or self.random_selection:
            raise ConfigError(
                f"`{name}` reads one column at a time in order: set "
                "n_reads_per_transfer=1 and random_selection=False."
            )
        for flag in (
            "in_chop_random",
            "forget_buffer",
            "no_buffer",
            "auto_scale",
            "correct_gradient_magnitudes",
        ):
            v.check_bool(self, flag)
        _check_numbers(self, ("in_chop_prob", "out_chop_prob"), low=0.0, high=1.0)
        _check_numbers(
            self, ("buffer_granularity", "auto_granularity", "step"), low=0.0
        )
        v.check_number(self, "momentum", low=0.0, high=1.0)
        v.check_number(self, "auto_momentum", low=0.0, high=1.0)

        reset = self.with_reset_prob
        if isinstance(reset, (int, float)) and reset != 0:
            raise ConfigError(
                f"`{name}.with_reset_prob` must be 0: chopped transfers do not reset "
                f"the fast device; got {reset!r}."
            )


@struct.dataclass
class DynamicTransferCompound(ChoppedTransferCompound):
    """AGAD: chopped transfers of the read's change since the last chopper period.

    Each read is compared with the running mean of the column's reads in
    the previous chopper period, which removes the fast device's offset.
    Choppers flip regularly by default.
    """

    in_chop_random: bool = struct.field(pytree_node=False, default=False)
    """Flip at random instead of regularly."""
    experimental_correct_accumulation: bool = struct.field(
        pytree_node=False, default=False
    )
    """Divide the transfer by the reads accumulated in the period."""
    buffer_cap: float = 0.0
    """Cap of ``|buffer|`` in units of ``desired_bl`` (0: none)."""
    tail_weightening: float = 5.0
    """Weight of the latest reads in the running mean."""

    def __post_init__(self) -> None:
        super().__post_init__()
        v.check_bool(self, "experimental_correct_accumulation")
        v.check_number(self, "buffer_cap", low=0.0)
        v.check_number(self, "tail_weightening", low=0.0, low_open=True)
        v.check_number(self, "in_chop_prob", low=0.0, high=1.0, low_open=True)
        v.check_number(self, "auto_momentum", low=0.0, high=1.0, low_open=True)


@struct.dataclass
class MixedPrecisionCompound:
    """Mixed precision: updates collect in a digital matrix, then pulse the device.

    The outer products ``lr d x^T`` add up in a float matrix ``chi``. Every
    ``transfer_every`` mini-batches, each row's whole multiples of the
    granularity are written to the analog device as pulses and removed from
    ``chi``. Forward and backward MVMs use the analog device only.
    """

    device: Any = struct.field(default_factory=lambda: VectorUnitCell())
    """The analog device: a pulsed device or a unit cell."""
    construction_seed: int = struct.field(pytree_node=False, default=0)
    """Seed of the device-to-device draws (0: drawn from the layer's key)."""
    transfer_every: int = struct.field(pytree_node=False, default=1)
    """Mini-batches between transfers (0: never)."""
    n_rows_per_transfer: int = struct.field(pytree_node=False, default=-1)
    """Rows written per transfer (-1: all)."""
    random_row: bool = struct.field(pytree_node=False, default=False)
    """Start at a random row instead of the running pointer."""
    granularity: float = 0.0
    """Threshold of ``chi`` per pulse (0: the device's granularity)."""
    transfer_lr: float = 1.0
    """Scale of the transfer writes."""
    n_x_bins: int = struct.field(pytree_node=False, default=0)
    """Quantisation bins of ``x`` before accumulation (0: none)."""
    n_d_bins: int = struct.field(pytree_node=False, default=0)
    """Quantisation bins of ``d`` before accumulation (0: none)."""
    stoc_round_x: bool = struct.field(pytree_node=False, default=True)
    """Round ``x`` stochastically when quantising."""
    stoc_round_d: bool = struct.field(pytree_node=False, default=True)
    """Round ``d`` stochastically when quantising."""

    def __post_init__(self) -> None:
        if not isinstance(
            self.device, (PulsedDevice, VectorUnitCell, OneSidedUnitCell)
        ):
            raise ConfigError(
                "`MixedPrecisionCompound.device` must be a pulsed device or a "
                f"VectorUnitCell or OneSidedUnitCell, got {type(self.device).__name__}."
            )
        v.check_int(self, "construction_seed", low=0)
        v.check_int(self, "transfer_every", low=0)
        v.check_int(self, "n_rows_per_transfer", low=-1)
        for name in ("n_x_bins", "n_d_bins"):
            v.check_int(self, name, low=0)
            if getattr(self, name) == 1:
                raise ConfigError(
                    f"`MixedPrecisionCompound.{name}` must be 0 (no quantisation) or "
                    "at least 2, got 1."
                )
        for name in ("random_row", "stoc_round_x", "stoc_round_d"):
            v.check_bool(self, name)
        v.check_number(self, "granularity", low=0.0)
        v.check_number(self, "transfer_lr", low=0.0)

    def check_support(self) -> None:
        """Raise ConfigError for options that are not simulated yet."""
        if (
            isinstance(self.device, VectorUnitCell)
            and not self.device.unit_cell_devices
        ):
            raise ConfigError(
                "`MixedPrecisionCompound.device` is an empty VectorUnitCell; give the "
                "analog device, e.g. MixedPrecisionCompound(device=EcRamPresetDevice())."
            )
        if self.n_rows_per_transfer == 0:
            raise ConfigError(
                "`MixedPrecisionCompound.n_rows_per_transfer` must be -1 (all rows) or "
                "positive, got 0."
            )
        self.device.check_support()

"""Device parameters: the resistive devices at the cross-points of a tile."""

from __future__ import annotations

from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.parameters import _validation as v

__all__ = [
    "ConstantStepDevice",
    "FloatingPointDevice",
    "IdealDevice",
    "PulsedDevice",
]


@struct.dataclass
class FloatingPointDevice:
    """An ideal device: exact floating-point updates, no bounds."""

    diffusion: float = 0.0
    """Std of the Gaussian diffusion applied after each update."""
    lifetime: float = 0.0
    """Decay lifetime in mini-batches (0: no decay)."""

    def __post_init__(self) -> None:
        v.check_number(self, "diffusion", low=0.0)
        v.check_number(self, "lifetime", low=0.0)


@struct.dataclass
class IdealDevice(FloatingPointDevice):
    """aihwkit's ``IdealDevice``: like FloatingPointDevice, with a reset std."""

    construction_seed: int = struct.field(pytree_node=False, default=0)
    """Seed of the device-to-device draws (0: drawn from the layer's key)."""
    reset_std: float = 0.01
    """Std of a reset event."""


@struct.dataclass
class PulsedDevice:
    """Parameters shared by all pulsed devices, with aihwkit's defaults.

    Spreads named ``*_dtod`` are drawn once per cross-point when the tile is
    created; ``dw_min_std`` is drawn afresh for every pulse. Relative spreads
    are fractions of the mean value.
    """

    construction_seed: int = struct.field(pytree_node=False, default=0)
    """Seed of the device-to-device draws (0: drawn from the layer's key)."""
    dw_min: float = 0.001
    """Mean weight change of one pulse."""
    dw_min_dtod: float = 0.3
    """Device-to-device spread of the step size (relative)."""
    dw_min_dtod_log_normal: bool = struct.field(pytree_node=False, default=False)
    """Draw the step gain as ``exp(dw_min_dtod * xi)`` instead of ``1 + ...``."""
    dw_min_std: float = 0.3
    """Cycle-to-cycle std of each step (relative to the step)."""
    up_down: float = 0.0
    """Systematic up/down asymmetry, in units of ``dw_min``."""
    up_down_dtod: float = 0.01
    """Device-to-device spread of the asymmetry, in units of ``dw_min``."""
    w_max: float = 0.6
    """Mean upper weight bound."""
    w_max_dtod: float = 0.3
    """Device-to-device spread of ``w_max`` (relative)."""
    w_min: float = -0.6
    """Mean lower weight bound."""
    w_min_dtod: float = 0.3
    """Device-to-device spread of ``w_min`` (relative)."""
    enforce_consistency: bool = struct.field(pytree_node=False, default=True)
    """Make drawn steps positive and bounds straddle zero."""
    perfect_bias: bool = struct.field(pytree_node=False, default=False)
    """Ideal steps and bounds for an analog bias column."""
    lifetime: float = 0.0
    """Mean decay lifetime in mini-batches (0: no decay)."""
    lifetime_dtod: float = 0.0
    """Device-to-device spread of the lifetime (relative)."""
    diffusion: float = 0.0
    """Std of the diffusion applied once per mini-batch (weight units)."""
    diffusion_dtod: float = 0.0
    """Device-to-device spread of the diffusion rate (relative)."""
    reset: float = 0.0
    """Mean reset value, also the target of decay."""
    reset_dtod: float = 0.0
    """Device-to-device spread of the reset value (absolute)."""
    reset_std: float = 0.01
    """Cycle-to-cycle std of a reset event (absolute)."""
    corrupt_devices_prob: float = 0.0
    """Probability that a cross-point is stuck at a random value."""
    corrupt_devices_range: float = 0.1
    """Range around zero of the stuck values."""

    def __post_init__(self) -> None:
        v.check_int(self, "construction_seed", low=0)
        for name in (
            "dw_min_dtod_log_normal",
            "enforce_consistency",
            "perfect_bias",
        ):
            v.check_bool(self, name)
        v.check_number(self, "dw_min", low=0.0, low_open=True)
        for name in (
            "dw_min_dtod",
            "dw_min_std",
            "up_down_dtod",
            "w_max",
            "w_max_dtod",
            "w_min_dtod",
            "lifetime",
            "lifetime_dtod",
            "diffusion",
            "diffusion_dtod",
            "reset_dtod",
            "reset_std",
            "corrupt_devices_range",
        ):
            v.check_number(self, name, low=0.0)
        v.check_number(self, "w_min", high=0.0)
        v.check_number(self, "up_down")
        v.check_number(self, "reset")
        v.check_number(self, "corrupt_devices_prob", low=0.0, high=1.0)

    def check_support(self) -> None:
        """Raise ConfigError for options that are valid but not simulated yet."""
        if self.perfect_bias:
            raise ConfigError(
                f"`{type(self).__name__}.perfect_bias`=True needs an analog bias, "
                "which aihw_jax does not simulate yet; set perfect_bias=False."
            )


@struct.dataclass
class ConstantStepDevice(PulsedDevice):
    """Pulsed device whose step does not depend on the weight (aihwkit default).

    An up pulse adds ``dw_up * (1 + dw_min_std * xi)`` and a down pulse
    subtracts ``dw_down * (1 + dw_min_std * xi)``, then the weight is clipped
    to the device's own bounds.
    """

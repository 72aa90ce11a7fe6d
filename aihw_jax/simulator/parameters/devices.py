"""Device parameters: the resistive devices at the cross-points of a tile."""

from __future__ import annotations

import dataclasses
import math

from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.parameters import _validation as v

__all__ = [
    "ConstantStepDevice",
    "ExpStepDevice",
    "FloatingPointDevice",
    "IdealDevice",
    "LinearStepDevice",
    "PiecewiseStepDevice",
    "PowStepDevice",
    "PowStepReferenceDevice",
    "PulsedDevice",
    "SoftBoundsDevice",
    "SoftBoundsPmaxDevice",
    "SoftBoundsReferenceDevice",
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


@struct.dataclass
class LinearStepDevice(PulsedDevice):
    """Pulsed device whose step shrinks linearly towards its bound.

    The step magnitude is ``dw * (1 - gamma * w / reference)`` in each
    direction, where the reference is the mean bound (or the device's own
    bound if ``mean_bound_reference`` is False). ``gamma = 1`` gives a zero
    step at the bound.
    """

    gamma_up: float = 0.0
    """Mean slope of the up-step decrease."""
    gamma_down: float = 0.0
    """Mean slope of the down-step decrease."""
    gamma_up_dtod: float = 0.05
    """Device-to-device spread of ``gamma_up`` (absolute)."""
    gamma_down_dtod: float = 0.05
    """Device-to-device spread of ``gamma_down`` (absolute)."""
    allow_increasing: bool = struct.field(pytree_node=False, default=False)
    """Allow drawn slopes that make the step grow towards the bound."""
    mean_bound_reference: bool = struct.field(pytree_node=False, default=True)
    """Use the mean bounds ``w_max``/``w_min`` as references of the slopes."""
    mult_noise: bool = struct.field(pytree_node=False, default=True)
    """Scale the cycle-to-cycle noise with the state-dependent step."""
    write_noise_std: float = 0.0
    """Std of the write noise, in units of ``dw_min``."""
    apply_write_noise_on_set: bool = struct.field(pytree_node=False, default=True)
    """Draw write noise when weights are set."""
    reverse_up: bool = struct.field(pytree_node=False, default=False)
    """Let the up step shrink towards the lower bound instead."""
    reverse_down: bool = struct.field(pytree_node=False, default=False)
    """Let the down step shrink towards the upper bound instead."""
    reverse_offset: float = 0.01
    """Offset of the reference used by ``reverse_up``/``reverse_down``."""


@struct.dataclass
class SoftBoundsDevice(PulsedDevice):
    """Pulsed device whose step shrinks to zero at the device's own bounds.

    Up: ``w += dw_up * (1 - w / b_max)``, down: ``w -= dw_down * (1 - w / b_min)``,
    both with cycle-to-cycle noise.
    """

    mult_noise: bool = struct.field(pytree_node=False, default=True)
    """Scale the cycle-to-cycle noise with the state-dependent step."""
    write_noise_std: float = 0.0
    """Std of the write noise, in units of ``dw_min``."""
    apply_write_noise_on_set: bool = struct.field(pytree_node=False, default=True)
    """Draw write noise when weights are set."""
    reverse_up: bool = struct.field(pytree_node=False, default=False)
    """Let the up step shrink towards the lower bound instead."""
    reverse_down: bool = struct.field(pytree_node=False, default=False)
    """Let the down step shrink towards the upper bound instead."""
    reverse_offset: float = 0.01
    """Offset of the reference used by ``reverse_up``/``reverse_down``."""


@struct.dataclass
class SoftBoundsPmaxDevice(SoftBoundsDevice):
    """Soft-bounds device given by its pulse count ``p_max`` and range.

    ``w_min``, ``w_max``, ``dw_min`` and ``up_down`` are derived from
    ``p_max``, ``alpha``, ``range_min`` and ``range_max`` (values given for
    them are ignored, as in aihwkit); see :meth:`as_soft_bounds`.
    """

    p_max: float = 1000.0
    """Number of pulses from ``range_min`` to the upper bound."""
    alpha: float = 0.0005
    """Step size relative to the bound range."""
    range_min: float = -1.0
    """Lower end of the range."""
    range_max: float = 1.0
    """Upper end of the range reached after ``p_max`` pulses."""

    def as_soft_bounds(self) -> SoftBoundsDevice:
        """Return the equivalent SoftBoundsDevice."""
        span = (self.range_max - self.range_min) / (
            1.0 - math.exp(-self.p_max * self.alpha)
        )
        fields = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(SoftBoundsDevice)
        }
        fields.update(
            w_min=self.range_min,
            w_max=self.range_min + span,
            dw_min=span * self.alpha,
            up_down=1.0 + 2.0 * self.range_min / span,
        )
        return SoftBoundsDevice(**fields)


@struct.dataclass
class SoftBoundsReferenceDevice(PulsedDevice):
    """Soft-bounds device read against a reference conductance.

    The visible weight is the device value minus a reference drawn once per
    cross-point. The slopes' spread is drawn as a change of the bounds.
    """

    mult_noise: bool = struct.field(pytree_node=False, default=False)
    """Scale the cycle-to-cycle noise with the state-dependent step."""
    write_noise_std: float = 0.0
    """Std of the write noise, in units of ``dw_min``."""
    apply_write_noise_on_set: bool = struct.field(pytree_node=False, default=True)
    """Draw write noise when weights are set."""
    slope_up_dtod: float = 0.0
    """Device-to-device spread of the up slope (relative)."""
    slope_down_dtod: float = 0.0
    """Device-to-device spread of the down slope (relative)."""
    reference_mean: float = 0.0
    """Mean of the reference."""
    reference_std: float = 0.0
    """Device-to-device spread of the reference."""
    subtract_symmetry_point: bool = struct.field(pytree_node=False, default=False)
    """Add each device's symmetry point to its reference."""


@struct.dataclass
class ExpStepDevice(PulsedDevice):
    """Pulsed device whose step falls exponentially towards each bound.

    With ``z = 2 a w / (b_max - b_min) + b``, the up step is scaled by
    ``max(1 - A_up exp(gamma_up z), 0)`` and the down step by
    ``max(1 - A_down exp(-gamma_down z), 0)``. The exponential parameters
    are the same for every device of a tile.
    """

    A_up: float = 0.00081
    """Amplitude of the up-step decrease."""
    A_down: float = 0.36833
    """Amplitude of the down-step decrease."""
    gamma_up: float = 12.44625
    """Exponent of the up-step decrease."""
    gamma_down: float = 12.78785
    """Exponent of the down-step decrease."""
    a: float = 0.244
    """Scale of the weight in ``z``."""
    b: float = 0.2425
    """Offset of ``z``."""
    dw_min_std_add: float = 0.0
    """Additive cycle-to-cycle noise (times ``dw_min_std``)."""
    dw_min_std_slope: float = 0.0
    """Cycle-to-cycle noise proportional to ``|w|`` (times ``dw_min_std``)."""
    write_noise_std: float = 0.0
    """Std of the write noise, in units of ``dw_min``."""
    apply_write_noise_on_set: bool = struct.field(pytree_node=False, default=True)
    """Draw write noise when weights are set."""


@struct.dataclass
class PowStepDevice(PulsedDevice):
    """Pulsed device whose step follows a power of the distance to the bound.

    With ``R = b_max - b_min``: up ``w += dw_up ((b_max - w) / R) ** gamma_up``,
    down ``w -= dw_down ((w - b_min) / R) ** gamma_down``.
    """

    pow_gamma: float = 1.0
    """Mean exponent."""
    pow_gamma_dtod: float = 0.1
    """Device-to-device spread of the exponent (relative)."""
    pow_up_down: float = 0.0
    """Up/down asymmetry of the exponent."""
    pow_up_down_dtod: float = 0.0
    """Device-to-device spread of the exponent asymmetry."""
    write_noise_std: float = 0.0
    """Std of the write noise, in units of ``dw_min``."""
    apply_write_noise_on_set: bool = struct.field(pytree_node=False, default=True)
    """Draw write noise when weights are set."""


@struct.dataclass
class PowStepReferenceDevice(PulsedDevice):
    """Power-step device read against a reference conductance (no write noise)."""

    pow_gamma: float = 1.0
    """Mean exponent."""
    pow_gamma_dtod: float = 0.1
    """Device-to-device spread of the exponent (relative)."""
    pow_up_down: float = 0.0
    """Up/down asymmetry of the exponent."""
    pow_up_down_dtod: float = 0.0
    """Device-to-device spread of the exponent asymmetry."""
    reference_mean: float = 0.0
    """Mean of the reference."""
    reference_std: float = 0.0
    """Device-to-device spread of the reference."""
    subtract_symmetry_point: bool = struct.field(pytree_node=False, default=False)
    """Add each device's symmetry point (found numerically) to its reference."""
    n_estimation_steps: int = struct.field(pytree_node=False, default=-1)
    """Steps of the symmetry-point search (-1: from the step size, at most 10000)."""


@struct.dataclass
class PiecewiseStepDevice(PulsedDevice):
    """Pulsed device whose step factor is interpolated from a table over the range.

    The tables give the step factor at equally spaced points from ``b_min``
    to ``b_max``, one for each direction.
    """

    piecewise_up: tuple[float, ...] = struct.field(pytree_node=False, default=(1.0,))
    """Up-step factors over the weight range."""
    piecewise_down: tuple[float, ...] = struct.field(pytree_node=False, default=(1.0,))
    """Down-step factors over the weight range."""
    write_noise_std: float = 0.0
    """Std of the write noise, in units of ``dw_min``."""
    apply_write_noise_on_set: bool = struct.field(pytree_node=False, default=True)
    """Draw write noise when weights are set."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("piecewise_up", "piecewise_down"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(float(item) for item in value))
            elif not isinstance(value, tuple) or not value:
                raise ConfigError(
                    f"`PiecewiseStepDevice.{name}` must be a non-empty list of numbers, "
                    f"got {value!r}."
                )
        if len(self.piecewise_up) != len(self.piecewise_down):
            raise ConfigError(
                "`PiecewiseStepDevice.piecewise_up` and `piecewise_down` must have the "
                f"same length, got {len(self.piecewise_up)} and {len(self.piecewise_down)}."
            )

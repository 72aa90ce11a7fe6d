"""IOParameters: the peripheral circuits (DAC, ADC, noise) of an analog MVM."""

from __future__ import annotations

import math

from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.parameters import _validation as v
from aihw_jax.simulator.parameters.enums import (
    AnalogMVType,
    BoundManagementType,
    NoiseManagementType,
    WeightNoiseType,
)

__all__ = ["IOParameters"]


@struct.dataclass
class IOParameters:
    """Parameters of the forward or backward analog matrix-vector product.

    Field names and defaults follow aihwkit's ``IOParameters``. Floats are
    pytree leaves, so ``jax.vmap`` can sweep them; enums, flags and
    ``max_bm_factor`` are static. Resolutions are fractions of the full range
    ``[-bound, bound]``; a value above 1 is read as a number of steps, and 0
    turns quantisation off.
    """

    is_perfect: bool = struct.field(pytree_node=False, default=False)
    """Exact floating-point MVM; only ``out_scale`` is applied."""
    mv_type: AnalogMVType = struct.field(
        pytree_node=False, default=AnalogMVType.ONE_PASS
    )
    """Form of the MVM. ``IDEAL`` is the same as ``is_perfect``."""
    inp_bound: float = 1.0
    """DAC range ``[-inp_bound, inp_bound]``; 0 or less means unbounded."""
    inp_res: float = 1 / (2**7 - 2)
    """DAC resolution (fraction of the range, or number of steps if > 1)."""
    inp_sto_round: bool = struct.field(pytree_node=False, default=False)
    """Stochastic rounding in the DAC."""
    inp_noise: float = 0.0
    """Std of Gaussian noise added to each DAC output."""
    inp_asymmetry: float = 0.0
    """Negative DAC outputs are multiplied by ``1 - inp_asymmetry``."""
    out_bound: float = 12.0
    """ADC range ``[-out_bound, out_bound]``; 0 or less means unbounded."""
    out_res: float = 1 / (2**9 - 2)
    """ADC resolution (fraction of the range, or number of steps if > 1)."""
    out_sto_round: bool = struct.field(pytree_node=False, default=False)
    """Stochastic rounding in the ADC."""
    out_noise: float = 0.06
    """Std of Gaussian noise added to each analog output before the ADC."""
    out_noise_std: float = 0.0
    """Output-to-output variation of ``out_noise`` (not supported yet)."""
    out_scale: float = 1.0
    """Digital factor applied to the final output."""
    out_asymmetry: float = 0.0
    """Negative analog outputs are multiplied by ``1 - out_asymmetry``."""
    bound_management: BoundManagementType = struct.field(
        pytree_node=False, default=BoundManagementType.ITERATIVE
    )
    """Handling of saturated outputs (never applied in the backward pass)."""
    noise_management: NoiseManagementType = struct.field(
        pytree_node=False, default=NoiseManagementType.ABS_MAX
    )
    """Scaling of each input vector before the DAC."""
    nm_thres: float = 0.0
    """Scale for ``CONSTANT``; otherwise an upper cap of the scale (0: none)."""
    w_noise: float = 0.0
    """Strength of the output-referred weight noise."""
    w_noise_type: WeightNoiseType = struct.field(
        pytree_node=False, default=WeightNoiseType.NONE
    )
    """Kind of output-referred weight noise."""
    ir_drop: float = 0.0
    """Scale of the IR-drop model (0: off)."""
    ir_drop_g_ratio: float = 1 / 0.35 / 5e-6
    """Ratio of wire conductance to the device's maximal conductance."""
    out_nonlinearity: float = 0.0
    """S-shaped output nonlinearity (not supported yet)."""
    out_nonlinearity_std: float = 0.0
    """Output-to-output variation of the nonlinearity (not supported yet)."""
    slope_calibration: float = 0.0
    """Gain calibration of the nonlinearity (not supported yet)."""
    v_offset_std: float = 0.0
    """Per-output voltage-offset variation (not supported yet)."""
    v_offset_w_min: float = -1.0
    """Reference-device weight for voltage offsets."""
    r_series: float = 0.0
    """Series resistance (not supported yet)."""
    w_read_asymmetry_dtod: float = 0.0
    """Per-device polarity read asymmetry (only for POS_NEG modes)."""
    max_bm_factor: int = struct.field(pytree_node=False, default=1000)
    """Bound management stops once the input reduction exceeds this factor."""
    max_bm_res: float = 0.25
    """Bound management stops once the reduction exceeds this over the DAC step."""
    bm_test_negative_bound: bool = struct.field(pytree_node=False, default=True)
    """Whether clipping at ``-out_bound`` also triggers bound management."""

    def __post_init__(self) -> None:
        v.check_bool(self, "is_perfect")
        v.check_bool(self, "inp_sto_round")
        v.check_bool(self, "out_sto_round")
        v.check_bool(self, "bm_test_negative_bound")
        v.coerce_enum(self, "mv_type", AnalogMVType)
        v.coerce_enum(self, "bound_management", BoundManagementType)
        v.coerce_enum(self, "noise_management", NoiseManagementType)
        v.coerce_enum(self, "w_noise_type", WeightNoiseType)
        v.check_int(self, "max_bm_factor", low=1, high=2**30)
        for name in ("inp_bound", "out_bound", "v_offset_w_min"):
            v.check_number(self, name)
        v.check_number(self, "ir_drop_g_ratio", low=0.0, low_open=True)
        for name in ("inp_res", "out_res", "max_bm_res"):
            v.check_number(self, name, low=0.0)
        for name in (
            "inp_noise",
            "out_noise",
            "out_noise_std",
            "nm_thres",
            "w_noise",
            "ir_drop",
            "out_nonlinearity",
            "out_nonlinearity_std",
            "slope_calibration",
            "v_offset_std",
            "r_series",
            "w_read_asymmetry_dtod",
        ):
            v.check_number(self, name, low=0.0)
        for name in ("inp_asymmetry", "out_asymmetry"):
            v.check_number(self, name, low=-math.inf, high=1.0)
        v.check_number(self, "out_scale")

    def check_support(self) -> None:
        """Raise ConfigError for options that are valid but not simulated yet.

        Raises:
            ConfigError: naming the option and how to turn it off.
        """
        unsupported = {
            "out_noise_std": self.out_noise_std,
            "out_nonlinearity": self.out_nonlinearity,
            "out_nonlinearity_std": self.out_nonlinearity_std,
            "slope_calibration": self.slope_calibration,
            "v_offset_std": self.v_offset_std,
            "r_series": self.r_series,
            "w_read_asymmetry_dtod": self.w_read_asymmetry_dtod,
        }
        for name, value in unsupported.items():
            array = v._concrete(value)
            if array is not None and (array != 0).any():
                raise ConfigError(
                    f"`IOParameters.{name}`={value!r} is not simulated by aihw_jax "
                    f"yet; set it to 0."
                )
        if self.mv_type in (
            AnalogMVType.POS_NEG_SEPARATE,
            AnalogMVType.POS_NEG_SEPARATE_DIGITAL_SUM,
        ):
            raise ConfigError(
                f"`IOParameters.mv_type`={self.mv_type.name} is not simulated by "
                "aihw_jax yet; use ONE_PASS or IDEAL."
            )
        perfect = self.is_perfect or self.mv_type is AnalogMVType.IDEAL
        bound = v._concrete(self.inp_bound)
        managed = self.noise_management is not NoiseManagementType.NONE
        if not perfect and managed and bound is not None and (bound != 1.0).any():
            raise ConfigError(
                f"`IOParameters.inp_bound` must be 1.0 when noise_management is "
                f"{self.noise_management.name}, got {self.inp_bound!r}; set "
                "inp_bound=1.0 or noise_management='NONE'."
            )

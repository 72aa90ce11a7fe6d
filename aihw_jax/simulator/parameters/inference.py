"""Parameters of hardware-aware training: modifier, clipping, remapping, input range.

Field names, order and defaults follow aihwkit 1.2.0. Floats are pytree
leaves, so ``jax.vmap`` can sweep them. Types, flags and counts are static.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np
from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.parameters import _validation as v
from aihw_jax.simulator.parameters.inference_enums import (
    WeightClipType,
    WeightModifierType,
    WeightRemapType,
)

__all__ = [
    "InputRangeParameter",
    "PrePostProcessingParameter",
    "WeightClipParameter",
    "WeightModifierParameter",
    "WeightRemapParameter",
]

DEFAULT_POLY_COEFFS = (0.0105392, 0.0768, -0.046925)
"""aihwkit 1.2.0's default ``coeffs`` of the POLY and PROG_NOISE std polynomial.

The first is 0.26348 µS / 25 µS, the constant term of aihwkit's PCM
programming-noise fit at ``g_max`` = 25 µS.
"""


@struct.dataclass
class WeightModifierParameter:
    """Perturbation of the weights during hardware-aware training.

    aihwkit's InferenceTile draws a modified copy of the weights once per
    optimizer step and uses it in the next training forward and backward
    passes, while the optimizer updates the unmodified weights. Evaluation
    uses the unmodified weights unless ``enable_during_test`` is set.
    :func:`aihw_jax.simulator.tiles.transforms.modify_weights` draws the copy.
    """

    std_dev: float = 0.0
    """Noise strength, relative to the reference magnitude ``a``."""
    per_batch_sample: bool = struct.field(pytree_node=False, default=False)
    """Whether to draw one modified weight per sample (aihwkit's torch tile only)."""
    res: float = 0.0
    """Quantisation step, as a fraction of ``a`` (DISCRETIZE) or absolute (DOREFA)."""
    sto_round: bool = struct.field(pytree_node=False, default=False)
    """Whether DISCRETIZE, DISCRETIZE_ADD_NORMAL and DOREFA round stochastically."""
    dorefa_clip: float = 0.6
    """Value to which DOREFA maps the weight of magnitude ``a``."""
    pdrop: float = 0.0
    """Probability of setting a weight to zero (drop connect), ignored by NONE."""
    enable_during_test: bool = struct.field(pytree_node=False, default=False)
    """Whether evaluation uses the modified weights too."""
    rel_to_actual_wmax: bool = struct.field(pytree_node=False, default=True)
    """Whether ``a`` is the weights' absolute maximum (else ``assumed_wmax``)."""
    assumed_wmax: float = 1.0
    """Reference magnitude ``a`` when ``rel_to_actual_wmax`` is False."""
    copy_last_column: bool = struct.field(pytree_node=False, default=False)
    """Whether the last column (an analog bias) stays unmodified and out of ``a``."""
    coeffs: tuple[float, ...] = DEFAULT_POLY_COEFFS
    """Coefficients ``c`` of the POLY and PROG_NOISE std ``sum_k c[k] (|w| / a)**k``."""
    type: WeightModifierType = struct.field(
        pytree_node=False, default=WeightModifierType.NONE
    )
    """Kind of modification."""
    g_max: float = 25.0
    """Maximal conductance in µS of PROG_NOISE and PCM_NOISE."""
    pcm_zero_thres: float = 0.0
    """PCM_NOISE leaves at zero conductances below this many programming-noise stds."""
    pcm_t_inference: float = 0.0
    """PCM_NOISE time since the first read, in seconds (drift variation only)."""
    pcm_prob_at_reset: float = 0.0
    """PCM_NOISE probability that a device is stuck at zero conductance."""
    pcm_prob_at_gmax: float = 0.0
    """PCM_NOISE probability that a device is stuck at ``g_max``."""
    pcm_prob_at_random: float = 0.0
    """PCM_NOISE probability that a device is stuck at a uniform random conductance."""
    pcm_t0: float = 20.0
    """PCM_NOISE time of the first read after programming, in seconds."""

    def __post_init__(self) -> None:
        for name in (
            "per_batch_sample",
            "sto_round",
            "enable_during_test",
            "rel_to_actual_wmax",
            "copy_last_column",
        ):
            v.check_bool(self, name)
        v.coerce_enum(self, "type", WeightModifierType)
        for name in ("std_dev", "pcm_zero_thres", "pcm_t_inference"):
            v.check_number(self, name, low=0.0)
        # NOTE: aihwkit accepts res > 1 and then rounds every weight to 0 or
        # a multiple of res * a. Unlike IOParameters, the modifier never reads
        # a value above 1 as a number of steps, so aihw_jax rejects it.
        v.check_number(
            self, "res", low=0.0, high=1.0, allowed="in [0, 1] (a step, e.g. 1/31)"
        )
        v.check_number(self, "dorefa_clip")
        for name in (
            "pdrop",
            "pcm_prob_at_reset",
            "pcm_prob_at_gmax",
            "pcm_prob_at_random",
        ):
            v.check_number(self, name, low=0.0, high=1.0)
        for name in ("assumed_wmax", "g_max", "pcm_t0"):
            v.check_number(self, name, low=0.0, low_open=True)
        _check_coefficients(self, "coeffs")

    def check_support(self) -> None:
        """Raise ConfigError for options that aihw_jax does not simulate.

        Raises:
            ConfigError: for ``per_batch_sample=True``, which aihwkit's
                InferenceTile rejects as well.
        """
        if self.per_batch_sample:
            raise ConfigError(
                "`WeightModifierParameter.per_batch_sample`=True is not simulated by "
                "aihw_jax; set it to False and map modify_weights over one key per "
                "sample with jax.vmap instead."
            )


def _check_coefficients(config: Any, name: str) -> None:
    """Store a list or 1-D array of coefficients as a tuple of leaves, and check it.

    An empty tuple is allowed: POLY and PROG_NOISE then leave the weights as
    they are.
    """
    value = getattr(config, name)
    where = f"{type(config).__name__}.{name}"
    if getattr(value, "ndim", None) == 1:
        value = tuple(value[index] for index in range(value.shape[0]))
    if isinstance(value, list):
        value = tuple(value)
    object.__setattr__(config, name, value)
    if not isinstance(value, tuple):
        raise ConfigError(f"`{where}` must be a list of numbers, got {value!r}.")
    for index, coefficient in enumerate(value):
        if isinstance(coefficient, (str, bytes, enum.Enum, list, tuple, dict, complex)):
            raise ConfigError(
                f"`{where}[{index}]` must be a finite number, got {coefficient!r}."
            )
        array = v._concrete(coefficient)
        if array is not None and not np.isfinite(array.astype(np.float64)).all():
            raise ConfigError(
                f"`{where}[{index}]` must be a finite number, got {coefficient!r}."
            )


@struct.dataclass
class WeightClipParameter:
    """Clipping of the weights after each optimizer step.

    Only ``type`` switches clipping on: the values alone do nothing while the
    type is NONE.
    """

    fixed_value: float = -1.0
    """Clip value of FIXED_VALUE, and an upper cap of the others (0 or less: none)."""
    sigma: float = 2.5
    """Multiple of the weights' std at which LAYER_GAUSSIAN clips."""
    type: WeightClipType = struct.field(pytree_node=False, default=WeightClipType.NONE)
    """Kind of clipping."""

    def __post_init__(self) -> None:
        v.coerce_enum(self, "type", WeightClipType)
        v.check_number(self, "fixed_value")
        v.check_number(self, "sigma", low=0.0)

    def check_support(self) -> None:
        """Do nothing: every clipping type is simulated."""


@struct.dataclass
class WeightRemapParameter:
    """Rescaling of the weights after each optimizer step.

    Remapping divides the weights of each output row by a factor and
    multiplies that row's digital output scale by it, so that the logical
    weights stay the same while the conductance range is fully used.
    """

    remapped_wmax: float = 1.0
    """Absolute maximum of the weights after remapping."""
    max_scale_range: float = 0.0
    """CHANNELWISE_SYMMETRIC: largest ratio of a row's scale to the smallest scale.

    0 means no limit. A positive value requires ``remapped_wmax`` = 1.
    """
    max_scale_ref: float = 0.0
    """Lower bound of the smallest scale in the ``max_scale_range`` limit (0: none)."""
    type: WeightRemapType = struct.field(
        pytree_node=False, default=WeightRemapType.NONE
    )
    """Kind of remapping."""

    def __post_init__(self) -> None:
        v.coerce_enum(self, "type", WeightRemapType)
        v.check_number(self, "remapped_wmax", low=0.0, low_open=True)
        v.check_number(self, "max_scale_range", low=0.0)
        v.check_number(self, "max_scale_ref", low=0.0)
        if self.type is not WeightRemapType.CHANNELWISE_SYMMETRIC:
            return
        scale_range = v._concrete(self.max_scale_range)
        wmax = v._concrete(self.remapped_wmax)
        if scale_range is None or wmax is None:
            return
        if (scale_range > 0).any() and (wmax != 1.0).any():
            raise ConfigError(
                f"`WeightRemapParameter.remapped_wmax` must be 1.0 when "
                f"max_scale_range > 0, got {self.remapped_wmax!r}; set "
                "remapped_wmax=1.0 or max_scale_range=0."
            )

    def check_support(self) -> None:
        """Do nothing: every remapping type is simulated."""


@struct.dataclass
class InputRangeParameter:
    """A learned clipping range ``r`` of the tile inputs.

    When enabled, each input is clipped to ``[-r, r]`` and divided by ``r``
    before the analog MVM, and the output is multiplied by ``r``. The
    periphery should then use ``inp_bound`` = 1.
    """

    enable: bool = struct.field(pytree_node=False, default=False)
    """Whether the input range is applied (nothing is clipped while False)."""
    learn_input_range: bool = struct.field(pytree_node=False, default=True)
    """Whether ``r`` is trained, or stays at its initial or calibrated value."""
    init_value: float = 3.0
    """Initial ``r``."""
    init_from_data: int = struct.field(pytree_node=False, default=100)
    """Number of training batches whose input std sets ``r`` (0: off)."""
    init_std_alpha: float = 3.0
    """Multiple of the input std used by the initialisation from data."""
    decay: float = 0.001
    """Gradient term that shrinks ``r`` while few inputs are clipped."""
    input_min_percentage: float = 0.95
    """The decay acts only while this fraction of inputs or more is not clipped."""
    manage_output_clipping: bool = struct.field(pytree_node=False, default=False)
    """Whether ``r`` grows while many outputs clip (needs NM and BM NONE)."""
    output_min_percentage: float = 0.95
    """Output clipping grows ``r`` only while fewer than this fraction is unclipped."""
    gradient_scale: float = 1.0
    """Factor on the gradient of ``r`` when ``gradient_relative`` is set."""
    gradient_relative: bool = struct.field(pytree_node=False, default=True)
    """Whether the gradient of ``r`` is multiplied by ``r`` itself."""
    calibration_info: str | None = struct.field(pytree_node=False, default=None)
    """Free-form note from a post-training calibration."""

    def __post_init__(self) -> None:
        for name in (
            "enable",
            "learn_input_range",
            "manage_output_clipping",
            "gradient_relative",
        ):
            v.check_bool(self, name)
        v.check_int(self, "init_from_data", low=0)
        v.check_number(self, "init_value", low=0.0, low_open=True)
        for name in ("init_std_alpha", "decay", "gradient_scale"):
            v.check_number(self, name, low=0.0)
        for name in ("input_min_percentage", "output_min_percentage"):
            v.check_number(self, name, low=0.0, high=1.0)
        if self.calibration_info is not None and not isinstance(
            self.calibration_info, str
        ):
            raise ConfigError(
                "`InputRangeParameter.calibration_info` must be a string or None, "
                f"got {self.calibration_info!r}."
            )

    def check_support(self) -> None:
        """Raise ConfigError for managed output clipping, which is not simulated.

        Raises:
            ConfigError: if ``enable`` and ``manage_output_clipping`` are True.
        """
        # TODO: growing the range while outputs clip needs the out-bound mask
        # of the forward in the update; aihw_jax does not pass it on yet.
        if self.enable and self.manage_output_clipping:
            raise ConfigError(
                "`InputRangeParameter.manage_output_clipping`=True is not simulated "
                "by aihw_jax yet; set pre_post.input_range.manage_output_clipping="
                "False."
            )


def _default_input_range() -> InputRangeParameter:
    return InputRangeParameter()


@struct.dataclass
class PrePostProcessingParameter:
    """Digital processing before and after the analog tile."""

    input_range: InputRangeParameter = struct.field(
        default_factory=_default_input_range
    )
    """Learned clipping range of the inputs."""

    def __post_init__(self) -> None:
        v.check_type(self, "input_range", InputRangeParameter)

    def check_support(self) -> None:
        """Raise ConfigError for options that are valid but not simulated yet."""
        self.input_range.check_support()

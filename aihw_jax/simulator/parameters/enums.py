"""Enumerations of the simulator's configuration options, with aihwkit's names.

The string values match aihwkit's enum values, so configs serialised by either
project name the same options.
"""

from __future__ import annotations

import enum

__all__ = [
    "AnalogMVType",
    "BoundManagementType",
    "NoiseManagementType",
    "PulseType",
    "VectorUnitCellUpdatePolicy",
    "WeightNoiseType",
]


class NoiseManagementType(enum.Enum):
    """Scaling of each input vector before the DAC."""

    NONE = "None"
    """No scaling."""
    ABS_MAX = "AbsMax"
    """Divide by the vector's absolute maximum (capped by ``nm_thres`` if > 0)."""
    MAX = "Max"
    """Divide by the vector's signed maximum (capped by ``nm_thres`` if > 0)."""
    CONSTANT = "Constant"
    """Divide by ``nm_thres`` (1 if ``nm_thres`` is 0)."""
    AVERAGE_ABS_MAX = "AverageAbsMax"
    """Divide by a running average of the batch's absolute maxima."""
    ABS_MAX_NP_SUM = "AbsMaxNPSum"
    """Absolute maximum, raised where the positive or negative input sum is large."""


class BoundManagementType(enum.Enum):
    """Handling of outputs that saturate the ADC."""

    NONE = "None"
    """Clip silently."""
    ITERATIVE = "Iterative"
    """Repeat the MVM with the input halved until no output clips."""


class WeightNoiseType(enum.Enum):
    """Output-referred weight (read) noise added in each MVM."""

    NONE = "None"
    ADDITIVE_CONSTANT = "AdditiveConstant"
    """Gaussian weight noise of constant std ``w_noise``."""
    PCM_READ = "PCMRead"
    """Noise variance proportional to the conductance ``|w|`` and to ``x**2``."""


class AnalogMVType(enum.Enum):
    """Form of the analog matrix-vector product."""

    ONE_PASS = "OnePass"
    IDEAL = "Ideal"
    POS_NEG_SEPARATE = "PosNegSeparate"
    POS_NEG_SEPARATE_DIGITAL_SUM = "PosNegSeparateDigitalSum"


class PulseType(enum.Enum):
    """Conversion of the update into pulses."""

    NONE = "None"
    """Exact floating-point update ``W -= lr * d x^T``."""
    STOCHASTIC_COMPRESSED = "StochasticCompressed"
    """Stochastic pulse trains with coincidence detection."""
    STOCHASTIC = "Stochastic"
    DETERMINISTIC_IMPLICIT = "DeterministicImplicit"
    MEAN_COUNT = "MeanCount"
    NONE_WITH_DEVICE = "NoneWithDevice"


class VectorUnitCellUpdatePolicy(enum.Enum):
    """Rule that selects the member of a vector unit cell receiving an update."""

    ALL = "All"
    """Every member receives the same coincidences (with its own noise)."""
    SINGLE_FIXED = "SingleFixed"
    """Only member ``first_update_idx``."""
    SINGLE_SEQUENTIAL = "SingleSequential"
    """One member per mini-batch, in turn."""
    SINGLE_RANDOM = "SingleRandom"
    """One member per mini-batch, drawn at random."""

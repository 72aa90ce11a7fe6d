"""Enumerations of the hardware-aware-training weight transforms, with aihwkit's names.

The string values are those of aihwkit 1.2.0, so configs serialised by either
project name the same options.
"""

from __future__ import annotations

import enum

__all__ = ["WeightClipType", "WeightModifierType", "WeightRemapType"]


class WeightModifierType(enum.Enum):
    """Perturbation of the weights used by the training forward and backward passes.

    ``a`` is the reference magnitude: the absolute maximum of the weights, or
    ``assumed_wmax`` when ``rel_to_actual_wmax`` is False.
    """

    NONE = "None"
    """No modification; ``pdrop`` is ignored as well."""
    DISCRETIZE = "Discretize"
    """Round to multiples of ``res * a``, half away from zero."""
    MULT_NORMAL = "MultNormal"
    """Multiply by ``1 + std_dev * a * xi`` with standard normal ``xi``."""
    ADD_NORMAL = "AddNormal"
    """Add Gaussian noise of std ``std_dev * a``."""
    DISCRETIZE_ADD_NORMAL = "DiscretizeAddNormal"
    """DISCRETIZE, then ADD_NORMAL."""
    DOREFA = "DoReFa"
    """Round the scaled ``tanh(w)`` to steps of ``res``.

    The scale maps the weight of magnitude ``a`` to ``dorefa_clip``.
    """
    POLY = "Poly"
    """Add Gaussian noise whose std is a polynomial in ``|w| / a``."""
    PCM_NOISE = "PCMNoise"
    """Programming noise, drift variation and read noise of PCM devices.

    aihwkit 1.2.0 simulates this type only in its CUDA tile.
    """
    PROG_NOISE = "ProgNoise"
    """Like POLY with ``std_dev / g_max``, and the weight keeps its sign."""
    DROP_CONNECT = "DropConnect"
    """No change except ``pdrop``, which every type but NONE applies."""
    COPY = "Copy"
    """aihwkit's legacy name for DROP_CONNECT."""


class WeightClipType(enum.Enum):
    """Clipping of the weights after each optimizer step."""

    NONE = "None"
    """No clipping."""
    FIXED_VALUE = "FixedValue"
    """Clip to ``[-fixed_value, fixed_value]``."""
    LAYER_GAUSSIAN = "LayerGaussian"
    """Clip at ``sigma`` times the sample std (N - 1) of all weights of the tile."""
    AVERAGE_CHANNEL_MAX = "AverageChannelMax"
    """Clip at the mean over output rows of each row's absolute maximum."""


class WeightRemapType(enum.Enum):
    """Rescaling of the weights into the conductance range after each optimizer step."""

    NONE = "None"
    """No remapping."""
    LAYERWISE_SYMMETRIC = "LayerwiseSymmetric"
    """Divide all weights by one factor, so that their maximum is ``remapped_wmax``.

    The output scales are multiplied by the same factor.
    """
    CHANNELWISE_SYMMETRIC = "ChannelwiseSymmetric"
    """Divide each output row by its own factor, so that it reaches ``remapped_wmax``.

    Each row's output scale is multiplied by that row's factor.
    """

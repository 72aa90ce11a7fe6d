"""aihwkit's "mapped" layers: layers split into tiles by the mapping's maximum sizes."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from aihw_jax.errors import ConfigError
from aihw_jax.nn._analog_linear import AnalogLinear
from aihw_jax.nn._conv import AnalogConv2d, sublayer_variables
from aihw_jax.simulator.configs import SingleRPUConfig
from aihw_jax.simulator.tiles.layout import TileLayout

__all__ = ["AnalogConv2dMapped", "AnalogLinearMapped"]


class AnalogLinearMapped(AnalogLinear):
    """``AnalogLinear`` under aihwkit's name for a layer split into a tile array.

    ``AnalogLinear`` already cuts its weight into tiles of at most
    ``rpu_config.mapping.max_input_size`` columns and ``max_output_size``
    rows, each tile with its own periphery, and sums the partial outputs
    digitally before the one digital bias. This class adds nothing to it, so
    both names give the same results.
    """


class AnalogConv2dMapped(AnalogConv2d):
    """``AnalogConv2d`` whose tiles hold whole input channels, as in aihwkit.

    ``AnalogConv2d`` cuts the unrolled patch of ``in_channels * kh * kw``
    features into tiles anywhere. This layer instead splits the channels
    into ``ceil(in_channels / floor(max_input_size / (kh * kw)))`` groups
    whose sizes differ by at most one, so every tile receives ``c * kh * kw``
    inputs of whole channels. Each group is an inner ``AnalogLinear`` named
    ``linear_0``, ``linear_1``, ... without bias, whose outputs are cut by
    ``max_output_size``. The partial outputs are summed digitally and one
    digital bias (``params/bias``) is added. Initial weights and bias
    follow torch's bound ``1/sqrt(in_channels * kh * kw)`` of the whole
    layer.

    Raises:
        ConfigError: from the forward, if ``kh * kw`` is larger than a
            positive ``max_input_size``, because one channel would not fit
            on a tile.
    """

    @property
    def _config(self) -> Any:
        return SingleRPUConfig() if self.rpu_config is None else self.rpu_config

    def _channel_parts(self) -> list[tuple[int, int]]:
        """``(first channel, channel count)`` of each group."""
        kernel_height, kernel_width = self.kernel
        taps = kernel_height * kernel_width
        max_input_size = self._config.mapping.max_input_size
        if max_input_size <= 0:
            return [(0, self.in_channels)]
        if taps > max_input_size:
            raise ConfigError(
                f"{self._describe()} unrolls one channel into {taps} inputs, more "
                f"than `mapping.max_input_size`={max_input_size}. Raise "
                "max_input_size or use AnalogConv2d, which may split a channel."
            )
        layout = TileLayout(1, self.in_channels, 0, max_input_size // taps)
        return layout.in_parts

    def analog_sublayers(self) -> tuple[tuple[str, AnalogLinear], ...]:
        """Return ``(name, layer)`` of the channel groups' analog layers, unbound."""
        self._check()
        taps = self.patch_size // self.in_channels
        return tuple(
            (
                f"linear_{index}",
                AnalogLinear(
                    count * taps,
                    self.out_channels,
                    bias=False,
                    rpu_config=self.rpu_config,
                    init_fan_in=self.patch_size,
                    parent=None,
                ),
            )
            for index, (_, count) in enumerate(self._channel_parts())
        )

    def _feature_slices(self) -> tuple[tuple[int, int], ...]:
        taps = self.patch_size // self.in_channels
        return tuple(
            (first * taps, (first + count) * taps)
            for first, count in self._channel_parts()
        )

    def _add_bias(self, y: jax.Array) -> jax.Array:
        if not self.bias:
            return y
        bound = 1.0 / math.sqrt(self.patch_size)
        bias = self.param(
            "bias",
            lambda key: jax.random.uniform(
                key, (self.out_channels,), minval=-bound, maxval=bound
            ),
        )
        return y + bias

    def _get_matrix(
        self, variables: dict[str, Any]
    ) -> tuple[jax.Array, jax.Array | None]:
        parts = [
            layer.get_weights(sublayer_variables(variables, name))[0]
            for name, layer in self.analog_sublayers()
        ]
        bias = variables.get("params", {}).get("bias")
        return jnp.concatenate(parts, axis=1), bias

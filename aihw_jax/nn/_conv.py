"""AnalogConv2d: a 2-D convolution unrolled into the MVMs of an AnalogLinear."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax

from aihw_jax.errors import ConfigError
from aihw_jax.nn import _conv_args as args
from aihw_jax.nn._analog_linear import AnalogLinear

__all__ = ["AnalogConv2d"]


class AnalogConv2d(nn.Module):
    """2-D convolution whose multiply-accumulates run on simulated analog tiles.

    As in aihwkit, every patch of every image is one input vector of a tile
    MVM. The layer extracts the patches, flattens each in torch's ``unfold``
    order (``c * kh * kw + i * kw + j``), and passes them through an inner
    ``AnalogLinear(in_channels * kh * kw, out_channels)`` named ``linear``.
    The periphery, the tile split, the noise, the compound devices and the
    pulsed update therefore act as in ``AnalogLinear``, and the pulsed
    update treats each patch as one sample. Only ``groups=1`` and zero
    padding exist, as in aihwkit.

    Images are channels last: ``[N, H, W, C]`` (or one ``[H, W, C]`` image),
    and the output is ``[N, H_out, W_out, out_channels]``. The weight keeps
    torch's ``[out_channels, in_channels, kh, kw]`` order (see
    :meth:`get_weights`), so aihwkit kernels map over unchanged. A digital
    layer that follows ``Flatten`` receives the features in ``(H, W, C)``
    order, whereas torch's are in ``(C, H, W)`` order.

    Variables: those of the inner layer under ``linear``
    (``analog/linear/state``, ``params/linear/bias``), so the layer's path
    for ``AnalogSGD(layer_lr=...)`` ends in ``/linear``. The forward needs
    the ``"noise"`` RNG stream.

    Attributes:
        in_channels: channels of the input images.
        out_channels: channels of the output, one per kernel.
        kernel_size: ``kh`` and ``kw``, an integer or a pair.
        stride: step between patches, an integer or a pair.
        padding: zeros added on each side, an integer, a pair, ``"valid"``
            or ``"same"`` (stride 1 only).
        dilation: spacing of the kernel's taps, an integer or a pair.
        bias: whether a digital bias is added.
        rpu_config: the tile config (``SingleRPUConfig()`` if ``None``).
    """

    in_channels: int
    out_channels: int
    kernel_size: Any
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    bias: bool = True
    rpu_config: Any = None

    @property
    def kernel(self) -> args.Pair:
        """``(kh, kw)``."""
        return args.pair(self.kernel_size, f"{self._kind}.kernel_size")

    @property
    def strides(self) -> args.Pair:
        """Strides along the height and the width."""
        return args.pair(self.stride, f"{self._kind}.stride")

    @property
    def dilations(self) -> args.Pair:
        """Dilations along the height and the width."""
        return args.pair(self.dilation, f"{self._kind}.dilation")

    @property
    def paddings(self) -> args.Padding:
        """``((top, bottom), (left, right))`` zero padding."""
        return args.conv_padding(
            self.padding,
            self.kernel,
            self.strides,
            self.dilations,
            f"{self._kind}.padding",
        )

    @property
    def patch_size(self) -> int:
        """Length ``in_channels * kh * kw`` of an unrolled patch."""
        kernel_height, kernel_width = self.kernel
        return self.in_channels * kernel_height * kernel_width

    @property
    def _kind(self) -> str:
        return type(self).__name__

    def analog_sublayers(self) -> tuple[tuple[str, AnalogLinear], ...]:
        """Return ``(name, layer)`` of the inner analog layers, unbound.

        :func:`aihw_jax.nn.iter_analog_layers` uses them to find the tiles,
        and the forward builds its submodules from the same definitions.
        """
        self._check()
        layer = AnalogLinear(
            self.patch_size,
            self.out_channels,
            bias=self.bias,
            rpu_config=self.rpu_config,
            parent=None,
        )
        return (("linear", layer),)

    def _feature_slices(self) -> tuple[tuple[int, int], ...]:
        """``(start, stop)`` of each sublayer's share of the patch features."""
        return ((0, self.patch_size),)

    def _check(self) -> None:
        for name in ("in_channels", "out_channels"):
            args.positive_int(getattr(self, name), f"{self._kind}.{name}")
        if not isinstance(self.bias, bool):
            raise ConfigError(
                f"`{self._kind}.bias` must be True or False, got {self.bias!r}."
            )
        _ = self.paddings

    def output_shape(self, height: int, width: int) -> tuple[int, int]:
        """Return ``(H_out, W_out)`` for ``height`` x ``width`` input images."""
        sizes = zip(
            (height, width), self.kernel, self.strides, self.paddings, self.dilations
        )
        return tuple(args.output_size(*size) for size in sizes)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        sublayers = self.analog_sublayers()
        args.check_image(x, self.in_channels, self._describe())
        images, added_batch = args.with_batch(args.as_float(x))
        if min(self.output_shape(*images.shape[1:3])) < 1:
            raise ConfigError(
                f"{self._describe()} got images of {images.shape[1:3]} pixels, "
                "which are smaller than the dilated kernel after padding."
            )
        patches = args.extract_patches(
            images, self.kernel, self.strides, self.paddings, self.dilations
        )
        batch, height, width, features = patches.shape
        rows = patches.reshape(batch * height * width, features)
        y = None
        for (name, definition), (start, stop) in zip(sublayers, self._feature_slices()):
            layer = definition.clone(parent=self, name=name)
            part = layer(rows[:, start:stop])
            y = part if y is None else y + part
        y = self._add_bias(y)
        y = y.reshape(batch, height, width, self.out_channels)
        return y[0] if added_batch else y

    def _add_bias(self, y: jax.Array) -> jax.Array:
        """Return ``y``: the inner layer has already added the bias."""
        return y

    def _describe(self) -> str:
        return (
            f"{self._kind}({self.in_channels}, {self.out_channels}, "
            f"kernel_size={self.kernel_size!r})"
        )

    def get_weights(
        self, variables: dict[str, Any]
    ) -> tuple[jax.Array, jax.Array | None]:
        """Return the kernel ``[out_channels, in_channels, kh, kw]`` and the bias.

        Args:
            variables: this layer's variables (``{"analog": {"linear": ...},
                "params": ...}``).

        Returns:
            The kernel the MVMs see, write noise included, in torch's order,
            and the bias (``None`` without one).
        """
        matrix, bias = self._get_matrix(variables)
        kernel_height, kernel_width = self.kernel
        shape = (self.out_channels, self.in_channels, kernel_height, kernel_width)
        return matrix.reshape(shape), bias

    def _get_matrix(
        self, variables: dict[str, Any]
    ) -> tuple[jax.Array, jax.Array | None]:
        ((name, layer),) = self.analog_sublayers()
        return layer.get_weights(sublayer_variables(variables, name))


def sublayer_variables(variables: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the variables of submodule ``name``, collection by collection."""
    return {
        collection: tree[name]
        for collection, tree in variables.items()
        if isinstance(tree, Mapping) and name in tree
    }

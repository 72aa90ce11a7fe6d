"""Digital convolution, pooling and batch normalisation with torch's names.

Images are channels last, ``[N, H, W, C]``, as in ``AnalogConv2d``, and
kernels keep torch's shapes and parameter names, so torch weights load by
name without a transpose.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from aihw_jax.errors import ConfigError
from aihw_jax.nn import _conv_args as args

__all__ = ["BatchNorm2d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "Unflatten"]

BATCH_STATS_COLLECTION = "batch_stats"
"""Collection of the running statistics of ``BatchNorm2d``."""


def _uniform(bound: float, shape: tuple[int, ...]):
    return lambda key: jax.random.uniform(key, shape, minval=-bound, maxval=bound)


def _check_groups(owner: str, groups: Any, channels: tuple[int, int]) -> None:
    args.positive_int(groups, f"{owner}.groups")
    for channel in channels:
        if channel % groups:
            raise ConfigError(
                f"`{owner}.groups`={groups} must divide in_channels and "
                f"out_channels, got {channels[0]} and {channels[1]}."
            )


class Conv2d(nn.Module):
    """Digital 2-D convolution with torch's arguments, parameters and initialisation.

    Parameters: ``weight`` ``[out_channels, in_channels / groups, kh, kw]``
    and ``bias`` ``[out_channels]``, both uniform within
    ``1/sqrt(in_channels / groups * kh * kw)`` at initialisation. Only zero
    padding exists. Input ``[N, H, W, C]`` or ``[H, W, C]``.
    """

    in_channels: int
    out_channels: int
    kernel_size: Any
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    groups: int = 1
    bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        owner = type(self).__name__
        for name in ("in_channels", "out_channels"):
            args.positive_int(getattr(self, name), f"{owner}.{name}")
        _check_groups(owner, self.groups, (self.in_channels, self.out_channels))
        kernel = args.pair(self.kernel_size, f"{owner}.kernel_size")
        stride = args.pair(self.stride, f"{owner}.stride")
        dilation = args.pair(self.dilation, f"{owner}.dilation")
        padding = args.conv_padding(
            self.padding, kernel, stride, dilation, f"{owner}.padding"
        )
        args.check_image(x, self.in_channels, owner)
        images, added_batch = args.with_batch(args.as_float(x))
        group_channels = self.in_channels // self.groups
        bound = 1.0 / math.sqrt(group_channels * kernel[0] * kernel[1])
        shape = (self.out_channels, group_channels, *kernel)
        weight = self.param("weight", _uniform(bound, shape))
        y = jax.lax.conv_general_dilated(
            images,
            weight,
            window_strides=stride,
            padding=padding,
            rhs_dilation=dilation,
            dimension_numbers=args.DIMENSION_NUMBERS,
            feature_group_count=self.groups,
        )
        if self.bias:
            y = y + self.param("bias", _uniform(bound, (self.out_channels,)))
        return y[0] if added_batch else y


class ConvTranspose2d(nn.Module):
    """Digital transposed 2-D convolution, the adjoint of ``Conv2d``, as in torch.

    Parameters: ``weight`` ``[in_channels, out_channels / groups, kh, kw]``
    and ``bias`` ``[out_channels]``, uniform within
    ``1/sqrt(out_channels / groups * kh * kw)`` as torch draws them. The
    output has ``(H - 1) * stride - 2 * padding + dilation * (kh - 1) +
    output_padding + 1`` rows, and the same for the columns.
    """

    in_channels: int
    out_channels: int
    kernel_size: Any
    stride: Any = 1
    padding: Any = 0
    output_padding: Any = 0
    groups: int = 1
    bias: bool = True
    dilation: Any = 1

    def _check(self) -> tuple[args.Pair, args.Pair, args.Pair, args.Padding]:
        owner = type(self).__name__
        for name in ("in_channels", "out_channels"):
            args.positive_int(getattr(self, name), f"{owner}.{name}")
        _check_groups(owner, self.groups, (self.in_channels, self.out_channels))
        kernel = args.pair(self.kernel_size, f"{owner}.kernel_size")
        stride = args.pair(self.stride, f"{owner}.stride")
        dilation = args.pair(self.dilation, f"{owner}.dilation")
        padding = args.pair(self.padding, f"{owner}.padding", minimum=0)
        extra = args.pair(self.output_padding, f"{owner}.output_padding", minimum=0)
        for axis in range(2):
            if extra[axis] >= max(stride[axis], dilation[axis]):
                raise ConfigError(
                    f"`{owner}.output_padding`={self.output_padding!r} must be "
                    "smaller than the stride or the dilation of its axis, got "
                    f"stride {stride} and dilation {dilation}."
                )
        pads = tuple(
            (
                dilation[axis] * (kernel[axis] - 1) - padding[axis],
                dilation[axis] * (kernel[axis] - 1) - padding[axis] + extra[axis],
            )
            for axis in range(2)
        )
        return kernel, stride, dilation, pads

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel, stride, dilation, pads = self._check()
        args.check_image(x, self.in_channels, type(self).__name__)
        images, added_batch = args.with_batch(args.as_float(x))
        groups = self.groups
        group_out = self.out_channels // groups
        bound = 1.0 / math.sqrt(group_out * kernel[0] * kernel[1])
        shape = (self.in_channels, group_out, *kernel)
        weight = self.param("weight", _uniform(bound, shape))
        # The adjoint of a convolution is a convolution of the stride-dilated
        # input with the spatially flipped kernel whose in and out axes are
        # swapped within each group.
        grouped = weight.reshape(groups, self.in_channels // groups, group_out, *kernel)
        flipped = jnp.swapaxes(grouped, 1, 2)[..., ::-1, ::-1]
        forward_kernel = flipped.reshape(self.out_channels, -1, *kernel)
        y = jax.lax.conv_general_dilated(
            images,
            forward_kernel,
            window_strides=(1, 1),
            padding=pads,
            lhs_dilation=stride,
            rhs_dilation=dilation,
            dimension_numbers=args.DIMENSION_NUMBERS,
            feature_group_count=groups,
        )
        if self.bias:
            y = y + self.param("bias", _uniform(bound, (self.out_channels,)))
        return y[0] if added_batch else y


class MaxPool2d(nn.Module):
    """2-D max pooling with torch's arguments (``stride`` defaults to ``kernel_size``).

    Padding counts as ``-inf``, so a window never takes a padded value.
    ``ceil_mode=True`` keeps a last, partial window that starts inside the
    input or the left padding. Input ``[N, H, W, C]`` or ``[H, W, C]``.
    """

    kernel_size: Any
    stride: Any = None
    padding: Any = 0
    dilation: Any = 1
    ceil_mode: bool = False

    def _window(self) -> tuple[args.Pair, args.Pair, args.Pair, args.Pair]:
        owner = type(self).__name__
        kernel = args.pair(self.kernel_size, f"{owner}.kernel_size")
        stride = kernel
        if self.stride is not None:
            stride = args.pair(self.stride, f"{owner}.stride")
        padding = args.pair(self.padding, f"{owner}.padding", minimum=0)
        dilation = args.pair(self.dilation, f"{owner}.dilation")
        if any(2 * pad > size for pad, size in zip(padding, kernel)):
            raise ConfigError(
                f"`{owner}.padding`={self.padding!r} must be at most half of "
                f"kernel_size={self.kernel_size!r}, as in torch."
            )
        return kernel, stride, padding, dilation

    def _pads(self, size: int, kernel: int, stride: int, pad: int, dilation: int):
        span = size + 2 * pad - dilation * (kernel - 1) - 1
        if span < 0:
            raise ConfigError(
                f"{type(self).__name__}: the input side of {size} is smaller than "
                f"the dilated window after padding."
            )
        count = span // stride + 1
        if self.ceil_mode:
            count = -(-span // stride) + 1
            if (count - 1) * stride >= size + pad:
                count -= 1
        extra = max(
            0, (count - 1) * stride + dilation * (kernel - 1) + 1 - size - 2 * pad
        )
        return pad, pad + extra

    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim not in (3, 4):
            raise ConfigError(
                f"{type(self).__name__} expects images [N, H, W, C] or [H, W, C], "
                f"got shape {x.shape}."
            )
        kernel, stride, padding, dilation = self._window()
        images, added_batch = args.with_batch(x)
        pads = [
            self._pads(
                images.shape[1 + axis],
                kernel[axis],
                stride[axis],
                padding[axis],
                dilation[axis],
            )
            for axis in range(2)
        ]
        # A Python scalar lets JAX recognise the max monoid, which it needs to
        # differentiate the pooling.
        if jnp.issubdtype(images.dtype, jnp.floating):
            lowest = -float("inf")
        else:
            lowest = int(jnp.iinfo(images.dtype).min)
        y = jax.lax.reduce_window(
            images,
            lowest,
            jax.lax.max,
            window_dimensions=(1, *kernel, 1),
            window_strides=(1, *stride, 1),
            padding=((0, 0), *pads, (0, 0)),
            window_dilation=(1, *dilation, 1),
        )
        return y[0] if added_batch else y


class BatchNorm2d(nn.Module):
    """Batch normalisation over ``N``, ``H`` and ``W`` of ``[N, H, W, C]`` images.

    In training mode the layer normalises with the batch mean and biased
    variance, then moves the running statistics ``batch_stats/running_mean``
    and ``batch_stats/running_var`` by ``momentum`` towards the batch mean
    and the unbiased batch variance, as torch does. ``momentum=None`` takes
    the cumulative average over ``batch_stats/num_batches_tracked``
    batches. In evaluation mode it normalises with the running statistics.
    Parameters (``affine=True``): ``params/weight`` (ones) and
    ``params/bias`` (zeros).

    The mode comes from ``use_running_average`` when it is set. When it is
    ``None``, the layer trains exactly when the ``batch_stats`` collection
    is mutable, so ``model.apply(..., mutable=["batch_stats"])`` trains and
    a plain ``model.apply`` evaluates. This works through
    ``AnalogSequential``, which passes no mode argument. The running
    statistics change only while ``batch_stats`` is mutable, and never
    during ``init``. With
    ``track_running_stats=False`` the layer keeps no statistics and always
    uses the batch's. The runners of ``aihw_jax.experiments`` train in
    the first mode and evaluate in the second, and save ``batch_stats``
    with the weights.
    """

    num_features: int
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    use_running_average: bool | None = None

    def _check(self, x: jax.Array) -> None:
        owner = type(self).__name__
        args.positive_int(self.num_features, f"{owner}.num_features")
        if x.ndim != 4 or x.shape[-1] != self.num_features:
            raise ConfigError(
                f"{owner}({self.num_features}) expects images [N, H, W, C] with "
                f"C = {self.num_features} (channels last), got shape {x.shape}."
            )
        if self.momentum is not None and not 0.0 <= self.momentum <= 1.0:
            raise ConfigError(
                f"`{owner}.momentum` must be in [0, 1] or None, got {self.momentum!r}."
            )
        if not self.eps > 0.0:
            raise ConfigError(f"`{owner}.eps` must be > 0, got {self.eps!r}.")

    def _training(self) -> bool:
        if self.use_running_average is not None:
            return not self.use_running_average
        return self.is_mutable_collection(BATCH_STATS_COLLECTION)

    def _may_update_stats(self) -> bool:
        return (
            self.track_running_stats
            and not self.is_initializing()
            and self.is_mutable_collection(BATCH_STATS_COLLECTION)
        )

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        self._check(x)
        x = args.as_float(x)
        shape = (self.num_features,)
        if self.track_running_stats:
            stats = {
                "running_mean": self.variable(
                    BATCH_STATS_COLLECTION, "running_mean", jnp.zeros, shape
                ),
                "running_var": self.variable(
                    BATCH_STATS_COLLECTION, "running_var", jnp.ones, shape
                ),
                "num_batches_tracked": self.variable(
                    BATCH_STATS_COLLECTION,
                    "num_batches_tracked",
                    lambda: jnp.zeros((), jnp.int32),
                ),
            }
        training = self._training() or not self.track_running_stats
        if training:
            mean = jnp.mean(x, axis=(0, 1, 2))
            variance = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
            if self._may_update_stats():
                self._update_stats(stats, mean, variance, x.size // self.num_features)
        else:
            mean = stats["running_mean"].value
            variance = stats["running_var"].value
        y = (x - mean) * jax.lax.rsqrt(variance + self.eps)
        if self.affine:
            y = y * self.param("weight", nn.initializers.ones, shape)
            y = y + self.param("bias", nn.initializers.zeros, shape)
        return y

    def _update_stats(
        self, stats: dict, mean: jax.Array, variance: jax.Array, count: int
    ) -> None:
        tracked = stats["num_batches_tracked"].value + 1
        stats["num_batches_tracked"].value = tracked
        if self.momentum is None:
            factor = 1.0 / tracked
        else:
            factor = self.momentum
        unbiased = variance * count / max(count - 1, 1)
        for name, batch_value in (("running_mean", mean), ("running_var", unbiased)):
            old = stats[name].value
            stats[name].value = (1.0 - factor) * old + factor * batch_value


class Unflatten(nn.Module):
    """Split axis ``dim`` into ``unflattened_size``, as torch's ``Unflatten``.

    ``Unflatten(2, (28, 1))`` turns the ``[N, 28, 28]`` images of
    ``aihw_jax.datasets`` into the ``[N, 28, 28, 1]`` that the convolutions
    expect.
    """

    dim: int
    unflattened_size: tuple[int, ...]

    def __call__(self, x: jax.Array) -> jax.Array:
        owner = type(self).__name__
        sizes = tuple(self.unflattened_size)
        if not -x.ndim <= self.dim < x.ndim:
            raise ConfigError(
                f"`{owner}.dim`={self.dim} is out of range for inputs of shape "
                f"{x.shape}."
            )
        dim = self.dim % x.ndim
        if math.prod(sizes) != x.shape[dim]:
            raise ConfigError(
                f"`{owner}.unflattened_size`={sizes} must multiply to the size "
                f"{x.shape[dim]} of axis {self.dim} (input shape {x.shape})."
            )
        return x.reshape(*x.shape[:dim], *sizes, *x.shape[dim + 1 :])

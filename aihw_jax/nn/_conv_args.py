"""Checks and conversions of torch-style convolution and pooling arguments."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from aihw_jax.errors import ConfigError

Pair = tuple[int, int]
Padding = tuple[Pair, Pair]

DIMENSION_NUMBERS = ("NHWC", "OIHW", "NHWC")
"""Layouts of the input, the kernel and the output: torch's kernel, channels last."""


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return value


def pair(value: Any, name: str, minimum: int = 1) -> Pair:
    """Return ``(height, width)`` from an integer or a pair of integers."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2:
        raise ConfigError(
            f"`{name}` must be an integer or a pair of integers, got {value!r}."
        )
    return positive_int(values[0], name, minimum), positive_int(
        values[1], name, minimum
    )


def conv_padding(
    padding: Any, kernel: Pair, stride: Pair, dilation: Pair, name: str
) -> Padding:
    """Return ``((top, bottom), (left, right))`` zero padding, as torch's ``padding``.

    ``"same"`` pads a total of ``dilation * (kernel - 1)`` per axis, the
    smaller half first, and needs stride 1 (as in torch).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ConfigError(
                f"`{name}` must be 'valid', 'same' or integers, got {padding!r}."
            )
        if stride != (1, 1):
            raise ConfigError(
                f"`{name}`='same' needs stride 1, got stride {stride}. Pass the "
                "padding as integers instead."
            )
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((total // 2, total - total // 2) for total in totals)
    height, width = pair(padding, name, minimum=0)
    return (height, height), (width, width)


def output_size(
    size: int, kernel: int, stride: int, padding: Pair, dilation: int
) -> int:
    """Output length of one spatial axis, ``floor((n + p - d(k-1) - 1) / s) + 1``."""
    return (size + sum(padding) - dilation * (kernel - 1) - 1) // stride + 1


def check_image(x: jax.Array, channels: int, owner: str) -> None:
    """Raise unless ``x`` is ``[N, H, W, channels]`` or ``[H, W, channels]``."""
    if x.ndim not in (3, 4) or x.shape[-1] != channels:
        raise ConfigError(
            f"{owner} expects images [N, H, W, C] or [H, W, C] with C = "
            f"{channels} (channels last), got shape {x.shape}."
        )


def extract_patches(
    x: jax.Array, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair
) -> jax.Array:
    """Unroll ``[N, H, W, C]`` images into patches ``[N, H_out, W_out, C*kh*kw]``.

    A patch is flattened in torch's ``unfold`` order, ``c * kh * kw + i * kw
    + j`` (channel slowest), with zeros where it covers the padding. The
    patches are exact copies of the inputs (``Precision.HIGHEST``), so no
    TF32 rounding happens on GPUs.
    """
    return jax.lax.conv_general_dilated_patches(
        x,
        filter_shape=kernel,
        window_strides=stride,
        padding=padding,
        rhs_dilation=dilation,
        dimension_numbers=DIMENSION_NUMBERS,
        precision=jax.lax.Precision.HIGHEST,
    )


def with_batch(x: jax.Array) -> tuple[jax.Array, bool]:
    """Add a batch axis to a single ``[H, W, C]`` image and return whether it did."""
    if x.ndim == 3:
        return x[None], True
    return x, False


def as_float(x: jax.Array) -> jax.Array:
    """Cast integer images to float32 and keep floating ones."""
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x
    return x.astype(jnp.float32)

"""Normalisation shared by the data sets: pixel scaling, then mean and std.

The rule follows torchvision's ``ToTensor`` and ``Normalize``, which aihwkit's
experiments apply: uint8 images are divided by 255, images of other dtypes
are used as they are, and then ``(x - mean) / std`` is applied per channel.
"""

from __future__ import annotations

import numpy as np

from aihw_jax.errors import ConfigError

__all__ = ["channel_statistic", "check_statistic", "normalize"]


def check_statistic(field: str, value: object) -> np.ndarray | None:
    """Check a mean or std given as one number or one number per channel.

    Args:
        field: ``"mean"`` or ``"std"``, for the error message. A std must be
            positive.
        value: ``None``, a number, or a 1-D sequence of numbers.

    Returns:
        ``None`` for ``None``, else a float64 array with 0 or 1 axes.

    Raises:
        ConfigError: The value is not numeric, has more than one axis, is not
            finite, or is a std that is not positive.
    """
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"`{field}` must be a number or a sequence of numbers, got {value!r}."
        ) from error
    if array.ndim > 1:
        raise ConfigError(
            f"`{field}` must be a number or a 1-D sequence with one value per "
            f"channel, got an array of shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"`{field}` must be finite, got {value!r}.")
    if field == "std" and np.any(array <= 0):
        raise ConfigError(f"`std` must be positive, got {value!r}.")
    return array


def channel_statistic(
    field: str,
    value: object,
    image_shape: tuple[int, ...],
    channels_last: bool,
) -> np.ndarray | None:
    """Check a mean or std and shape it to broadcast against a batch of images.

    Args:
        field: ``"mean"`` or ``"std"``, see ``check_statistic``.
        value: ``None``, one number for all pixels, or a sequence with one
            number per channel.
        image_shape: Shape of one image, without the batch axis. Images with
            fewer than three axes have a single channel.
        channels_last: Whether the channel axis is the last image axis, not
            the first.

    Returns:
        ``None`` for ``None``, else a float32 array that broadcasts against
        ``[N, *image_shape]``.

    Raises:
        ConfigError: See ``check_statistic``, or the number of values is not
            one and not the number of channels.
    """
    array = check_statistic(field, value)
    if array is None:
        return None
    if array.size == 1:
        return array.reshape(()).astype(np.float32)

    channels = _channel_count(image_shape, channels_last)
    if array.size != channels:
        layout = "last" if channels_last else "first"
        raise ConfigError(
            f"`{field}` has {array.size} values, but images of shape "
            f"{image_shape} have {channels} channels (channel axis {layout})."
        )
    if channels_last:
        return array.astype(np.float32)
    trailing = (1,) * (len(image_shape) - 1)
    return array.astype(np.float32).reshape((channels, *trailing))


def _channel_count(image_shape: tuple[int, ...], channels_last: bool) -> int:
    """Return the size of the channel axis, 1 for images without one."""
    if len(image_shape) < 3:
        return 1
    return image_shape[-1] if channels_last else image_shape[0]


def normalize(
    images: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None
) -> np.ndarray:
    """Scale uint8 images to [0, 1] and standardise them with ``mean`` and ``std``.

    Args:
        images: A batch of images, uint8 or floating point.
        mean: Output of ``channel_statistic``, or ``None`` to skip centring.
        std: Output of ``channel_statistic``, or ``None`` to skip scaling.

    Returns:
        A float32 array of the input shape.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        result = images.astype(np.float32) / np.float32(255)
    else:
        result = images.astype(np.float32)
    if mean is not None:
        result = result - mean
    if std is not None:
        result = result / std
    return result

"""ArrayDataset: training and test arrays held in memory, for the runners."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from aihw_jax.datasets import _normalization
from aihw_jax.errors import ConfigError

__all__ = ["ArrayDataset"]


@dataclasses.dataclass(frozen=True, eq=False)
class ArrayDataset:
    """Images and labels in memory, usable as ``BasicTraining(dataset=...)``.

    The record is compared and hashed by identity (``eq=False``), because
    ``BasicTraining`` keeps its data set as a static field that must be
    hashable, and arrays are not. The constructor checks the arrays and
    stores them as NumPy arrays with int32 labels.

    Example::

        dataset = ArrayDataset(
            train=(train_images, train_labels),
            test=(test_images, test_labels),
            mean=0.5,
            std=0.25,
        )
        run_local(BasicTraining(dataset=dataset, model=model))

    Attributes:
        train: Training images ``[N, ...]`` and integer labels ``[N]``.
        test: Test images and labels, with the same image shape as ``train``.
        mean: ``None``, one number, or one number per channel, subtracted
            after uint8 images are divided by 255.
        std: ``None``, one number, or one number per channel, divided by
            after ``mean`` is subtracted. Every value must be positive.
        num_classes: Number of classes. Defaults to the largest label plus
            one. Every label must be in ``[0, num_classes)``.
        channels_last: Whether the channel axis of images with three or more
            axes is the last one (``[N, H, W, C]``, as aihw_jax's convolution
            layers take them) or the first. Only per-channel ``mean`` and
            ``std`` depend on it.
        name: Name shown in error messages.
    """

    train: tuple[Any, Any]
    test: tuple[Any, Any]
    mean: Any = None
    std: Any = None
    num_classes: int | None = None
    channels_last: bool = True
    name: str = "ArrayDataset"

    splits = ("train", "test")

    def __post_init__(self) -> None:
        train = _check_split("train", self.train)
        test = _check_split("test", self.test)
        if train[0].shape[1:] != test[0].shape[1:]:
            raise ConfigError(
                f"`train` images have shape {train[0].shape[1:]} and `test` images "
                f"{test[0].shape[1:]}, but both splits need the same image shape."
            )

        num_classes = _check_num_classes(self.num_classes, train[1], test[1])

        if not isinstance(self.channels_last, bool):
            raise ConfigError(
                f"`channels_last` must be a bool, got {self.channels_last!r}."
            )
        if (self.mean is None) != (self.std is None):
            raise ConfigError(
                "Give both `mean` and `std`, or neither. Got "
                f"mean={self.mean!r} and std={self.std!r}."
            )
        image_shape = train[0].shape[1:]
        mean = _normalization.channel_statistic(
            "mean", self.mean, image_shape, self.channels_last
        )
        std = _normalization.channel_statistic(
            "std", self.std, image_shape, self.channels_last
        )

        # Frozen dataclasses allow assignment in __post_init__ through object.
        object.__setattr__(self, "train", train)
        object.__setattr__(self, "test", test)
        object.__setattr__(self, "num_classes", num_classes)
        object.__setattr__(self, "_mean", mean)
        object.__setattr__(self, "_std", std)

    def __repr__(self) -> str:
        return (
            f"{self.name}(train={self.train[0].shape[0]} x {self.image_shape}, "
            f"test={self.test[0].shape[0]} x {self.image_shape}, "
            f"dtype={self.train[0].dtype}, num_classes={self.num_classes}, "
            f"mean={self.mean!r}, std={self.std!r})"
        )

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image, without the batch axis."""
        return self.train[0].shape[1:]

    def load(
        self, split: str, root: str | os.PathLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the images and int32 labels of ``"train"`` or ``"test"``.

        ``root`` is accepted for the runners' call signature and ignored.

        Raises:
            ConfigError: ``split`` is neither ``"train"`` nor ``"test"``.
        """
        del root
        if split == "train":
            return self.train
        if split == "test":
            return self.test
        raise ConfigError(
            f"Invalid {self.name} split {split!r}: expected 'train' or 'test'."
        )

    def normalize(self, images: np.ndarray) -> np.ndarray:
        """Return float32 images: uint8 divided by 255, then ``(x - mean) / std``."""
        return _normalization.normalize(images, self._mean, self._std)


def _check_split(split: str, arrays: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check one ``(images, labels)`` pair and return it as NumPy arrays."""
    if not isinstance(arrays, (tuple, list)):
        raise ConfigError(
            f"`{split}` must be a pair (images, labels), got {type(arrays).__name__}."
        )
    if len(arrays) != 2:
        raise ConfigError(
            f"`{split}` must be a pair (images, labels), got {len(arrays)} items."
        )
    images = np.asarray(arrays[0])
    labels = np.asarray(arrays[1])

    if images.ndim < 2:
        raise ConfigError(
            f"`{split}` images must have a batch axis and at least one image axis, "
            f"got shape {images.shape}."
        )
    if images.shape[0] == 0:
        raise ConfigError(f"`{split}` contains no examples.")
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise ConfigError(
            f"`{split}` images must be uint8 or floating point, got {images.dtype}."
        )
    if np.issubdtype(images.dtype, np.floating) and not np.all(np.isfinite(images)):
        raise ConfigError(f"`{split}` images contain NaN or infinite values.")

    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ConfigError(
            f"`{split}` labels must have shape ({images.shape[0]},), one per image, "
            f"got {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(f"`{split}` labels must be integers, got {labels.dtype}.")
    if labels.min() < 0:
        raise ConfigError(
            f"`{split}` labels must be >= 0, got {labels.min()} at index "
            f"{int(np.argmin(labels))}."
        )
    if labels.max() > np.iinfo(np.int32).max:
        raise ConfigError(f"`{split}` label {labels.max()} does not fit in int32.")
    return images, labels.astype(np.int32)


def _check_num_classes(
    num_classes: Any, train_labels: np.ndarray, test_labels: np.ndarray
) -> int:
    """Check ``num_classes`` against the labels, or infer it from them."""
    largest = int(max(train_labels.max(), test_labels.max()))
    if num_classes is None:
        return largest + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise ConfigError(f"`num_classes` must be an int, got {num_classes!r}.")
    if num_classes < 1:
        raise ConfigError(f"`num_classes` must be >= 1, got {num_classes}.")
    for split, labels in (("train", train_labels), ("test", test_labels)):
        if labels.max() >= num_classes:
            raise ConfigError(
                f"`{split}` contains label {labels.max()} at index "
                f"{int(np.argmax(labels))}, but `num_classes` is {num_classes}. "
                f"Labels must be in [0, {num_classes})."
            )
    return num_classes

"""TFDSDataset: any TFDS data set already prepared in a data directory.

The data set is read by name with ``tfds.data_source``, which needs a build in
a random-access file format (array_record or parquet) and does not import
TensorFlow. Nothing is downloaded or built here. The data set is prepared with
TFDS beforehand, for example with ``tfds build mnist
--file_format=array_record`` on a machine with TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import file_adapters

from aihw_jax.datasets import _fashion_mnist, _normalization
from aihw_jax.errors import ConfigError, DatasetError

__all__ = ["TFDSDataset", "read_prepared_split"]

# Records decoded per ``__getitems__`` call.
_READ_BATCH_SIZE = 4096


@dataclasses.dataclass(frozen=True)
class TFDSDataset:
    """A TFDS data set prepared as array_record files, read by name.

    Use an instance where a data set class is expected, for example
    ``BasicTraining(dataset=TFDSDataset("mnist", mean=0.1307, std=0.3081))``.
    The runners' ``load("train")`` and ``load("test")`` read the splits named
    by ``train_split`` and ``test_split``. Any other split string, such as
    ``"train[:10%]"``, is passed to TFDS as it is.

    Images keep TFDS's channels-last layout ``[N, H, W, C]``, which
    aihw_jax's convolution layers take. ``channels_last=False`` returns
    ``[N, C, H, W]``, the layout torchvision's ``ToTensor`` gives aihwkit's
    models. ``normalize`` divides uint8 images by 255 and then applies ``mean``
    and ``std`` if given. aihwkit applies only the division to data sets for
    which it has no constants.

    Attributes:
        name: TFDS name, optionally with config and version, such as
            ``"mnist"`` or ``"mnist:3.0.1"``.
        mean: ``None``, one number, or one number per channel.
        std: ``None``, one number, or one positive number per channel.
        data_dir: TFDS data directory. The ``root`` argument of ``load``
            takes precedence, and ``default_data_dir()`` is used when both
            are unset.
        image_key: Feature with the images. Defaults to the first of the
            data set's supervised keys.
        label_key: Feature with the integer labels. Defaults to the second
            of the supervised keys.
        train_split: TFDS split read for ``load("train")``.
        test_split: TFDS split read for ``load("test")``.
        channels_last: Whether to keep TFDS's ``[N, H, W, C]`` layout, else
            move the channel axis of 3-D images to the front.
    """

    name: str
    mean: Any = None
    std: Any = None
    data_dir: str | None = None
    image_key: str | None = None
    label_key: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    channels_last: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(
                f"`name` must be a TFDS data set name, got {self.name!r}."
            )
        if (self.mean is None) != (self.std is None):
            raise ConfigError(
                "Give both `mean` and `std`, or neither. Got "
                f"mean={self.mean!r} and std={self.std!r}."
            )
        # Values are stored as a float or a tuple of floats, so that the
        # record stays hashable. The channel count is checked by normalize.
        for field in ("mean", "std"):
            array = _normalization.check_statistic(field, getattr(self, field))
            if array is not None:
                value = float(array) if array.ndim == 0 else tuple(array.tolist())
                object.__setattr__(self, field, value)
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", os.fspath(self.data_dir))
        # Image shape and class count per data directory, and the directory
        # of the last load. Both are caches outside the dataclass fields, so
        # they take no part in eq and hash.
        object.__setattr__(self, "_metadata", {})
        object.__setattr__(self, "_loaded_from", None)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image as ``load`` returns it, without the batch axis.

        It is read from the directory of the last ``load``, else from the
        directory that ``resolve_data_dir(None)`` returns.
        """
        return self._read_metadata()[0]

    @property
    def num_classes(self) -> int | None:
        """Number of classes of the label feature, ``None`` if TFDS lists none."""
        return self._read_metadata()[1]

    def resolve_data_dir(self, root: str | os.PathLike | None) -> pathlib.Path:
        """Return ``root``, else ``data_dir``, else ``default_data_dir()``."""
        if root is not None:
            return pathlib.Path(root).expanduser()
        if self.data_dir is not None:
            return pathlib.Path(self.data_dir).expanduser()
        return _fashion_mnist.default_data_dir()

    def load(
        self, split: str, root: str | os.PathLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Read one split into memory.

        Args:
            split: ``"train"``, ``"test"`` or any TFDS split string.
            root: TFDS data directory, see ``data_dir``.

        Returns:
            The images in their stored dtype (uint8 for TFDS image features)
            and int32 labels of shape ``[N]``.

        Raises:
            ConfigError: The split, or an image or label key, does not exist.
            DatasetError: The data set is not prepared in the data directory,
                or not in a random-access file format, or cannot be read.
        """
        data_dir = self.resolve_data_dir(root)
        tfds_split = {"train": self.train_split, "test": self.test_split}.get(
            split, split
        )
        images, labels = read_prepared_split(
            self.name, tfds_split, data_dir, self.image_key, self.label_key
        )
        if not self.channels_last:
            images = _channels_first(images)
        object.__setattr__(self, "_loaded_from", data_dir)
        return images, labels

    def normalize(self, images: np.ndarray) -> np.ndarray:
        """Return float32 images: uint8 divided by 255, then ``(x - mean) / std``."""
        image_shape = tuple(np.shape(images)[1:])
        mean = _normalization.channel_statistic(
            "mean", self.mean, image_shape, self.channels_last
        )
        std = _normalization.channel_statistic(
            "std", self.std, image_shape, self.channels_last
        )
        return _normalization.normalize(images, mean, std)

    def _read_metadata(self) -> tuple[tuple[int, ...], int | None]:
        """Return the image shape and class count, reading them once per directory."""
        data_dir = self._loaded_from or self.resolve_data_dir(None)
        if data_dir not in self._metadata:
            builder = open_prepared(self.name, data_dir)
            image_key, label_key = _feature_keys(
                builder, self.name, self.image_key, self.label_key
            )
            shape = tuple(builder.info.features[image_key].shape)
            if not self.channels_last and len(shape) == 3:
                shape = (shape[2], shape[0], shape[1])
            classes = getattr(builder.info.features[label_key], "num_classes", None)
            self._metadata[data_dir] = (shape, classes)
        return self._metadata[data_dir]


def open_prepared(name: str, data_dir: pathlib.Path) -> tfds.core.DatasetBuilder:
    """Return the TFDS builder of a data set prepared in ``data_dir``.

    Raises:
        DatasetError: TFDS does not know the name and finds no files for it,
            or the data set is not prepared in ``data_dir``.
    """
    how_to = (
        f"Prepare it there on a machine with TensorFlow, for example with "
        f"'tfds build {name} --data_dir={data_dir} --file_format=array_record', "
        "and copy the directory here."
    )
    try:
        builder = tfds.builder(name, data_dir=os.fspath(data_dir))
    except tfds.core.registered.DatasetNotFoundError as error:
        raise DatasetError(
            f"TFDS data set {name!r} was not found in {data_dir}: TFDS has no "
            f"builder of that name and the directory has no prepared files for "
            f"it. {how_to}"
        ) from error
    if not builder.is_prepared():
        raise DatasetError(
            f"TFDS data set {name!r} is not prepared in {data_dir}: "
            f"{builder.data_path} is missing or incomplete. {how_to}"
        )
    return builder


def read_prepared_split(
    name: str,
    split: str,
    data_dir: pathlib.Path,
    image_key: str | None = None,
    label_key: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read the images and labels of one split of a prepared TFDS data set.

    Returns:
        Images ``[N, *shape]`` in the feature's dtype, as TFDS stores them
        (``[N, H, W, C]`` for image features), and int32 labels ``[N]``.

    Raises:
        ConfigError: The split or a feature key does not exist, or the image
            feature has no fixed shape.
        DatasetError: See ``open_prepared``, or the files are not in a
            random-access format or fail to decode.
    """
    builder = open_prepared(name, data_dir)
    image_key, label_key = _feature_keys(builder, name, image_key, label_key)
    image_feature = builder.info.features[image_key]
    shape = tuple(image_feature.shape)
    if None in shape:
        raise ConfigError(
            f"Feature {image_key!r} of {name!r} has shape {shape}, with a "
            "dimension that varies between examples, but only fixed shapes can be "
            "stacked into one array."
        )
    label_feature = builder.info.features[label_key]
    label_dtype = np.dtype(label_feature.np_dtype)
    if tuple(label_feature.shape) != () or not np.issubdtype(label_dtype, np.integer):
        raise ConfigError(
            f"Feature {label_key!r} of {name!r} has shape {label_feature.shape} "
            f"and dtype {label_dtype}, but class labels must be integer scalars. "
            "Pass another `label_key`."
        )
    random_access = file_adapters.FileFormat.with_random_access()
    if not builder.info.available_file_formats() & set(random_access):
        raise DatasetError(
            f"TFDS data set {name!r} in {builder.data_path} is stored as "
            f"{builder.info.file_format}, which tfds.data_source cannot read "
            "without TensorFlow. Prepare it again with "
            "file_format='array_record'."
        )
    try:
        source = builder.as_data_source(split=split)
    except (ValueError, KeyError) as error:
        raise ConfigError(
            f"Invalid split {split!r} of TFDS data set {name!r}: expected one of "
            f"{', '.join(repr(s) for s in builder.info.splits)} or a TFDS split "
            f"expression ({error})."
        ) from error

    # NOTE: every call decodes all records again, because there is no .npy
    # cache as for Fashion-MNIST. Decoding 5000 PNG images of 32 x 32 pixels
    # took 0.7 s on a busy 2-core machine.
    images = np.empty((len(source), *shape), dtype=image_feature.np_dtype)
    labels = np.empty((len(source),), dtype=np.int64)
    try:
        for start in range(0, len(source), _READ_BATCH_SIZE):
            indices = list(range(start, min(start + _READ_BATCH_SIZE, len(source))))
            for index, record in zip(
                indices, source.__getitems__(indices), strict=True
            ):
                images[index] = record[image_key]
                labels[index] = record[label_key]
    except (RuntimeError, ValueError, OSError) as error:
        # array_record raises RuntimeError on a failed chunk hash, PIL raises
        # OSError on an image it cannot decode.
        raise DatasetError(
            f"Reading split {split!r} of TFDS data set {name!r} from "
            f"{builder.data_path} failed ({error})."
        ) from error
    return images, _as_int32_labels(labels, name, label_key)


def _feature_keys(
    builder: tfds.core.DatasetBuilder,
    name: str,
    image_key: str | None,
    label_key: str | None,
) -> tuple[str, str]:
    """Fill unset keys from the supervised keys and check that both exist."""
    features = builder.info.features
    supervised = builder.info.supervised_keys
    if image_key is None or label_key is None:
        if not (isinstance(supervised, tuple) and len(supervised) == 2):
            raise ConfigError(
                f"TFDS data set {name!r} declares no (image, label) supervised "
                f"keys. Pass image_key and label_key, from {sorted(features.keys())}."
            )
        image_key = supervised[0] if image_key is None else image_key
        label_key = supervised[1] if label_key is None else label_key
    for kind, key in (("image_key", image_key), ("label_key", label_key)):
        if not isinstance(key, str) or key not in features:
            raise ConfigError(
                f"Invalid `{kind}` {key!r} for TFDS data set {name!r}: expected "
                f"one of {sorted(features.keys())}."
            )
    return image_key, label_key


def _as_int32_labels(labels: np.ndarray, name: str, label_key: str) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.int32).max):
        raise DatasetError(
            f"Feature {label_key!r} of {name!r} contains the label "
            f"{labels.min() if labels.min() < 0 else labels.max()}, outside the "
            "range of class indices."
        )
    return labels.astype(np.int32)


def _channels_first(images: np.ndarray) -> np.ndarray:
    """Move the channel axis of ``[N, H, W, C]`` images to position 1."""
    if images.ndim != 4:
        return images
    return np.ascontiguousarray(np.transpose(images, (0, 3, 1, 2)))

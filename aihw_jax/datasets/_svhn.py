"""SVHN: the cropped Street View House Numbers digits, as NumPy arrays.

``SVHN.load`` takes a split from the first of three sources: the original
``.mat`` files, TFDS's ``svhn_cropped`` data set prepared as array_record
files, or a download of the ``.mat`` files when downloads are allowed.
"""

from __future__ import annotations

import logging
import os
import pathlib

import numpy as np

from aihw_jax.datasets import (
    _fashion_mnist,
    _normalization,
    _prepared,
    _sources,
    _svhn_sources as _mat,
)
from aihw_jax.errors import ConfigError, DatasetError

__all__ = ["SVHN", "TFDS_NAME"]

logger = logging.getLogger(__name__)

TFDS_NAME = "svhn_cropped"


class SVHN:
    """Descriptor of the SVHN data set, used as a class, not an instance.

    Experiments receive the class itself (``dataset=SVHN``), as aihwkit's
    ``BasicTraining`` receives torchvision's ``SVHN``. Images are returned
    channels last, ``[N, 32, 32, 3]``, the layout of aihw_jax's convolution
    layers. torchvision returns ``[N, 3, 32, 32]``, so after ``Flatten`` a
    ``Linear`` layer receives the pixels in a different order than in
    aihwkit.

    ``mean`` and ``std`` are the per-channel (red, green, blue) normalisation
    constants of aihwkit's SVHN training and inference experiments.

    The runners read ``train`` (73257 images) and ``test`` (26032 images).
    ``extra`` (531131 images, a 1.3 GB file) is read only on request. The
    counts are those of TFDS's ``svhn_cropped`` catalog page.
    """

    name = "svhn"
    mean = (0.4377, 0.4438, 0.4728)
    std = (0.1980, 0.2010, 0.1970)
    num_classes = 10
    image_shape = (_mat.IMAGE_SIZE, _mat.IMAGE_SIZE, _mat.CHANNELS)
    classes = tuple(str(digit) for digit in range(10))
    splits = tuple(_mat.MAT_FILES)

    @classmethod
    def load(
        cls,
        split: str,
        root: str | os.PathLike | None = None,
        *,
        mat_dir: str | os.PathLike | None = None,
        download: bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Load one split from the first source that has it.

        The sources, in order:

        1. The file ``<split>_32x32.mat`` in ``mat_dir`` (by default
           ``$AIHW_JAX_SVHN_MAT_DIR``, if set) or in ``root``, where
           torchvision's ``SVHN`` keeps it.
        2. TFDS's ``svhn_cropped`` in the TFDS data directory ``root``,
           prepared as array_record files. Its examples are in TFDS's
           shuffled order, not in the order of the ``.mat`` files.
        3. A download of the ``.mat`` file into the first directory of
           step 1, only when downloads are allowed.

        Args:
            split: ``"train"``, ``"test"`` or ``"extra"``.
            root: Directory searched for the ``.mat`` files and TFDS data
                directory. Defaults to ``default_data_dir()``.
            mat_dir: Directory searched first for the ``.mat`` files.
            download: Whether to download a missing file. Defaults to true
                when ``$AIHW_JAX_ALLOW_DOWNLOAD`` is ``1``, ``true`` or
                ``yes``.

        Returns:
            uint8 images ``[N, 32, 32, 3]`` and int32 labels ``[N]`` in 0..9.
            The ``.mat`` files store the digit 0 as label 10. It is mapped
            to 0.

        Raises:
            ConfigError: ``split`` is not one of ``SVHN.splits``. It is also a
                ``ValueError``.
            DatasetError: No source has the split, or a source is corrupt.
                The message names the paths searched and how to add the files.
        """
        if split not in cls.splits:
            raise ConfigError(
                f"Invalid SVHN split {split!r}: expected one of "
                f"{', '.join(repr(name) for name in cls.splits)}"
            )
        data_dir = (
            _fashion_mnist.default_data_dir()
            if root is None
            else pathlib.Path(root).expanduser()
        )
        mat_dirs = _mat_dirs(mat_dir, data_dir)
        filename = _mat.MAT_FILES[split].filename

        for directory in mat_dirs:
            path = directory / filename
            if path.is_file():
                return _read_mat(path)

        tfds_problem = None
        if (data_dir / TFDS_NAME).is_dir():
            try:
                return _read_tfds(split, data_dir)
            except DatasetError as error:
                tfds_problem = str(error)
                logger.warning("Cannot read SVHN from TFDS: %s", error)

        if not _fashion_mnist._download_allowed(download):
            problem = f"{filename} is missing and downloads are off"
            raise DatasetError(
                _unavailable_message(problem, split, mat_dirs, data_dir, tfds_problem)
            )
        logger.info("Downloading %s into %s", filename, mat_dirs[0])
        try:
            path = _mat.download_mat(split, mat_dirs[0], data_dir)
        except _sources.SourceError as error:
            raise DatasetError(
                _unavailable_message(
                    str(error), split, mat_dirs, data_dir, tfds_problem
                )
            ) from error
        return _read_mat(path)

    @classmethod
    def normalize(cls, images: np.ndarray) -> np.ndarray:
        """Scale uint8 pixels to [0, 1] and standardise each channel.

        Returns:
            float32 array ``(images / 255 - mean[c]) / std[c]`` of the input
            shape ``[N, 32, 32, 3]``.
        """
        mean = _normalization.channel_statistic("mean", cls.mean, cls.image_shape, True)
        std = _normalization.channel_statistic("std", cls.std, cls.image_shape, True)
        return _normalization.normalize(images, mean, std)


def _mat_dirs(
    mat_dir: str | os.PathLike | None, data_dir: pathlib.Path
) -> list[pathlib.Path]:
    """Return the directories searched for ``.mat`` files, first one first."""
    first = (
        pathlib.Path(mat_dir).expanduser()
        if mat_dir is not None
        else _mat.mat_dir_from_env()
    )
    if first is None or first == data_dir:
        return [data_dir]
    return [first, data_dir]


def _read_mat(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        return _mat.read_mat(path)
    except _mat.ScipyMissingError as error:
        raise DatasetError(f"SVHN is not available: {error}.") from error
    except _sources.SourceError as error:
        raise DatasetError(
            f"SVHN is not available: {error}. Replace the file with a copy from "
            f"{_mat.base_url()}, or delete it to use the other sources."
        ) from error


def _read_tfds(split: str, data_dir: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a split of TFDS's ``svhn_cropped`` and check its shape and labels."""
    try:
        images, labels = _prepared.read_prepared_split(
            TFDS_NAME, split, data_dir, "image", "label"
        )
    except ConfigError as error:
        raise DatasetError(f"{TFDS_NAME} in {data_dir} is unusable: {error}") from error
    if images.shape[1:] != (_mat.IMAGE_SIZE, _mat.IMAGE_SIZE, _mat.CHANNELS):
        raise DatasetError(
            f"{TFDS_NAME} in {data_dir} has images of shape {images.shape[1:]}, "
            "expected (32, 32, 3)"
        )
    if labels.size and labels.max() >= SVHN.num_classes:
        raise DatasetError(
            f"{TFDS_NAME} in {data_dir} has the label {labels.max()}, expected 0..9"
        )
    return images, labels


def _unavailable_message(
    problem: str,
    split: str,
    mat_dirs: list[pathlib.Path],
    data_dir: pathlib.Path,
    tfds_problem: str | None,
) -> str:
    """Compose the message of the DatasetError raised when no source has a split."""
    filename = _mat.MAT_FILES[split].filename
    searched = " and ".join(str(directory / filename) for directory in mat_dirs)
    tfds_dir = data_dir / TFDS_NAME
    if tfds_problem is None:
        tfds_state = "missing"
    else:
        tfds_state = f"unreadable: {tfds_problem}"
    return (
        f"SVHN split {split!r} is not available: {problem}. Looked for "
        f"{searched}, and for TFDS's {TFDS_NAME} data set in {tfds_dir} "
        f"({tfds_state}). To get the data, copy {filename} from "
        f"{_mat.DEFAULT_BASE_URL} into {mat_dirs[0]} (set {_mat.MAT_DIR_ENV}, "
        f"or pass mat_dir or root, to use another directory), or prepare "
        f"{TFDS_NAME} as array_record files in {data_dir}. On a machine with "
        f"internet access, set {_fashion_mnist.DOWNLOAD_ENV}=1 to download the "
        "file."
    )

"""Fashion-MNIST: building the TFDS data set, loading it as NumPy arrays.

``FashionMNIST.prepare`` builds the ``aihw_fashion_mnist`` TFDS data set
(array_record files) from verified IDX archives, and rebuilds a build that
fails its checks. ``FashionMNIST.load`` reads a split back through
``tfds.data_source`` (see ``_storage``). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pathlib
import shutil
from collections.abc import Iterator

import numpy as np
import requests
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import download_manager
from tensorflow_datasets.core.utils import tqdm_utils

from aihw_jax.datasets import _builder, _sources, _storage
from aihw_jax.errors import ConfigError, DatasetError

__all__ = ["DATA_DIR_ENV", "DOWNLOAD_ENV", "FashionMNIST", "default_data_dir"]

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "AIHW_JAX_DATA_DIR"
DOWNLOAD_ENV = "AIHW_JAX_ALLOW_DOWNLOAD"


def default_data_dir() -> pathlib.Path:
    """Return the TFDS data directory used when no root is given.

    It is ``$AIHW_JAX_DATA_DIR`` if set and not empty, else
    ``~/.cache/aihw_jax/tensorflow_datasets``.
    """
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return pathlib.Path(configured).expanduser()
    return pathlib.Path.home() / ".cache" / "aihw_jax" / "tensorflow_datasets"


def _download_allowed(download: bool | None) -> bool:
    if download is not None:
        return download
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in {"1", "true", "yes"}


def _unavailable_message(
    problem: str,
    idx_dir: pathlib.Path,
    data_dir: pathlib.Path,
    removed_problem: str | None = None,
) -> str:
    """Compose the message of every DatasetError raised for missing data.

    ``removed_problem`` describes an invalid build that was deleted before
    the failed attempt to build again.
    """
    removed = ""
    if removed_problem is not None:
        removed = f"The previous build was invalid and was deleted: {removed_problem}. "
    return (
        f"Fashion-MNIST is not available: {problem}. {removed}"
        f"Looked for the IDX archives in {idx_dir} (set "
        f"{_sources.IDX_DIR_ENV} to change it) and for the built data set in "
        f"{_builder.version_dir(data_dir)} (set {DATA_DIR_ENV} or pass root to "
        "change it). To get the data, install Debian's package as root with "
        "'apt-get install dataset-fashion-mnist' or run 'make data'. On a "
        f"machine with internet access, set {DOWNLOAD_ENV}=1 or run "
        "'python -m aihw_jax.datasets prepare --download' to download the "
        "upstream archives."
    )


class FashionMNIST:
    """Descriptor of the Fashion-MNIST data set, used as a class, not an instance.

    Experiments receive the class itself (``dataset=FashionMNIST``) the way
    aihwkit's ``BasicTraining`` receives torchvision's class. The constants
    describe the data, and the class methods build and load it.

    ``mean`` and ``std`` are the normalisation constants of aihwkit's
    Fashion-MNIST training experiment. ``mean`` equals the pixel mean of the
    training split (0.2860), but its pixel standard deviation is 0.3530, so
    normalised training images have a standard deviation of about 1.10.
    """

    name = "fashion_mnist"
    mean = 0.2860
    std = 0.3205
    num_classes = 10
    image_shape = _builder.IMAGE_SHAPE
    classes = _builder.CLASS_NAMES
    splits = tuple(_sources.SPLIT_ARCHIVES)

    @classmethod
    def prepare(
        cls,
        root: str | os.PathLike | None = None,
        *,
        idx_dir: str | os.PathLike | None = None,
        download: bool | None = None,
        progress: bool = False,
    ) -> pathlib.Path:
        """Build the TFDS array_record files unless a valid build exists.

        A build whose record counts or files do not match is deleted and
        built again, with a warning in the log.

        Args:
            root: TFDS data directory. Defaults to ``default_data_dir()``.
            idx_dir: Directory with the four IDX ``.gz`` archives. Defaults to
                ``$AIHW_JAX_FASHION_MNIST_IDX_DIR``, else
                ``/usr/share/datasets/fashion-mnist``.
            download: Whether to download the upstream archives when
                ``idx_dir`` lacks any of them. Defaults to true when
                ``$AIHW_JAX_ALLOW_DOWNLOAD`` is ``1``, ``true`` or ``yes``.
            progress: Whether TFDS shows its progress bars of the download and
                of the build on stderr. TFDS's messages, which it prints to
                stdout, go to this module's logger at INFO level either way.

        Returns:
            The TFDS data directory, to pass as ``data_dir`` to
            ``tfds.data_source``.

        Raises:
            DatasetError: The archives are missing or corrupt, the download
                failed, or the build is still invalid after building.
        """
        data_dir = _resolve_data_dir(root)
        problem = _storage.check_build(data_dir)
        if problem is not None:
            _rebuild(data_dir, idx_dir, download, problem, progress=progress)
        return data_dir

    @classmethod
    def load(
        cls,
        split: str,
        root: str | os.PathLike | None = None,
        *,
        idx_dir: str | os.PathLike | None = None,
        download: bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Load one split, building the data set first if needed.

        Args:
            split: ``"train"`` (60000 examples) or ``"test"`` (10000).
            root: TFDS data directory. Defaults to ``default_data_dir()``.
            idx_dir: Directory with the IDX archives, see ``prepare``.
            download: Whether downloading is allowed, see ``prepare``.

        Returns:
            uint8 images of shape ``[N, 28, 28]`` and int32 labels of shape
            ``[N]``, in upstream order.

        Raises:
            ConfigError: ``split`` is not one of ``FashionMNIST.splits``. It is
                also a ``ValueError``.
            DatasetError: The data cannot be prepared, or the built data set
                does not match the source archives even after a rebuild.
        """
        if split not in cls.splits:
            raise ConfigError(
                f"Invalid Fashion-MNIST split {split!r}: expected one of "
                f"{', '.join(repr(name) for name in cls.splits)}"
            )
        data_dir = cls.prepare(root, idx_dir=idx_dir, download=download)

        arrays = _storage.load_cache(data_dir, split)
        if arrays is not None:
            return arrays

        arrays, problem = _storage.read_verified(data_dir, split)
        if problem is not None:
            # The record counts were right but the content is not: rebuild once.
            _rebuild(data_dir, idx_dir, download, problem)
            arrays, problem = _storage.read_verified(data_dir, split)
        if problem is not None:
            raise DatasetError(f"Fashion-MNIST build is corrupt: {problem}")

        _storage.save_cache(data_dir, split, arrays)
        return arrays

    @classmethod
    def normalize(cls, images: np.ndarray) -> np.ndarray:
        """Scale pixel values to [0, 1] and standardise with ``mean`` and ``std``.

        Returns:
            float32 array ``(images / 255 - mean) / std`` of the input shape.
        """
        scaled = np.asarray(images, dtype=np.float32) / np.float32(255)
        return (scaled - np.float32(cls.mean)) / np.float32(cls.std)


def _resolve_data_dir(root: str | os.PathLike | None) -> pathlib.Path:
    if root is None:
        return default_data_dir()
    return pathlib.Path(root).expanduser()


def _resolve_idx_dir(idx_dir: str | os.PathLike | None) -> pathlib.Path:
    if idx_dir is None:
        return _sources.idx_dir()
    return pathlib.Path(idx_dir).expanduser()


def _rebuild(
    data_dir: pathlib.Path,
    idx_dir: str | os.PathLike | None,
    download: bool | None,
    problem: str,
    *,
    progress: bool = False,
) -> None:
    """Delete an invalid build, if any, and build the data set again.

    Args:
        data_dir: TFDS data directory.
        idx_dir: Directory with the IDX archives, ``None`` for the default.
        download: Whether downloading is allowed, ``None`` for the default.
        problem: Why the current build, or its absence, is not usable.
        progress: Whether TFDS shows its progress bars.

    Raises:
        DatasetError: Building failed, or the new build is invalid.
    """
    removed_problem = None
    if _builder.version_dir(data_dir).exists():
        logger.warning("Rebuilding Fashion-MNIST: %s", problem)
        shutil.rmtree(_builder.version_dir(data_dir))
        removed_problem = problem

    source_dir = _resolve_idx_dir(idx_dir)
    _build(
        data_dir,
        source_dir,
        _download_allowed(download),
        removed_problem,
        progress=progress,
    )

    problem = _storage.check_build(data_dir)
    if problem is not None:
        raise DatasetError(f"Fashion-MNIST build failed: {problem}")


def _build(
    data_dir: pathlib.Path,
    idx_dir: pathlib.Path,
    download: bool,
    removed_problem: str | None,
    *,
    progress: bool = False,
) -> None:
    """Run the TFDS builder, turning every source failure into DatasetError.

    ``removed_problem`` is passed on to the error message, see
    ``_unavailable_message``.
    """
    builder = _builder.AihwFashionMnist(
        data_dir=os.fspath(data_dir),
        file_format="array_record",
        idx_dir=idx_dir,
        allow_download=download,
    )
    config = tfds.download.DownloadConfig(
        compute_stats=tfds.download.ComputeStatsMode.SKIP,
        force_checksums_validation=True,
        try_download_gcs=False,
    )
    try:
        with _tfds_output(progress):
            builder.download_and_prepare(download_config=config)
    except _sources.SourceError as error:
        message = _unavailable_message(str(error), idx_dir, data_dir, removed_problem)
        raise DatasetError(message) from error
    except download_manager.NonMatchingChecksumError as error:
        problem = f"a downloaded archive has the wrong size or SHA-256 ({error})"
        message = _unavailable_message(problem, idx_dir, data_dir, removed_problem)
        raise DatasetError(message) from error
    except (tfds.download.DownloadError, requests.RequestException) as error:
        problem = f"the download from {_sources.base_url()} failed ({error})"
        message = _unavailable_message(problem, idx_dir, data_dir, removed_problem)
        raise DatasetError(message) from error
    logger.info("Built Fashion-MNIST in %s", _builder.version_dir(data_dir))


@contextlib.contextmanager
def _tfds_output(progress: bool) -> Iterator[None]:
    """Show TFDS's progress bars only if ``progress``, and log what it prints.

    TFDS (4.9.10) prints its start and end messages to stdout and draws its
    bars with tqdm on stderr. Both switches are global to the process, so
    they are set for the build only and restored afterwards.

    NOTE: ``tqdm_utils._active`` is private to TFDS, and its only public
    counterpart, ``tfds.display_progress_bar``, sets the flag without
    returning the old value.
    """
    previous = getattr(tqdm_utils, "_active", True)
    tfds.display_progress_bar(progress)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            yield
    finally:
        tfds.display_progress_bar(previous)
        for line in printed.getvalue().splitlines():
            if line.strip():
                logger.info("TFDS: %s", line.strip())

"""SVHN source files: reading the original ``.mat`` files and downloading them.

The cropped-digits SVHN data set is published as one MATLAB file per split
(``train_32x32.mat``, ``test_32x32.mat``, ``extra_32x32.mat``). Each contains
``X``, uint8 images of shape ``[32, 32, 3, N]``, and ``y``, labels of shape
``[N, 1]`` in 1..10, where 10 is the digit 0. Reading them needs scipy.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil

import numpy as np
import requests
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import checksums, download_manager

from aihw_jax.datasets import _sources

__all__ = [
    "DEFAULT_BASE_URL",
    "MAT_DIR_ENV",
    "MAT_FILES",
    "URL_ENV",
    "MatFile",
    "ScipyMissingError",
    "base_url",
    "download_mat",
    "mat_dir_from_env",
    "read_mat",
]

MAT_DIR_ENV = "AIHW_JAX_SVHN_MAT_DIR"
URL_ENV = "AIHW_JAX_SVHN_URL"

# The upstream host serves plain HTTP. TFDS's download manager checks the
# registered size and SHA-256 of every file instead.
DEFAULT_BASE_URL = "http://ufldl.stanford.edu/housenumbers/"

IMAGE_SIZE = 32
CHANNELS = 3


class ScipyMissingError(_sources.SourceError):
    """scipy, which reads the ``.mat`` files, is not installed."""


@dataclasses.dataclass(frozen=True)
class MatFile:
    """One upstream ``.mat`` file of SVHN.

    Attributes:
        filename: File name, as upstream and torchvision's ``SVHN`` store it.
        size: Size in bytes of the upstream file.
        sha256: SHA-256 of the upstream file.
    """

    filename: str
    size: int
    sha256: str


# Sizes and SHA-256 values that tensorflow-datasets 4.9.10 registers for its
# ``svhn_cropped`` builder (datasets/svhn_cropped/checksums.tsv).
MAT_FILES = {
    "train": MatFile(
        filename="train_32x32.mat",
        size=182040794,
        sha256="435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8",
    ),
    "test": MatFile(
        filename="test_32x32.mat",
        size=64275384,
        sha256="cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b",
    ),
    "extra": MatFile(
        filename="extra_32x32.mat",
        size=1329278602,
        sha256="a133a4beb38a00fcdda90c9489e0c04f900b660ce8a316a5e854838379a71eb3",
    ),
}


def mat_dir_from_env() -> pathlib.Path | None:
    """Return ``$AIHW_JAX_SVHN_MAT_DIR`` if set and not empty, else ``None``."""
    configured = os.environ.get(MAT_DIR_ENV)
    return pathlib.Path(configured).expanduser() if configured else None


def base_url() -> str:
    """Return ``$AIHW_JAX_SVHN_URL`` or the upstream location, ending in a slash."""
    url = os.environ.get(URL_ENV) or DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


def read_mat(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one SVHN ``.mat`` file.

    Returns:
        uint8 images ``[N, 32, 32, 3]`` (channels last) and int32 labels
        ``[N]`` in 0..9, with the file's label 10 mapped to the digit 0.

    Raises:
        ScipyMissingError: scipy is not installed.
        _sources.SourceError: The file cannot be read or does not have
            SVHN's layout. The message names the file.
    """
    # scipy is an optional dependency (the test extra), so it is imported here.
    try:
        import scipy.io
    except ImportError as error:
        raise ScipyMissingError(
            f"reading {path} needs scipy, which is not installed. Install it "
            "with 'pip install scipy'"
        ) from error
    try:
        content = scipy.io.loadmat(os.fspath(path), variable_names=("X", "y"))
    except NotImplementedError as error:
        # scipy.io.loadmat reads MATLAB formats up to 7.2, but not the HDF5-based
        # 7.3. TFDS's svhn_cropped builder reads the upstream files with it too.
        raise _sources.SourceError(
            f"{path} is a MATLAB file format that scipy cannot read ({error})"
        ) from error
    except (OSError, ValueError, TypeError, scipy.io.matlab.MatReadError) as error:
        raise _sources.SourceError(f"{path} is corrupt: {error}") from error

    images = _check_images(path, content.get("X"))
    labels = _check_labels(path, content.get("y"), images.shape[3])
    # [H, W, C, N] -> [N, H, W, C]
    images = np.ascontiguousarray(np.moveaxis(images, 3, 0))
    return images, labels


def _check_images(path: pathlib.Path, images: np.ndarray | None) -> np.ndarray:
    expected = (IMAGE_SIZE, IMAGE_SIZE, CHANNELS)
    if images is None:
        raise _sources.SourceError(f"{path} has no variable 'X' with the images")
    if images.ndim != 4 or images.shape[:3] != expected:
        raise _sources.SourceError(
            f"{path} has images 'X' of shape {images.shape}, expected "
            f"({IMAGE_SIZE}, {IMAGE_SIZE}, {CHANNELS}, N)"
        )
    if images.dtype != np.uint8:
        raise _sources.SourceError(
            f"{path} has images 'X' of dtype {images.dtype}, expected uint8"
        )
    return images


def _check_labels(
    path: pathlib.Path, labels: np.ndarray | None, count: int
) -> np.ndarray:
    if labels is None:
        raise _sources.SourceError(f"{path} has no variable 'y' with the labels")
    if labels.shape not in ((count, 1), (count,)):
        raise _sources.SourceError(
            f"{path} has labels 'y' of shape {labels.shape}, expected "
            f"({count}, 1) for its {count} images"
        )
    labels = labels.reshape(count)
    if not np.issubdtype(labels.dtype, np.number) or np.any(labels != np.round(labels)):
        raise _sources.SourceError(
            f"{path} has labels 'y' of dtype {labels.dtype} that are not integers"
        )
    outside = (labels < 1) | (labels > 10)
    if np.any(outside):
        index = int(np.argmax(outside))
        raise _sources.SourceError(
            f"{path} has the label {labels[index]} at index {index}, but SVHN's files "
            "store the labels 1..10, with 10 for the digit 0"
        )
    labels = labels.astype(np.int32)
    return np.where(labels == 10, 0, labels).astype(np.int32)


def download_mat(
    split: str, target_dir: pathlib.Path, data_dir: pathlib.Path
) -> pathlib.Path:
    """Download the ``.mat`` file of ``split`` into ``target_dir``.

    TFDS's download manager stores the file under ``<data_dir>/downloads``
    and checks its size and SHA-256 against ``MAT_FILES``. The checked file
    is then copied to ``target_dir`` under its upstream name, so that later
    loads find it without a download.

    Returns:
        The path of the file in ``target_dir``.

    Raises:
        _sources.SourceError: The host cannot be reached, the download failed,
            or the file has the wrong size or SHA-256.
    """
    mat_file = MAT_FILES[split]
    url = base_url() + mat_file.filename
    _sources.check_reachable(url)
    manager = tfds.download.DownloadManager(
        download_dir=data_dir / "downloads",
        url_infos={
            url: checksums.UrlInfo(
                size=tfds.core.utils.Size(mat_file.size),
                checksum=mat_file.sha256,
                filename=mat_file.filename,
            )
        },
        force_checksums_validation=True,
    )
    try:
        downloaded = pathlib.Path(manager.download(url))
    except download_manager.NonMatchingChecksumError as error:
        raise _sources.SourceError(
            f"the file downloaded from {url} has the wrong size or SHA-256 ({error})"
        ) from error
    except (tfds.download.DownloadError, requests.RequestException) as error:
        raise _sources.SourceError(
            f"the download from {url} failed ({error})"
        ) from error

    target = target_dir / mat_file.filename
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(downloaded, partial)
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise _sources.SourceError(
            f"copying the downloaded {downloaded} to {target} failed ({error})"
        ) from error
    return target

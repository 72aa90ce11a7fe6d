"""TFDS builder that writes Fashion-MNIST as array_record files.

The builder is registered in TFDS under ``aihw_fashion_mnist``, so that once
built, ``tfds.data_source("aihw_fashion_mnist", data_dir=...)`` reads it back
with random access and without TensorFlow. It differs from TFDS's own
``fashion_mnist`` builder in three ways: it reads Debian's offline copy of the
archives first, it stores images as raw uint8 tensors (no PNG encoding), and
it keeps the upstream example order.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import checksums

from aihw_jax.datasets import _sources

__all__ = [
    "BUILDER_NAME",
    "CLASS_NAMES",
    "IMAGE_SHAPE",
    "AihwFashionMnist",
    "version_dir",
]

BUILDER_NAME = "aihw_fashion_mnist"
IMAGE_SHAPE = (28, 28)

# Label names in label order, as in the upstream README (Debian ships a copy).
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def version_dir(data_dir: pathlib.Path) -> pathlib.Path:
    """Return the directory that contains the built files under ``data_dir``."""
    return data_dir / BUILDER_NAME / str(AihwFashionMnist.VERSION)


class AihwFashionMnist(tfds.core.GeneratorBasedBuilder):
    """Fashion-MNIST from verified IDX archives, local or downloaded.

    Args:
        idx_dir: Directory searched for the four IDX archives. ``None`` is
            enough to read a data set that is already built.
        allow_download: Whether to download the upstream archives through
            TFDS's download manager when ``idx_dir`` lacks any of them.
        **kwargs: Passed to ``tfds.core.GeneratorBasedBuilder``.

    ``download_and_prepare`` raises ``_sources.SourceError`` when an archive
    is corrupt, or missing while downloading is not allowed, or when the
    download host cannot be reached. Download failures inside TFDS's download
    manager keep their TFDS exception types.
    """

    name = BUILDER_NAME
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Raw uint8 images in upstream order, from verified archives.",
    }

    def __init__(
        self,
        *,
        idx_dir: pathlib.Path | None = None,
        allow_download: bool = False,
        **kwargs,
    ) -> None:
        self._idx_dir = idx_dir
        self._allow_download = allow_download
        super().__init__(**kwargs)

    @property
    def url_infos(self) -> dict[str, checksums.UrlInfo]:
        """Size and SHA-256 that the download manager checks per URL.

        This replaces the ``checksums.tsv`` file that TFDS would otherwise
        look for beside the builder's module, so that the checksums also apply
        to a mirror set through ``$AIHW_JAX_FASHION_MNIST_URL``.
        """
        prefix = _sources.base_url()
        return {
            prefix + archive.filename: checksums.UrlInfo(
                size=tfds.core.utils.Size(archive.upstream_size),
                checksum=archive.upstream_sha256,
                filename=archive.filename,
            )
            for archive in _sources.ARCHIVES.values()
        }

    def _info(self) -> tfds.core.DatasetInfo:
        features = tfds.features.FeaturesDict(
            {
                "image": tfds.features.Tensor(shape=IMAGE_SHAPE, dtype=np.uint8),
                "label": tfds.features.ClassLabel(names=CLASS_NAMES),
            }
        )
        return tfds.core.DatasetInfo(
            builder=self,
            description="Fashion-MNIST: 28x28 grayscale images of 10 clothing classes.",
            features=features,
            supervised_keys=("image", "label"),
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            # Records stay in the order of the IDX files, because ``load``
            # verifies the arrays against the SHA-256 of those files.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        paths = self._archive_paths(dl_manager)
        arrays = {
            key: _sources.read_archive(paths[key], archive)
            for key, archive in _sources.ARCHIVES.items()
        }
        generators = {}
        for split, (images_key, labels_key) in _sources.SPLIT_ARCHIVES.items():
            generators[split] = self._generate_examples(
                arrays[images_key], arrays[labels_key]
            )
        return generators

    def _archive_paths(
        self, dl_manager: tfds.download.DownloadManager
    ) -> dict[str, pathlib.Path]:
        """Return the local archives if all exist, else download them."""
        if self._idx_dir is None:
            problem = "no IDX directory was given"
        elif not self._idx_dir.is_dir():
            problem = f"the IDX directory {self._idx_dir} does not exist"
        else:
            found, missing = _sources.find_local_archives(self._idx_dir)
            if not missing:
                return found
            problem = f"{', '.join(missing)} missing from {self._idx_dir}"
        if not self._allow_download:
            raise _sources.SourceError(problem)

        prefix = _sources.base_url()
        _sources.check_reachable(prefix)
        urls = {
            key: prefix + archive.filename for key, archive in _sources.ARCHIVES.items()
        }
        downloaded = dl_manager.download(urls)
        return {key: pathlib.Path(path) for key, path in downloaded.items()}

    def _generate_examples(
        self, images: np.ndarray, labels: np.ndarray
    ) -> Iterator[tuple[int, dict[str, object]]]:
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            yield index, {"image": image, "label": int(label)}

"""Data sets for aihw_jax experiments, read without TensorFlow.

* ``FashionMNIST`` is built from the IDX archives of Debian's
  ``dataset-fashion-mnist`` package, or downloaded on request, into a TFDS
  data set of array_record files.
* ``SVHN`` reads the original ``.mat`` files, TFDS's prepared
  ``svhn_cropped``, or downloads the ``.mat`` files on request.
* ``TFDSDataset("mnist", ...)`` reads any TFDS data set already prepared as
  array_record files, with the normalisation the caller gives.
* ``ArrayDataset(train=..., test=...)`` wraps arrays held in memory.

Each of them has ``load(split, root=...)``, ``normalize(images)``,
``image_shape`` and ``num_classes``, which the runners use::

    from aihw_jax.datasets import FashionMNIST

    images, labels = FashionMNIST.load("train")  # uint8 [60000, 28, 28], int32
    inputs = FashionMNIST.normalize(images)      # float32

Environment variables:
    AIHW_JAX_DATA_DIR: TFDS data directory, by default
        ``~/.cache/aihw_jax/tensorflow_datasets``.
    AIHW_JAX_FASHION_MNIST_IDX_DIR: Directory with the four IDX ``.gz``
        archives, by default ``/usr/share/datasets/fashion-mnist``.
    AIHW_JAX_SVHN_MAT_DIR: Directory searched for SVHN's ``.mat`` files
        before the data directory.
    AIHW_JAX_ALLOW_DOWNLOAD: ``1`` to download missing Fashion-MNIST
        archives or SVHN files. Off by default.
    AIHW_JAX_FASHION_MNIST_URL, AIHW_JAX_SVHN_URL: URL prefix of the files
        to download, for a mirror. By default the upstream locations.

Run ``python -m aihw_jax.datasets prepare`` to build Fashion-MNIST ahead of use.
"""

from aihw_jax.datasets._arrays import ArrayDataset
from aihw_jax.datasets._fashion_mnist import FashionMNIST, default_data_dir
from aihw_jax.datasets._prepared import TFDSDataset
from aihw_jax.datasets._svhn import SVHN

__all__ = ["SVHN", "ArrayDataset", "FashionMNIST", "TFDSDataset", "default_data_dir"]

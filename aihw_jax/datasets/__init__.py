"""Data sets for aihw_jax experiments, built with tensorflow-datasets.

Only Fashion-MNIST is provided. It is built from the IDX archives of
Debian's ``dataset-fashion-mnist`` package, or downloaded on request, into a
TFDS data set of array_record files that is read without TensorFlow::

    from aihw_jax.datasets import FashionMNIST

    images, labels = FashionMNIST.load("train")  # uint8 [60000, 28, 28], int32
    inputs = FashionMNIST.normalize(images)      # float32

Environment variables:
    AIHW_JAX_DATA_DIR: TFDS data directory, by default
        ``~/.cache/aihw_jax/tensorflow_datasets``.
    AIHW_JAX_FASHION_MNIST_IDX_DIR: Directory with the four IDX ``.gz``
        archives, by default ``/usr/share/datasets/fashion-mnist``.
    AIHW_JAX_ALLOW_DOWNLOAD: ``1`` to download the upstream archives when
        that directory lacks any of them. Off by default.
    AIHW_JAX_FASHION_MNIST_URL: URL prefix of the archives to download, for
        a mirror. By default the upstream location.

Run ``python -m aihw_jax.datasets prepare`` to build the data set ahead of use.
"""

from aihw_jax.datasets._fashion_mnist import FashionMNIST, default_data_dir

__all__ = ["FashionMNIST", "default_data_dir"]

"""Checks and reads of a built Fashion-MNIST data set.

A build is checked in two steps. ``check_build`` compares record counts, which
is cheap and catches truncated or missing files. ``read_verified`` decodes a
split through ``tfds.data_source`` and compares the arrays with the SHA-256 of
the source IDX files, which catches any other difference. Verified arrays are
kept as ``.npy`` files beside the array_record files, and they are verified
again on every read.
"""

from __future__ import annotations

import logging
import os
import pathlib

import numpy as np
import tensorflow_datasets as tfds
from array_record.python import array_record_module
from google.protobuf import json_format

from aihw_jax.datasets import _builder, _sources

__all__ = ["check_build", "load_cache", "read_verified", "save_cache"]

logger = logging.getLogger(__name__)

# Records decoded per ``__getitems__`` call when reading a split back.
_READ_BATCH_SIZE = 10000


def check_build(data_dir: pathlib.Path) -> str | None:
    """Check that a complete build exists under ``data_dir``.

    Compares each split's example count and shard lengths in
    ``dataset_info.json`` with the expected counts and with the number of
    records in each array_record file. A truncated file reports zero records.

    Returns:
        ``None`` if the build is complete, else a description of the problem.
    """
    info_path = _builder.version_dir(data_dir) / "dataset_info.json"
    if not info_path.is_file():
        return f"{info_path} is missing"
    try:
        info = tfds.builder(_builder.BUILDER_NAME, data_dir=os.fspath(data_dir)).info
    except (OSError, ValueError, KeyError, json_format.Error, AssertionError) as error:
        # TFDS 4.9.10 raises json_format.Error for invalid JSON and
        # AssertionError when the version in the file does not match.
        return f"{info_path} is invalid ({error})"

    for split, (images_key, _) in _sources.SPLIT_ARCHIVES.items():
        expected = _sources.ARCHIVES[images_key].shape[0]
        if split not in info.splits:
            return f"split {split!r} is missing from {info_path}"
        split_info = info.splits[split]
        if split_info.num_examples != expected:
            return (
                f"{info_path} lists {split_info.num_examples} {split} "
                f"examples, expected {expected}"
            )
        for path, length in zip(
            split_info.filepaths, split_info.shard_lengths, strict=True
        ):
            problem = _check_shard(pathlib.Path(path), length)
            if problem is not None:
                return problem
    return None


def _check_shard(path: pathlib.Path, expected_records: int) -> str | None:
    if not path.is_file():
        return f"{path} is missing"
    # A truncated file opens with ok() false and zero records, and close()
    # then raises RuntimeError with the reason.
    reader = array_record_module.ArrayRecordReader(os.fspath(path))
    records = reader.num_records() if reader.ok() else 0
    try:
        reader.close()
    except RuntimeError as error:
        return (
            f"{path} contains {records} records, expected {expected_records} ({error})"
        )
    if records != expected_records:
        return f"{path} contains {records} records, expected {expected_records}"
    return None


def read_verified(
    data_dir: pathlib.Path, split: str
) -> tuple[tuple[np.ndarray, np.ndarray] | None, str | None]:
    """Read a split through ``tfds.data_source`` and verify its content.

    Returns:
        ``(arrays, None)`` on success, else ``(None, problem)``.
    """
    source = tfds.data_source(
        _builder.BUILDER_NAME,
        split=split,
        data_dir=os.fspath(data_dir),
        download=False,
    )
    images = np.empty((len(source), *_builder.IMAGE_SHAPE), dtype=np.uint8)
    labels = np.empty((len(source),), dtype=np.int32)
    try:
        for start in range(0, len(source), _READ_BATCH_SIZE):
            indices = list(range(start, min(start + _READ_BATCH_SIZE, len(source))))
            records = source.__getitems__(indices)
            for index, record in zip(indices, records, strict=True):
                images[index] = record["image"]
                labels[index] = record["label"]
    except (RuntimeError, ValueError) as error:
        # array_record raises RuntimeError on a failed chunk hash.
        return None, f"reading split {split!r} failed ({error})"

    problem = _compare_with_sources(split, images, labels)
    if problem is not None:
        return None, f"split {split!r} read from {data_dir}: {problem}"
    return (images, labels), None


def _compare_with_sources(
    split: str, images: np.ndarray, labels: np.ndarray
) -> str | None:
    """Return why the arrays differ from the source archives, or ``None``."""
    keys = _sources.SPLIT_ARCHIVES[split]
    for key, values in zip(keys, (images, labels), strict=True):
        archive = _sources.ARCHIVES[key]
        try:
            actual = _sources.idx_digest(archive, values)
        except ValueError as error:
            return f"{key} do not match {archive.filename}: {error}"
        if actual != archive.sha256:
            return (
                f"{key} do not match {archive.filename}: SHA-256 as IDX is "
                f"{actual}, expected {archive.sha256}"
            )
    return None


def _cache_paths(
    data_dir: pathlib.Path, split: str
) -> tuple[pathlib.Path, pathlib.Path]:
    directory = _builder.version_dir(data_dir)
    return directory / f"{split}-images.npy", directory / f"{split}-labels.npy"


def load_cache(
    data_dir: pathlib.Path, split: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the cached arrays of a split if present and verified."""
    images_path, labels_path = _cache_paths(data_dir, split)
    if not (images_path.is_file() and labels_path.is_file()):
        return None
    try:
        images = np.load(images_path, allow_pickle=False)
        labels = np.load(labels_path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        logger.warning("Ignoring unreadable Fashion-MNIST cache: %s", error)
        return None
    if images.dtype != np.uint8 or labels.dtype != np.int32:
        logger.warning(
            "Ignoring Fashion-MNIST cache with dtypes %s and %s, expected uint8 "
            "and int32",
            images.dtype,
            labels.dtype,
        )
        return None

    problem = _compare_with_sources(split, images, labels)
    if problem is not None:
        logger.warning("Ignoring corrupt Fashion-MNIST cache: %s", problem)
        return None
    return images, labels


def save_cache(
    data_dir: pathlib.Path, split: str, arrays: tuple[np.ndarray, np.ndarray]
) -> None:
    """Write the verified arrays of a split, each file replaced atomically.

    A data directory that is not writable only costs speed, so the error is
    logged and not raised.
    """
    for path, values in zip(_cache_paths(data_dir, split), arrays, strict=True):
        partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
        try:
            with open(partial, "wb") as stream:
                np.save(stream, values, allow_pickle=False)
            os.replace(partial, path)
        except OSError as error:
            logger.warning("Cannot write the Fashion-MNIST cache %s: %s", path, error)
            partial.unlink(missing_ok=True)
            return

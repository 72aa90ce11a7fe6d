"""Tests of SVHN, TFDSDataset and ArrayDataset on small generated files.

Every file is written into a temporary directory: SVHN ``.mat`` files in the
upstream layout, and TFDS data sets built from a few PNG images. Downloads go
to an HTTP server on 127.0.0.1 only.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import math
import os
import pathlib
import threading

import jax
import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds
from PIL import Image

from aihw_jax.datasets import (
    SVHN,
    ArrayDataset,
    TFDSDataset,
    _svhn_sources as svhn_sources,
)
from aihw_jax.errors import ConfigError, DatasetError
from aihw_jax.experiments import BasicTraining
from aihw_jax.experiments.runners import run_local
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax

# aihwkit's SVHN normalisation, from its experiments/experiments/training.py.
SVHN_MEAN = (0.4377, 0.4438, 0.4728)
SVHN_STD = (0.1980, 0.2010, 0.1970)


@pytest.fixture(autouse=True)
def offline_by_default(monkeypatch):
    """Keep tests offline unless a test allows a download itself."""
    for name in (
        "AIHW_JAX_ALLOW_DOWNLOAD",
        svhn_sources.MAT_DIR_ENV,
        svhn_sources.URL_ENV,
    ):
        monkeypatch.delenv(name, raising=False)


def random_images(count: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, *shape), np.uint8)


def write_svhn_mat(path: pathlib.Path, images: np.ndarray, digits: np.ndarray) -> None:
    """Write images ``[N, 32, 32, 3]`` and digits 0..9 as SVHN stores them."""
    stored_labels = np.where(digits == 0, 10, digits).astype(np.uint8)
    scipy.io.savemat(
        path,
        {"X": np.transpose(images, (1, 2, 3, 0)), "y": stored_labels[:, None]},
    )


@pytest.fixture
def svhn_files(tmp_path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write train (5 images) and test (3 images) .mat files into tmp_path."""
    splits = {
        "train": (random_images(5, (32, 32, 3), 1), np.array([0, 1, 9, 0, 5])),
        "test": (random_images(3, (32, 32, 3), 2), np.array([3, 0, 7])),
    }
    for split, (images, digits) in splits.items():
        write_svhn_mat(tmp_path / f"{split}_32x32.mat", images, digits)
    return splits


def test_svhn_mat_shapes_and_layout(tmp_path, svhn_files):
    for split, (images_hwc, _) in svhn_files.items():
        images, labels = SVHN.load(split, tmp_path)
        assert images.dtype == np.uint8
        assert images.shape == (len(images_hwc), 32, 32, 3)
        assert labels.dtype == np.int32
        assert labels.shape == (len(images_hwc),)
        np.testing.assert_array_equal(images, images_hwc)


def test_svhn_label_10_becomes_0(tmp_path, svhn_files):
    _, labels = SVHN.load("train", tmp_path)
    np.testing.assert_array_equal(labels, [0, 1, 9, 0, 5])
    raw = scipy.io.loadmat(tmp_path / "train_32x32.mat")["y"].ravel()
    np.testing.assert_array_equal(raw, [10, 1, 9, 10, 5])


def test_svhn_normalize_uses_aihwkit_constants():
    images = np.zeros((2, 32, 32, 3), np.uint8)
    images[1] = 255
    normalized = SVHN.normalize(images)
    assert normalized.dtype == np.float32
    assert normalized.shape == images.shape
    for channel in range(3):
        mean, std = SVHN_MEAN[channel], SVHN_STD[channel]
        np.testing.assert_allclose(normalized[0, ..., channel], -mean / std, rtol=1e-6)
        np.testing.assert_allclose(
            normalized[1, ..., channel], (1 - mean) / std, rtol=1e-6
        )
    assert SVHN.mean == SVHN_MEAN
    assert SVHN.std == SVHN_STD
    assert SVHN.image_shape == (32, 32, 3)
    assert SVHN.num_classes == 10


def test_svhn_mat_dir_from_env(tmp_path, monkeypatch):
    mat_dir = tmp_path / "mat"
    mat_dir.mkdir()
    write_svhn_mat(
        mat_dir / "test_32x32.mat", random_images(2, (32, 32, 3), 3), np.array([4, 0])
    )
    monkeypatch.setenv(svhn_sources.MAT_DIR_ENV, os.fspath(mat_dir))
    images, labels = SVHN.load("test", tmp_path / "empty")
    assert images.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(labels, [4, 0])


def test_svhn_missing_files_names_paths(tmp_path):
    with pytest.raises(DatasetError) as raised:
        SVHN.load("train", tmp_path / "data", mat_dir=tmp_path / "mat")
    message = str(raised.value)
    assert os.fspath(tmp_path / "mat" / "train_32x32.mat") in message
    assert os.fspath(tmp_path / "data" / "train_32x32.mat") in message
    assert os.fspath(tmp_path / "data" / "svhn_cropped") in message
    assert "AIHW_JAX_ALLOW_DOWNLOAD=1" in message
    assert "AIHW_JAX_SVHN_MAT_DIR" in message


@pytest.mark.parametrize(
    "stored, expected",
    [
        pytest.param(
            {"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.ones((2, 1))},
            "shape (28, 28, 3, 2)",
            id="image-shape",
        ),
        pytest.param(
            {"X": np.zeros((32, 32, 3, 2)), "y": np.ones((2, 1))},
            "dtype float64",
            id="image-dtype",
        ),
        pytest.param(
            {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[1], [0]])},
            "label 0 at index 1",
            id="label-0",
        ),
        pytest.param(
            {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[11], [1]])},
            "label 11 at index 0",
            id="label-11",
        ),
        pytest.param(
            {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1))},
            "shape (3, 1)",
            id="label-count",
        ),
        pytest.param(
            {"X": np.zeros((32, 32, 3, 2), np.uint8)}, "no variable 'y'", id="no-y"
        ),
    ],
)
def test_svhn_invalid_mat_raises(tmp_path, stored, expected):
    scipy.io.savemat(tmp_path / "train_32x32.mat", stored)
    with pytest.raises(DatasetError) as raised:
        SVHN.load("train", tmp_path)
    message = str(raised.value)
    assert expected in message
    assert os.fspath(tmp_path / "train_32x32.mat") in message


def test_svhn_truncated_mat_raises(tmp_path, svhn_files):
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DatasetError) as raised:
        SVHN.load("train", tmp_path)
    assert os.fspath(path) in str(raised.value)


def test_svhn_invalid_split():
    with pytest.raises(ConfigError, match="'validation'"):
        SVHN.load("validation")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def serve_directory():
    """Start an HTTP server on 127.0.0.1 for a directory and return its URL."""
    servers = []

    def start(directory: pathlib.Path) -> str:
        handler = functools.partial(QuietHandler, directory=os.fspath(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_svhn_download_from_mirror(tmp_path, monkeypatch, serve_directory):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_svhn_mat(
        mirror / "test_32x32.mat",
        random_images(4, (32, 32, 3), 4),
        np.array([1, 2, 0, 3]),
    )
    content = (mirror / "test_32x32.mat").read_bytes()
    registered = svhn_sources.MatFile(
        "test_32x32.mat", len(content), hashlib.sha256(content).hexdigest()
    )
    monkeypatch.setitem(svhn_sources.MAT_FILES, "test", registered)
    monkeypatch.setenv(svhn_sources.URL_ENV, serve_directory(mirror))

    images, labels = SVHN.load("test", tmp_path / "data", download=True)
    assert images.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(labels, [1, 2, 0, 3])
    assert (tmp_path / "data" / "test_32x32.mat").read_bytes() == content


def test_svhn_download_rejects_wrong_checksum(tmp_path, monkeypatch, serve_directory):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_svhn_mat(
        mirror / "test_32x32.mat", random_images(1, (32, 32, 3), 5), np.array([1])
    )
    monkeypatch.setenv(svhn_sources.URL_ENV, serve_directory(mirror))
    monkeypatch.setenv("AIHW_JAX_ALLOW_DOWNLOAD", "1")

    with pytest.raises(DatasetError) as raised:
        SVHN.load("test", tmp_path / "data")
    assert "wrong size or SHA-256" in str(raised.value)
    assert not (tmp_path / "data" / "test_32x32.mat").exists()


def png_bytes(image: np.ndarray) -> bytes:
    stream = io.BytesIO()
    Image.fromarray(image).save(stream, format="PNG")
    return stream.getvalue()


def build_tfds(
    builder_class: type, data_dir: pathlib.Path, splits: dict[str, tuple]
) -> None:
    """Build a TFDS data set of PNG images as array_record files."""
    builder = builder_class(
        splits=splits, data_dir=os.fspath(data_dir), file_format="array_record"
    )
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            compute_stats=tfds.download.ComputeStatsMode.SKIP,
            try_download_gcs=False,
        )
    )


class GeneratedSplits:
    """Mixin: builds the splits passed to the constructor, in order."""

    def __init__(self, *, splits: dict[str, tuple], **kwargs) -> None:
        self._splits = splits
        super().__init__(**kwargs)

    def _split_generators(self, dl_manager):
        del dl_manager
        return {
            split: self._generate_examples(split, images, labels)
            for split, (images, labels) in self._splits.items()
        }

    def _generate_examples(self, split, images, labels):
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            yield index, self._record(split, index, image, label)


class TinyDigits(
    GeneratedSplits, tfds.core.GeneratorBasedBuilder, skip_registration=True
):
    """A data set that TFDS has no code for, read back from its files alone."""

    name = "aihw_tiny_digits"
    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "picture": tfds.features.Image(shape=(8, 6, 3)),
                    "digit": tfds.features.ClassLabel(num_classes=4),
                    "note": tfds.features.Text(),
                }
            ),
            supervised_keys=("picture", "digit"),
            disable_shuffling=True,
        )

    def _record(self, split, index, image, label):
        return {"picture": png_bytes(image), "digit": int(label), "note": split}


@pytest.fixture(scope="module")
def tiny_digits(tmp_path_factory) -> tuple[pathlib.Path, dict[str, tuple]]:
    data_dir = tmp_path_factory.mktemp("tfds")
    splits = {
        "train": (random_images(6, (8, 6, 3), 6), np.array([0, 1, 2, 3, 1, 0])),
        "test": (random_images(2, (8, 6, 3), 7), np.array([3, 2])),
    }
    build_tfds(TinyDigits, data_dir, splits)
    return data_dir, splits


def test_tfds_dataset_reads_prepared_files(tiny_digits):
    data_dir, splits = tiny_digits
    dataset = TFDSDataset("aihw_tiny_digits", data_dir=os.fspath(data_dir))
    for split, (expected_images, expected_labels) in splits.items():
        images, labels = dataset.load(split)
        assert images.dtype == np.uint8
        np.testing.assert_array_equal(images, expected_images)
        assert labels.dtype == np.int32
        np.testing.assert_array_equal(labels, expected_labels)
    assert dataset.image_shape == (8, 6, 3)
    assert dataset.num_classes == 4


def test_tfds_dataset_root_and_channels_first(tiny_digits):
    data_dir, splits = tiny_digits
    dataset = TFDSDataset("aihw_tiny_digits", channels_last=False, test_split="train")
    images, labels = dataset.load("test", root=data_dir)
    np.testing.assert_array_equal(images, np.moveaxis(splits["train"][0], 3, 1))
    np.testing.assert_array_equal(labels, splits["train"][1])
    assert dataset.image_shape == (3, 8, 6)
    sliced, _ = dataset.load("train[:2]", root=data_dir)
    assert sliced.shape == (2, 3, 8, 6)


def test_tfds_dataset_normalize_per_channel():
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    images = np.full((1, 2, 2, 3), 51, np.uint8)  # 51 / 255 = 0.2
    normalized = TFDSDataset("any", mean=list(mean), std=std).normalize(images)
    for channel in range(3):
        expected = (0.2 - mean[channel]) / std[channel]
        np.testing.assert_allclose(normalized[0, ..., channel], expected, rtol=1e-6)
    plain = TFDSDataset("any").normalize(images)
    np.testing.assert_allclose(plain, 0.2, rtol=1e-6)


def test_tfds_dataset_is_hashable():
    first = TFDSDataset("mnist", mean=[0.5], std=[0.25])
    second = TFDSDataset("mnist", mean=(0.5,), std=(0.25,))
    assert hash(first) == hash(second)
    assert first == second


def test_tfds_dataset_missing_names_directory(tmp_path):
    with pytest.raises(DatasetError) as raised:
        TFDSDataset("aihw_no_such_data").load("train", root=tmp_path)
    message = str(raised.value)
    assert "'aihw_no_such_data'" in message
    assert os.fspath(tmp_path) in message
    assert "--file_format=array_record" in message


@pytest.mark.parametrize(
    "kwargs, split, expected",
    [
        pytest.param({"image_key": "pixels"}, "train", "'pixels'", id="image-key"),
        pytest.param({"label_key": "note"}, "train", "'note'", id="text-label"),
        pytest.param({}, "validation", "'validation'", id="split"),
    ],
)
def test_tfds_dataset_invalid_request(tiny_digits, kwargs, split, expected):
    data_dir, _ = tiny_digits
    dataset = TFDSDataset("aihw_tiny_digits", **kwargs)
    with pytest.raises(ConfigError) as raised:
        dataset.load(split, root=data_dir)
    assert expected in str(raised.value)


def test_tfds_dataset_mean_without_std():
    with pytest.raises(ConfigError, match="mean=0.5 and std=None"):
        TFDSDataset("mnist", mean=0.5)


class FakeSvhnCropped(
    GeneratedSplits, tfds.builder_cls("svhn_cropped"), skip_registration=True
):
    """TFDS's svhn_cropped builder fed with generated images, not the .mat files."""

    name = "svhn_cropped"

    def _record(self, split, index, image, label):
        return {
            "image": png_bytes(image),
            "label": int(label),
            "id": f"{split}_{index}",
        }


def test_svhn_reads_prepared_svhn_cropped(tmp_path):
    splits = {
        "train": (random_images(3, (32, 32, 3), 8), np.array([0, 9, 4])),
        "test": (random_images(2, (32, 32, 3), 9), np.array([1, 0])),
    }
    build_tfds(FakeSvhnCropped, tmp_path, splits)
    images, labels = SVHN.load("test", tmp_path)
    assert images.shape == (2, 32, 32, 3)
    # TFDS shuffles svhn_cropped, so compare the examples as a set.
    expected = splits["test"][0]
    order = np.argsort(labels)
    np.testing.assert_array_equal(labels[order], [0, 1])
    np.testing.assert_array_equal(images[order], expected[[1, 0]])


def array_dataset(**kwargs) -> ArrayDataset:
    arrays = {
        "train": (random_images(40, (4, 4), 10), np.arange(40) % 3),
        "test": (random_images(12, (4, 4), 11), np.arange(12) % 3),
    }
    arrays.update(kwargs)
    return ArrayDataset(**arrays)


def test_array_dataset_load_and_normalize():
    dataset = array_dataset(mean=0.5, std=0.25)
    images, labels = dataset.load("train", root="ignored")
    assert images.shape == (40, 4, 4)
    assert labels.dtype == np.int32
    assert dataset.num_classes == 3
    assert dataset.image_shape == (4, 4)
    normalized = dataset.normalize(images)
    expected = (images / 255 - 0.5) / 0.25
    np.testing.assert_allclose(normalized, expected, rtol=1e-6, atol=1e-6)
    floats = np.full((1, 4, 4), 2.0, np.float32)
    np.testing.assert_allclose(dataset.normalize(floats), (2.0 - 0.5) / 0.25)


def test_array_dataset_hashes_by_identity():
    dataset = array_dataset()
    assert hash(dataset) == hash(dataset)
    assert dataset != array_dataset()
    assert "train=40 x (4, 4)" in repr(dataset)


def test_run_local_on_array_dataset():
    dataset = array_dataset(num_classes=3)
    model = AnalogSequential(Flatten(), AnalogLinear(16, 3), LogSoftmax(dim=1))
    experiment = BasicTraining(dataset=dataset, model=model, epochs=2, batch_size=8)
    assert isinstance(hash(experiment), int)
    result = run_local(experiment, seed=1, max_elements=24, stdout=False)
    assert len(result["epochs"]) == 2
    for record in result["epochs"]:
        assert math.isfinite(record["train_loss"])
        assert math.isfinite(record["valid_loss"])
        assert 0.0 <= record["accuracy"] <= 1.0
    weights = experiment.load_weights(result["weights"])
    assert jax.tree.leaves(weights)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        pytest.param(
            {"train": (np.zeros((2, 4, 4), np.uint8),)}, "got 1 items", id="pair"
        ),
        pytest.param(
            {"train": (np.zeros(4, np.uint8), np.zeros(4, int))},
            "shape (4,)",
            id="rank",
        ),
        pytest.param(
            {"train": (np.zeros((2, 4, 4), np.int16), np.zeros(2, int))},
            "int16",
            id="image-dtype",
        ),
        pytest.param(
            {"train": (np.full((2, 4, 4), np.nan), np.zeros(2, int))},
            "NaN",
            id="nan",
        ),
        pytest.param(
            {"train": (np.zeros((2, 4, 4), np.uint8), np.zeros(3, int))},
            "shape (2,)",
            id="label-count",
        ),
        pytest.param(
            {"train": (np.zeros((2, 4, 4), np.uint8), np.zeros(2))},
            "float64",
            id="label-dtype",
        ),
        pytest.param(
            {"train": (np.zeros((2, 4, 4), np.uint8), np.array([0, -1]))},
            "got -1 at index 1",
            id="negative-label",
        ),
        pytest.param({"num_classes": 2}, "label 2", id="label-range"),
        pytest.param({"num_classes": 0}, "got 0", id="num-classes"),
        pytest.param(
            {"test": (np.zeros((2, 5, 4), np.uint8), np.zeros(2, int))},
            "(5, 4)",
            id="test-shape",
        ),
        pytest.param({"mean": 0.5}, "std=None", id="mean-only"),
        pytest.param({"mean": 0.5, "std": 0.0}, "got 0.0", id="zero-std"),
        pytest.param({"mean": (0.1, 0.2), "std": 1.0}, "2 values", id="channels"),
    ],
)
def test_array_dataset_invalid_input(kwargs, expected):
    with pytest.raises(ConfigError) as raised:
        array_dataset(**kwargs)
    assert expected in str(raised.value)


def test_array_dataset_per_channel_statistics():
    images = np.full((2, 3, 2, 2), 1.0, np.float32)
    first = ArrayDataset(
        train=(images, np.array([0, 1])),
        test=(images, np.array([1, 0])),
        mean=(0.0, 0.5, 1.0),
        std=(1.0, 0.5, 2.0),
        channels_last=False,
    )
    np.testing.assert_allclose(first.normalize(images)[0, :, 0, 0], [1.0, 1.0, 0.0])
    last = ArrayDataset(
        train=(images, np.array([0, 1])),
        test=(images, np.array([1, 0])),
        mean=(0.0, 0.5),
        std=(1.0, 0.5),
    )
    np.testing.assert_allclose(last.normalize(images)[0, 0, 0], [1.0, 1.0])


def test_run_local_on_svhn_files(tmp_path, svhn_files):
    model = AnalogSequential(
        Flatten(), AnalogLinear(32 * 32 * 3, 10), LogSoftmax(dim=1)
    )
    experiment = BasicTraining(dataset=SVHN, model=model, epochs=1, batch_size=2)
    result = run_local(experiment, dataset_root=tmp_path, max_elements=4, stdout=False)
    record = result["epochs"][0]
    assert math.isfinite(record["train_loss"])
    assert math.isfinite(record["valid_loss"])

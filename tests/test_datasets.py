"""Tests of aihw_jax.datasets on the real Fashion-MNIST files.

The tests read the IDX archives of Debian's ``dataset-fashion-mnist`` package
and the data set built from them in the default data directory (``make data``
prepares both). Anything a test corrupts is a copy in a temporary directory.
The download tests serve archives from a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import logging
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from array_record.python import array_record_module

from aihw_jax.datasets import FashionMNIST, _builder, _sources, default_data_dir
from aihw_jax.errors import DatasetError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

# Modification times in the gzip headers of the upstream archives. With them,
# the Debian archives can be turned back into the upstream files.
UPSTREAM_MTIMES = {
    "train-images-idx3-ubyte.gz": 1504176606,
    "train-labels-idx1-ubyte.gz": 1504176606,
    "t10k-images-idx3-ubyte.gz": 1504176627,
    "t10k-labels-idx1-ubyte.gz": 1504176627,
}


@pytest.fixture(autouse=True)
def no_download_by_default(monkeypatch):
    """Keep tests offline unless a test passes ``download=True`` itself."""
    monkeypatch.delenv("AIHW_JAX_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.delenv(_sources.URL_ENV, raising=False)


@pytest.fixture(scope="session")
def idx_dir() -> pathlib.Path:
    return _sources.idx_dir()


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    """The default data directory, with the data set built and both splits cached."""
    root = FashionMNIST.prepare(download=False)
    for split in FashionMNIST.splits:
        FashionMNIST.load(split, root, download=False)
    return root


@pytest.fixture(scope="session")
def arrays_train(data_dir) -> tuple[np.ndarray, np.ndarray]:
    return FashionMNIST.load("train", data_dir)


@pytest.fixture(scope="session")
def arrays_test(data_dir) -> tuple[np.ndarray, np.ndarray]:
    return FashionMNIST.load("test", data_dir)


def read_idx_independently(path: pathlib.Path) -> np.ndarray:
    """Parse an IDX archive with plain gzip and struct, without aihw_jax."""
    content = gzip.decompress(path.read_bytes())
    (magic,) = struct.unpack(">I", content[:4])
    rank = magic & 0xFF
    shape = struct.unpack(f">{rank}I", content[4 : 4 + 4 * rank])
    return np.frombuffer(content, np.uint8, offset=4 + 4 * rank).reshape(shape)


def copy_build(data_dir: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    """Copy the built data set, caches included, into a new data directory."""
    root = tmp_path / "data"
    shutil.copytree(_builder.version_dir(data_dir), _builder.version_dir(root))
    return root


def shard_path(root: pathlib.Path, split: str) -> pathlib.Path:
    (path,) = _builder.version_dir(root).glob(f"*-{split}.array_record-*")
    return path


def test_load_train_shapes_and_dtypes(arrays_train):
    images, labels = arrays_train
    assert images.shape == (60000, 28, 28)
    assert images.dtype == np.uint8
    assert labels.shape == (60000,)
    assert labels.dtype == np.int32


def test_load_test_shapes_and_dtypes(arrays_test):
    images, labels = arrays_test
    assert images.shape == (10000, 28, 28)
    assert images.dtype == np.uint8
    assert labels.shape == (10000,)
    assert labels.dtype == np.int32


def test_labels_cover_classes_evenly(arrays_train, arrays_test):
    for (_, labels), per_class in ((arrays_train, 6000), (arrays_test, 1000)):
        assert labels.min() == 0
        assert labels.max() == FashionMNIST.num_classes - 1
        counts = np.bincount(labels, minlength=FashionMNIST.num_classes)
        assert counts.tolist() == [per_class] * FashionMNIST.num_classes


def test_train_pixel_statistics(arrays_train):
    pixels = arrays_train[0].astype(np.float64) / 255
    # Measured on the training split: mean 0.286041, std 0.353024.
    assert pixels.mean() == pytest.approx(0.286041, abs=1e-6)
    assert pixels.std() == pytest.approx(0.353024, abs=1e-6)


def test_normalize_train_centres_pixels(arrays_train):
    normalized = FashionMNIST.normalize(arrays_train[0])
    assert normalized.dtype == np.float32
    assert normalized.shape == arrays_train[0].shape
    assert abs(float(normalized.mean())) < 1e-3
    # aihwkit's std 0.3205 is below the measured 0.3530, so the result is wider.
    assert float(normalized.std()) == pytest.approx(0.3530 / 0.3205, abs=1e-3)


def test_normalize_formula():
    images = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    expected = (images / 255 - FashionMNIST.mean) / FashionMNIST.std
    np.testing.assert_allclose(FashionMNIST.normalize(images), expected, rtol=1e-6)


def test_load_keeps_upstream_order(idx_dir, arrays_train, arrays_test):
    for split, (images, labels) in (("train", arrays_train), ("test", arrays_test)):
        images_key, labels_key = _sources.SPLIT_ARCHIVES[split]
        images_file = idx_dir / _sources.ARCHIVES[images_key].filename
        labels_file = idx_dir / _sources.ARCHIVES[labels_key].filename
        np.testing.assert_array_equal(images, read_idx_independently(images_file))
        np.testing.assert_array_equal(labels, read_idx_independently(labels_file))


def test_descriptor_constants():
    assert FashionMNIST.name == "fashion_mnist"
    assert FashionMNIST.mean == 0.2860
    assert FashionMNIST.std == 0.3205
    assert FashionMNIST.num_classes == 10
    assert FashionMNIST.image_shape == (28, 28)
    assert len(FashionMNIST.classes) == FashionMNIST.num_classes


def test_default_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AIHW_JAX_DATA_DIR", os.fspath(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("AIHW_JAX_DATA_DIR")
    expected = pathlib.Path.home() / ".cache/aihw_jax/tensorflow_datasets"
    assert default_data_dir() == expected


def test_unknown_split_raises(data_dir):
    with pytest.raises(ValueError) as raised:
        FashionMNIST.load("validation", data_dir)
    message = str(raised.value)
    assert "'validation'" in message
    assert "'train'" in message
    assert "'test'" in message


def test_debian_archive_digests(idx_dir):
    for archive in _sources.ARCHIVES.values():
        content = gzip.decompress((idx_dir / archive.filename).read_bytes())
        assert hashlib.sha256(content).hexdigest() == archive.sha256
        assert content[: len(archive.header)] == archive.header


def test_corrupt_archive_names_file(idx_dir, tmp_path):
    sources = tmp_path / "idx"
    shutil.copytree(idx_dir, sources)
    labels_file = sources / "train-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(labels_file.read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # A valid label, but the wrong one.
    labels_file.write_bytes(gzip.compress(bytes(content)))
    actual = hashlib.sha256(content).hexdigest()

    with pytest.raises(DatasetError) as raised:
        FashionMNIST.load("test", tmp_path / "data", idx_dir=sources, download=False)
    message = str(raised.value)
    assert os.fspath(labels_file) in message
    assert actual in message
    assert _sources.ARCHIVES["train_labels"].sha256 in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert not _builder.version_dir(tmp_path / "data").exists()


def test_truncated_archive_names_file(idx_dir, tmp_path):
    sources = tmp_path / "idx"
    shutil.copytree(idx_dir, sources)
    images_file = sources / "t10k-images-idx3-ubyte.gz"
    images_file.write_bytes(images_file.read_bytes()[:100000])

    with pytest.raises(DatasetError) as raised:
        FashionMNIST.prepare(tmp_path / "data", idx_dir=sources, download=False)
    message = str(raised.value)
    assert os.fspath(images_file) in message
    assert "gzip decompression failed" in message


def test_missing_sources_error(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-dir"
    monkeypatch.setenv(_sources.IDX_DIR_ENV, os.fspath(missing))
    data = tmp_path / "data"

    with pytest.raises(DatasetError) as raised:
        FashionMNIST.load("train", data)
    message = str(raised.value)
    assert f"{missing} does not exist" in message
    assert os.fspath(_builder.version_dir(data)) in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "make data" in message
    assert "AIHW_JAX_ALLOW_DOWNLOAD=1" in message


def test_partial_sources_list_missing_files(idx_dir, tmp_path):
    sources = tmp_path / "idx"
    shutil.copytree(idx_dir, sources)
    (sources / "t10k-labels-idx1-ubyte.gz").unlink()

    with pytest.raises(DatasetError) as raised:
        FashionMNIST.prepare(tmp_path / "data", idx_dir=sources, download=False)
    assert f"t10k-labels-idx1-ubyte.gz missing from {sources}" in str(raised.value)


def test_truncated_build_is_rebuilt(arrays_train, idx_dir, data_dir, tmp_path, caplog):
    root = copy_build(data_dir, tmp_path)
    shard = shard_path(root, "train")
    with open(shard, "r+b") as stream:
        stream.truncate(shard.stat().st_size // 2)

    with caplog.at_level(logging.WARNING, logger="aihw_jax.datasets"):
        images, labels = FashionMNIST.load("train", root, idx_dir=idx_dir)
    assert "Rebuilding Fashion-MNIST" in caplog.text
    assert os.fspath(shard) in caplog.text
    reader = array_record_module.ArrayRecordReader(os.fspath(shard))
    assert reader.num_records() == 60000
    reader.close()
    np.testing.assert_array_equal(images, arrays_train[0])
    np.testing.assert_array_equal(labels, arrays_train[1])


def test_truncated_build_reported_without_sources(data_dir, tmp_path):
    root = copy_build(data_dir, tmp_path)
    shard = shard_path(root, "test")
    with open(shard, "r+b") as stream:
        stream.truncate(1000)

    with pytest.raises(DatasetError) as raised:
        FashionMNIST.prepare(root, idx_dir=tmp_path / "empty", download=False)
    message = str(raised.value)
    assert "previous build was invalid" in message
    assert f"{shard} contains 0 records, expected 10000" in message


def rewrite_dataset_info(root: pathlib.Path, edit) -> None:
    """Replace dataset_info.json by ``edit`` if a string, else by ``edit(parsed)``."""
    path = _builder.version_dir(root) / "dataset_info.json"
    if isinstance(edit, str):
        path.write_text(edit)
    else:
        path.write_text(json.dumps(edit(json.loads(path.read_text()))))


def drop_splits(info: dict) -> dict:
    del info["splits"]
    return info


def shorten_train_split(info: dict) -> dict:
    for split in info["splits"]:
        if split["name"] == "train":
            split["shardLengths"] = ["50000"]
    return info


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("not json", "dataset_info.json is invalid"),
        ("{}", "dataset_info.json is invalid"),
        (drop_splits, "split 'train' is missing from"),
        (shorten_train_split, "lists 50000 train examples, expected 60000"),
    ],
)
def test_invalid_dataset_info_reported(data_dir, tmp_path, edit, expected):
    root = copy_build(data_dir, tmp_path)
    rewrite_dataset_info(root, edit)

    with pytest.raises(DatasetError) as raised:
        FashionMNIST.prepare(root, idx_dir=tmp_path / "empty", download=False)
    message = str(raised.value)
    assert "previous build was invalid" in message
    assert expected in message


def test_missing_shard_reported(data_dir, tmp_path):
    root = copy_build(data_dir, tmp_path)
    shard = shard_path(root, "test")
    shard.unlink()

    with pytest.raises(DatasetError) as raised:
        FashionMNIST.load("test", root, idx_dir=tmp_path / "empty", download=False)
    assert f"{shard} is missing" in str(raised.value)


def test_corrupt_records_reported_without_sources(data_dir, tmp_path):
    root = copy_build(data_dir, tmp_path)
    for cache in _builder.version_dir(root).glob("*.npy"):
        cache.unlink()
    shard = shard_path(root, "test")
    content = bytearray(shard.read_bytes())
    middle = len(content) // 2
    content[middle : middle + 64] = bytes(64)
    shard.write_bytes(bytes(content))

    with pytest.raises(DatasetError) as raised:
        FashionMNIST.load("test", root, idx_dir=tmp_path / "empty", download=False)
    message = str(raised.value)
    assert "previous build was invalid" in message
    assert "split 'test'" in message


def test_corrupt_cache_is_replaced(data_dir, arrays_test, tmp_path, caplog):
    root = copy_build(data_dir, tmp_path)
    cache = _builder.version_dir(root) / "test-images.npy"
    images = np.load(cache)
    images[0, 0, 0] ^= 1
    np.save(cache, images)

    with caplog.at_level(logging.WARNING, logger="aihw_jax.datasets"):
        loaded, _ = FashionMNIST.load("test", root, idx_dir=tmp_path / "empty")
    assert "Ignoring corrupt Fashion-MNIST cache" in caplog.text
    np.testing.assert_array_equal(loaded, arrays_test[0])
    np.testing.assert_array_equal(np.load(cache), arrays_test[0])


def test_import_and_load_skip_tensorflow(data_dir):
    script = (
        "import sys\n"
        "from aihw_jax.datasets import FashionMNIST\n"
        "FashionMNIST.load('test')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow')\n"
        "print(loaded)\n"
    )
    env = dict(os.environ, AIHW_JAX_DATA_DIR=os.fspath(data_dir))
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cli_prepare_prints_data_dir(data_dir):
    result = subprocess.run(
        [sys.executable, "-m", "aihw_jax.datasets", "prepare", "--root", data_dir],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == os.fspath(data_dir)


def test_cli_prepare_reports_missing_data(tmp_path):
    env = dict(os.environ, AIHW_JAX_FASHION_MNIST_IDX_DIR=os.fspath(tmp_path / "none"))
    env.pop("AIHW_JAX_ALLOW_DOWNLOAD", None)
    result = subprocess.run(
        [sys.executable, "-m", "aihw_jax.datasets", "prepare", "--root", tmp_path],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Fashion-MNIST is not available" in result.stderr
    assert result.stdout == ""


def upstream_archive(debian_file: pathlib.Path) -> bytes:
    """Rebuild an upstream archive from Debian's copy of it.

    Debian's archive has a 10-byte gzip header without file name. Upstream's
    header adds the FNAME flag, its modification time and the file name. The
    deflate stream and trailer are the same.
    """
    content = debian_file.read_bytes()
    assert content[:4] == b"\x1f\x8b\x08\x00"
    name = debian_file.name.removesuffix(".gz").encode() + b"\x00"
    mtime = struct.pack("<I", UPSTREAM_MTIMES[debian_file.name])
    return b"\x1f\x8b\x08\x08" + mtime + b"\x00\x03" + name + content[10:]


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


def test_upstream_archives_match_registered_checksums(idx_dir):
    for archive in _sources.ARCHIVES.values():
        content = upstream_archive(idx_dir / archive.filename)
        assert len(content) == archive.upstream_size
        assert hashlib.sha256(content).hexdigest() == archive.upstream_sha256


def test_download_builds_from_mirror(
    idx_dir, arrays_test, tmp_path, monkeypatch, serve_directory
):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for archive in _sources.ARCHIVES.values():
        (mirror / archive.filename).write_bytes(
            upstream_archive(idx_dir / archive.filename)
        )
    monkeypatch.setenv(_sources.URL_ENV, serve_directory(mirror))
    monkeypatch.setenv("AIHW_JAX_ALLOW_DOWNLOAD", "1")

    images, labels = FashionMNIST.load(
        "test", tmp_path / "data", idx_dir=tmp_path / "empty"
    )
    np.testing.assert_array_equal(images, arrays_test[0])
    np.testing.assert_array_equal(labels, arrays_test[1])


def test_download_rejects_wrong_checksum(
    idx_dir, tmp_path, monkeypatch, serve_directory
):
    # Debian's archives decompress to the right data but differ as files.
    monkeypatch.setenv(_sources.URL_ENV, serve_directory(idx_dir))

    with pytest.raises(DatasetError) as raised:
        FashionMNIST.prepare(
            tmp_path / "data", idx_dir=tmp_path / "empty", download=True
        )
    message = str(raised.value)
    assert "wrong size or SHA-256" in message
    assert not _builder.version_dir(tmp_path / "data").exists()


def test_download_unreachable_host_fails_fast(tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe socket is closed.
    monkeypatch.setenv(_sources.URL_ENV, f"http://127.0.0.1:{port}/")

    start = time.monotonic()
    with pytest.raises(DatasetError) as raised:
        FashionMNIST.prepare(
            tmp_path / "data", idx_dir=tmp_path / "empty", download=True
        )
    assert time.monotonic() - start < 30
    message = str(raised.value)
    assert f"cannot connect to 127.0.0.1:{port}" in message
    assert "apt-get install dataset-fashion-mnist" in message

"""Fashion-MNIST source archives: where they are and how they are verified.

The data set ships as four gzip-compressed IDX files. Two copies are known:

* Debian's ``dataset-fashion-mnist`` package installs them in
  ``/usr/share/datasets/fashion-mnist``. Its ``.gz`` files differ from the
  upstream ones in the gzip header only (no file name, normalised time
  stamp), so their own SHA-256 differs from upstream's.
* The upstream archives published by Zalando Research. Their size and
  SHA-256 are the values that tensorflow-datasets 4.9.10 registers for its
  own ``fashion_mnist`` builder.

Both copies decompress to the same IDX bytes, so every archive is checked by
the SHA-256 of its *decompressed* content, plus the IDX magic number and
shape. The upstream archives are checked first by TFDS's download manager
against their registered size and SHA-256.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import pathlib
import socket
import struct
import urllib.parse
import zlib

import numpy as np

__all__ = [
    "ARCHIVES",
    "DEFAULT_BASE_URL",
    "DEFAULT_IDX_DIR",
    "IDX_DIR_ENV",
    "SPLIT_ARCHIVES",
    "URL_ENV",
    "IdxArchive",
    "SourceError",
    "base_url",
    "check_reachable",
    "find_local_archives",
    "idx_digest",
    "idx_dir",
    "read_archive",
]

IDX_DIR_ENV = "AIHW_JAX_FASHION_MNIST_IDX_DIR"
URL_ENV = "AIHW_JAX_FASHION_MNIST_URL"
DEFAULT_IDX_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")

# The upstream host is an S3 website endpoint, which serves plain HTTP only.
# The registered SHA-256 of each archive protects the download instead.
DEFAULT_BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# Seconds to wait for the TCP connection of the reachability check.
_CONNECT_TIMEOUT = 10.0

# IDX type code of unsigned bytes, the only element type Fashion-MNIST uses.
_IDX_UBYTE = 0x08


class SourceError(Exception):
    """A source archive is missing, corrupt or could not be downloaded.

    The message describes only the problem. The public loader adds where it
    looked and how to get the data, and raises ``DatasetError``.
    """


@dataclasses.dataclass(frozen=True)
class IdxArchive:
    """One gzip-compressed IDX file of Fashion-MNIST.

    Attributes:
        filename: File name, identical in the Debian package and upstream.
        shape: Array shape stored in the IDX header.
        sha256: SHA-256 of the decompressed IDX bytes, header included.
        upstream_size: Size in bytes of the upstream ``.gz`` file.
        upstream_sha256: SHA-256 of the upstream ``.gz`` file.
    """

    filename: str
    shape: tuple[int, ...]
    sha256: str
    upstream_size: int
    upstream_sha256: str

    @property
    def magic(self) -> int:
        """IDX magic number: two zero bytes, the type code, the rank."""
        return (_IDX_UBYTE << 8) | len(self.shape)

    @property
    def header(self) -> bytes:
        """Expected IDX header: the magic number and big-endian dimensions."""
        return struct.pack(f">{1 + len(self.shape)}I", self.magic, *self.shape)


# Digests of the decompressed files were computed from Debian's package
# dataset-fashion-mnist 0.0~git20200523.55506a9-1. Its archives contain the
# same deflate streams as the upstream ones: adding back the upstream gzip
# header reproduces the upstream SHA-256 values below byte for byte.
ARCHIVES = {
    "train_images": IdxArchive(
        filename="train-images-idx3-ubyte.gz",
        shape=(60000, 28, 28),
        sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        upstream_size=26421880,
        upstream_sha256=(
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
        ),
    ),
    "train_labels": IdxArchive(
        filename="train-labels-idx1-ubyte.gz",
        shape=(60000,),
        sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        upstream_size=29515,
        upstream_sha256=(
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
        ),
    ),
    "test_images": IdxArchive(
        filename="t10k-images-idx3-ubyte.gz",
        shape=(10000, 28, 28),
        sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        upstream_size=4422102,
        upstream_sha256=(
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
        ),
    ),
    "test_labels": IdxArchive(
        filename="t10k-labels-idx1-ubyte.gz",
        shape=(10000,),
        sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        upstream_size=5148,
        upstream_sha256=(
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
        ),
    ),
}

# Split name -> keys in ARCHIVES of its (images, labels) archives.
SPLIT_ARCHIVES = {
    "train": ("train_images", "train_labels"),
    "test": ("test_images", "test_labels"),
}


def idx_dir() -> pathlib.Path:
    """Return the directory searched for the IDX archives.

    It is ``$AIHW_JAX_FASHION_MNIST_IDX_DIR`` if set and not empty, else the
    directory of Debian's ``dataset-fashion-mnist`` package.
    """
    configured = os.environ.get(IDX_DIR_ENV)
    if configured:
        return pathlib.Path(configured).expanduser()
    return DEFAULT_IDX_DIR


def base_url() -> str:
    """Return the URL prefix of the archives, ending in a slash.

    It is ``$AIHW_JAX_FASHION_MNIST_URL`` if set (a mirror that serves the
    byte-identical upstream archives), else the upstream location.
    """
    url = os.environ.get(URL_ENV) or DEFAULT_BASE_URL
    if not url.endswith("/"):
        url += "/"
    return url


def check_reachable(url: str) -> None:
    """Open and close a TCP connection to the host of ``url``.

    TFDS's downloader (tensorflow-datasets 4.9.10) retries a failed
    connection ten times with exponential backoff. Against a closed port on
    127.0.0.1, that took 3.5 minutes before the error. This check fails within
    ``_CONNECT_TIMEOUT`` seconds when the host cannot be resolved or reached.

    Raises:
        SourceError: The host cannot be resolved or does not accept the
            connection.
    """
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), _CONNECT_TIMEOUT):
            pass
    except OSError as error:
        raise SourceError(
            f"cannot connect to {parts.hostname}:{port} to download the "
            f"archives ({error})"
        ) from error


def find_local_archives(
    directory: pathlib.Path,
) -> tuple[dict[str, pathlib.Path], list[str]]:
    """Look up the four archives in ``directory``.

    Returns:
        The paths of the archives found, keyed like ``ARCHIVES``, and the
        file names of the archives not found.
    """
    found = {}
    missing = []
    for key, archive in ARCHIVES.items():
        path = directory / archive.filename
        if path.is_file():
            found[key] = path
        else:
            missing.append(archive.filename)
    return found, missing


def idx_digest(archive: IdxArchive, values: np.ndarray) -> str:
    """Return the SHA-256 that ``values`` would have as an IDX file.

    The digest covers the header that ``archive`` expects and the values as
    unsigned bytes in C order. It equals ``archive.sha256`` exactly when the
    values equal the archive's content, which lets the loader verify arrays
    read back from the built data set or from a cache.

    Raises:
        ValueError: ``values`` has a different shape, or values outside
            0..255.
    """
    if values.shape != archive.shape:
        raise ValueError(f"shape {values.shape}, expected {archive.shape}")
    as_bytes = values.astype(np.uint8)
    if not np.array_equal(as_bytes, values):
        raise ValueError("values outside the range 0..255 of unsigned bytes")

    digest = hashlib.sha256(archive.header)
    digest.update(np.ascontiguousarray(as_bytes).data)
    return digest.hexdigest()


def read_archive(path: pathlib.Path, archive: IdxArchive) -> np.ndarray:
    """Decompress and verify one IDX archive.

    Returns:
        The uint8 array of shape ``archive.shape``.

    Raises:
        SourceError: The file cannot be read or decompressed, or its
            decompressed SHA-256, magic number or shape is not the expected
            one. The message names the file.
    """
    try:
        with gzip.open(path, "rb") as stream:
            content = stream.read()
    except (OSError, EOFError, zlib.error) as error:
        raise SourceError(
            f"{path} is corrupt: gzip decompression failed ({error})"
        ) from error

    actual = hashlib.sha256(content).hexdigest()
    if actual != archive.sha256:
        raise SourceError(
            f"{path} is corrupt: the SHA-256 of its decompressed IDX bytes is "
            f"{actual}, expected {archive.sha256}"
        )

    # The digest already pins the content, so these checks only guard against
    # a wrong constant in ARCHIVES.
    header = content[: len(archive.header)]
    if header != archive.header:
        raise SourceError(
            f"{path} has the IDX header {header.hex()}, expected "
            f"{archive.header.hex()} (magic number {archive.magic:#010x}, "
            f"shape {archive.shape})"
        )
    values = np.frombuffer(content, dtype=np.uint8, offset=len(archive.header))
    return values.reshape(archive.shape)

"""Blob storage in a directory: inputs and outputs as msgpack envelopes."""

from __future__ import annotations

import os
import pathlib
import tempfile

__all__ = ["BlobStore"]

KINDS = ("inputs", "outputs")


class BlobStore:
    """Files ``<root>/<kind>/<id>.msgpack``, written atomically.

    A blob is written to a temporary file in the same directory, flushed to
    disk and renamed into place, so a reader or a crash never finds half a
    blob. New directories get mode 0700 and blobs mode 0600 (``mkstemp``).
    """

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        for kind in KINDS:
            (root / kind).mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, kind: str, blob_id: str) -> pathlib.Path:
        """Return the file of blob ``blob_id`` of ``kind`` (``inputs``/``outputs``)."""
        if kind not in KINDS or not blob_id.isalnum():
            raise ValueError(f"Invalid blob {kind!r}/{blob_id!r}.")
        return self.root / kind / f"{blob_id}.msgpack"

    def write(self, kind: str, blob_id: str, data: bytes) -> None:
        """Store ``data`` as blob ``blob_id``, replacing any older version."""
        target = self.path(kind, blob_id)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            pathlib.Path(temporary).unlink(missing_ok=True)
            raise

    def read(self, kind: str, blob_id: str) -> bytes:
        """Return the bytes of a blob.

        Raises:
            FileNotFoundError: if the blob was never written.
        """
        return self.path(kind, blob_id).read_bytes()

    def exists(self, kind: str, blob_id: str) -> bool:
        """Return whether blob ``blob_id`` of ``kind`` is stored."""
        return self.path(kind, blob_id).is_file()

"""Settings of the service: where it keeps data and how it reaches a cluster."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import secrets

__all__ = [
    "DB_FILE_NAME",
    "DEFAULT_STORAGE",
    "SECRET_FILE_NAME",
    "ServiceConfig",
    "default_db_url",
    "load_secret",
]

DEFAULT_STORAGE = pathlib.Path("aihw-jax-data")
"""Blob directory used when ``--storage`` is not given, relative to the cwd."""

DB_FILE_NAME = "aihw-jax.db"
"""Name of the default SQLite database inside the storage directory."""

SECRET_FILE_NAME = "secret.key"
"""Name of the server secret inside the storage directory."""


def default_db_url(storage: pathlib.Path) -> str:
    """Return the URL of the SQLite database kept inside ``storage``."""
    return f"sqlite:///{(storage / DB_FILE_NAME).resolve()}"


def load_secret(path: pathlib.Path) -> bytes:
    """Read the server secret at ``path``, creating it (mode 0600) if missing.

    The secret keys the JWTs and the signed blob URLs, so replacing it logs
    every client out and invalidates every URL handed out before.

    Raises:
        ValueError: if the file exists but contains fewer than 32 bytes.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes().strip()
        if len(secret) < 32:
            raise ValueError(
                f"Secret file {path} is too short: {len(secret)} bytes, at least "
                "32 are required. Delete it to have the service create a new one."
            ) from None
        return secret
    secret = secrets.token_hex(32).encode()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secret)
    return secret


@dataclasses.dataclass(frozen=True)
class ServiceConfig:
    """Settings of one service instance.

    Attributes:
        storage: directory of the blobs, the secret and the default database.
        db_url: SQLAlchemy URL of the database.
        secret: key of the JWTs and signed URLs (at least 32 bytes).
        scheduler: address of an external Dask scheduler, or ``None`` to start
            an embedded ``LocalCluster``.
        workers: worker processes of the embedded cluster (one thread each).
        dataset_root: directory passed to jobs as their ``dataset_root``.
        max_upload_bytes: largest accepted blob upload, in bytes.
        jwt_lifetime_s: lifetime of a JWT from ``token/login``, in seconds.
        url_lifetime_s: lifetime of a signed blob URL, in seconds.
        signup: whether the web app lets visitors create accounts; without
            it, users come from ``aihw-jax users add``.
        web_session_lifetime_s: lifetime of a browser sign-in, in seconds.
    """

    storage: pathlib.Path
    db_url: str
    secret: bytes
    scheduler: str | None = None
    workers: int = 1
    dataset_root: str | None = None
    max_upload_bytes: int = 64 * 1024 * 1024
    jwt_lifetime_s: int = 3600
    url_lifetime_s: int = 900
    signup: bool = True
    web_session_lifetime_s: int = 7 * 24 * 3600

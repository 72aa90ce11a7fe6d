"""Start the service under uvicorn, and add users from the command line."""

from __future__ import annotations

import logging
import os
import pathlib

import uvicorn
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from aihw_jax.cloud.service import auth, database
from aihw_jax.cloud.service.app import create_app
from aihw_jax.cloud.service.config import (
    DB_FILE_NAME,
    SECRET_FILE_NAME,
    ServiceConfig,
    default_db_url,
    load_secret,
)
from aihw_jax.cloud.service.models import ApiToken, User
from aihw_jax.cloud.service.web.accounts import (
    TOKEN_SUFFIX_LENGTH,
    username_problem,
)

__all__ = ["add_user", "database_is_missing", "make_config", "serve"]

logger = logging.getLogger(__name__)


def make_config(
    storage: pathlib.Path,
    *,
    db_url: str | None = None,
    secret_file: pathlib.Path | None = None,
    scheduler: str | None = None,
    workers: int = 1,
    dataset_root: str | None = None,
) -> ServiceConfig:
    """Build the settings, creating the storage directory and the secret.

    A new storage directory gets mode 0700, and a new default SQLite file
    mode 0600, whatever the umask.
    """
    storage = storage.resolve()
    if not storage.exists():
        storage.mkdir(parents=True, mode=0o700)
        storage.chmod(0o700)
    secret = load_secret(secret_file or storage / SECRET_FILE_NAME)
    if db_url is None:
        db_url = default_db_url(storage)
        _create_private_file(storage / DB_FILE_NAME)
    return ServiceConfig(
        storage=storage,
        db_url=db_url,
        secret=secret,
        scheduler=scheduler,
        workers=workers,
        dataset_root=dataset_root,
    )


def _create_private_file(path: pathlib.Path) -> None:
    # SQLite accepts an empty file as an empty database, and creates its
    # journal files with the mode of the database file.
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def database_is_missing(storage: pathlib.Path, db_url: str | None) -> str | None:
    """Return the SQLite file that ``make_config`` would create, or ``None``.

    Returns ``None`` when the file exists, and for other databases, whose
    existence cannot be checked without connecting.
    """
    if db_url is None:
        path = storage.resolve() / DB_FILE_NAME
    else:
        url = make_url(db_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        path = pathlib.Path(url.database)
    return None if path.exists() else str(path)


def serve(
    config: ServiceConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_level: str = "info",
) -> None:
    """Run the service until SIGINT or SIGTERM.

    uvicorn's access log is off because it would log the query strings of
    signed URLs; the service logs each request itself.
    """
    app = create_app(config)
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def add_user(db_url: str, name: str) -> tuple[str, bool]:
    """Create user ``name`` if needed and give it a new API token.

    A new name must follow the sign-up rules and differ from every existing
    name in more than case.

    Returns:
        The token (shown once, only its hash is stored) and whether the user
        was created by this call.

    Raises:
        ValueError: if ``name`` is new and breaks a rule.
    """
    engine = database.make_engine(db_url)
    try:
        database.upgrade(engine)
        sessions = database.make_sessionmaker(engine)
        token = auth.new_api_token()
        with sessions.begin() as session:
            user = session.scalar(select(User).where(User.name == name))
            created = user is None
            if user is None:
                _check_new_name(session, name)
                user = User(name=name)
                session.add(user)
                session.flush()
            session.add(
                ApiToken(
                    user_id=user.id,
                    name="command line",
                    token_sha256=auth.hash_token(token),
                    suffix=token[-TOKEN_SUFFIX_LENGTH:],
                )
            )
        logger.info("Added an API token for user %s", name)
        return token, created
    finally:
        engine.dispose()


def _check_new_name(session, name: str) -> None:
    if problem := username_problem(name):
        raise ValueError(f"{problem} Got {name[:80]!r}.")
    query = select(User.name).where(func.lower(User.name) == name.lower())
    existing = session.scalar(query)
    if existing is not None:
        raise ValueError(
            f"User name {name!r} differs only in case from the existing user "
            f"{existing!r}; use that name."
        )

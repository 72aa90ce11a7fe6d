"""Start the service under uvicorn, and add users from the command line."""

from __future__ import annotations

import logging
import pathlib

import uvicorn
from sqlalchemy import select

from aihw_jax.cloud.service import auth, database
from aihw_jax.cloud.service.app import create_app
from aihw_jax.cloud.service.config import (
    SECRET_FILE_NAME,
    ServiceConfig,
    default_db_url,
    load_secret,
)
from aihw_jax.cloud.service.models import ApiToken, User
from aihw_jax.cloud.service.web.accounts import TOKEN_SUFFIX_LENGTH

__all__ = ["add_user", "make_config", "serve"]

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
    """Build the settings, creating the storage directory and the secret."""
    storage = storage.resolve()
    storage.mkdir(parents=True, exist_ok=True)
    secret = load_secret(secret_file or storage / SECRET_FILE_NAME)
    return ServiceConfig(
        storage=storage,
        db_url=db_url or default_db_url(storage),
        secret=secret,
        scheduler=scheduler,
        workers=workers,
        dataset_root=dataset_root,
    )


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

    Returns:
        The token (shown once, only its hash is stored) and whether the user
        was created by this call.
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

"""Database engine, sessions and the Alembic upgrade run on start-up."""

from __future__ import annotations

import logging
import pathlib

import alembic.command
import alembic.config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["MIGRATIONS", "make_engine", "make_sessionmaker", "upgrade"]

logger = logging.getLogger(__name__)

MIGRATIONS = pathlib.Path(__file__).parent / "migrations"
"""Directory of the Alembic environment shipped with the package."""


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL mode and a 30 s busy timeout.

    The service writes from request threads and from the job watcher at the
    same time, so SQLite must wait for its lock instead of failing at once.
    """
    # hide_parameters keeps SQL parameters (token hashes, names) out of the
    # messages of database errors, which the service logs.
    if not url.startswith("sqlite"):
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=20,
            max_overflow=40,
            hide_parameters=True,
        )
    # A pool as large as the request thread pool (40) plus the watcher, so
    # that requests wait for the SQLite lock and not for a pooled connection.
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=50,
        max_overflow=10,
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _set_pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (``alembic upgrade head``)."""
    config = alembic.config.Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic.command.upgrade(config, "head")
    logger.info("Database schema is at the newest revision")

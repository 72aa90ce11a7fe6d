"""SQLAlchemy models of the service: users, API tokens, experiments, jobs.

Browser sign-ins are :class:`WebSession` records, keyed by the sha256 digest
of the session cookie, so the database never contains a usable cookie value.

Every identifier is a random UUID in hex, so ids of other users cannot be
guessed. Times are timezone-aware UTC. The schema itself is created by the
Alembic migrations in ``migrations/``, never by ``create_all``.
"""

from __future__ import annotations

import datetime
import uuid

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ApiToken",
    "Base",
    "Experiment",
    "Input",
    "Job",
    "Output",
    "User",
    "WebSession",
    "new_id",
    "utcnow",
]


def new_id() -> str:
    """Return a new random identifier (32 hex digits)."""
    return uuid.uuid4().hex


def utcnow() -> datetime.datetime:
    """Return the current time in UTC."""
    return datetime.datetime.now(datetime.UTC)


class Base(DeclarativeBase):
    """Declarative base of all service tables."""


class User(Base):
    """A person or program that submits experiments."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """Argon2 hash of the web password; ``None`` for API-only users."""


class ApiToken(Base):
    """An API token of a user, stored as the sha256 hex digest of the token.

    ``suffix`` keeps the last characters of the token so that the user can
    tell tokens apart; it is empty for tokens created before it existed.
    A token with ``revoked_at`` set no longer logs in, and JWTs issued for it
    are rejected.
    """

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    suffix: Mapped[str] = mapped_column(String(8), default="")
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class Experiment(Base):
    """An experiment record; its payload is the :class:`Input` blob."""

    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    finished_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    input: Mapped[Input | None] = relationship(back_populates="experiment")


class Input(Base):
    """The uploaded experiment envelope of one experiment.

    ``uploaded_at`` stays ``None`` until the blob is stored, so a record
    without it has an upload URL but no data yet.
    """

    __tablename__ = "inputs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id"), unique=True
    )
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    uploaded_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    experiment: Mapped[Experiment] = relationship(back_populates="input")


class Job(Base):
    """One run of an experiment on the cluster.

    ``device`` is the requested device and ``ran_on`` the one the worker
    used. ``attempts`` counts submissions to the cluster and
    ``worker_failures`` the runs lost because their worker died.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    device: Mapped[str] = mapped_column(String(20))
    ran_on: Mapped[str | None] = mapped_column(String(100), nullable=True)
    max_elements: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_failures: Mapped[int] = mapped_column(Integer, default=0)
    output_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    started_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    finished_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    experiment: Mapped[Experiment] = relationship()


class Output(Base):
    """The output envelope that a completed job produced."""

    __tablename__ = "outputs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    job: Mapped[Job] = relationship()


class WebSession(Base):
    """A signed-in browser session; ``id`` is the sha256 digest of the cookie."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()

"""Web accounts: argon2 passwords, browser sessions, CSRF tokens, API tokens.

A browser carries one random cookie, :data:`SESSION_COOKIE`. While the
browser is signed out, the cookie only keys the CSRF token. Signing in
stores a :class:`WebSession` under the sha256 digest of a fresh cookie
value, so a cookie planted before sign-in never becomes a signed-in one. The CSRF token of a form is the
HMAC-SHA256 of the cookie value under a key derived from the server secret,
so each session has its own token and the server stores none.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import re
import secrets

import argon2
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from aihw_jax.cloud.service import auth, database
from aihw_jax.cloud.service.models import ApiToken, User, WebSession, utcnow

__all__ = [
    "CSRF_FIELD",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "SESSION_COOKIE",
    "TOKEN_SUFFIX_LENGTH",
    "create_api_token",
    "csrf_token",
    "end_session",
    "find_user",
    "hash_password",
    "new_cookie_value",
    "password_needs_rehash",
    "password_problem",
    "revoke_api_token",
    "session_key",
    "session_user",
    "set_password",
    "start_session",
    "username_problem",
    "verify_password",
]

logger = logging.getLogger(__name__)

SESSION_COOKIE = "aihw_session"
"""Name of the browser cookie (HttpOnly, SameSite=Lax, Secure over TLS)."""

CSRF_FIELD = "csrf_token"
"""Name of the hidden form field that carries the CSRF token."""

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
"""Password length bounds, in characters. The maximum limits the hashing work."""

TOKEN_SUFFIX_LENGTH = 4
"""Trailing characters of an API token shown in the token list."""

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,63}")
"""User names chosen at sign-up: 2 to 64 letters, digits, ``_``, ``.`` or ``-``."""

# Within the OWASP Password Storage Cheat Sheet (2024) argon2id minimum of
# 19 MiB, 2 iterations, 1 lane; lighter than argon2-cffi's defaults (64 MiB,
# t=3, p=4), so failed sign-ins cost less. Hashes with other parameters still
# verify because each hash stores its own.
_HASHER = argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


def username_problem(name: str) -> str | None:
    """Return why ``name`` cannot be a new user name, or ``None`` if it can."""
    if USERNAME_PATTERN.fullmatch(name) is None:
        return (
            "User name must be 2 to 64 characters: letters, digits, '_', '.' or "
            "'-', starting with a letter or digit."
        )
    return None


def password_problem(password: str) -> str | None:
    """Return why ``password`` is not accepted, or ``None`` if it is."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must have at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Password must have at most {MAX_PASSWORD_LENGTH} characters."
    return None


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (19 MiB, t=2, p=1)."""
    return _HASHER.hash(password)


def find_user(session: Session, name: str) -> User | None:
    """Return the user called ``name``, compared without case, or ``None``.

    An exact match wins, so that users created before names were unique
    without case stay reachable.
    """
    user = session.scalar(select(User).where(User.name == name))
    if user is not None:
        return user
    query = select(User).where(func.lower(User.name) == name.lower())
    return session.scalars(query.order_by(User.created_at)).first()


def password_needs_rehash(user: User) -> bool:
    """Return whether ``user``'s hash uses other parameters than new hashes."""
    try:
        return _HASHER.check_needs_rehash(user.password_hash or "")
    except argon2.exceptions.InvalidHashError:
        return False


def verify_password(user: User | None, password: str) -> bool:
    """Check ``password`` against ``user``'s hash.

    An unknown user or one without a password is checked against a dummy
    hash, so the response time does not reveal which user names exist.
    """
    stored = user.password_hash if user is not None else None
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except argon2.exceptions.VerificationError:
        return False
    except argon2.exceptions.InvalidHashError:
        logger.error("User %s has a malformed password hash", user.id)
        return False


def set_password(db_url: str, name: str, password: str) -> None:
    """Set the web password of the existing user ``name`` (for the CLI).

    Raises:
        ValueError: if no user has this name.
    """
    engine: Engine = database.make_engine(db_url)
    try:
        database.upgrade(engine)
        sessions = database.make_sessionmaker(engine)
        with sessions.begin() as session:
            user = session.scalar(select(User).where(User.name == name))
            if user is None:
                raise ValueError(f"User {name!r} not found.")
            user.password_hash = hash_password(password)
        logger.info("Set the web password of user %s", name)
    finally:
        engine.dispose()


def new_cookie_value() -> str:
    """Return a fresh random session cookie value (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def _csrf_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"csrf", hashlib.sha256).digest()


def csrf_token(secret: bytes, cookie_value: str) -> str:
    """Return the CSRF token of the browser whose cookie is ``cookie_value``."""
    return hmac.new(
        _csrf_key(secret), cookie_value.encode(), hashlib.sha256
    ).hexdigest()


def session_key(cookie_value: str) -> str:
    """Return the stored form of a session cookie value: its sha256 digest."""
    return _session_id(cookie_value)


def _session_id(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


def _aware(moment: datetime.datetime) -> datetime.datetime:
    # SQLite returns naive datetimes; the service stores UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def start_session(session: Session, user: User, lifetime_s: int) -> str:
    """Store a new signed-in session of ``user`` and return its cookie value."""
    cookie_value = new_cookie_value()
    now = utcnow()
    session.add(
        WebSession(
            id=_session_id(cookie_value),
            user_id=user.id,
            created_at=now,
            expires_at=now + datetime.timedelta(seconds=lifetime_s),
        )
    )
    session.commit()
    return cookie_value


def session_user(session: Session, cookie_value: str | None) -> User | None:
    """Return the signed-in user of a cookie, or ``None``, deleting an expired record."""
    if not cookie_value:
        return None
    record = session.get(WebSession, _session_id(cookie_value))
    if record is None:
        return None
    if _aware(record.expires_at) <= utcnow():
        session.delete(record)
        session.commit()
        return None
    return record.user


def end_session(session: Session, cookie_value: str | None) -> None:
    """Delete the session record of a cookie, if there is one."""
    if not cookie_value:
        return
    record = session.get(WebSession, _session_id(cookie_value))
    if record is not None:
        session.delete(record)
        session.commit()


def create_api_token(session: Session, user: User, name: str) -> str:
    """Store a new API token of ``user`` and return it (shown to the user once)."""
    token = auth.new_api_token()
    session.add(
        ApiToken(
            user_id=user.id,
            token_sha256=auth.hash_token(token),
            name=name,
            suffix=token[-TOKEN_SUFFIX_LENGTH:],
        )
    )
    session.commit()
    logger.info("User %s created an API token", user.id)
    return token


def revoke_api_token(session: Session, user: User, token_id: str) -> bool:
    """Revoke one of ``user``'s tokens; return False if it is not theirs."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        return False
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.commit()
        logger.info("User %s revoked API token %s", user.id, token.id)
    return True

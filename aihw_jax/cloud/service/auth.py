"""API tokens, JWTs and signed blob URLs.

API tokens are 32 random bytes, so their sha256 digest is a safe stored
form. JWTs (HS256) and URL signatures (HMAC-SHA256) use keys derived from
the one server secret, one key per use. A JWT carries the id of the API
token it was issued for (claim ``tid``), so the service can reject it as
soon as that token is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import jwt

__all__ = [
    "InvalidCredentials",
    "Signer",
    "hash_token",
    "new_api_token",
]

JWT_ISSUER = "aihw-jax"


class InvalidCredentials(Exception):
    """A JWT or signed URL is missing, malformed, expired or forged."""


def new_api_token() -> str:
    """Return a new random API token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the stored form of an API token: its sha256 hex digest."""
    return hashlib.sha256(token.encode()).hexdigest()


class Signer:
    """Issues and checks JWTs and signed URLs with keys derived from a secret."""

    def __init__(self, secret: bytes) -> None:
        self._jwt_key = hmac.new(secret, b"jwt", hashlib.sha256).digest()
        self._url_key = hmac.new(secret, b"url", hashlib.sha256).digest()

    def issue_jwt(self, user_id: str, lifetime_s: int, token_id: str) -> str:
        """Return a JWT for ``user_id`` and API token ``token_id``.

        The JWT expires after ``lifetime_s`` seconds.
        """
        now = int(time.time())
        claims = {"sub": user_id, "tid": token_id, "iat": now, "exp": now + lifetime_s}
        claims["iss"] = JWT_ISSUER
        return jwt.encode(claims, self._jwt_key, algorithm="HS256")

    def subject_of_jwt(self, token: str) -> tuple[str, str]:
        """Return the user id and the API token id of a valid JWT.

        Raises:
            InvalidCredentials: if the JWT is malformed, forged or expired, or
                has no token id (JWTs issued before token ids existed).
        """
        try:
            claims = jwt.decode(
                token,
                self._jwt_key,
                algorithms=["HS256"],
                issuer=JWT_ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidCredentials("JWT has expired; log in again.") from error
        except jwt.InvalidTokenError as error:
            raise InvalidCredentials(f"Invalid JWT: {error}.") from error
        subject, token_id = claims["sub"], claims.get("tid")
        if not isinstance(subject, str):
            raise InvalidCredentials("Invalid JWT: subject is not a string.")
        if not isinstance(token_id, str):
            raise InvalidCredentials("JWT has no API token id; log in again.")
        return subject, token_id

    def user_of_jwt(self, token: str) -> str:
        """Return the user id of a valid JWT (see :meth:`subject_of_jwt`)."""
        return self.subject_of_jwt(token)[0]

    def _url_signature(self, method: str, path: str, expires: int) -> str:
        message = f"{method.upper()}\n{path}\n{expires}".encode()
        return hmac.new(self._url_key, message, hashlib.sha256).hexdigest()

    def sign_url(self, method: str, path: str, lifetime_s: int) -> str:
        """Return ``path`` with ``expires`` and ``signature`` query parameters."""
        expires = int(time.time()) + lifetime_s
        signature = self._url_signature(method, path, expires)
        return f"{path}?expires={expires}&signature={signature}"

    def check_url(
        self, method: str, path: str, expires: str | None, signature: str | None
    ) -> None:
        """Check the signature and expiry of a signed URL.

        Raises:
            InvalidCredentials: if a parameter is missing, the URL has
                expired, or the signature does not match.
        """
        if not expires or not signature:
            raise InvalidCredentials(
                "URL is not signed: request a new one from the API."
            )
        try:
            expiry = int(expires)
        except ValueError:
            raise InvalidCredentials("URL has an invalid `expires` value.") from None
        expected = self._url_signature(method, path, expiry)
        # compare_digest raises TypeError for non-ASCII str, so compare bytes.
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise InvalidCredentials("URL signature is invalid.")
        if expiry < time.time():
            raise InvalidCredentials("URL has expired: request a new one from the API.")

"""The HTTP session of the Composer client: login, requests, errors and logs.

:class:`ApiSession` exchanges the API token for a JWT at the first request,
logs in again when the service responds with 401, sends every request with a
timeout, and retries connection errors of GET requests only, because a
repeated GET cannot change anything on the service. Uploads and downloads
through signed blob URLs go through a second session that never carries the
``Authorization`` header.

Every request logs one INFO line on the ``aihw_jax.cloud.client._session``
logger. Messages and log lines pass through :func:`sanitize`, which removes
tokens, JWTs and URL query strings (the signatures of blob URLs).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import urllib.parse
import weakref
from typing import Any, Self

import requests

import aihw_jax
from aihw_jax.cloud import api
from aihw_jax.cloud.client._credentials import Credentials
from aihw_jax.errors import ApiResponseError, CloudError, CredentialsError

__all__ = ["ApiSession", "SessionConfig", "sanitize"]

logger = logging.getLogger(__name__)

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s,;'\"]+")
_SECRET_FIELD = re.compile(
    r"(?i)(\"?\b(?:api_token|token|jwt|password|signature|sig)\"?\s*[:=]\s*\"?)"
    r"[^\s\"',;&]+"
)
_QUERY = re.compile(r"\?[^\s'\"<>=]*=[^\s'\"<>]*")
_USERINFO = re.compile(r"(?i)\b(https?://)[^/\s@]+@")
_REDACTED = "<redacted>"


def sanitize(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove secrets from ``text`` for an error message or a log line.

    Removes every string in ``secrets``, JWTs, ``Bearer`` credentials,
    ``token=``/``"token":`` style fields, user names and passwords in URLs,
    and URL query strings (replaced by ``?...``).
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _REDACTED)
    text = _QUERY.sub("?...", text)
    text = _JWT.sub(_REDACTED, text)
    text = _BEARER.sub(rf"\g<1>{_REDACTED}", text)
    text = _SECRET_FIELD.sub(rf"\g<1>{_REDACTED}", text)
    return _USERINFO.sub(r"\g<1>", text)


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """Timeouts and retries of an :class:`ApiSession`.

    Attributes:
        connect_timeout: seconds to wait for a TCP (and TLS) connection.
        read_timeout: seconds to wait for an API response.
        transfer_timeout: seconds to wait between bytes of a blob upload or
            download.
        get_retries: how often a GET is repeated after a connection error.
        retry_backoff: seconds before the first repeat; doubled each time.
        refresh_margin: seconds before the JWT expires at which the session
            logs in again instead of sending the old JWT.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    transfer_timeout: float = 300.0
    get_retries: int = 3
    retry_backoff: float = 0.5
    refresh_margin: float = 30.0


def _close_sessions(*sessions: requests.Session) -> None:
    for session in sessions:
        session.close()


class ApiSession:
    """A logged-in connection to one Composer service.

    Use it as a context manager, or call :meth:`close`; a closed session
    raises :class:`CloudError` on use. Paths given to :meth:`get` and
    :meth:`post` are relative to ``<base URL>/api/v1/``.

    Args:
        credentials: the service URL, the API token and TLS verification.
        config: timeouts and retries.
    """

    def __init__(
        self, credentials: Credentials, config: SessionConfig | None = None
    ) -> None:
        self.credentials = credentials
        self.config = config or SessionConfig()
        self._api_root = credentials.api_url + api.API_PREFIX + "/"
        self._jwt: str | None = None
        self._jwt_expires_at = 0.0
        user_agent = (
            f"aihw-jax/{aihw_jax.__version__} {requests.utils.default_user_agent()}"
        )
        self._http = requests.Session()
        self._blob_http = requests.Session()
        for session in (self._http, self._blob_http):
            session.verify = credentials.verify
            session.headers["User-Agent"] = user_agent
            # Proxies and .netrc from the environment could add credentials
            # or reroute requests; the service URL is used as given.
            session.trust_env = False
        self._finalizer = weakref.finalize(
            self, _close_sessions, self._http, self._blob_http
        )

    @property
    def base_url(self) -> str:
        """The service's base URL, without the API prefix."""
        return self.credentials.api_url

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Close the pooled connections; the session cannot be used afterwards."""
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"ApiSession(base_url={self.base_url!r}, {state})"

    def sanitize(self, text: str) -> str:
        """Remove this session's token and JWT, and other secrets, from ``text``."""
        return sanitize(text, (self.credentials.api_token, self._jwt or ""))

    def login(self) -> None:
        """Exchange the API token for a JWT.

        Raises:
            CredentialsError: if the service rejects the token.
            ApiResponseError: if the login fails for another reason.
            CloudError: if the service cannot be reached.
        """
        url = self._api_root + "token/login"
        response = self._send(
            self._http, "POST", url, json={"token": self.credentials.api_token}
        )
        if response.status_code in (400, 401, 403):
            raise CredentialsError(
                f"The Composer service at {self.base_url} rejected the API token "
                f"from {self.credentials.token_source or 'the argument'}: "
                f"{self._detail(response)}. Check the token, or create a new one."
            )
        self._raise_for_status(response, "POST", url)
        body = self._json(response, "POST", url)
        jwt = body.get("jwt") if isinstance(body, dict) else None
        if not isinstance(jwt, str) or not jwt:
            raise CloudError(
                f"The login response of {self.base_url} has no JWT; is this a "
                "Composer service of a matching version?"
            )
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, (int, float)) else 0.0
        self._jwt = jwt
        self._jwt_expires_at = time.monotonic() + lifetime if lifetime > 0 else 0.0

    def get(self, path: str) -> Any:
        """Send ``GET <api root>/path`` and return the decoded JSON response."""
        return self._api_request("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """Send ``POST <api root>/path`` with a JSON body and return the decoded response."""
        return self._api_request("POST", path, body)

    def upload(self, url: str, data: bytes) -> None:
        """PUT ``data`` to a signed blob URL, without the Authorization header.

        Raises:
            CloudError: if ``data`` exceeds :data:`api.MAX_PAYLOAD_BYTES`.
            ApiResponseError: if the service rejects the upload.
        """
        if len(data) > api.MAX_PAYLOAD_BYTES:
            raise CloudError(
                f"The experiment payload has {len(data)} bytes, more than the "
                f"{api.MAX_PAYLOAD_BYTES} bytes the service accepts; use a smaller "
                "model or leave the weights out."
            )
        target = self._blob_url(url)
        response = self._send(
            self._blob_http,
            "PUT",
            target,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=self._blob_timeout(),
        )
        self._raise_for_status(response, "PUT", target)

    def download(self, url: str) -> bytes:
        """GET a signed blob URL, without the Authorization header."""
        target = self._blob_url(url)
        response = self._send(
            self._blob_http, "GET", target, timeout=self._blob_timeout()
        )
        self._raise_for_status(response, "GET", target)
        return response.content

    def _blob_timeout(self) -> tuple[float, float]:
        return (self.config.connect_timeout, self.config.transfer_timeout)

    def _blob_url(self, url: Any) -> str:
        """Resolve a signed URL, which the service may give relative to its base."""
        if not isinstance(url, str) or not url:
            raise CloudError(
                f"The Composer service at {self.base_url} returned no blob URL."
            )
        target = urllib.parse.urljoin(self.base_url + "/", url)
        if urllib.parse.urlsplit(target).scheme not in ("http", "https"):
            raise CloudError(
                f"The Composer service at {self.base_url} returned a blob URL that "
                f"is not http(s): {self.sanitize(url)!r}."
            )
        return target

    def _api_request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        self._check_open()
        url = self._api_root + path.lstrip("/")
        if self._jwt is None or self._jwt_expiring():
            self.login()
        response = self._send(
            self._http, method, url, json=body, headers=self._auth_header()
        )
        if response.status_code == 401:
            # The JWT expired or the service restarted with a new key: log in
            # again and repeat once. The 401 means the request was not
            # processed, so repeating a POST does not duplicate anything.
            logger.info("JWT rejected by %s; logging in again", self.base_url)
            self.login()
            response = self._send(
                self._http, method, url, json=body, headers=self._auth_header()
            )
            if response.status_code == 401:
                raise CredentialsError(
                    f"The Composer service at {self.base_url} rejected a fresh "
                    f"login for {method} {path}: {self._detail(response)}."
                )
        self._raise_for_status(response, method, url)
        return self._json(response, method, url)

    def _jwt_expiring(self) -> bool:
        if not self._jwt_expires_at:
            return False
        return time.monotonic() > self._jwt_expires_at - self.config.refresh_margin

    def _auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._jwt}"}

    def _check_open(self) -> None:
        if self.closed:
            raise CloudError(
                f"The session with {self.base_url} is closed; create a new runner."
            )

    def _send(
        self,
        http: requests.Session,
        method: str,
        url: str,
        *,
        timeout: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request, repeating GETs after connection errors."""
        self._check_open()
        timeout = timeout or (self.config.connect_timeout, self.config.read_timeout)
        attempts = 1 + (self.config.get_retries if method == "GET" else 0)
        shown_url = self.sanitize(url)
        for attempt in range(1, attempts + 1):
            start = time.perf_counter()
            try:
                response = http.request(method, url, timeout=timeout, **kwargs)
            except requests.exceptions.SSLError as error:
                raise CloudError(
                    f"TLS verification with the Composer service at "
                    f"{self.base_url} failed: {self.sanitize(str(error))}. Give "
                    "the service's CA bundle with `verify` (--ca-bundle)."
                ) from None
            except requests.ConnectionError as error:
                if attempt < attempts:
                    delay = self.config.retry_backoff * 2 ** (attempt - 1)
                    logger.warning(
                        "%s %s failed (attempt %d of %d): %s; retrying in %.1f s",
                        method,
                        shown_url,
                        attempt,
                        attempts,
                        self.sanitize(str(error)),
                        delay,
                    )
                    time.sleep(delay)
                    continue
                raise CloudError(
                    f"Could not connect to the Composer service at {self.base_url} "
                    f"({method} {shown_url}): {self.sanitize(str(error))}. Check "
                    "that the service runs and that the URL is right."
                ) from None
            except requests.Timeout as error:
                raise CloudError(
                    f"{method} {shown_url} to the Composer service at "
                    f"{self.base_url} timed out: {self.sanitize(str(error))}."
                ) from None
            except requests.RequestException as error:
                raise CloudError(
                    f"{method} {shown_url} to the Composer service at "
                    f"{self.base_url} failed: {self.sanitize(str(error))}."
                ) from None
            elapsed_ms = 1000.0 * (time.perf_counter() - start)
            logger.info(
                "HTTP %s %s %d %s (%.0f ms)",
                method,
                shown_url,
                response.status_code,
                response.reason,
                elapsed_ms,
            )
            if response.status_code >= 400:
                # Some servers (uvicorn after an exception) close the
                # connection after an error without `Connection: close`, so
                # reusing it could fail the next, possibly non-GET, request.
                http.close()
            return response
        raise AssertionError("unreachable: the loop returns or raises")

    def _detail(self, response: requests.Response) -> str:
        """Return the service's error message of ``response``, sanitised."""
        try:
            body = response.json()
        except ValueError:
            body = None
        detail: Any = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, list):
            # FastAPI's validation errors: [{"loc": [...], "msg": ...}, ...].
            detail = "; ".join(
                f"{'.'.join(str(part) for part in item.get('loc', ()))}: "
                f"{item.get('msg', item)}"
                if isinstance(item, dict)
                else str(item)
                for item in detail
            )
        if not detail:
            detail = response.text.strip()[:200] or response.reason or "no details"
        return self.sanitize(str(detail)).rstrip(".")

    def _raise_for_status(
        self, response: requests.Response, method: str, url: str
    ) -> None:
        if response.status_code < 400:
            return
        raise ApiResponseError(
            f"{method} {self.sanitize(url)} failed with HTTP "
            f"{response.status_code} {response.reason}: {self._detail(response)}.",
            response.status_code,
        )

    def _json(self, response: requests.Response, method: str, url: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CloudError(
                f"{method} {self.sanitize(url)} returned a body that is not JSON "
                f"(HTTP {response.status_code}); is {self.base_url} a Composer "
                "service?"
            ) from None

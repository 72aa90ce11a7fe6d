"""In-process state of the web sign-in: failed-attempt limits, new-token notices.

Both live in the memory of one service process. They are not shared between
processes, so a service run with several processes applies each limit per
process.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time

__all__ = ["NewTokenNotices", "SignInLimiter"]


class SignInLimiter:
    """Count failed sign-ins per user name and per client address.

    After ``max_failures`` failures within ``window_s`` seconds for a key,
    :meth:`retry_after` returns how long that key must wait. The address
    limit is higher than the user-name limit because several people may
    share one address (a proxy or NAT).

    Args:
        max_failures: failures of one user name allowed per window.
        max_address_failures: failures from one address allowed per window.
        window_s: length of the window, in seconds.
        max_keys: keys kept at most; past it, keys without recent failures
            are dropped, so the memory stays bounded.
    """

    def __init__(
        self,
        max_failures: int = 5,
        max_address_failures: int = 20,
        window_s: float = 60.0,
        max_keys: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.max_address_failures = max_address_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(name: str, address: str) -> tuple[str, str]:
        return f"name:{name.lower()}", f"address:{address}"

    def _wait_s(self, key: str, limit: int, now: float) -> float:
        times = self._failures.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[-limit] + self.window_s - now

    def retry_after(self, name: str, address: str) -> int:
        """Return the seconds until a sign-in of ``name`` from ``address`` is
        allowed again, or 0 if it is allowed now."""
        name_key, address_key = self._keys(name, address)
        now = time.monotonic()
        with self._lock:
            wait = max(
                self._wait_s(name_key, self.max_failures, now),
                self._wait_s(address_key, self.max_address_failures, now),
            )
        return math.ceil(wait) if wait > 0 else 0

    def record_failure(self, name: str, address: str) -> None:
        """Count one failed sign-in of ``name`` from ``address``."""
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= self.max_keys:
                self._drop_stale(now)
            for key in self._keys(name, address):
                self._failures.setdefault(key, collections.deque()).append(now)

    def _drop_stale(self, now: float) -> None:
        stale = [
            key
            for key, times in self._failures.items()
            if not times or times[-1] <= now - self.window_s
        ]
        for key in stale:
            del self._failures[key]
        # NOTE: if every key had a recent failure, the table stays over
        # max_keys until the window passes.


@dataclasses.dataclass
class _Notice:
    name: str
    token: str
    expires_at: float


class NewTokenNotices:
    """New API tokens kept for the one page view that shows them.

    The token route stores the token under the browser's session id and
    redirects. The account page takes it out, so a reload does not show it.

    Args:
        lifetime_s: seconds a notice waits for its page view.
    """

    def __init__(self, lifetime_s: float = 300.0) -> None:
        self.lifetime_s = lifetime_s
        self._notices: dict[str, _Notice] = {}
        self._lock = threading.Lock()

    def put(self, session_key: str, name: str, token: str) -> None:
        """Keep ``token`` (named ``name``) for the next page of ``session_key``."""
        now = time.monotonic()
        with self._lock:
            expired = [k for k, v in self._notices.items() if v.expires_at <= now]
            for key in expired:
                del self._notices[key]
            self._notices[session_key] = _Notice(name, token, now + self.lifetime_s)

    def take(self, session_key: str) -> tuple[str, str] | None:
        """Remove and return the ``(name, token)`` kept for ``session_key``."""
        with self._lock:
            notice = self._notices.pop(session_key, None)
        if notice is None or notice.expires_at <= time.monotonic():
            return None
        return notice.name, notice.token

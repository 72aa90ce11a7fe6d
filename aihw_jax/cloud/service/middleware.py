"""ASGI middleware: one log line per request and a size limit on JSON bodies."""

from __future__ import annotations

import json
import logging
import time

from aihw_jax.cloud.api import API_PREFIX

__all__ = ["BLOB_PREFIX", "DRAIN_LIMIT_BYTES", "MAX_JSON_BYTES", "RequestMiddleware"]

logger = logging.getLogger("aihw_jax.cloud.service.access")

MAX_JSON_BYTES = 1024 * 1024
"""Largest JSON request body, in bytes; blob uploads have their own limit."""

DRAIN_LIMIT_BYTES = 256 * 1024 * 1024
"""Most bytes of an oversized body read and discarded before responding with 413."""

BLOB_PREFIX = f"{API_PREFIX}/blobs/"
"""Path prefix of the signed blob routes, which stream their bodies."""


class RequestMiddleware:
    """Log each request and reject JSON bodies over :data:`MAX_JSON_BYTES`.

    The log line has the method, the path without its query (signed URLs
    carry their signature there), the status and the duration. Headers are
    never logged, so neither are tokens. Non-blob bodies are read here in
    full, up to the limit, and replayed to the application.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_logged(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            if scope["path"].startswith(BLOB_PREFIX):
                await self.app(scope, receive, send_logged)
            else:
                await self._call_buffered(scope, receive, send_logged)
        finally:
            logger.info(
                "%s %s %d %.1f ms",
                scope["method"],
                scope["path"],
                status["code"],
                1000 * (time.perf_counter() - start),
            )

    async def _call_buffered(self, scope, receive, send) -> None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_JSON_BYTES:
                await self._reject_too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _reject_too_large(scope, receive, send) -> None:
        # Read on (up to a bound) so that a client still sending its body
        # gets the response instead of a reset connection.
        drained = 0
        while drained < DRAIN_LIMIT_BYTES:
            message = await receive()
            drained += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        form_types = (b"application/x-www-form-urlencoded", b"multipart/form-data")
        kind = "a form" if content_type.startswith(form_types) else "JSON requests"
        detail = (
            f"Request body is larger than the {MAX_JSON_BYTES} bytes allowed for "
            f"{kind}."
        )
        payload = json.dumps({"detail": detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

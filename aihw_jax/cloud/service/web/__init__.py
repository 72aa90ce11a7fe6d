"""The Composer web app: accounts, API tokens, experiment pages and builder.

:func:`mount` adds the pages (:mod:`.routes`) and the static files, among
them the vendored uPlot charting library (MIT licence in
``static/uPlot.LICENSE``), to the service application. The pages need no
network access beyond the service itself.
"""

from __future__ import annotations

import pathlib

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from aihw_jax.cloud.service.web import routes

__all__ = ["STATIC_DIR", "mount"]

STATIC_DIR = pathlib.Path(__file__).parent / "static"
"""Directory of the scripts, style sheets and the charting library."""


def mount(app: FastAPI) -> None:
    """Add the web routes, the static files and their error pages to ``app``."""
    app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(routes.PageError, routes.page_error_response)
    app.add_exception_handler(routes.SignInRequired, routes.page_error_response)

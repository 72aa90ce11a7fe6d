"""The self-hosted Composer service: ``aihw-jax serve``.

A FastAPI application (:mod:`.app`) keeps users, experiments and jobs in a
database (:mod:`.models`, schema by the Alembic migrations in
``migrations/``), blobs in a directory (:mod:`.storage`), and runs jobs on a
Dask cluster (:mod:`.executor`). :mod:`.server` starts it under uvicorn.
"""

from aihw_jax.cloud.service.app import create_app as create_app
from aihw_jax.cloud.service.config import ServiceConfig as ServiceConfig
from aihw_jax.cloud.service.server import (
    add_user as add_user,
    make_config as make_config,
    serve as serve,
)

__all__ = ["ServiceConfig", "add_user", "create_app", "make_config", "serve"]

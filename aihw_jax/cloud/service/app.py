"""The FastAPI application: routes of :mod:`aihw_jax.cloud.api` and blob URLs.

Every error leaves through :func:`_error_response`, which takes the status
from :data:`aihw_jax.cloud.service.errors.STATUS_CODES` and returns
``{"detail": message}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import threading
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from aihw_jax.cloud.api import API_PREFIX, JobStatus
from aihw_jax.cloud.service import auth, database
from aihw_jax.cloud.service.config import ServiceConfig
from aihw_jax.cloud.service.errors import (
    STATUS_CODES,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unauthorized,
    UnprocessableContent,
    status_of,
)
from aihw_jax.cloud.service.executor import JobExecutor
from aihw_jax.cloud.service.limits import NewTokenNotices, SignInLimiter
from aihw_jax.cloud.service.middleware import (
    BLOB_PREFIX,
    DRAIN_LIMIT_BYTES,
    RequestMiddleware,
)
from aihw_jax.cloud.service.models import ApiToken, Experiment, Input, Job, User, utcnow
from aihw_jax.cloud.service.schemas import (
    ExperimentCreate,
    InputCreate,
    JobCreate,
    LoginRequest,
    experiment_record,
    job_record,
)
from aihw_jax.cloud.service.storage import BlobStore
from aihw_jax.cloud.service.validation import is_possible_id, short_id
from aihw_jax.errors import AihwError

__all__ = ["ServiceState", "create_app"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class ServiceState:
    """Everything the routes share: database, blobs, keys and the executor."""

    config: ServiceConfig
    engine: Engine
    sessions: sessionmaker[Session]
    store: BlobStore
    signer: auth.Signer
    executor: JobExecutor | None
    upload_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    sign_in_limiter: SignInLimiter = dataclasses.field(default_factory=SignInLimiter)
    new_tokens: NewTokenNotices = dataclasses.field(default_factory=NewTokenNotices)


def create_app(config: ServiceConfig, *, run_jobs: bool = True) -> FastAPI:
    """Create the service application; start-up runs migrations and the executor.

    Args:
        config: service settings.
        run_jobs: start the Dask executor; ``False`` stores jobs as waiting
            without running them, so the next start with jobs runs them.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = database.make_engine(config.db_url)
        database.upgrade(engine)
        sessions = database.make_sessionmaker(engine)
        store = BlobStore(config.storage)
        executor = JobExecutor(config, sessions, store) if run_jobs else None
        if executor is not None:
            await run_in_threadpool(executor.start)
        app.state.service = ServiceState(
            config, engine, sessions, store, auth.Signer(config.secret), executor
        )
        logger.info("Service started with storage %s", config.storage)
        try:
            yield
        finally:
            if executor is not None:
                await run_in_threadpool(executor.close)
            engine.dispose()
            logger.info("Service stopped")

    app = FastAPI(title="aihw-jax Composer service", lifespan=lifespan)
    app.add_middleware(RequestMiddleware)
    # Handlers of specific classes respond and keep the connection open. Only
    # the catch-all for Exception runs in Starlette's outer layer, which
    # re-raises to the server after responding with 500.
    for error_class in (
        *STATUS_CODES,
        ServiceError,
        StarletteHTTPException,
        RequestValidationError,
        Exception,
    ):
        app.add_exception_handler(error_class, _error_response)
    _add_routes(app)
    # Imported here because the web routes reuse this module's functions.
    from aihw_jax.cloud.service import web

    web.mount(app)
    return app


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"] if part != "body")
        parts.append(f"{location}: {item['msg']}" if location else item["msg"])
    return "Invalid request: " + "; ".join(parts) + "."


async def _error_response(request: Request, error: Exception) -> Response:
    """Turn any error into ``{"detail": message}`` with its mapped status."""
    headers = None
    if isinstance(error, RequestValidationError):
        status, message = 422, _validation_message(error)
    elif isinstance(error, StarletteHTTPException):
        status, message = error.status_code, str(error.detail)
    else:
        status = status_of(error)
        message = str(error) if status < 500 else "Internal server error."
        if status == 500:
            logger.error(
                "Unhandled error on %s %s",
                request.method,
                request.url.path,
                exc_info=error,
            )
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


# -- dependencies ----------------------------------------------------------


def _state(request: Request) -> ServiceState:
    return request.app.state.service


def _session(request: Request) -> Iterator[Session]:
    with _state(request).sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(_session)]


def _current_user(request: Request, session: SessionDep) -> str:
    """Return the id of the user named by the request's bearer JWT."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthorized(
            "Missing `Authorization: Bearer <jwt>` header; get a JWT from "
            "POST token/login."
        )
    try:
        user_id, token_id = _state(request).signer.subject_of_jwt(credentials.strip())
    except auth.InvalidCredentials as error:
        raise Unauthorized(str(error)) from error
    if session.get(User, user_id) is None:
        raise Unauthorized("The user of this JWT no longer exists.")
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        raise Unauthorized("The API token of this JWT was revoked; use another one.")
    return user_id


UserDep = Annotated[str, Depends(_current_user)]


def _owned_experiment(session: Session, experiment_id: str, user_id: str) -> Experiment:
    experiment = None
    if is_possible_id(experiment_id):
        experiment = session.get(Experiment, experiment_id)
    if experiment is None or experiment.owner_id != user_id:
        raise NotFound(f"Experiment {short_id(experiment_id)} not found.")
    return experiment


def _latest_jobs(session: Session, experiment_ids: list[str]) -> dict[str, Job]:
    latest: dict[str, Job] = {}
    if not experiment_ids:
        return latest
    query = select(Job).where(Job.experiment_id.in_(experiment_ids))
    for job in session.scalars(query.order_by(Job.created_at)):
        latest[job.experiment_id] = job
    return latest


def _signed_url(request: Request, method: str, path: str) -> str:
    state = _state(request)
    signed = state.signer.sign_url(method, path, state.config.url_lifetime_s)
    return str(request.base_url).rstrip("/") + signed


def _check_signature(request: Request) -> None:
    try:
        _state(request).signer.check_url(
            request.method,
            request.url.path,
            request.query_params.get("expires"),
            request.query_params.get("signature"),
        )
    except auth.InvalidCredentials as error:
        raise Forbidden(str(error)) from error


# -- routes ----------------------------------------------------------------


def _add_routes(app: FastAPI) -> None:
    app.get(f"{API_PREFIX}/health")(_health)
    app.post(f"{API_PREFIX}/token/login")(_login)
    app.post(f"{API_PREFIX}/experiments", status_code=201)(_create_experiment)
    app.get(f"{API_PREFIX}/experiments/me")(_list_experiments)
    app.get(f"{API_PREFIX}/experiments/{{experiment_id}}")(_get_experiment)
    app.post(f"{API_PREFIX}/inputs", status_code=201)(_create_input)
    app.get(f"{API_PREFIX}/inputs/{{input_id}}/file")(_input_url)
    app.post(f"{API_PREFIX}/jobs", status_code=201)(_create_job)
    app.get(f"{API_PREFIX}/jobs/{{job_id}}")(_get_job)
    app.get(f"{API_PREFIX}/outputs/{{output_id}}/file")(_output_url)
    app.put(f"{BLOB_PREFIX}inputs/{{input_id}}")(_upload_input)
    app.get(f"{BLOB_PREFIX}inputs/{{input_id}}")(_download_input)
    app.get(f"{BLOB_PREFIX}outputs/{{output_id}}")(_download_output)


def _health() -> dict[str, str]:
    """Report that the service is up; needs no credentials."""
    return {"status": "ok"}


def _login(body: LoginRequest, request: Request, session: SessionDep) -> dict[str, Any]:
    """Exchange an API token for a JWT."""
    digest = auth.hash_token(body.token)
    token = session.scalar(
        select(ApiToken).where(
            ApiToken.token_sha256 == digest, ApiToken.revoked_at.is_(None)
        )
    )
    if token is None:
        raise Unauthorized("Invalid API token.")
    lifetime = _state(request).config.jwt_lifetime_s
    jwt = _state(request).signer.issue_jwt(token.user_id, lifetime, token.id)
    return {"jwt": jwt, "expires_in": lifetime}


def _create_experiment(
    body: ExperimentCreate,
    session: SessionDep,
    user_id: UserDep,
) -> dict[str, Any]:
    """Create an experiment record without input."""
    experiment = Experiment(owner_id=user_id, name=body.name, category=body.category)
    session.add(experiment)
    session.commit()
    logger.info("User %s created experiment %s", user_id, experiment.id)
    return experiment_record(experiment, None)


def _list_experiments(session: SessionDep, user_id: UserDep) -> list[dict[str, Any]]:
    """List the caller's experiments, oldest first."""
    query = select(Experiment).where(Experiment.owner_id == user_id)
    experiments = session.scalars(query.order_by(Experiment.created_at)).all()
    latest = _latest_jobs(session, [experiment.id for experiment in experiments])
    return [experiment_record(item, latest.get(item.id)) for item in experiments]


def _get_experiment(
    experiment_id: str,
    session: SessionDep,
    user_id: UserDep,
) -> dict[str, Any]:
    """Return one of the caller's experiments."""
    experiment = _owned_experiment(session, experiment_id, user_id)
    latest = _latest_jobs(session, [experiment.id]).get(experiment.id)
    return experiment_record(experiment, latest)


def _create_input(
    body: InputCreate,
    request: Request,
    session: SessionDep,
    user_id: UserDep,
) -> dict[str, Any]:
    """Create the input record of an experiment and return its upload URL.

    While nothing is uploaded, a repeated call returns the same input with a
    fresh URL; after the upload it responds with 409.
    """
    experiment = _owned_experiment(session, body.experiment, user_id)
    input_record = experiment.input
    if input_record is not None and input_record.uploaded_at is not None:
        raise Conflict(
            f"Experiment {experiment.id!r} already has the uploaded input "
            f"{input_record.id!r}; create a new experiment to change it."
        )
    if input_record is None:
        input_record = Input(experiment_id=experiment.id)
        session.add(input_record)
        session.commit()
    path = f"{BLOB_PREFIX}inputs/{input_record.id}"
    return {"id": input_record.id, "upload_url": _signed_url(request, "PUT", path)}


def _owned_input(session: Session, input_id: str, user_id: str) -> Input:
    input_record = session.get(Input, input_id) if is_possible_id(input_id) else None
    if (
        input_record is None
        or input_record.experiment.owner_id != user_id
        or input_record.uploaded_at is None
    ):
        raise NotFound(f"Input {short_id(input_id)} not found.")
    return input_record


def _input_url(
    input_id: str,
    request: Request,
    session: SessionDep,
    user_id: UserDep,
) -> dict[str, str]:
    """Return a signed download URL of an uploaded input."""
    _owned_input(session, input_id, user_id)
    return {"url": _signed_url(request, "GET", f"{BLOB_PREFIX}inputs/{input_id}")}


def _create_job(
    body: JobCreate,
    request: Request,
    session: SessionDep,
    user_id: UserDep,
) -> dict[str, Any]:
    """Create a waiting job for an experiment with input and queue it."""
    experiment = _owned_experiment(session, body.experiment, user_id)
    input_record = experiment.input
    if input_record is None or input_record.uploaded_at is None:
        raise Conflict(
            f"Experiment {experiment.id!r} has no uploaded input; upload one "
            "before creating a job."
        )
    unfinished = (JobStatus.WAITING.value, JobStatus.RUNNING.value)
    active = session.scalar(
        select(Job).where(
            Job.experiment_id == experiment.id, Job.status.in_(unfinished)
        )
    )
    if active is not None:
        raise Conflict(
            f"Experiment {experiment.id!r} already has the {active.status} job "
            f"{active.id!r}; wait until it finishes."
        )
    job = Job(
        experiment_id=experiment.id,
        status=JobStatus.WAITING.value,
        device=body.device,
        max_elements=body.max_elements,
        seed=body.seed,
        attempts=0,
        worker_failures=0,
    )
    session.add(job)
    experiment.finished_at = None
    session.commit()
    executor = _state(request).executor
    if executor is not None:
        executor.submit(job.id)
    logger.info(
        "User %s created job %s of experiment %s", user_id, job.id, experiment.id
    )
    return job_record(job)


def _get_job(
    job_id: str,
    session: SessionDep,
    user_id: UserDep,
) -> dict[str, Any]:
    """Return one of the caller's jobs."""
    job = session.get(Job, job_id) if is_possible_id(job_id) else None
    if job is None or job.experiment.owner_id != user_id:
        raise NotFound(f"Job {short_id(job_id)} not found.")
    return job_record(job)


def _output_url(
    output_id: str,
    request: Request,
    session: SessionDep,
    user_id: UserDep,
) -> dict[str, str]:
    """Return a signed download URL of a job output."""
    job = None
    if is_possible_id(output_id):
        job = session.scalar(select(Job).where(Job.output_id == output_id))
    if job is None or job.experiment.owner_id != user_id:
        raise NotFound(f"Output {short_id(output_id)} not found.")
    return {"url": _signed_url(request, "GET", f"{BLOB_PREFIX}outputs/{output_id}")}


# -- signed blob routes ----------------------------------------------------


async def _read_limited(request: Request, limit: int) -> bytes:
    """Read the request body, raising PayloadTooLarge past ``limit`` bytes."""
    too_large = PayloadTooLarge(
        f"Upload is larger than the {limit} bytes the service accepts."
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        await _drain(request)
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            await _drain(request)
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(request: Request) -> None:
    # Reading the rest lets the client receive the 413 instead of a reset.
    drained = 0
    try:
        async for chunk in request.stream():
            drained += len(chunk)
            if drained > DRAIN_LIMIT_BYTES:
                return
    except RuntimeError:  # the stream was already consumed
        return


async def _upload_input(input_id: str, request: Request) -> dict[str, Any]:
    """Store an uploaded experiment envelope after validating it."""
    _check_signature(request)
    state = _state(request)
    data = await _read_limited(request, state.config.max_upload_bytes)
    return await run_in_threadpool(_store_input, state, input_id, data)


def _store_input(state: ServiceState, input_id: str, data: bytes) -> dict[str, Any]:
    from aihw_jax.cloud import codec  # imports JAX and the experiment classes

    with state.sessions() as session:
        input_record = session.get(Input, input_id)
        if input_record is None:
            raise NotFound(f"Input {short_id(input_id)} not found.")
        if input_record.uploaded_at is not None:
            raise Conflict(f"Input {input_id!r} was already uploaded.")
        category = input_record.experiment.category
    try:
        decoded = codec.decode_experiment(data, trusted=False)
    except AihwError:
        raise
    except Exception as error:  # a decoder bug must not become a 500 for bad data
        logger.warning("Decoding input %s failed unexpectedly: %r", input_id, error)
        raise UnprocessableContent(f"Invalid experiment payload: {error}") from error
    if decoded.category != category:
        raise UnprocessableContent(
            f"Upload contains a {decoded.category!r} experiment, but experiment "
            f"of input {input_id!r} has category {category!r}."
        )
    with state.upload_lock, state.sessions.begin() as session:
        claimed = session.execute(
            update(Input)
            .where(Input.id == input_id, Input.uploaded_at.is_(None))
            .values(
                uploaded_at=utcnow(),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
        if claimed.rowcount != 1:
            raise Conflict(f"Input {input_id!r} was already uploaded.")
        state.store.write("inputs", input_id, data)
    logger.info("Stored input %s (%d bytes)", input_id, len(data))
    return {"id": input_id, "size": len(data)}


def _download_input(input_id: str, request: Request) -> Response:
    """Send an uploaded input envelope."""
    _check_signature(request)
    return _blob_response(_state(request).store, "inputs", input_id)


def _download_output(output_id: str, request: Request) -> Response:
    """Send a job's output envelope."""
    _check_signature(request)
    return _blob_response(_state(request).store, "outputs", output_id)


def _blob_response(store: BlobStore, kind: str, blob_id: str) -> Response:
    try:
        path = store.path(kind, blob_id)
    except ValueError:
        raise NotFound(f"Blob {blob_id!r} not found.") from None
    if not path.is_file():
        raise NotFound(f"Blob {blob_id!r} not found.")
    return FileResponse(path, media_type="application/msgpack")

"""Routes of the web app: accounts, API tokens, experiments and the builder.

Pages are server-rendered Jinja2 templates. Every POST carries the CSRF
token of :mod:`.accounts` in a hidden field; :func:`_checked_form` rejects a
post without a matching token with 403 before the route runs. Experiments
are created through the same functions as the HTTP API, so the builder's
uploads pass the same validation and its jobs the same queue.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import pathlib
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aihw_jax.cloud.service import app as api
from aihw_jax.cloud.service.errors import NotFound
from aihw_jax.cloud.service.models import ApiToken, Experiment, Job, User
from aihw_jax.cloud.service.schemas import (
    ExperimentCreate,
    InputCreate,
    JobCreate,
    _iso,
    experiment_record,
)
from aihw_jax.cloud.service.validation import (
    control_character_problem,
    is_possible_id,
    json_safe,
    short_id,
)
from aihw_jax.cloud.service.web import accounts, builder, views

__all__ = ["PageError", "page_error_response", "router"]

logger = logging.getLogger(__name__)

TEMPLATES = Jinja2Templates(directory=pathlib.Path(__file__).parent / "templates")
TEMPLATES.env.filters["iso_utc"] = _iso

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
        "data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Headers of every page: scripts and styles from this origin only, no framing."""

router = APIRouter(include_in_schema=False)


class PageError(Exception):
    """An error shown to the browser as an HTML page with ``status``."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class SignInRequired(Exception):
    """A page that needs a signed-in user was requested without one."""


@dataclasses.dataclass
class Visitor:
    """The browser behind a request: its cookie, CSRF token and user.

    Attributes:
        cookie: the session cookie value, new if the browser sent none.
        new_cookie: whether the response must set ``cookie``.
        user: the signed-in user, or ``None``.
        csrf: the CSRF token that this browser's forms carry.
    """

    cookie: str
    new_cookie: bool
    user: User | None
    csrf: str


def _visitor(request: Request, session: api.SessionDep) -> Visitor:
    cookie = request.cookies.get(accounts.SESSION_COOKIE)
    user = accounts.session_user(session, cookie)
    new_cookie = not cookie
    if new_cookie:
        cookie = accounts.new_cookie_value()
    secret = api._state(request).config.secret
    return Visitor(cookie, new_cookie, user, accounts.csrf_token(secret, cookie))


VisitorDep = Annotated[Visitor, Depends(_visitor)]


def _signed_in(request: Request, visitor: VisitorDep) -> User:
    if visitor.user is None:
        raise SignInRequired(request.url.path)
    return visitor.user


UserDep = Annotated[User, Depends(_signed_in)]


async def _checked_form(request: Request) -> dict[str, str]:
    """Read a posted form and check its CSRF token against the cookie."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    cookie = request.cookies.get(accounts.SESSION_COOKIE)
    sent = fields.pop(accounts.CSRF_FIELD, "")
    secret = api._state(request).config.secret
    expected = accounts.csrf_token(secret, cookie) if cookie else ""
    # compare_digest raises TypeError for non-ASCII str, so compare bytes.
    valid = hmac.compare_digest(expected.encode(), sent.encode())
    if not cookie or not sent or not valid:
        logger.warning(
            "Rejected a form post to %s without a valid CSRF token", request.url.path
        )
        raise PageError(
            403,
            "Form rejected",
            "This form was sent without a valid CSRF token, so it was not "
            "processed. Reload the page and send the form again.",
        )
    return fields


FormDep = Annotated[dict[str, str], Depends(_checked_form)]


def _set_cookie(
    request: Request, response: Response, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        accounts.SESSION_COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _render(
    request: Request,
    visitor: Visitor,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    state = api._state(request)
    full_context = {
        "user": visitor.user,
        "csrf_field": accounts.CSRF_FIELD,
        "csrf_token": visitor.csrf,
        "signup_enabled": state.config.signup,
        **(context or {}),
    }
    response = TEMPLATES.TemplateResponse(
        request, template, full_context, status_code=status, headers=SECURITY_HEADERS
    )
    if visitor.new_cookie:
        _set_cookie(request, response, visitor.cookie, None)
    return response


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(
        path, status_code=303, headers={"Cache-Control": "no-store"}
    )


def page_error_response(request: Request, error: Exception) -> Response:
    """Render a :class:`PageError`, or redirect a :class:`SignInRequired`."""
    if isinstance(error, SignInRequired):
        return _redirect(f"/login?next={quote(str(error), safe='/')}")
    assert isinstance(error, PageError)
    secret = api._state(request).config.secret
    cookie = request.cookies.get(accounts.SESSION_COOKIE)
    new_cookie = not cookie
    cookie = cookie or accounts.new_cookie_value()
    visitor = Visitor(cookie, new_cookie, None, accounts.csrf_token(secret, cookie))
    context = {"title": error.title, "message": error.message}
    return _render(request, visitor, "error.html", context, status=error.status)


def _safe_next(target: str | None) -> str:
    """Return a local path to continue at; anything else becomes the list."""
    local = target and target.startswith("/") and not target.startswith("//")
    if local and "\\" not in target:
        return target
    return "/experiments"


# -- accounts --------------------------------------------------------------


@router.get("/")
def _home(visitor: VisitorDep) -> Response:
    return _redirect("/experiments" if visitor.user else "/login")


def _signup_allowed(request: Request) -> None:
    if not api._state(request).config.signup:
        raise PageError(
            404,
            "Sign-up is off",
            "This service does not accept new accounts. Ask its operator to "
            "create one with `aihw-jax users add NAME --password`.",
        )


@router.get("/signup")
def _signup_page(request: Request, visitor: VisitorDep) -> Response:
    _signup_allowed(request)
    return _render(request, visitor, "signup.html", {"errors": {}, "form": {}})


@router.post("/signup")
def _signup(
    request: Request, session: api.SessionDep, visitor: VisitorDep, form: FormDep
) -> Response:
    _signup_allowed(request)
    name = form.get("username", "").strip()
    password = form.get("password", "")
    errors = {}
    if problem := accounts.username_problem(name):
        errors["username"] = problem
    if problem := accounts.password_problem(password):
        errors["password"] = problem
    elif form.get("password_repeat", "") != password:
        errors["password_repeat"] = "The two passwords differ."
    if not errors and accounts.find_user(session, name) is not None:
        errors["username"] = "This user name is taken; choose another."
    if not errors:
        user = User(name=name, password_hash=accounts.hash_password(password))
        session.add(user)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            errors["username"] = "This user name is taken; choose another."
    if errors:
        context = {"errors": errors, "form": {"username": name}}
        return _render(request, visitor, "signup.html", context, status=422)
    logger.info("User %s signed up", user.id)
    return _start_session(request, session, user, "/account")


def _start_session(
    request: Request, session: Session, user: User, target: str
) -> Response:
    lifetime = api._state(request).config.web_session_lifetime_s
    cookie = accounts.start_session(session, user, lifetime)
    response = _redirect(target)
    _set_cookie(request, response, cookie, lifetime)
    return response


@router.get("/login")
def _login_page(request: Request, visitor: VisitorDep) -> Response:
    context = {"error": None, "form": {}, "next": request.query_params.get("next")}
    return _render(request, visitor, "login.html", context)


@router.post("/login")
def _login(
    request: Request, session: api.SessionDep, visitor: VisitorDep, form: FormDep
) -> Response:
    name = form.get("username", "").strip()
    address = request.client.host if request.client else ""
    limiter = api._state(request).sign_in_limiter
    context = {"form": {"username": name}, "next": form.get("next")}
    retry_after = limiter.retry_after(name, address)
    if retry_after:
        logger.warning("Rejected a web sign-in after repeated failures")
        context["error"] = (
            "Too many failed sign-ins for this user name or address; try again "
            f"in {retry_after} s."
        )
        response = _render(request, visitor, "login.html", context, status=429)
        response.headers["Retry-After"] = str(retry_after)
        return response
    user = None
    if control_character_problem(name, "User name") is None:
        user = accounts.find_user(session, name)
    if not accounts.verify_password(user, form.get("password", "")):
        limiter.record_failure(name, address)
        logger.info("A web sign-in failed")
        context["error"] = "Wrong user name or password."
        return _render(request, visitor, "login.html", context, status=401)
    if accounts.password_needs_rehash(user):
        user.password_hash = accounts.hash_password(form["password"])
        session.commit()
    accounts.end_session(session, request.cookies.get(accounts.SESSION_COOKIE))
    logger.info("User %s signed in", user.id)
    return _start_session(request, session, user, _safe_next(form.get("next")))


@router.post("/logout")
def _logout(request: Request, session: api.SessionDep, form: FormDep) -> Response:
    del form  # checked for its CSRF token only
    accounts.end_session(session, request.cookies.get(accounts.SESSION_COOKIE))
    response = _redirect("/login")
    _set_cookie(request, response, accounts.new_cookie_value(), None)
    return response


def _token_rows(session: Session, user: User) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id)
    return list(session.scalars(query.order_by(ApiToken.created_at)))


@router.get("/account")
def _account(
    request: Request, session: api.SessionDep, visitor: VisitorDep, user: UserDep
) -> Response:
    notice = api._state(request).new_tokens.take(accounts.session_key(visitor.cookie))
    context = {"tokens": _token_rows(session, user), "new_token": None, "errors": {}}
    if notice is not None:
        context["new_token_name"], context["new_token"] = notice
    return _render(request, visitor, "account.html", context)


@router.post("/account/tokens")
def _create_token(
    request: Request,
    session: api.SessionDep,
    visitor: VisitorDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    """Create a token and redirect to the account page, which shows it once."""
    name = form.get("name", "").strip()
    errors = {}
    if not 1 <= len(name) <= 200:
        errors["name"] = "Enter a token name of 1 to 200 characters."
    elif problem := control_character_problem(name, "Token name"):
        errors["name"] = problem
    if errors:
        context = {"tokens": _token_rows(session, user), "errors": errors}
        return _render(request, visitor, "account.html", context, status=422)
    new_token = accounts.create_api_token(session, user, name)
    notices = api._state(request).new_tokens
    notices.put(accounts.session_key(visitor.cookie), name, new_token)
    return _redirect("/account")


@router.post("/account/tokens/{token_id}/revoke")
def _revoke_token(
    token_id: str, session: api.SessionDep, user: UserDep, form: FormDep
) -> Response:
    del form  # checked for its CSRF token only
    known = is_possible_id(token_id)
    if not known or not accounts.revoke_api_token(session, user, token_id):
        message = f"API token {short_id(token_id)} not found."
        raise PageError(404, "Not found", message)
    return _redirect("/account")


# -- experiments -----------------------------------------------------------


def _owned(session: Session, experiment_id: str, user: User) -> Experiment:
    try:
        return api._owned_experiment(session, experiment_id, user.id)
    except NotFound as error:
        raise PageError(404, "Not found", str(error)) from None


@router.get("/experiments")
def _experiments(
    request: Request, session: api.SessionDep, visitor: VisitorDep, user: UserDep
) -> Response:
    query = select(Experiment).where(Experiment.owner_id == user.id)
    experiments = session.scalars(query.order_by(Experiment.created_at.desc())).all()
    latest = api._latest_jobs(session, [item.id for item in experiments])
    records = [experiment_record(item, latest.get(item.id)) for item in experiments]
    return _render(request, visitor, "experiments.html", {"experiments": records})


def _builder_context(form: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "form": form,
        "errors": errors,
        "datasets": [(name, name) for name in builder.DATASETS],
        "models": list(builder.MODELS.items()),
        "presets": [(name, name) for name in builder.preset_names()],
        "templates": [(name, name) for name in builder.INFERENCE_TEMPLATES],
    }


@router.get("/experiments/new")
def _builder_page(request: Request, visitor: VisitorDep, user: UserDep) -> Response:
    context = _builder_context(builder.default_form(), {})
    return _render(request, visitor, "builder.html", context)


@router.post("/experiments/new")
def _build_experiment(
    request: Request,
    session: api.SessionDep,
    visitor: VisitorDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    built = builder.build(form)
    if built.errors:
        context = _builder_context({**builder.default_form(), **form}, built.errors)
        return _render(request, visitor, "builder.html", context, status=422)
    record = api._create_experiment(
        ExperimentCreate(name=built.name, category=built.category), session, user.id
    )
    upload = api._create_input(
        InputCreate(experiment=record["id"]), request, session, user.id
    )
    api._store_input(api._state(request), upload["id"], built.payload)
    api._create_job(
        JobCreate(experiment=record["id"], **built.job), request, session, user.id
    )
    return _redirect(f"/experiments/{record['id']}")


def _latest_job(session: Session, experiment: Experiment) -> Job | None:
    return api._latest_jobs(session, [experiment.id]).get(experiment.id)


@router.get("/experiments/{experiment_id}")
def _experiment_page(
    experiment_id: str,
    request: Request,
    session: api.SessionDep,
    visitor: VisitorDep,
    user: UserDep,
) -> Response:
    experiment = _owned(session, experiment_id, user)
    job = _latest_job(session, experiment)
    record = experiment_record(experiment, job)
    state = api._state(request)
    configuration = None
    if record["input"] is not None:
        configuration = views.describe_input(_decoded_input(state, record["input"]))
    charts = []
    if job is not None and job.output_id is not None:
        output = _decoded_output(state, job.output_id)
        # Non-finite values become null, which JSON allows and the charts skip.
        charts = json_safe(views.chart_specs(experiment.category, output["result"]))
    context = {
        "experiment": record,
        "configuration": configuration,
        "charts": charts,
    }
    return _render(request, visitor, "detail.html", context)


def _decoded_input(state: api.ServiceState, input_id: str) -> Any:
    from aihw_jax.cloud import codec

    data = state.store.path("inputs", input_id).read_bytes()
    return codec.decode_experiment(data, trusted=False)


def _decoded_output(state: api.ServiceState, output_id: str) -> dict[str, Any]:
    from aihw_jax.cloud import jobs

    return jobs.decode_output(state.store.path("outputs", output_id).read_bytes())


@router.get("/experiments/{experiment_id}/status")
def _experiment_status(
    experiment_id: str, session: api.SessionDep, user: UserDep
) -> Response:
    experiment = _owned(session, experiment_id, user)
    job = _latest_job(session, experiment)
    record = experiment_record(experiment, job)
    return JSONResponse(
        {"status": record["status"], "job": record["job"]},
        headers={"Cache-Control": "no-store"},
    )


def _completed_output(
    request: Request, session: Session, experiment_id: str, user: User
) -> dict[str, Any]:
    experiment = _owned(session, experiment_id, user)
    job = _latest_job(session, experiment)
    if job is None or job.output_id is None:
        message = f"Experiment {short_id(experiment_id)} has no result yet."
        raise PageError(404, "No result", message)
    return _decoded_output(api._state(request), job.output_id)


@router.get("/experiments/{experiment_id}/result.json")
def _download_result(
    experiment_id: str, request: Request, session: api.SessionDep, user: UserDep
) -> Response:
    output = _completed_output(request, session, experiment_id, user)
    record = json_safe({"result": output["result"], "device": output["device"]})
    body = json.dumps(record, indent=1, allow_nan=False)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{experiment_id}-result.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/experiments/{experiment_id}/weights.msgpack")
def _download_weights(
    experiment_id: str, request: Request, session: api.SessionDep, user: UserDep
) -> Response:
    output = _completed_output(request, session, experiment_id, user)
    if output["weights"] is None:
        raise PageError(404, "No weights", "This result has no weights.")
    return Response(
        output["weights"],
        media_type="application/msgpack",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{experiment_id}-weights.msgpack"'
            ),
            "Cache-Control": "no-store",
        },
    )

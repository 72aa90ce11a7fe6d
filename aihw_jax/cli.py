"""The ``aihw-jax`` command: ``serve`` the Composer service, ``users add``.

Client commands (``experiments list|show|result``) come from
``aihw_jax.cloud.client.cli`` when that module is installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import logging
import os
import pathlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

MAX_WEB_SESSION_HOURS = 24 * 366
"""Maximum of ``--web-session-hours``: one year, in hours."""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not in 0..65535")
    return value


def _session_hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of hours {text!r}") from None
    # Written so that NaN fails the check too.
    if not 0 < value <= MAX_WEB_SESSION_HOURS:
        raise argparse.ArgumentTypeError(
            f"{text} hours is not in (0, {MAX_WEB_SESSION_HOURS}]"
        )
    return value


def _existing_file(text: str) -> str:
    if not pathlib.Path(text).is_file():
        raise argparse.ArgumentTypeError(f"file {text!r} not found")
    return text


def _add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        type=pathlib.Path,
        default=pathlib.Path("aihw-jax-data"),
        metavar="DIR",
        help="directory of blobs, the server secret and the default SQLite "
        "database (default: ./aihw-jax-data)",
    )
    parser.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="SQLAlchemy database URL, e.g. postgresql+psycopg://user@host/db "
        "(default: SQLite file aihw-jax.db in the storage directory)",
    )


def _add_serve_parser(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the Composer service",
        description="Run the Composer service: HTTP API, database and Dask jobs.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s)",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="TCP port to listen on, 0 for any free port (default: %(default)s)",
    )
    _add_storage_options(serve)
    serve.add_argument(
        "--secret-file",
        type=pathlib.Path,
        default=None,
        metavar="FILE",
        help="server secret that signs JWTs and blob URLs, created with mode "
        "0600 if missing (default: secret.key in the storage directory)",
    )
    serve.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of an existing Dask scheduler, e.g. tcp://HOST:8786 "
        "(default: start a local cluster)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes of the local cluster, one thread each "
        "(default: the number of CPUs)",
    )
    serve.add_argument(
        "--dataset-root",
        default=None,
        metavar="DIR",
        help="data set directory passed to jobs (default: the jobs' default)",
    )
    serve.add_argument(
        "--no-signup",
        dest="signup",
        action="store_false",
        help="hide the web sign-up page, so that only `aihw-jax users add` "
        "creates accounts (default: visitors may sign up)",
    )
    serve.add_argument(
        "--web-session-hours",
        type=_session_hours,
        default=168.0,
        metavar="HOURS",
        help="how long a browser sign-in lasts, in hours (default: 168)",
    )
    serve.add_argument(
        "--ssl-certfile",
        type=_existing_file,
        default=None,
        metavar="FILE",
        help="PEM certificate (chain) to serve HTTPS with; needs --ssl-keyfile "
        "(default: plain HTTP)",
    )
    serve.add_argument(
        "--ssl-keyfile",
        type=_existing_file,
        default=None,
        metavar="FILE",
        help="PEM private key of --ssl-certfile",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=LOG_LEVELS,
        help="lowest level of the log messages written to stderr "
        "(default: %(default)s)",
    )
    serve.set_defaults(func=_serve_command)


def _add_users_parser(subparsers) -> None:
    users = subparsers.add_parser("users", help="manage users of the service")
    commands = users.add_subparsers(dest="users_command", metavar="COMMAND")
    commands.required = True
    add = commands.add_parser(
        "add",
        help="add a user (or a new token for a user) and print the API token",
        description="Add a user, or a new API token for an existing user, and "
        "print the token. Such a user has no web password and uses the API "
        "only, unless --password sets one for the web sign-in.",
    )
    add.add_argument("name", help="user name")
    add.add_argument(
        "--password",
        action="store_true",
        help="also set the user's web password, read from the terminal (or "
        "from the first line of stdin when it is not a terminal)",
    )
    _add_storage_options(add)
    add.set_defaults(func=_users_add_command)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every ``aihw-jax`` subcommand."""
    parser = argparse.ArgumentParser(prog="aihw-jax")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    _add_serve_parser(subparsers)
    _add_users_parser(subparsers)
    try:
        from aihw_jax.cloud.client import cli as client_cli
    except ImportError:
        client_cli = None
    if client_cli is not None:
        client_cli.add_commands(subparsers)
    return parser


def _serve_command(args: argparse.Namespace) -> int:
    from aihw_jax.cloud.service import server

    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        print("error: give both --ssl-certfile and --ssl-keyfile", file=sys.stderr)
        return 2
    # The storage directory, database, blobs and secret are for this user only.
    os.umask(0o077)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = server.make_config(
        args.storage,
        db_url=args.db,
        secret_file=args.secret_file,
        scheduler=args.scheduler,
        workers=args.workers,
        dataset_root=args.dataset_root,
    )
    config = dataclasses.replace(
        config,
        signup=args.signup,
        web_session_lifetime_s=round(args.web_session_hours * 3600),
    )
    server.serve(
        config,
        host=args.host,
        port=args.port,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        log_level=args.log_level,
    )
    return 0


def _users_add_command(args: argparse.Namespace) -> int:
    from aihw_jax.cloud.service import server
    from aihw_jax.cloud.service.web import accounts

    password = None
    if args.password:
        password = _read_password()
        problem = accounts.password_problem(password)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    os.umask(0o077)
    new_database = server.database_is_missing(args.storage, args.db)
    config = server.make_config(args.storage, db_url=args.db)
    if new_database is not None:
        print(
            f"note: creating a new database {new_database}; a service that uses "
            "another database will not accept this token.",
            file=sys.stderr,
        )
    try:
        token, created = server.add_user(config.db_url, args.name)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if password is not None:
        accounts.set_password(config.db_url, args.name, password)
    action = "Created user" if created else "Added a new token for user"
    print(f"{action} {args.name!r}. API token (shown once): {token}")
    if password is not None:
        print(f"Set the web password of user {args.name!r}.")
    return 0


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Web password: ")
    if getpass.getpass("Repeat the password: ") != password:
        print("error: the passwords differ", file=sys.stderr)
        raise SystemExit(2)
    return password


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aihw-jax`` command line and return its exit status."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

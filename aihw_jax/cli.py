"""The ``aihw-jax`` command: ``serve`` the Composer service, ``users add``.

Client commands (``experiments list|show|result``) come from
``aihw_jax.cloud.client.cli`` when that module is installed.
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


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
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="TCP port to listen on")
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
    serve.add_argument("--ssl-certfile", default=None, metavar="FILE")
    serve.add_argument("--ssl-keyfile", default=None, metavar="FILE")
    serve.add_argument(
        "--log-level", default="info", choices=LOG_LEVELS, help="log level"
    )
    serve.set_defaults(func=_serve_command)


def _add_users_parser(subparsers) -> None:
    users = subparsers.add_parser("users", help="manage users of the service")
    commands = users.add_subparsers(dest="users_command", metavar="COMMAND")
    commands.required = True
    add = commands.add_parser(
        "add",
        help="add a user (or a new token for a user) and print the API token",
    )
    add.add_argument("name", help="user name")
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

    config = server.make_config(args.storage, db_url=args.db)
    token, created = server.add_user(config.db_url, args.name)
    action = "Created user" if created else "Added a new token for user"
    print(f"{action} {args.name!r}. API token (shown once): {token}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aihw-jax`` command line and return its exit status."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""The ``experiments`` commands of ``aihw-jax``: list, show and fetch results.

``aihw_jax.cli`` adds them with :func:`add_commands`; this module also runs
on its own (``python -m aihw_jax.cloud.client.cli experiments list``).
Errors print one line to stderr and exit with status 1.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import pathlib
import sys
from collections.abc import Callable
from typing import Any

from aihw_jax.cloud.client._credentials import (
    CONFIG_FILE_NAME,
    TOKEN_ENV,
    URL_ENV,
)
from aihw_jax.cloud.client._experiment import CloudExperiment
from aihw_jax.cloud.client._runners import CloudRunner
from aihw_jax.errors import AihwError

__all__ = ["add_commands", "main"]


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=None,
        help=f"base URL of the Composer service (default: ${URL_ENV}, then "
        f"{CONFIG_FILE_NAME}, then http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help=f"API token (default: ${TOKEN_ENV}, then {CONFIG_FILE_NAME})",
    )
    parser.add_argument(
        "--ca-bundle",
        default=None,
        metavar="PATH",
        help="CA bundle (PEM file or directory) to verify the service's TLS "
        "certificate with (default: the system's CA store)",
    )


def add_commands(subparsers: Any) -> None:
    """Add the ``experiments`` command and its subcommands to ``subparsers``.

    Each leaf parser sets ``func``, a callable taking the parsed arguments
    and returning the exit status.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.
    """
    experiments = subparsers.add_parser(
        "experiments",
        help="list experiments on a Composer service and fetch their results",
        description="List experiments on a Composer service and fetch results.",
    )
    commands = experiments.add_subparsers(dest="experiments_command", metavar="COMMAND")
    commands.required = True

    list_parser = commands.add_parser(
        "list",
        help="list your experiments, newest first",
        description="List your experiments on the service, newest first: id, "
        "category, job status, creation time (UTC) and name.",
    )
    _add_connection_options(list_parser)
    list_parser.add_argument(
        "--json", action="store_true", help="print the list as JSON"
    )
    list_parser.set_defaults(func=_reporting_errors(_list_command))

    show_parser = commands.add_parser(
        "show", help="show one experiment and the status of its job"
    )
    _add_connection_options(show_parser)
    show_parser.add_argument("id", help="the experiment's id")
    show_parser.set_defaults(func=_reporting_errors(_show_command))

    result_parser = commands.add_parser(
        "result", help="print the result of a completed experiment as JSON"
    )
    _add_connection_options(result_parser)
    result_parser.add_argument("id", help="the experiment's id")
    result_parser.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="FILE",
        help="write the JSON to FILE instead of stdout",
    )
    result_parser.set_defaults(func=_reporting_errors(_result_command))


def _reporting_errors(command: Callable[[argparse.Namespace], int]):
    """Wrap ``command`` so that expected errors print one line and return 1.

    The wrapper lets any dispatcher (``aihw_jax.cli`` or :func:`main`) call
    ``args.func(args)`` without its own error handling.
    """

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (AihwError, TimeoutError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1

    return run


def _runner(args: argparse.Namespace) -> CloudRunner:
    verify: bool | str = args.ca_bundle if args.ca_bundle else True
    return CloudRunner(api_url=args.url, api_token=args.token, verify=verify)


def _summary(handle: CloudExperiment) -> dict[str, Any]:
    return {
        "id": handle.id,
        "name": handle.name,
        "category": handle.category,
        "created_at": handle.created_at.isoformat() if handle.created_at else None,
        "status": handle.status().name,
        "job_id": handle.job_id,
    }


def _list_command(args: argparse.Namespace) -> int:
    with _runner(args) as runner:
        rows = [_summary(handle) for handle in runner.list_experiments()]
    if args.json:
        print(json.dumps(rows, indent=2, allow_nan=False))
        return 0
    if not rows:
        print("No experiments.")
        return 0
    print(f"{'ID':32}  {'CATEGORY':9}  {'STATUS':9}  {'CREATED (UTC)':19}  NAME")
    for row in rows:
        created = (row["created_at"] or "")[:19].replace("T", " ")
        print(
            f"{row['id']:32}  {row['category']:9}  {row['status']:9}  "
            f"{created:19}  {row['name']}"
        )
    return 0


def _show_command(args: argparse.Namespace) -> int:
    with _runner(args) as runner:
        summary = _summary(runner.get_cloud_experiment(args.id))
    for key, value in summary.items():
        print(f"{key}: {value if value is not None else '-'}")
    return 0


def _result_command(args: argparse.Namespace) -> int:
    with _runner(args) as runner:
        result = runner.get_cloud_experiment(args.id).get_result()
    text = json.dumps(_finite_or_null(result), indent=2, allow_nan=False) + "\n"
    if args.output:
        pathlib.Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _finite_or_null(value: Any) -> Any:
    """Return ``value`` with NaN and infinities replaced by ``None``.

    ``json.dumps`` would write them as ``NaN``/``Infinity``, which is not JSON.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    return value


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run one ``experiments`` command; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="aihw-jax", description="Work with experiments on a Composer service."
    )
    add_commands(
        parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    )
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""Command line for the data sets: ``python -m aihw_jax.datasets prepare``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import pathlib
import sys

from aihw_jax.datasets import FashionMNIST, default_data_dir
from aihw_jax.errors import DatasetError


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aihw_jax.datasets",
        description="Prepare the Fashion-MNIST data set for aihw_jax.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser(
        "prepare",
        help="build the TFDS array_record files if missing and print their directory",
    )
    prepare.add_argument(
        "--root",
        type=pathlib.Path,
        default=None,
        help=f"TFDS data directory (default: {default_data_dir()})",
    )
    prepare.add_argument(
        "--idx-dir",
        type=pathlib.Path,
        default=None,
        help="directory with the IDX .gz archives "
        "(default: $AIHW_JAX_FASHION_MNIST_IDX_DIR, else "
        "/usr/share/datasets/fashion-mnist)",
    )
    prepare.add_argument(
        "--download",
        action="store_true",
        default=None,
        help="download the upstream archives if the IDX directory lacks any",
    )
    prepare.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="do not show progress bars on stderr while downloading and building",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aihw_jax").setLevel(logging.INFO)
    args = _parse_args(argv)
    # TFDS prints its progress to stdout. Keeping it on stderr leaves stdout
    # with the data directory alone, for scripts to capture.
    try:
        with contextlib.redirect_stdout(sys.stderr):
            data_dir = FashionMNIST.prepare(
                args.root,
                idx_dir=args.idx_dir,
                download=args.download,
                progress=args.progress,
            )
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Progress bars and summary lines for long operations, shown only on request.

Runners and data preparation take a flag (``stdout=True``, ``progress=True``)
that requests output. :func:`progress_bar` then yields a ``tqdm`` bar on
stderr, and otherwise a disabled bar that writes nothing, so callers update
it without checking the flag. :func:`write_summary` writes a result line to
stdout through ``tqdm.write``, which keeps open bars intact, and always logs
it as well.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

from tqdm.std import tqdm

__all__ = ["progress_bar", "write_summary"]


@contextlib.contextmanager
def progress_bar(
    enabled: bool,
    *,
    total: int | None,
    desc: str,
    unit: str = "it",
    leave: bool = False,
) -> Iterator[tqdm]:
    """Yield a ``tqdm`` bar on stderr if ``enabled``, else one that shows nothing.

    The bar is closed when the block ends. With ``leave=False`` (the default)
    it is also erased then, so the summary line that follows replaces it.

    NOTE: this is the terminal bar of ``tqdm.std``, not ``tqdm.auto``. In
    Jupyter without ipywidgets, ``tqdm.auto`` warns and falls back to this bar
    anyway, and Jupyter redraws the terminal bar in place.

    Args:
        enabled: whether to show the bar.
        total: the number of steps, or None if it is not known.
        desc: the text in front of the bar, e.g. ``"Epoch 1/3"``.
        unit: the name of one step, e.g. ``"batch"``.
        leave: whether the finished bar stays on screen.

    Yields:
        The bar; call ``update(n)`` after ``n`` steps.
    """
    bar = tqdm(
        total=total,
        desc=desc,
        unit=unit,
        leave=leave,
        disable=not enabled,
        dynamic_ncols=True,
        # The runners update once per jitted call, seconds apart, so every
        # update is drawn instead of tqdm's default of at most one per 0.1 s.
        mininterval=0.0,
        miniters=1,
    )
    try:
        yield bar
    finally:
        bar.close()


def write_summary(logger: logging.Logger, message: str, *, stdout: bool) -> None:
    """Log ``message`` at INFO level and, if ``stdout``, write it to stdout.

    The line goes through ``tqdm.write``, which clears the open bars, writes
    the line and draws the bars again below it.

    Args:
        logger: the logger of the module that produced the result.
        message: one line of text, without the trailing newline.
        stdout: whether the caller asked for output on stdout.
    """
    logger.info("%s", message)
    if stdout:
        tqdm.write(message)
        sys.stdout.flush()

"""The cut of a layer's ``[out, in]`` weight matrix into equally padded tiles.

aihwkit cuts each dimension larger than the mapping's maximum into
``n = ceil(size / max)`` parts whose sizes differ by at most one (the first
``size % n`` parts are the larger ones). Here the parts are stacked into one
array ``[n_out, n_in, rows, columns]``, zero-padded to the largest part, so
that all tiles of a layer run as one vectorised operation. Padded inputs are
zero and padded outputs are dropped, so the padding changes no result.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["TileLayout"]


def _parts(size: int, max_size: int) -> list[tuple[int, int]]:
    """``(start, length)`` of each part of ``size`` items, at most ``max_size`` long."""
    count = 1 if max_size <= 0 else -(-size // max_size)
    base, extra = divmod(size, count)
    parts, start = [], 0
    for index in range(count):
        length = base + (1 if index < extra else 0)
        parts.append((start, length))
        start += length
    return parts


def _gather_index(parts: list[tuple[int, int]], padded: int, size: int) -> np.ndarray:
    """``[n_parts, padded]`` source positions; ``size`` marks padding."""
    index = np.full((len(parts), padded), size, dtype=np.int32)
    for row, (start, length) in enumerate(parts):
        index[row, :length] = np.arange(start, start + length)
    return index


@dataclasses.dataclass(frozen=True)
class TileLayout:
    """The static cut of an ``[out_size, in_size]`` matrix into tiles."""

    out_size: int
    in_size: int
    max_output_size: int = 512
    max_input_size: int = 512

    @property
    def out_parts(self) -> list[tuple[int, int]]:
        return _parts(self.out_size, self.max_output_size)

    @property
    def in_parts(self) -> list[tuple[int, int]]:
        return _parts(self.in_size, self.max_input_size)

    @property
    def grid(self) -> tuple[int, int]:
        """Number of tiles along the output and the input dimension."""
        return len(self.out_parts), len(self.in_parts)

    @property
    def tile_shape(self) -> tuple[int, int]:
        """Padded ``(rows, columns)`` of every tile."""
        return (
            max(length for _, length in self.out_parts),
            max(length for _, length in self.in_parts),
        )

    def _in_index(self) -> np.ndarray:
        return _gather_index(self.in_parts, self.tile_shape[1], self.in_size)

    def _out_index(self) -> np.ndarray:
        return _gather_index(self.out_parts, self.tile_shape[0], self.out_size)

    def split_inputs(self, x: jax.Array) -> jax.Array:
        """``[..., in]`` to per-tile-column inputs ``[n_in, ..., columns]``."""
        padded = jnp.concatenate([x, jnp.zeros_like(x[..., :1])], axis=-1)
        tiles = padded[..., self._in_index()]
        return jnp.moveaxis(tiles, -2, 0)

    def split_outputs(self, y: jax.Array) -> jax.Array:
        """``[..., out]`` to per-tile-row values ``[n_out, ..., rows]``."""
        padded = jnp.concatenate([y, jnp.zeros_like(y[..., :1])], axis=-1)
        tiles = padded[..., self._out_index()]
        return jnp.moveaxis(tiles, -2, 0)

    def join_outputs(self, tiles: jax.Array) -> jax.Array:
        """Per-tile-row outputs ``[n_out, ..., rows]`` back to ``[..., out]``."""
        rows = self.tile_shape[0]
        flat = jnp.moveaxis(tiles, 0, -2).reshape(*tiles.shape[1:-1], -1)
        position = np.concatenate(
            [
                index * rows + np.arange(length)
                for index, (_, length) in enumerate(self.out_parts)
            ]
        )
        return flat[..., position]

    def split_matrix(self, matrix: jax.Array) -> jax.Array:
        """``[out, in]`` to zero-padded tiles ``[n_out, n_in, rows, columns]``."""
        padded = jnp.pad(matrix, ((0, 1), (0, 1)))
        rows = padded[self._out_index()]
        return jnp.moveaxis(rows[:, :, self._in_index()], 2, 1)

    def join_matrix(self, tiles: jax.Array) -> jax.Array:
        """Tiles ``[n_out, n_in, rows, columns]`` back to the ``[out, in]`` matrix."""
        blocks = [
            jnp.concatenate(
                [
                    tiles[o, i, :out_len, :in_len]
                    for i, (_, in_len) in enumerate(self.in_parts)
                ],
                axis=1,
            )
            for o, (_, out_len) in enumerate(self.out_parts)
        ]
        return jnp.concatenate(blocks, axis=0)

    def padding_mask(self) -> np.ndarray:
        """True at real (not padded) cross-points, ``[n_out, n_in, rows, columns]``."""
        out_real = self._out_index() < self.out_size
        in_real = self._in_index() < self.in_size
        return out_real[:, None, :, None] & in_real[None, :, None, :]

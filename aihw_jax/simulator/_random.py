"""A counter-based random generator for the pulsed update's bulk draws.

The pulsed update draws tens of millions of Bernoulli trials and step
noises per mini-batch; ``jax.random``'s threefry generator made it several
times slower than aihwkit's C++ simulator. These helpers hash a counter with
two seed words taken from an explicit ``jax.random`` key, so every draw is
still a pure function of that key: the same key gives the same numbers,
eagerly, under ``jit`` and under ``vmap``.

The hash is two rounds of MurmurHash3's 32-bit finaliser, keyed by the
seed words. Its uniforms have 24 bits of resolution. The per-pulse step
noise, the bulk of the draws, uses one round (see ``binomial_normal``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.scipy.special
from jax import lax

_GOLDEN = 0x9E3779B9
_M1 = 0x85EBCA6B
_M2 = 0xC2B2AE35


def seed_words(key: jax.Array) -> jax.Array:
    """Draw the two uint32 seed words of a counter stream from ``key``."""
    return jax.random.bits(key, (2,), jnp.uint32)


def fold_seed(seed: jax.Array, index: jax.Array) -> jax.Array:
    """Derive the seed words of sub-stream ``index`` (e.g. one per sample).

    Sub-streams keep counters small, because a counter must stay below 2**32
    within its stream or draws repeat.
    """
    index = jnp.asarray(index, jnp.uint32) * jnp.uint32(2)
    return jnp.stack([hash_bits(seed, index), hash_bits(seed, index + 1)])


def _finalize(h: jax.Array) -> jax.Array:
    h = h ^ (h >> 16)
    h = h * jnp.uint32(_M1)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(_M2)
    return h ^ (h >> 16)


def hash_bits(seed: jax.Array, counter: jax.Array) -> jax.Array:
    """Return 32 random bits for each uint32 ``counter`` of the stream ``seed``."""
    h = counter.astype(jnp.uint32) * jnp.uint32(_GOLDEN) ^ seed[0]
    h = _finalize(h)
    return _finalize(h ^ seed[1])


def uniform(seed: jax.Array, counter: jax.Array) -> jax.Array:
    """Return float32 uniforms in [0, 1) with 24-bit resolution."""
    bits = hash_bits(seed, counter) >> 8
    return bits.astype(jnp.float32) * jnp.float32(2.0**-24)


def normal(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Return standard-normal float32 samples of ``shape``, drawn from ``key``.

    The inverse normal CDF of hashed uniforms (offset by half a step, so
    neither 0 nor 1 occurs): exact Gaussians to about 5.2 sigma, and about
    2.5 times faster than ``jax.random.normal`` with threefry on a 2-core
    x86_64 CPU (jax 0.10.2).
    """
    seed = seed_words(key)
    counter = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
    return jax.scipy.special.ndtri(open_uniform(hash_bits(seed, counter)))


def open_uniform(bits: jax.Array) -> jax.Array:
    """Map uint32 random bits to float32 uniforms strictly inside (0, 1).

    Uses 23 bits, so that the largest value, 1 - 2**-24, is a float32 below
    1 and the inverse CDF stays finite.
    """
    return ((bits >> 9).astype(jnp.float32) + 0.5) * jnp.float32(2.0**-23)


def uniform_like(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Return float32 uniforms in [0, 1) of ``shape``, drawn from ``key``."""
    counter = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
    return uniform(seed_words(key), counter)


def binomial_normal(seed: jax.Array, counter: jax.Array) -> jax.Array:
    """Return approximately standard-normal float32 samples.

    The sample is ``(popcount(h) - 16) / sqrt(8)`` for 32 random bits ``h``:
    a standardised Binomial(32, 1/2), with exact mean 0 and variance 1,
    excess kurtosis -1/16, and values within +-5.66. It serves as
    cycle-to-cycle step noise, where many pulses add up; it is not a
    general-purpose normal sampler.
    """
    count = lax.population_count(_mix_once(seed, counter)).astype(jnp.float32)
    return (count - 16.0) * jnp.float32(8.0**-0.5)


def _mix_once(seed: jax.Array, counter: jax.Array) -> jax.Array:
    """Hash ``counter`` with one finaliser round, half the work of ``hash_bits``.

    For a given seed the map from counter to bits is a bijection. One round
    already spreads every input bit over the output word, which is all a
    population count needs. Callers fold a fresh seed per sample with
    :func:`fold_seed`.
    """
    return _finalize(counter.astype(jnp.uint32) * jnp.uint32(_GOLDEN) ^ seed[0])

"""Digital layers with torch's names and defaults, for aihwkit-style models."""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = [
    "Flatten",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]


class Flatten(nn.Module):
    """Flatten all axes from ``start_dim`` on (torch's default keeps the batch)."""

    start_dim: int = 1

    def __call__(self, x: jax.Array) -> jax.Array:
        return x.reshape(*x.shape[: self.start_dim], -1)


class Linear(nn.Module):
    """Digital fully connected layer with torch's initialisation."""

    in_features: int
    out_features: int
    bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        bound = 1.0 / math.sqrt(self.in_features)

        def uniform(shape):
            return lambda key: jax.random.uniform(
                key, shape, minval=-bound, maxval=bound
            )

        weight = self.param("weight", uniform((self.out_features, self.in_features)))
        y = x @ weight.T
        if self.bias:
            y = y + self.param("bias", uniform((self.out_features,)))
        return y


class Sigmoid(nn.Module):
    """Logistic sigmoid."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.sigmoid(x)


class Tanh(nn.Module):
    """Hyperbolic tangent."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.tanh(x)


class ReLU(nn.Module):
    """Rectified linear unit."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(x)


class LeakyReLU(nn.Module):
    """Leaky ReLU with torch's default slope 0.01."""

    negative_slope: float = 0.01

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.leaky_relu(x, self.negative_slope)


class LogSigmoid(nn.Module):
    """Logarithm of the logistic sigmoid."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.log_sigmoid(x)


class Softmax(nn.Module):
    """Softmax over axis ``dim``."""

    dim: int = -1

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.softmax(x, axis=self.dim)


class LogSoftmax(nn.Module):
    """Log-softmax over axis ``dim``."""

    dim: int = -1

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.log_softmax(x, axis=self.dim)

"""Loss functions with torch's names; each returns per-sample losses.

The runners average per-sample losses with the true batch size, so a short
last batch counts as much per sample as a full one. Call the loss object
for the mean, or ``per_sample`` for the vector.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

__all__ = ["BCELoss", "CrossEntropyLoss", "MSELoss", "NLLLoss"]


@dataclasses.dataclass(frozen=True)
class _Loss:
    def per_sample(self, output: jax.Array, target: jax.Array) -> jax.Array:
        raise NotImplementedError

    def __call__(self, output: jax.Array, target: jax.Array) -> jax.Array:
        return jnp.mean(self.per_sample(output, target))


@dataclasses.dataclass(frozen=True)
class NLLLoss(_Loss):
    """Negative log-likelihood of integer targets, given log-probabilities."""

    def per_sample(self, output: jax.Array, target: jax.Array) -> jax.Array:
        return -jnp.take_along_axis(output, target[:, None].astype(jnp.int32), axis=-1)[
            :, 0
        ]


@dataclasses.dataclass(frozen=True)
class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of integer targets, given logits."""

    def per_sample(self, output: jax.Array, target: jax.Array) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(
            output, target.astype(jnp.int32)
        )


@dataclasses.dataclass(frozen=True)
class MSELoss(_Loss):
    """Mean squared error over each sample's elements."""

    def per_sample(self, output: jax.Array, target: jax.Array) -> jax.Array:
        diff = (output - target).reshape(output.shape[0], -1)
        return jnp.mean(diff * diff, axis=-1)


@dataclasses.dataclass(frozen=True)
class BCELoss(_Loss):
    """Binary cross-entropy of probabilities, with torch's clamp of the log at -100."""

    def per_sample(self, output: jax.Array, target: jax.Array) -> jax.Array:
        log_p = jnp.maximum(jnp.log(output), -100.0)
        log_q = jnp.maximum(jnp.log1p(-output), -100.0)
        loss = -(target * log_p + (1.0 - target) * log_q)
        return jnp.mean(loss.reshape(output.shape[0], -1), axis=-1)

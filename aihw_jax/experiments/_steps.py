"""The jitted training and evaluation steps of a training experiment."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from aihw_jax.nn import BATCH_STATS_COLLECTION, INPUTS_COLLECTION, error_perturbations
from aihw_jax.optim import AnalogSGD, AnalogSGDState

__all__ = [
    "cached",
    "make_eval_chunk",
    "make_sweep_train_chunk",
    "make_train_chunk",
    "train_on_chunk",
]

TrainCarry = tuple[dict[str, Any], AnalogSGDState]


def cached(build: Callable[..., Any]) -> Callable[..., Any]:
    """Reuse what ``build`` returned for equal arguments, such as a jitted function.

    Experiments are frozen, so a second run of an equal model, loss and
    optimizer (as in a service running many small jobs) reuses the compiled
    steps. Arguments that cannot be hashed get a fresh build.
    """
    memo = functools.lru_cache(maxsize=16)(build)

    @functools.wraps(build)
    def build_or_reuse(*args: Any) -> Any:
        try:
            return memo(*args)
        except TypeError:  # an unhashable argument
            return build(*args)

    return build_or_reuse


def train_on_chunk(
    model: nn.Module,
    loss: Any,
    optimizer: AnalogSGD,
    carry: TrainCarry,
    images: jax.Array,
    labels: jax.Array,
    order: jax.Array,
    mask: jax.Array,
    key: jax.Array,
) -> tuple[TrainCarry, jax.Array]:
    """Train on a chunk of mini-batches with ``lax.scan``.

    ``order`` contains ``[steps, batch]`` sample indices into the
    device-resident ``images``/``labels``; ``mask`` marks real samples, and a
    step without any is skipped. Returns the new carry and the sum of
    per-sample losses of each step. Layers with running statistics
    (``BatchNorm2d``) normalise with the batch's and update theirs.

    NOTE: the last, partly filled batch of an epoch is padded with repeated
    samples, which take part in the batch statistics of that step.
    """
    mutable = [INPUTS_COLLECTION]
    if BATCH_STATS_COLLECTION in carry[0]:
        mutable.append(BATCH_STATS_COLLECTION)

    def train_step(carry: TrainCarry, batch: tuple) -> tuple[TrainCarry, jax.Array]:
        variables, opt_state = carry
        x, y, step_mask, step_key = batch
        noise_key, update_key = jax.random.split(step_key)
        count = jnp.maximum(jnp.sum(step_mask), 1.0)
        perturbations = error_perturbations(model, variables, x)

        def objective(params, perturbations):
            inputs = {**variables, "params": params, "perturbations": perturbations}
            output, state = model.apply(
                inputs, x, rngs={"noise": noise_key}, mutable=mutable
            )
            per_sample = loss.per_sample(output, y) * step_mask
            return jnp.sum(per_sample) / count, (state, jnp.sum(per_sample))

        grad_fn = jax.grad(objective, argnums=(0, 1), has_aux=True)
        (param_grads, d), (state, loss_sum) = grad_fn(
            variables.get("params", {}), perturbations
        )
        grads = {"params": param_grads, "perturbations": d}
        stepped = dict(variables)
        if BATCH_STATS_COLLECTION in state:
            stepped[BATCH_STATS_COLLECTION] = state[BATCH_STATS_COLLECTION]

        def update(_):
            return optimizer.step(
                model,
                stepped,
                grads,
                state[INPUTS_COLLECTION],
                opt_state,
                key=update_key,
            )

        new_carry = lax.cond(
            jnp.sum(step_mask) > 0, update, lambda _: (variables, opt_state), None
        )
        return new_carry, loss_sum

    keys = jax.random.split(key, order.shape[0])
    batches = (images[order], labels[order], mask, keys)
    return lax.scan(train_step, carry, batches)


@cached
def make_train_chunk(
    model: nn.Module,
    loss: Any,
    optimizer: AnalogSGD,
) -> Callable[..., tuple[TrainCarry, jax.Array]]:
    """Build ``train_chunk(carry, images, labels, order, mask, key)``, jitted.

    See :func:`train_on_chunk` for the arguments and results.
    """

    @jax.jit
    def train_chunk(carry, images, labels, order, mask, key):
        return train_on_chunk(
            model, loss, optimizer, carry, images, labels, order, mask, key
        )

    return train_chunk


def make_sweep_train_chunk(
    build_model: Callable[[Any], nn.Module],
    loss: Any,
    update_method: str = "sequential",
) -> Callable[..., tuple[TrainCarry, jax.Array]]:
    """Build a jitted, vmapped ``train_chunk`` over variations of one experiment.

    The returned ``sweep_chunk(carries, images, labels, orders, mask, keys,
    learning_rates, values)`` maps :func:`train_on_chunk` over the leading
    axis of ``carries``, ``orders``, ``keys``, ``learning_rates`` and the
    leaves of ``values``; the data and the mask are shared. Each variation
    trains ``build_model(its values)``.
    """

    def one(carry, images, labels, order, mask, key, learning_rate, values):
        optimizer = AnalogSGD(lr=learning_rate, update_method=update_method)
        model = build_model(values)
        return train_on_chunk(
            model, loss, optimizer, carry, images, labels, order, mask, key
        )

    return jax.jit(jax.vmap(one, in_axes=(0, None, None, 0, None, 0, 0, 0)))


@cached
def make_eval_chunk(
    model: nn.Module, loss: Any
) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """Build a jitted ``eval_chunk(variables, images, labels, mask, key)``.

    Returns the sums of per-sample losses and of correct predictions over
    the masked samples. The forward is as noisy as in training, as aihwkit
    evaluates analog training tiles.
    """

    @jax.jit
    def eval_chunk(variables, images, labels, mask, key):
        output = model.apply(variables, images, rngs={"noise": key})
        per_sample = loss.per_sample(output, labels)
        correct = (jnp.argmax(output, axis=-1) == labels).astype(jnp.float32)
        return jnp.sum(per_sample * mask), jnp.sum(correct * mask)

    return eval_chunk

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
    "shared_carry_axes",
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


def _sweep_step(build_model, loss, update_method):
    def one(carry, images, labels, order, mask, key, learning_rate, values):
        optimizer = AnalogSGD(lr=learning_rate, update_method=update_method)
        model = build_model(values)
        return train_on_chunk(
            model, loss, optimizer, carry, images, labels, order, mask, key
        )

    return one


def _sweep_in_axes(carry_axes: Any) -> tuple:
    return (carry_axes, None, None, 0, None, 0, 0, 0)


def make_sweep_train_chunk(
    build_model: Callable[[Any], nn.Module],
    loss: Any,
    update_method: str = "sequential",
    carry_axes: Any = 0,
) -> Callable[..., tuple[TrainCarry, jax.Array]]:
    """Build a jitted, vmapped ``train_chunk`` over variations of one experiment.

    The returned ``sweep_chunk(carries, images, labels, orders, mask, keys,
    learning_rates, values)`` maps :func:`train_on_chunk` over the leading
    axis of ``carries``, ``orders``, ``keys``, ``learning_rates`` and the
    leaves of ``values``; the data and the mask are shared. Each variation
    trains ``build_model(its values)``. ``carry_axes`` (see
    :func:`shared_carry_axes`) marks carry leaves without a variation axis.
    """
    one = _sweep_step(build_model, loss, update_method)
    in_axes = _sweep_in_axes(carry_axes)
    return jax.jit(jax.vmap(one, in_axes=in_axes, out_axes=(carry_axes, 0)))


def _batch_marker(flags: list[bool], index: int) -> Callable[[Any], Any]:
    """Return an identity that records in ``flags[index]`` whether ``vmap`` maps it."""

    @jax.custom_batching.custom_vmap
    def mark(leaf):
        return leaf

    @mark.def_vmap
    def mark_batched(axis_size, in_batched, leaf):
        del axis_size
        flags[index] = flags[index] or bool(in_batched[0])
        return leaf, in_batched[0]

    return mark


def _mapped_carry_leaves(one, axes, carries, sample_args) -> list[bool]:
    """Return, per carry leaf, whether the swept step's output has a variation axis."""
    flags = [False] * len(jax.tree.leaves(carries))

    def marked(carry, *args):
        new_carry, losses = one(carry, *args)
        new_leaves = jax.tree.leaves(new_carry)
        return [_batch_marker(flags, i)(a) for i, a in enumerate(new_leaves)], losses

    in_axes = _sweep_in_axes(axes)
    jax.eval_shape(jax.vmap(marked, in_axes=in_axes), carries, *sample_args)
    return flags


def shared_carry_axes(
    build_model: Callable[[Any], nn.Module],
    loss: Any,
    carries: TrainCarry,
    sample_args: tuple,
    update_method: str = "sequential",
) -> tuple[Any, TrainCarry]:
    """Find the carry leaves that every variation of a sweep can share.

    A leaf is shared when it starts equal in every variation and every
    training step keeps it so, because the step computes it from shared
    values only. Examples are the device-to-device values of a
    learning-rate sweep and the step counters of compounds and batch
    normalisation. The per-sample update then reads one copy of the device
    values instead of one per variation.

    Args:
        build_model: as for :func:`make_sweep_train_chunk`.
        loss: the experiment's loss.
        carries: the carries of every variation, each leaf with a leading
            variation axis.
        sample_args: ``(images, labels, orders, mask, keys, learning_rates,
            values)`` of the right shapes; only traced, never run.
        update_method: as for :func:`make_sweep_train_chunk`.

    Returns:
        ``(carry_axes, carries)``: the ``vmap`` axes of the carry (``None``
        for a shared leaf, else 0), and the carries with every shared leaf's
        variation axis removed.
    """
    leaves, treedef = jax.tree.flatten(carries)
    shared = [bool(jnp.all(leaf == leaf[:1])) for leaf in leaves]
    one = _sweep_step(build_model, loss, update_method)

    # The step's scan settles which carry leaves its loop maps, so one trace
    # finds them. A second trace confirms that the set is stable.
    while True:
        axes = treedef.unflatten([None if s else 0 for s in shared])
        inputs = treedef.unflatten(
            [leaf[0] if s else leaf for leaf, s in zip(leaves, shared)]
        )
        mapped = _mapped_carry_leaves(one, axes, inputs, sample_args)
        still_shared = [s and not m for s, m in zip(shared, mapped)]
        if still_shared == shared:
            return axes, inputs
        shared = still_shared


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

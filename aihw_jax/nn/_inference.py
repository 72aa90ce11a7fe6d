"""Programming and drift of the analog weights of a trained model.

A model whose analog layers use ``InferenceRPUConfig`` is evaluated on
simulated hardware in two steps, as aihwkit's ``program_analog_weights``
and ``drift_analog_weights`` do:

1. :func:`program_analog_weights` writes every tile's weights with
   programming noise and draws each device's drift exponent (once per
   chip, i.e. per inference repeat), and reads the drift-compensation
   baseline through the noisy forward.
2. :func:`drift_analog_weights` ages the programmed weights to
   ``t_inference`` seconds, with fresh read noise, and computes the
   compensation factor that the layer applies to its outputs.

Both are pure functions of the variables and a key, so ``jax.vmap`` maps
them over repeats (keys) and time points.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from aihw_jax.inference import (
    ProgrammedState,
    apply_drift_noise,
    apply_programming_noise,
    compensation_factor,
    init_baseline,
)
from aihw_jax.nn._container import iter_analog_layers
from aihw_jax.simulator.configs import InferenceRPUConfig

__all__ = ["drift_analog_weights", "program_analog_weights"]


def _inference_layers(model: Any):
    for path, layer in iter_analog_layers(model):
        if isinstance(layer.config, InferenceRPUConfig):
            yield path, layer


def _get(tree: dict, path: tuple[str, ...]) -> Any:
    for name in path:
        tree = tree[name]
    return tree


def _set(tree: dict, path: tuple[str, ...], value: Any) -> dict:
    if not path:
        return value
    head, *rest = path
    return {**tree, head: _set(tree[head], tuple(rest), value)}


def _over_tiles(function, *arrays):
    """Map ``function`` over the ``[n_out, n_in]`` tile grid of every array."""
    return jax.vmap(jax.vmap(function))(*arrays)


def _tile_keys(key: jax.Array, grid: tuple[int, int]) -> jax.Array:
    return jax.random.split(key, grid[0] * grid[1]).reshape(grid)


def program_analog_weights(
    model: Any, variables: dict[str, Any], key: jax.Array
) -> dict[str, Any]:
    """Program every inference layer's weights onto simulated devices.

    Args:
        model: the model (an analog layer or ``AnalogSequential``).
        variables: its variables; ``analog/.../state/weight`` are the targets.
        key: key of the programming noise, the drift exponents and the
            baseline read.

    Returns:
        The variables with, per inference layer, ``programmed`` (the
        programmed weights), ``drift_nu`` (the drift exponents), ``baseline``
        (the drift-compensation read-out) and, until the first drift,
        ``eval_weight`` equal to the programmed weights and ``eval_scale``
        equal to 1. Layers with other configs are unchanged.
    """
    analog = variables["analog"]
    for index, (path, layer) in enumerate(_inference_layers(model)):
        config = layer.config
        state = _get(analog, path)["state"]
        real = jnp.asarray(layer.layout.padding_mask())
        weight = state["weight"]
        keys = _tile_keys(jax.random.fold_in(key, index), weight.shape[:2])

        def program(target, tile_key, real, config=config):
            noise_key, read_key = jax.random.split(tile_key)
            programmed = apply_programming_noise(
                config.noise_model, target, key=noise_key
            )
            written = jnp.where(real, programmed.programmed_weights, 0.0)
            if config.drift_compensation is None:
                baseline = jnp.ones(target.shape[:1], jnp.float32)
            else:
                baseline = init_baseline(
                    config.drift_compensation,
                    written,
                    config.forward,
                    key=read_key,
                    reference_weights=target,
                )
                baseline = jnp.broadcast_to(baseline, target.shape[:1])
            return written, programmed.drift_noise_parameters, baseline

        written, drift_nu, baseline = _over_tiles(program, weight, keys, real)
        state = {
            **state,
            "programmed": written,
            "drift_nu": drift_nu,
            "baseline": baseline,
            "eval_weight": written,
            "eval_scale": jnp.ones(weight.shape[:3], jnp.float32),
        }
        analog = _set(analog, (*path, "state"), state)
    return {**variables, "analog": analog}


def drift_analog_weights(
    model: Any, variables: dict[str, Any], t_inference: Any, key: jax.Array
) -> dict[str, Any]:
    """Age the programmed weights to ``t_inference`` seconds after programming.

    Needs the variables returned by :func:`program_analog_weights`. Each
    call draws fresh read noise and starts from the programmed weights, so
    time points can be evaluated in any order (or mapped with ``jax.vmap``).

    Returns:
        The variables with ``eval_weight`` (the drifted weights, which the
        layers use from now on) and ``eval_scale`` (the drift-compensation
        factor of every tile output; 1 without compensation) replaced. The
        mapping scales in ``out_scale`` still apply on top.
    """
    analog = variables["analog"]
    for index, (path, layer) in enumerate(_inference_layers(model)):
        config = layer.config
        state = _get(analog, path)["state"]
        if "programmed" not in state:
            raise ValueError(
                f"The analog layer at {'/'.join(path) or 'the top'} was not "
                "programmed; call program_analog_weights before "
                "drift_analog_weights."
            )
        real = jnp.asarray(layer.layout.padding_mask())
        programmed = state["programmed"]
        keys = _tile_keys(jax.random.fold_in(key, index), programmed.shape[:2])

        def drift(written, drift_nu, baseline, tile_key, real, config=config):
            drift_key, read_key = jax.random.split(tile_key)
            drifted = apply_drift_noise(
                config.noise_model,
                ProgrammedState(written, drift_nu),
                t_inference,
                key=drift_key,
            )
            drifted = jnp.where(real, drifted, 0.0)
            if config.drift_compensation is None:
                return drifted, jnp.ones(written.shape[:1], jnp.float32)
            alpha = compensation_factor(
                config.drift_compensation,
                drifted,
                baseline,
                config.forward,
                key=read_key,
            )
            return drifted, jnp.broadcast_to(alpha, written.shape[:1])

        drifted, alpha = _over_tiles(
            drift, programmed, state["drift_nu"], state["baseline"], keys, real
        )
        state = {**state, "eval_weight": drifted, "eval_scale": alpha}
        analog = _set(analog, (*path, "state"), state)
    return {**variables, "analog": analog}

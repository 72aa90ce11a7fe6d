"""The learned input range of inference layers, against aihwkit's rules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aihw_jax.nn import INPUTS_COLLECTION, AnalogLinear, error_perturbations
from aihw_jax.optim import AnalogSGD
from aihw_jax.simulator.configs import InferenceRPUConfig
from aihw_jax.simulator.parameters.inference import (
    InputRangeParameter,
    PrePostProcessingParameter,
)
from aihw_jax.simulator.parameters.io import IOParameters
from aihw_jax.simulator.parameters.mapping import MappingParameter
from aihw_jax.simulator.presets.inference import StandardHWATrainingPreset


def _config(**range_args) -> InferenceRPUConfig:
    return InferenceRPUConfig(
        forward=IOParameters(is_perfect=True),
        pre_post=PrePostProcessingParameter(
            InputRangeParameter(enable=True, **range_args)
        ),
    )


def _layer_and_variables(config, in_features=6, out_features=3, seed=0):
    layer = AnalogLinear(in_features, out_features, bias=False, rpu_config=config)
    x = jnp.zeros((1, in_features))
    variables = layer.init({"params": jax.random.key(seed)}, x)
    return layer, {"analog": variables["analog"]}


def _with_range(variables, value, count=0):
    state = dict(variables["analog"]["state"])
    state["input_range"] = jnp.full_like(state["input_range"], value)
    state["input_range_count"] = jnp.full_like(state["input_range_count"], count)
    return {**variables, "analog": {"state": state}}


def test_eval_forward_clips_inputs_to_the_range():
    layer, variables = _layer_and_variables(_config())
    variables = _with_range(variables, 0.5, count=100)
    x = jnp.array([[2.0, -3.0, 0.25, -0.1, 0.7, 0.0]])
    y = layer.apply(variables, x, rngs={"noise": jax.random.key(1)})
    weight, _ = layer.get_weights(variables)
    expected = np.clip(np.asarray(x), -0.5, 0.5) @ np.asarray(weight).T
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)


def test_init_from_data_uses_input_std(key):
    layer, variables = _layer_and_variables(_config(init_std_alpha=3.0))
    x1 = jax.random.normal(key, (8, 6)) * 2.0
    _, recorded = layer.apply(
        variables, x1, rngs={"noise": key}, mutable=[INPUTS_COLLECTION]
    )
    r1, count1 = recorded[INPUTS_COLLECTION]["input_range"][-1]
    # The initial value 3.0 does not count: r is 3 std of the first batch.
    np.testing.assert_allclose(r1, [3.0 * np.std(np.asarray(x1), ddof=1)], rtol=1e-5)
    assert int(count1[0]) == 1
    x2 = x1 * 0.5
    second = _with_range(variables, float(r1[0]), count=1)
    _, recorded = layer.apply(
        second, x2, rngs={"noise": key}, mutable=[INPUTS_COLLECTION]
    )
    r2, count2 = recorded[INPUTS_COLLECTION]["input_range"][-1]
    mean = (float(r1[0]) + 3.0 * np.std(np.asarray(x2), ddof=1)) / 2
    np.testing.assert_allclose(r2, [mean], rtol=1e-5)
    assert int(count2[0]) == 2


def test_range_is_fixed_after_init_from_data_batches(key):
    layer, variables = _layer_and_variables(_config(init_from_data=2))
    variables = _with_range(variables, 0.8, count=2)
    x = jax.random.normal(key, (8, 6))
    _, recorded = layer.apply(
        variables, x, rngs={"noise": key}, mutable=[INPUTS_COLLECTION]
    )
    r, count = recorded[INPUTS_COLLECTION]["input_range"][-1]
    np.testing.assert_allclose(r, [0.8])
    assert int(count[0]) == 2


def test_input_gradient_passes_clipped_inputs_straight_through(key):
    layer, variables = _layer_and_variables(_config())
    variables = _with_range(variables, 0.5, count=100)
    x = jnp.array([[2.0, -3.0, 0.25, -0.1, 0.7, 0.0]])
    g = jnp.array([[1.0, -2.0, 0.5]])

    def objective(x):
        return jnp.sum(layer.apply(variables, x, rngs={"noise": key}) * g)

    weight, _ = layer.get_weights(variables)
    np.testing.assert_allclose(
        jax.grad(objective)(x), np.asarray(g) @ np.asarray(weight), rtol=1e-6
    )


def _step(layer, variables, x, g, lr, key):
    """One AnalogSGD step on the loss sum(y * g), returning the new variables."""
    perturbations = error_perturbations(layer, variables, x)

    def objective(params, perturbations):
        inputs = {**variables, "params": params, "perturbations": perturbations}
        y, recorded = layer.apply(
            inputs, x, rngs={"noise": key}, mutable=[INPUTS_COLLECTION]
        )
        return jnp.sum(y * g), recorded[INPUTS_COLLECTION]

    grad = jax.grad(objective, argnums=(0, 1), has_aux=True)
    (param_grads, d), recorded = grad(variables.get("params", {}), perturbations)
    optimizer = AnalogSGD(lr=lr)
    grads = {"params": param_grads, "perturbations": d}
    new, _ = optimizer.step(
        layer, variables, grads, recorded, optimizer.init(variables), key=key
    )
    return new


@pytest.mark.parametrize("relative", [True, False], ids=["relative", "absolute"])
def test_range_follows_aihwkits_gradient_rule(key, relative):
    params = {
        "gradient_relative": relative,
        "gradient_scale": 2.0,
        "decay": 0.01,
        "input_min_percentage": 0.3,
    }
    layer, variables = _layer_and_variables(_config(**params))
    r, lr = 0.5, 0.1
    variables = _with_range(variables, r, count=100)
    x = jnp.array([[2.0, -3.0, 0.25, -0.1, 0.7, 0.0], [-0.6, 0.1, 0.2, 0.9, -0.2, 0.3]])
    g = jnp.array([[1.0, -2.0, 0.5], [-1.5, 0.5, 1.0]])
    new = _step(layer, variables, x, g, lr, key)

    weight, _ = layer.get_weights(variables)
    x_np, dx = np.asarray(x), np.asarray(g) @ np.asarray(weight)
    gradient = np.sum(np.where(x_np >= r, np.minimum(dx, 0), 0)) - np.sum(
        np.where(x_np <= -r, np.maximum(dx, 0), 0)
    )
    if relative:
        gradient *= r * 2.0
    inside = np.mean(np.abs(x_np) < r)  # 7 of 12 inside: above 0.3, decays
    assert inside > 0.3
    gradient += 0.01 * r
    new_r = new["analog"]["state"]["input_range"]
    np.testing.assert_allclose(new_r, [r - lr * gradient], rtol=1e-5)
    # The weights learn from the clipped, scaled inputs.
    x_scaled = np.clip(x_np, -r, r) / r
    expected = np.asarray(weight) - lr * np.asarray(g).T @ x_scaled
    np.testing.assert_allclose(
        layer.get_weights(new)[0], expected, rtol=1e-5, atol=1e-6
    )


def test_fixed_range_is_not_trained(key):
    layer, variables = _layer_and_variables(_config(learn_input_range=False))
    variables = _with_range(variables, 0.5, count=100)
    x = jnp.array([[2.0, -3.0, 0.25, -0.1, 0.7, 0.0]])
    new = _step(layer, variables, x, jnp.ones((1, 3)), 0.1, key)
    np.testing.assert_allclose(new["analog"]["state"]["input_range"], [0.5])


def test_split_layer_keeps_one_range_per_input_slice(key):
    config = _config().replace(
        mapping=MappingParameter(max_input_size=4, max_output_size=2)
    )
    layer, variables = _layer_and_variables(config, in_features=10, out_features=5)
    state = variables["analog"]["state"]
    assert state["input_range"].shape == (3,)
    x = jax.random.normal(key, (4, 10)) * jnp.linspace(0.1, 10.0, 10)
    _, recorded = layer.apply(
        variables, x, rngs={"noise": key}, mutable=[INPUTS_COLLECTION]
    )
    r, _ = recorded[INPUTS_COLLECTION]["input_range"][-1]
    # Each slice's std is its own; the padding of a short slice is left out.
    parts = layer.layout.in_parts
    assert sorted({length for _, length in parts}) == [3, 4]
    for index, (start, length) in enumerate(parts):
        std = np.std(np.asarray(x[:, start : start + length]), ddof=1)
        np.testing.assert_allclose(r[index], 3.0 * std, rtol=1e-4)


def test_standard_hwa_preset_trains_with_its_input_range(key):
    config = StandardHWATrainingPreset()
    layer = AnalogLinear(16, 4, rpu_config=config)
    x = jax.random.normal(key, (32, 16))
    variables = layer.init({"params": key}, x[:1])
    variables = {name: variables[name] for name in ("params", "analog")}
    g = jax.random.normal(jax.random.fold_in(key, 1), (32, 4))
    for step in range(3):
        variables = _step(layer, variables, x, g, 0.05, jax.random.fold_in(key, step))
    state = variables["analog"]["state"]
    assert int(state["input_range_count"][0]) == 3
    r = float(state["input_range"][0])
    # Three batches of unit-variance inputs: r is near 3 std, not the 3.0 start.
    assert 2.0 < r < 4.0
    assert r != pytest.approx(3.0, abs=1e-6)
    y = layer.apply(variables, x, rngs={"noise": key})
    assert np.all(np.isfinite(y))

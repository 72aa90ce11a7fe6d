"""Analog layers: tiling, the noisy forward and backward, and the optimizer step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aihw_jax.errors import ConfigError
from aihw_jax.nn import (
    AnalogLinear,
    AnalogSequential,
    Flatten,
    LogSoftmax,
    Sigmoid,
    error_perturbations,
    iter_analog_layers,
)
from aihw_jax.optim import AnalogSGD
from aihw_jax.simulator import presets
from aihw_jax.simulator.configs import (
    FloatingPointRPUConfig,
    IOParameters,
    MappingParameter,
    SingleRPUConfig,
)
from aihw_jax.simulator.tiles import forward

NOISELESS = SingleRPUConfig(
    forward=IOParameters(is_perfect=True), backward=IOParameters(is_perfect=True)
)


def test_784_inputs_make_two_tiles_of_392(key):
    layer = AnalogLinear(784, 256)
    variables = layer.init({"params": key}, jnp.zeros((1, 784)))
    weight = variables["analog"]["state"]["weight"]
    assert weight.shape == (1, 2, 256, 392)
    assert layer.layout.grid == (1, 2)


def test_tiles_have_their_own_periphery(key):
    layer = AnalogLinear(784, 4, bias=False)
    variables = layer.init({"params": key}, jnp.zeros((1, 784)))
    tiles = variables["analog"]["state"]["weight"][0]
    x = jnp.concatenate([jnp.ones((1, 392)), 0.01 * jnp.ones((1, 392))], axis=1)
    io = IOParameters(out_noise=0.0)
    y = layer.apply(variables, x, rngs={"noise": key})
    # Noise management scales each tile's input by its own maximum, so the
    # small second half keeps its resolution.
    expected = forward(tiles[0], x[:, :392], io, key=key) + forward(
        tiles[1], x[:, 392:], io, key=key
    )
    np.testing.assert_allclose(np.asarray(y), np.asarray(expected), atol=0.3)
    assert float(jnp.abs(forward(tiles[1], x[:, 392:], io, key=key)).max()) > 0


def test_uneven_split_rebuilds_weight(key):
    config = SingleRPUConfig(
        mapping=MappingParameter(max_input_size=3, max_output_size=2)
    )
    layer = AnalogLinear(7, 5, rpu_config=config)
    variables = layer.init({"params": key}, jnp.zeros((1, 7)))
    assert layer.layout.grid == (3, 3)
    weight, bias = layer.get_weights(variables)
    assert weight.shape == (5, 7)
    assert bias.shape == (5,)


def test_initial_weights_follow_torch_bounds(key):
    layer = AnalogLinear(100, 50)
    variables = layer.init({"params": key}, jnp.zeros((1, 100)))
    weight, bias = layer.get_weights(variables)
    assert float(jnp.max(jnp.abs(weight))) <= 0.1
    assert float(jnp.max(jnp.abs(bias))) <= 0.1
    assert float(jnp.std(weight)) == pytest.approx(0.1 / np.sqrt(3), rel=0.05)


def test_noiseless_layer_is_a_linear_map(key):
    layer = AnalogLinear(10, 3, rpu_config=NOISELESS)
    variables = layer.init({"params": key}, jnp.zeros((1, 10)))
    x = jax.random.normal(key, (5, 10))
    weight, bias = layer.get_weights(variables)
    y = layer.apply(variables, x, rngs={"noise": key})
    np.testing.assert_allclose(
        np.asarray(y), np.asarray(x @ weight.T + bias), rtol=1e-5, atol=1e-6
    )


def test_noisy_forward_has_default_output_noise(key):
    layer = AnalogLinear(64, 64, bias=False)
    variables = layer.init({"params": key}, jnp.zeros((1, 64)))
    weight, _ = layer.get_weights(variables)
    x = jnp.ones((512, 64))
    y = layer.apply(variables, x, rngs={"noise": key})
    # Out noise 0.06 and ADC rounding, times the input scale max|x| = 1.
    residual = np.asarray(y - x @ weight.T)
    assert residual.std() == pytest.approx(
        np.sqrt(0.06**2 + (24 / 510) ** 2 / 12), rel=0.05
    )


def test_layer_under_jit_and_vmap_over_keys(key):
    layer = AnalogLinear(16, 8)
    variables = layer.init({"params": key}, jnp.zeros((1, 16)))
    x = jnp.ones((4, 16))
    apply = jax.jit(lambda k: layer.apply(variables, x, rngs={"noise": k}))
    keys = jax.random.split(key, 3)
    batched = jax.vmap(apply)(keys)
    for index in range(3):
        np.testing.assert_array_equal(
            np.asarray(batched[index]), np.asarray(apply(keys[index]))
        )


def test_wrong_input_width_is_reported(key):
    layer = AnalogLinear(10, 3)
    with pytest.raises(
        ConfigError, match=r"AnalogLinear\(10, 3\) got inputs with 12 features"
    ):
        layer.init({"params": key}, jnp.zeros((1, 12)))


def test_invalid_features_are_reported(key):
    with pytest.raises(ConfigError, match="in_features"):
        AnalogLinear(0, 3).init({"params": key}, jnp.zeros((1, 0)))


def test_analog_layers_are_found_in_sequential():
    model = AnalogSequential(
        Flatten(), AnalogLinear(4, 3), Sigmoid(), AnalogLinear(3, 2), LogSoftmax(dim=1)
    )
    paths = [path for path, _ in iter_analog_layers(model)]
    assert paths == [("layers_1",), ("layers_3",)]


def _layer_variables(variables, name="layers_0"):
    return {collection: tree[name] for collection, tree in variables.items()}


def _train_once(model, variables, x, target, optimizer, key):
    noise_key, update_key = jax.random.split(key)
    perturbations = error_perturbations(model, variables, x)

    def objective(params, perturbations):
        out, recorded = model.apply(
            {**variables, "params": params, "perturbations": perturbations},
            x,
            rngs={"noise": noise_key},
            mutable=["analog_inputs"],
        )
        return jnp.mean((out - target) ** 2), recorded["analog_inputs"]

    (grad_params, d), recorded = jax.grad(objective, argnums=(0, 1), has_aux=True)(
        variables["params"], perturbations
    )
    state = optimizer.init(variables)
    grads = {"params": grad_params, "perturbations": d}
    return optimizer.step(model, variables, grads, recorded, state, key=update_key), d


def test_floating_point_step_is_sgd(key):
    model = AnalogSequential(AnalogLinear(5, 3, rpu_config=FloatingPointRPUConfig()))
    variables = model.init({"params": key}, jnp.zeros((1, 5)))
    variables = {name: variables[name] for name in ("params", "analog")}
    x = jax.random.normal(key, (8, 5))
    target = jnp.zeros((8, 3))
    (new, _), d = _train_once(model, variables, x, target, AnalogSGD(lr=0.1), key)
    layer = model.layers[0]
    weight, bias = layer.get_weights(_layer_variables(variables))
    new_weight, new_bias = layer.get_weights(_layer_variables(new))
    error = d["layers_0"]["tile_output"]
    np.testing.assert_allclose(
        np.asarray(new_weight),
        np.asarray(weight - 0.1 * error.T @ x),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        np.asarray(new_bias),
        np.asarray(bias - 0.1 * error.sum(0)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_pulsed_step_moves_weights_against_gradient(key):
    model = AnalogSequential(AnalogLinear(6, 4, rpu_config=NOISELESS))
    variables = model.init({"params": key}, jnp.zeros((1, 6)))
    variables = {name: variables[name] for name in ("params", "analog")}
    x = jnp.ones((64, 6))
    target = 0.5 * jnp.ones((64, 4))
    before, _ = model.layers[0].get_weights(_layer_variables(variables))
    (after, _), _ = _train_once(model, variables, x, target, AnalogSGD(lr=0.1), key)
    after, _ = model.layers[0].get_weights(_layer_variables(after))
    # Outputs start below 0.5 (|w| < 0.41), so the weights must grow.
    assert float(jnp.mean(after - before)) > 0


def test_momentum_never_touches_analog_weights(key):
    model = AnalogSequential(AnalogLinear(5, 3, rpu_config=FloatingPointRPUConfig()))
    variables = model.init({"params": key}, jnp.zeros((1, 5)))
    variables = {name: variables[name] for name in ("params", "analog")}
    x = jax.random.normal(key, (8, 5))
    plain, _ = _train_once(
        model, variables, x, jnp.zeros((8, 3)), AnalogSGD(lr=0.1), key
    )
    heavy, _ = _train_once(
        model,
        variables,
        x,
        jnp.zeros((8, 3)),
        AnalogSGD(lr=0.1, momentum=0.9, weight_decay=0.5),
        key,
    )
    np.testing.assert_allclose(
        np.asarray(plain[0]["analog"]["layers_0"]["state"]["weight"]),
        np.asarray(heavy[0]["analog"]["layers_0"]["state"]["weight"]),
    )
    assert not np.allclose(
        np.asarray(plain[0]["params"]["layers_0"]["bias"]),
        np.asarray(heavy[0]["params"]["layers_0"]["bias"]),
    )


def test_optimizer_rejects_bad_values():
    with pytest.raises(ConfigError, match="lr"):
        AnalogSGD(lr=-1.0)
    with pytest.raises(ConfigError, match="update_method"):
        AnalogSGD(update_method="fast")


def test_init_variables_work_at_any_batch_size(key):
    layer = AnalogLinear(6, 4)
    variables = layer.init({"params": key}, jnp.zeros((2, 6)))
    assert "perturbations" not in variables
    assert layer.apply(variables, jnp.ones((3, 6)), rngs={"noise": key}).shape == (3, 4)
    assert layer.apply(variables, jnp.ones(6), rngs={"noise": key}).shape == (4,)


def test_layer_lr_sets_each_layers_learning_rate(key):
    fp = FloatingPointRPUConfig()
    model = AnalogSequential(
        AnalogLinear(5, 4, rpu_config=fp), AnalogLinear(4, 3, rpu_config=fp)
    )
    variables = model.init({"params": key}, jnp.zeros((1, 5)))
    variables = {name: variables[name] for name in ("params", "analog")}
    x = jax.random.normal(key, (8, 5))
    optimizer = AnalogSGD(lr=0.1, layer_lr={"layers_1": 0.0})
    (new, _), _ = _train_once(model, variables, x, jnp.ones((8, 3)), optimizer, key)
    first = [
        model.layers[0].get_weights(_layer_variables(v))[0] for v in (variables, new)
    ]
    second = [
        model.layers[1].get_weights(_layer_variables(v, "layers_1"))[0]
        for v in (variables, new)
    ]
    assert float(jnp.max(jnp.abs(first[1] - first[0]))) > 1e-3
    np.testing.assert_array_equal(np.asarray(second[1]), np.asarray(second[0]))


def test_layer_lr_names_unknown_layers(key):
    model = AnalogSequential(AnalogLinear(5, 3, rpu_config=FloatingPointRPUConfig()))
    variables = model.init({"params": key}, jnp.zeros((1, 5)))
    variables = {name: variables[name] for name in ("params", "analog")}
    x = jnp.ones((2, 5))
    with pytest.raises(ConfigError, match="layers_7.*analog layers are: layers_0"):
        _train_once(
            model, variables, x, x[:, :3], AnalogSGD(layer_lr={"layers_7": 0.1}), key
        )
    with pytest.raises(ConfigError, match="layer_lr"):
        AnalogSGD(layer_lr={"layers_0": -1.0})


@pytest.mark.parametrize(
    "name", ["TikiTakaIdealizedPreset", "MixedPrecisionIdealizedPreset", "PCMPreset"]
)
def test_compound_layers_split_into_tiles_and_learn(name, key):
    config = getattr(presets, name)()
    config = config.replace(mapping=MappingParameter(max_input_size=4))
    model = AnalogSequential(AnalogLinear(7, 3, rpu_config=config))
    variables = model.init({"params": key}, jnp.zeros((1, 7)))
    variables = {name: variables[name] for name in ("params", "analog")}
    state = variables["analog"]["layers_0"]["state"]
    # Seven inputs in tiles of at most four: tiles of 4 and 3, the second
    # padded by one column.
    assert state["weight"].shape == (1, 2, 3, 4)
    np.testing.assert_array_equal(np.asarray(state["weight"][0, 1, :, 3:]), 0.0)
    before, _ = model.layers[0].get_weights(_layer_variables(variables))
    # |outputs| stay far below 3, so every weight must grow.
    x = jnp.ones((16, 7))
    target = 3.0 * jnp.ones((16, 3))
    optimizer = AnalogSGD(lr=0.1)
    train = jax.jit(lambda v, k: _train_once(model, v, x, target, optimizer, k)[0][0])
    current = variables
    for step in range(4):
        current = train(current, jax.random.fold_in(key, step))
    after, _ = model.layers[0].get_weights(_layer_variables(current))
    assert after.shape == (3, 7)
    assert float(jnp.mean(after - before)) > 0.005
    padded = current["analog"]["layers_0"]["state"]["weight"][0, 1, :, 3:]
    np.testing.assert_array_equal(np.asarray(padded), 0.0)


def test_summed_update_is_refused_for_compounds(key):
    config = presets.TikiTakaIdealizedPreset()
    model = AnalogSequential(AnalogLinear(4, 2, rpu_config=config))
    variables = model.init({"params": key}, jnp.zeros((1, 4)))
    variables = {name: variables[name] for name in ("params", "analog")}
    x = jnp.ones((2, 4))
    with pytest.raises(ConfigError, match="sequential"):
        _train_once(
            model, variables, x, x[:, :2], AnalogSGD(update_method="summed"), key
        )


def test_analog_sgd_rejects_missing_and_infinite_rates():
    with pytest.raises(ConfigError, match="AnalogSGD.lr"):
        AnalogSGD(lr=None)
    with pytest.raises(ConfigError, match="AnalogSGD.lr"):
        AnalogSGD(lr=float("inf"))
    with pytest.raises(ConfigError, match="layer_lr"):
        AnalogSGD(layer_lr={"layers_1": [0.1]})

"""Convolutions as unrolled analog layers, mapped layers, pooling, batch norm."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aihw_jax.errors import ConfigError
from aihw_jax.nn import (
    AnalogConv2d,
    AnalogConv2dMapped,
    AnalogLinear,
    AnalogLinearMapped,
    AnalogSequential,
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    Flatten,
    LogSoftmax,
    MaxPool2d,
    Tanh,
    Unflatten,
    error_perturbations,
    iter_analog_layers,
)
from aihw_jax.optim import AnalogSGD
from aihw_jax.simulator.configs import (
    FloatingPointRPUConfig,
    IOParameters,
    MappingParameter,
    SingleRPUConfig,
)

CHANNELS_LAST = ("NHWC", "OIHW", "NHWC")
"""Layouts of images, kernels and outputs in the reference convolutions."""


def _noiseless(max_input_size=0, max_output_size=0):
    perfect = IOParameters(is_perfect=True)
    mapping = MappingParameter(
        max_input_size=max_input_size, max_output_size=max_output_size
    )
    return SingleRPUConfig(forward=perfect, backward=perfect, mapping=mapping)


def _unfold(x, kernel, stride, padding, dilation):
    """Patches ``[N * H_out * W_out, C * kh * kw]`` in torch's unfold order."""
    x = np.pad(np.asarray(x), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    batch, height, width, _ = x.shape
    span = dilation * (kernel - 1) + 1
    rows = []
    for n in range(batch):
        for top in range(0, height - span + 1, stride):
            for left in range(0, width - span + 1, stride):
                window = x[
                    n, top : top + span : dilation, left : left + span : dilation
                ]
                rows.append(np.transpose(window, (2, 0, 1)).reshape(-1))
    return np.stack(rows)


class _Unrolled(nn.Module):
    """The conv's inner layer alone, under the same name, so it draws the same noise."""

    in_features: int
    out_features: int

    @nn.compact
    def __call__(self, rows):
        return AnalogLinear(self.in_features, self.out_features, name="linear")(rows)


def test_conv_equals_unrolled_linear_with_noise(key):
    init_key, noise_key, data_key = jax.random.split(key, 3)
    conv = AnalogConv2d(3, 4, 3, stride=2, padding=1, dilation=1)
    x = jax.random.normal(data_key, (2, 7, 6, 3))
    variables = conv.init({"params": init_key}, x)
    y = conv.apply(variables, x, rngs={"noise": noise_key})
    rows = _unfold(x, 3, 2, 1, 1)
    expected = _Unrolled(27, 4).apply(variables, rows, rngs={"noise": noise_key})
    assert y.shape == (2, 4, 3, 4)
    np.testing.assert_array_equal(np.asarray(y).reshape(-1, 4), np.asarray(expected))
    # The default config is noisy: another key gives other outputs.
    other = conv.apply(variables, x, rngs={"noise": init_key})
    assert float(jnp.max(jnp.abs(other - y))) > 1e-3


def test_kernel_is_in_torch_order(key):
    init_key, data_key = jax.random.split(key)
    conv = AnalogConv2d(
        3, 5, (3, 2), padding=(1, 0), dilation=(1, 2), rpu_config=_noiseless()
    )
    x = jax.random.normal(data_key, (2, 6, 7, 3))
    variables = conv.init({"params": init_key}, x)
    weight, bias = conv.get_weights(variables)
    assert weight.shape == (5, 3, 3, 2)
    expected = (
        jax.lax.conv_general_dilated(
            x,
            weight,
            (1, 1),
            ((1, 1), (0, 0)),
            rhs_dilation=(1, 2),
            dimension_numbers=CHANNELS_LAST,
            precision=jax.lax.Precision.HIGHEST,
        )
        + bias
    )
    y = conv.apply(variables, x, rngs={"noise": key})
    np.testing.assert_allclose(np.asarray(y), np.asarray(expected), atol=1e-5)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "expected"),
    [
        (3, 1, 0, 1, (8, 6)),
        (3, 2, 1, 1, (5, 4)),
        (3, 1, 2, 2, (10, 8)),
        ((5, 3), (2, 1), (2, 0), (1, 2), (5, 4)),
        (4, 1, "same", 1, (10, 8)),
        (3, 1, "same", 3, (10, 8)),
        (3, 3, "valid", 1, (3, 2)),
    ],
)
def test_output_shapes(kernel, stride, padding, dilation, expected, key):
    conv = AnalogConv2d(2, 3, kernel, stride=stride, padding=padding, dilation=dilation)
    x = jnp.ones((1, 10, 8, 2))
    # Shapes only: eval_shape traces the layer without compiling it.
    variables = jax.eval_shape(conv.init, {"params": key}, x)
    apply = lambda v, images: conv.apply(v, images, rngs={"noise": key})
    assert jax.eval_shape(apply, variables, x).shape == (1, *expected, 3)
    assert jax.eval_shape(apply, variables, x[0]).shape == (*expected, 3)
    assert conv.output_shape(10, 8) == expected


def _lenet(conv_config=None, linear_config=None):
    return AnalogSequential(
        AnalogConv2d(1, 16, 5, rpu_config=conv_config),
        Tanh(),
        MaxPool2d(2),
        AnalogConv2d(16, 32, 5, rpu_config=conv_config),
        Tanh(),
        MaxPool2d(2),
        Tanh(),
        Flatten(),
        AnalogLinear(512, 128, rpu_config=linear_config),
        Tanh(),
        AnalogLinear(128, 10, rpu_config=linear_config),
        LogSoftmax(dim=1),
    )


def _nll(log_probabilities, labels):
    picked = jnp.take_along_axis(log_probabilities, labels[:, None], axis=1)
    return -jnp.mean(picked)


def _train_once(model, variables, x, loss, optimizer, key):
    noise_key, update_key = jax.random.split(key)
    perturbations = error_perturbations(model, variables, x)

    def objective(params, perturbations):
        out, recorded = model.apply(
            {**variables, "params": params, "perturbations": perturbations},
            x,
            rngs={"noise": noise_key},
            mutable=["analog_inputs"],
        )
        return loss(out), recorded["analog_inputs"]

    grad = jax.grad(objective, argnums=(0, 1), has_aux=True)
    (grad_params, d), recorded = grad(variables["params"], perturbations)
    grads = {"params": grad_params, "perturbations": d}
    state = optimizer.init(variables)
    new, _ = optimizer.step(model, variables, grads, recorded, state, key=update_key)
    return new


def _layer(variables, name):
    return {collection: tree[name] for collection, tree in variables.items()}


def _digital_lenet_loss(first_kernel, weights, x, labels):
    """The LeNet forward in plain JAX, with the first conv's kernel as argument."""
    (_, b1), (w2, b2), (w3, b3), (w4, b4) = weights

    def conv(h, w, b):
        return (
            jax.lax.conv_general_dilated(
                h,
                w,
                (1, 1),
                "VALID",
                dimension_numbers=CHANNELS_LAST,
                precision=jax.lax.Precision.HIGHEST,
            )
            + b
        )

    def pool(h):
        return jax.lax.reduce_window(
            h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"
        )

    h = pool(jnp.tanh(conv(x, first_kernel, b1)))
    h = jnp.tanh(pool(jnp.tanh(conv(h, w2, b2))))
    h = jnp.tanh(h.reshape(h.shape[0], -1) @ w3.T + b3)
    return _nll(jax.nn.log_softmax(h @ w4.T + b4, axis=1), labels)


def test_lenet_runs_and_steps_like_sgd(key):
    fp = FloatingPointRPUConfig()
    model = _lenet(fp, fp)
    data_key, init_key, step_key = jax.random.split(key, 3)
    x = jax.random.uniform(data_key, (4, 28, 28, 1))
    labels = jnp.array([0, 3, 7, 9])
    variables = model.init({"params": init_key}, x)
    variables = {name: variables[name] for name in ("params", "analog")}

    y = model.apply(variables, x, rngs={"noise": key})
    assert y.shape == (4, 10)
    np.testing.assert_allclose(np.asarray(jnp.exp(y).sum(1)), 1.0, rtol=1e-5)
    paths = [path for path, _ in iter_analog_layers(model)]
    assert paths == [
        ("layers_0", "linear"),
        ("layers_3", "linear"),
        ("layers_8",),
        ("layers_10",),
    ]
    second = variables["analog"]["layers_3"]["linear"]["state"]["weight"]
    assert second.shape == (1, 1, 32, 400)

    layers = model.layers
    weights = [
        layers[index].get_weights(_layer(variables, f"layers_{index}"))
        for index in (0, 3, 8, 10)
    ]
    gradient = jax.grad(_digital_lenet_loss)(weights[0][0], weights, x, labels)
    loss = lambda out: _nll(out, labels)
    new = _train_once(model, variables, x, loss, AnalogSGD(lr=0.5), step_key)

    after, _ = layers[0].get_weights(_layer(new, "layers_0"))
    step = np.asarray(after - weights[0][0])
    # Floating-point tiles take exactly the SGD step -lr * gradient.
    np.testing.assert_allclose(step, -0.5 * np.asarray(gradient), atol=1e-6, rtol=1e-3)
    assert float(jnp.max(jnp.abs(gradient))) > 1e-4


def _digital_conv_loss(kernel, bias, x, target):
    y = jax.lax.conv_general_dilated(
        x,
        kernel,
        (1, 1),
        "VALID",
        dimension_numbers=CHANNELS_LAST,
        precision=jax.lax.Precision.HIGHEST,
    )
    return jnp.mean((y + bias - target) ** 2)


def test_pulsed_conv_step_follows_gradient(key):
    conv = AnalogConv2d(2, 4, 3, rpu_config=_noiseless())
    model = AnalogSequential(conv)
    data_key, step_key = jax.random.split(key)
    x = jax.random.uniform(data_key, (8, 8, 8, 2))
    variables = model.init({"params": key}, x)
    variables = {name: variables[name] for name in ("params", "analog")}
    kernel, bias = conv.get_weights(_layer(variables, "layers_0"))
    gradient = jax.grad(_digital_conv_loss)(kernel, bias, x, 1.0)
    loss = lambda out: jnp.mean((out - 1.0) ** 2)
    new = _train_once(model, variables, x, loss, AnalogSGD(lr=0.5), step_key)
    after, _ = conv.get_weights(_layer(new, "layers_0"))
    step = np.asarray(after - kernel).ravel()
    descent = -0.5 * np.asarray(gradient).ravel()
    cosine = step @ descent / (np.linalg.norm(step) * np.linalg.norm(descent))
    # Each of the 288 patches is one sample of the pulsed update. Over three
    # seeds, the step had a cosine of 0.93 to 0.96 with -lr * gradient and
    # was 1.0 to 1.13 times as long. A random direction has a cosine near 0.
    assert cosine > 0.8
    assert 0.7 < np.linalg.norm(step) / np.linalg.norm(descent) < 1.4


def test_mapped_conv_groups_learn_by_path(key):
    mapping = MappingParameter(max_input_size=18)
    conv = AnalogConv2dMapped(
        4, 3, 3, rpu_config=FloatingPointRPUConfig(mapping=mapping)
    )
    model = AnalogSequential(conv)
    paths = [path for path, _ in iter_analog_layers(model)]
    assert paths == [("layers_0", "linear_0"), ("layers_0", "linear_1")]
    x = jax.random.normal(key, (2, 5, 5, 4))
    variables = model.init({"params": key}, x)
    variables = {name: variables[name] for name in ("params", "analog")}
    kernel, bias = conv.get_weights(_layer(variables, "layers_0"))

    def digital_loss(kernel):
        y = jax.lax.conv_general_dilated(
            x,
            kernel,
            (1, 1),
            "VALID",
            dimension_numbers=CHANNELS_LAST,
            precision=jax.lax.Precision.HIGHEST,
        )
        return jnp.mean((y + bias) ** 2)

    gradient = jax.grad(digital_loss)(kernel)
    optimizer = AnalogSGD(lr=0.5, layer_lr={"layers_0/linear_1": 0.0})
    loss = lambda out: jnp.mean(out**2)
    new = _train_once(model, variables, x, loss, optimizer, key)
    after, _ = conv.get_weights(_layer(new, "layers_0"))
    # Channels 0-1 form group 0, which takes the SGD step. Group 1 has lr 0.
    np.testing.assert_allclose(
        np.asarray(after[:, :2] - kernel[:, :2]),
        -0.5 * np.asarray(gradient[:, :2]),
        atol=1e-6,
        rtol=1e-3,
    )
    np.testing.assert_array_equal(np.asarray(after[:, 2:]), np.asarray(kernel[:, 2:]))


def _copy_weight(layer, variables, matrix):
    """Write the logical ``[out, in]`` matrix into a layer's tiles."""
    state = dict(variables["analog"]["state"])
    state["weight"] = layer.layout.split_matrix(matrix)
    return {**variables, "analog": {"state": state}}


@pytest.mark.parametrize(
    ("in_features", "out_features", "max_in", "max_out"),
    [(8, 6, 4, 3), (7, 5, 3, 2)],
    ids=["dividing", "not-dividing"],
)
def test_linear_mapped_equals_unmapped(in_features, out_features, max_in, max_out, key):
    whole = AnalogLinear(in_features, out_features, rpu_config=_noiseless())
    mapped = AnalogLinearMapped(
        in_features, out_features, rpu_config=_noiseless(max_in, max_out)
    )
    x = jax.random.normal(key, (5, in_features))
    whole_variables = whole.init({"params": key}, x)
    mapped_variables = mapped.init({"params": key}, x)
    assert mapped.layout.grid == (
        -(-out_features // max_out),
        -(-in_features // max_in),
    )
    matrix, bias = whole.get_weights(whole_variables)
    mapped_variables = _copy_weight(mapped, mapped_variables, matrix)
    mapped_variables["params"] = {"bias": bias}
    np.testing.assert_allclose(
        np.asarray(mapped.get_weights(mapped_variables)[0]), np.asarray(matrix)
    )
    y_whole = whole.apply(whole_variables, x, rngs={"noise": key})
    y_mapped = mapped.apply(mapped_variables, x, rngs={"noise": key})
    np.testing.assert_allclose(np.asarray(y_mapped), np.asarray(y_whole), atol=1e-5)


@pytest.mark.parametrize(
    ("in_channels", "max_in", "max_out", "groups"),
    [(4, 18, 3, [2, 2]), (5, 18, 4, [2, 2, 1])],
    ids=["dividing", "not-dividing"],
)
def test_conv_mapped_equals_unmapped(in_channels, max_in, max_out, groups, key):
    # Floating-point tiles: a perfect periphery without device draws.
    mapping = MappingParameter(max_input_size=max_in, max_output_size=max_out)
    whole = AnalogConv2d(in_channels, 6, 3, padding=1, rpu_config=_noiseless())
    mapped = AnalogConv2dMapped(
        in_channels, 6, 3, padding=1, rpu_config=FloatingPointRPUConfig(mapping=mapping)
    )
    x = jax.random.normal(key, (2, 5, 4, in_channels))
    whole_variables = whole.init({"params": key}, x)
    mapped_variables = mapped.init({"params": key}, x)
    sublayers = mapped.analog_sublayers()
    assert [layer.in_features for _, layer in sublayers] == [9 * g for g in groups]
    kernel, bias = whole.get_weights(whole_variables)
    matrix = kernel.reshape(6, -1)
    analog, start = {}, 0
    for name, layer in sublayers:
        part = matrix[:, start : start + layer.in_features]
        start += layer.in_features
        inner = {"analog": mapped_variables["analog"][name]}
        analog[name] = _copy_weight(layer, inner, part)["analog"]
    mapped_variables = {"analog": analog, "params": {"bias": bias}}
    mapped_kernel, mapped_bias = mapped.get_weights(mapped_variables)
    np.testing.assert_array_equal(np.asarray(mapped_kernel), np.asarray(kernel))
    np.testing.assert_array_equal(np.asarray(mapped_bias), np.asarray(bias))
    y_whole = whole.apply(whole_variables, x, rngs={"noise": key})
    y_mapped = mapped.apply(mapped_variables, x, rngs={"noise": key})
    np.testing.assert_allclose(np.asarray(y_mapped), np.asarray(y_whole), atol=1e-5)


@pytest.mark.parametrize(
    ("in_channels", "kernel", "max_in", "groups"),
    [
        (5, 3, 20, [2, 2, 1]),
        (5, 3, 9, [1, 1, 1, 1, 1]),
        (7, 2, 12, [3, 2, 2]),
        (6, 3, 0, [6]),
        (6, 3, 512, [6]),
    ],
)
def test_conv_mapped_splits_whole_channels(in_channels, kernel, max_in, groups):
    config = _noiseless(max_in, 0)
    mapped = AnalogConv2dMapped(in_channels, 2, kernel, rpu_config=config)
    taps = kernel * kernel
    sublayers = mapped.analog_sublayers()
    assert [name for name, _ in sublayers] == [
        f"linear_{index}" for index in range(len(groups))
    ]
    assert [layer.in_features for _, layer in sublayers] == [g * taps for g in groups]
    assert all(not layer.bias for _, layer in sublayers)


def test_conv_mapped_uses_whole_layer_bound(key):
    mapped = AnalogConv2dMapped(8, 16, 3, rpu_config=_noiseless(9, 0))
    variables = mapped.init({"params": key}, jnp.zeros((1, 3, 3, 8)))
    kernel, bias = mapped.get_weights(variables)
    assert len(mapped.analog_sublayers()) == 8
    bound = 1.0 / np.sqrt(72)
    assert float(jnp.max(jnp.abs(kernel))) <= bound
    assert float(jnp.max(jnp.abs(kernel))) > 0.8 * bound
    assert float(jnp.max(jnp.abs(bias))) <= bound


def test_maxpool_matches_hand_values():
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    y = MaxPool2d(2).apply({}, x)
    np.testing.assert_array_equal(np.asarray(y[0, :, :, 0]), [[5, 7], [13, 15]])
    padded = MaxPool2d(3, stride=2, padding=1).apply({}, -x)
    # Windows are centred on rows and columns 0 and 2, and padding never wins.
    np.testing.assert_array_equal(np.asarray(padded[0, :, :, 0]), [[0, -1], [-4, -5]])
    ceil = MaxPool2d(3, stride=2, ceil_mode=True).apply({}, jnp.ones((1, 6, 6, 2)))
    assert ceil.shape == (1, 3, 3, 2)
    floor = MaxPool2d(3, stride=2).apply({}, jnp.ones((1, 6, 6, 2)))
    assert floor.shape == (1, 2, 2, 2)


def test_batchnorm_trains_and_evaluates(key):
    x = jax.random.normal(key, (4, 3, 2, 2)) * jnp.array([1.0, 2.0]) + jnp.array(
        [0.5, -1.0]
    )
    layer = BatchNorm2d(2)
    variables = layer.init({"params": key}, x)
    np.testing.assert_array_equal(
        np.asarray(variables["batch_stats"]["running_mean"]), 0.0
    )
    y, updated = layer.apply(variables, x, mutable=["batch_stats"])
    values = np.asarray(x).reshape(-1, 2)
    mean, variance = values.mean(0), values.var(0)
    expected = (np.asarray(x) - mean) / np.sqrt(variance + 1e-5)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-4, atol=1e-5)
    stats = updated["batch_stats"]
    np.testing.assert_allclose(np.asarray(stats["running_mean"]), 0.1 * mean, rtol=1e-5)
    unbiased = values.var(0, ddof=1)
    np.testing.assert_allclose(
        np.asarray(stats["running_var"]), 0.9 + 0.1 * unbiased, rtol=1e-5
    )
    assert int(stats["num_batches_tracked"]) == 1
    evaluated = layer.apply({**variables, **updated}, x)
    expected_eval = (np.asarray(x) - 0.1 * mean) / np.sqrt(0.9 + 0.1 * unbiased + 1e-5)
    np.testing.assert_allclose(
        np.asarray(evaluated), expected_eval, rtol=1e-4, atol=1e-5
    )


def test_batchnorm_cumulative_and_untracked(key):
    x = jax.random.normal(key, (2, 2, 2, 3))
    cumulative = BatchNorm2d(3, momentum=None)
    variables = cumulative.init({"params": key}, x)
    _, updated = cumulative.apply(variables, x, mutable=["batch_stats"])
    mean = np.asarray(x).reshape(-1, 3).mean(0)
    np.testing.assert_allclose(
        np.asarray(updated["batch_stats"]["running_mean"]), mean, rtol=1e-5
    )
    untracked = BatchNorm2d(3, track_running_stats=False, affine=False)
    variables = untracked.init({"params": key}, x)
    assert "batch_stats" not in variables
    y = untracked.apply(variables, x)
    np.testing.assert_allclose(np.asarray(y).reshape(-1, 3).mean(0), 0.0, atol=1e-5)


def test_digital_conv_matches_noiseless_analog(key):
    init_key, data_key = jax.random.split(key)
    x = jax.random.normal(data_key, (2, 6, 6, 4))
    analog = AnalogConv2d(4, 3, 3, stride=2, padding=1, rpu_config=_noiseless())
    variables = analog.init({"params": init_key}, x)
    weight, bias = analog.get_weights(variables)
    digital = Conv2d(4, 3, 3, stride=2, padding=1)
    y = digital.apply({"params": {"weight": weight, "bias": bias}}, x)
    expected = analog.apply(variables, x, rngs={"noise": key})
    np.testing.assert_allclose(np.asarray(y), np.asarray(expected), atol=1e-5)
    grouped = Conv2d(4, 6, 3, groups=2).init({"params": key}, x)
    assert grouped["params"]["weight"].shape == (6, 2, 3, 3)


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_transpose_is_adjoint_of_conv(groups, key):
    x_key, y_key, init_key = jax.random.split(key, 3)
    conv = Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=groups, bias=False)
    x = jax.random.normal(x_key, (2, 9, 8, 4))
    conv_variables = conv.init({"params": init_key}, x)
    y, pullback = jax.vjp(lambda v: conv.apply(conv_variables, v), x)
    cotangent = jax.random.normal(y_key, y.shape)
    (expected,) = pullback(cotangent)
    transpose = ConvTranspose2d(
        6,
        4,
        3,
        stride=2,
        padding=1,
        output_padding=(0, 1),
        dilation=2,
        groups=groups,
        bias=False,
    )
    result = transpose.apply(conv_variables, cotangent)
    assert result.shape == x.shape
    np.testing.assert_allclose(np.asarray(result), np.asarray(expected), atol=1e-4)


def test_unflatten_adds_channel_axis():
    images = jnp.arange(2 * 28 * 28).reshape(2, 28, 28)
    y = Unflatten(2, (28, 1)).apply({}, images)
    assert y.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(np.asarray(y[..., 0]), np.asarray(images))
    assert Unflatten(-1, (4, 7)).apply({}, images).shape == (2, 28, 4, 7)
    with pytest.raises(ConfigError, match="unflattened_size"):
        Unflatten(1, (5, 5)).apply({}, images)
    with pytest.raises(ConfigError, match="dim"):
        Unflatten(3, (28,)).apply({}, images)


def test_bad_arguments_are_named(key):
    x = jnp.ones((1, 6, 6, 2))
    cases = [
        (AnalogConv2d(0, 3, 3), "in_channels"),
        (AnalogConv2d(2, 3, (3,)), "kernel_size"),
        (AnalogConv2d(2, 3, 3, stride=0), "stride"),
        (AnalogConv2d(2, 3, 3, padding="same", stride=2), "padding"),
        (AnalogConv2d(2, 3, 3, padding="full"), "padding"),
        (AnalogConv2d(3, 3, 3), r"C = 3 \(channels last\), got shape \(1, 6, 6, 2\)"),
        (AnalogConv2d(2, 3, 9), "smaller than the dilated kernel"),
        (AnalogConv2dMapped(2, 3, 3, rpu_config=_noiseless(8)), "max_input_size"),
        (Conv2d(2, 3, 3, groups=2), "groups"),
        (ConvTranspose2d(2, 3, 3, output_padding=1), "output_padding"),
        (MaxPool2d(2, padding=2), "padding"),
        (BatchNorm2d(3), "BatchNorm2d\\(3\\)"),
        (BatchNorm2d(2, momentum=2.0), "momentum"),
    ]
    for layer, message in cases:
        with pytest.raises(ConfigError, match=message):
            layer.init({"params": key}, x)

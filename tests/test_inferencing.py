"""Inference on simulated chips: programming, drift, compensation and BasicInferencing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_layers import _layer_variables, _train_once

from aihw_jax import serialization
from aihw_jax.datasets import FashionMNIST
from aihw_jax.errors import ConfigError, DatasetError, SerializationError
from aihw_jax.experiments import BasicInferencing
from aihw_jax.experiments.runners import (
    InferenceLocalRunner,
    run_inference_local,
    run_inference_sweep,
)
from aihw_jax.experiments.runners._inference import call_groups
from aihw_jax.experiments.templates import read_template
from aihw_jax.experiments.templates.lenet5 import lenet5_config, lenet5_mapped
from aihw_jax.inference import PCMLikeNoiseModel
from aihw_jax.nn import (
    AnalogLinear,
    AnalogSequential,
    Flatten,
    LogSoftmax,
    drift_analog_weights,
    program_analog_weights,
)
from aihw_jax.optim import AnalogSGD
from aihw_jax.simulator.configs import (
    InferenceRPUConfig,
    IOParameters,
    MappingParameter,
    WeightClipParameter,
    WeightClipType,
    WeightModifierParameter,
    WeightModifierType,
)

PERFECT = IOParameters(is_perfect=True)


def _model(config):
    return AnalogSequential(
        Flatten(), AnalogLinear(784, 10, rpu_config=config), LogSoftmax(dim=1)
    )


def _state(variables, name="layers_1"):
    return variables["analog"][name]["state"]


def _program(model, variables, key):
    return jax.jit(lambda v, k: program_analog_weights(model, v, k))(variables, key)


def _init(model, key):
    variables = model.init({"params": key}, jnp.zeros((1, 28, 28, 1)))
    return {name: variables[name] for name in ("params", "analog")}


def test_programming_independent_of_compensation(key):
    with_gdc = _model(InferenceRPUConfig())
    without = _model(InferenceRPUConfig(drift_compensation=None))
    variables = _init(with_gdc, key)
    program_key = jax.random.key(3)
    first = _state(_program(with_gdc, variables, program_key))
    again = _state(_program(with_gdc, variables, program_key))
    plain = _state(_program(without, variables, program_key))
    other = _state(_program(with_gdc, variables, jax.random.key(4)))

    target = _state(variables)["weight"]
    np.testing.assert_array_equal(first["programmed"], again["programmed"])
    np.testing.assert_array_equal(first["programmed"], plain["programmed"])
    assert not np.array_equal(first["programmed"], other["programmed"])
    # Programming noise is present: a few percent of the largest weight.
    error = float(jnp.std(first["programmed"] - target))
    largest = float(jnp.max(jnp.abs(target)))
    assert 0.01 * largest < error < 0.1 * largest


def test_drift_shrinks_weights_and_compensation_restores_the_output(key):
    config = InferenceRPUConfig(forward=PERFECT)
    model = _model(config)
    uncompensated = _model(config.replace(drift_compensation=None))
    variables = _init(model, key)
    programmed = _program(model, variables, jax.random.key(1))
    x = jax.random.uniform(key, (256, 28, 28, 1))

    def outputs(net, t):
        @jax.jit
        def run(programmed):
            drifted = drift_analog_weights(net, programmed, t, jax.random.key(2))
            logits = net.apply(drifted, x, rngs={"noise": jax.random.key(5)})
            return drifted, logits

        return run(programmed)

    day = 86400.0
    start_vars, start = outputs(model, 0.0)
    day_vars, compensated = outputs(model, day)
    _, plain = outputs(uncompensated, day)

    shrink = float(
        jnp.mean(jnp.abs(_state(day_vars)["eval_weight"]))
        / jnp.mean(jnp.abs(_state(start_vars)["eval_weight"]))
    )
    assert shrink < 0.8
    assert float(jnp.mean(_state(day_vars)["eval_scale"])) > 1.2
    # Log-softmax outputs: compare the spread of the logits around their mean.
    spread = lambda y: float(jnp.mean(jnp.std(y, axis=1)))
    assert spread(plain) / spread(start) < 0.85
    assert abs(spread(compensated) / spread(start) - 1.0) < 0.1


def test_modifier_acts_in_training_only(key):
    modifier = WeightModifierParameter(type=WeightModifierType.ADD_NORMAL, std_dev=0.5)
    model = _model(InferenceRPUConfig(forward=PERFECT, modifier=modifier))
    variables = _init(model, key)
    x = jax.random.uniform(key, (4, 28, 28, 1))
    rngs = {"noise": jax.random.key(7)}
    evaluated = model.apply(variables, x, rngs=rngs)
    trained, _ = model.apply(variables, x, rngs=rngs, mutable=["analog_inputs"])
    exact = _model(InferenceRPUConfig(forward=PERFECT)).apply(variables, x, rngs=rngs)
    np.testing.assert_allclose(evaluated, exact, rtol=1e-5, atol=1e-5)
    assert float(jnp.max(jnp.abs(trained - evaluated))) > 0.05


def test_optimizer_step_clips_inference_weights(key):
    clip = WeightClipParameter(type=WeightClipType.FIXED_VALUE, fixed_value=0.02)
    config = InferenceRPUConfig(forward=PERFECT, clip=clip)
    model = AnalogSequential(AnalogLinear(6, 3, rpu_config=config))
    variables = _init_flat(model, key)
    x = jax.random.normal(key, (8, 6))
    (new, _), _ = _train_once(
        model, variables, x, jnp.ones((8, 3)), AnalogSGD(lr=0.1), key
    )
    weight, _ = model.layers[0].get_weights(_layer_variables(new))
    assert float(jnp.max(jnp.abs(weight))) <= 0.02 + 1e-7


def _init_flat(model, key):
    variables = model.init({"params": key}, jnp.zeros((1, 6)))
    return {name: variables[name] for name in ("params", "analog")}


def test_split_layers_program_every_tile(key):
    config = InferenceRPUConfig(mapping=MappingParameter(max_input_size=300))
    model = _model(config)
    variables = _init(model, key)
    programmed = _state(_program(model, variables, key))
    # 784 inputs in tiles of at most 300: three tiles of 262, 261 and 261.
    assert programmed["programmed"].shape == (1, 3, 10, 262)
    np.testing.assert_array_equal(programmed["programmed"][0, 1, :, 261:], 0.0)
    assert programmed["baseline"].shape == (1, 3, 10)


def test_basic_inferencing_returns_aihwkits_result(key):
    experiment = BasicInferencing(
        dataset=FashionMNIST,
        model=_model(InferenceRPUConfig()),
        inference_repeats=3,
        inference_time=3600,
    )
    result = run_inference_local(experiment, max_elements=300, stdout=False)
    runs = result["inference_runs"]
    assert runs["inference_repeat"] == 3
    assert runs["is_partial"] is False
    rows = runs["inference_results"]
    assert [row["t_inference"] for row in rows][:2] == [0.0, 1.0]
    assert rows[-1]["t_inference"] == pytest.approx(3600.0)
    assert len(rows) == 10
    for row in rows:
        assert 0.0 <= row["avg_accuracy"] <= 100.0
        assert row["avg_error"] == pytest.approx(100.0 - row["avg_accuracy"])
        assert row["std_accuracy"] >= 0.0
        assert np.isfinite(row["avg_loss"])
    # The three repeats program three different chips.
    assert max(row["std_accuracy"] for row in rows) > 0.0


def test_inference_runner_loads_a_template_file(tmp_path, key):
    model = _model(InferenceRPUConfig())
    experiment = BasicInferencing(
        dataset=FashionMNIST, model=model, inference_repeats=1, inference_time=10
    )
    variables = experiment.init_variables(key)
    path = tmp_path / "weights.msgpack"
    path.write_bytes(serialization.variables_to_bytes(variables))
    with_template = experiment.replace(weight_template_id=str(path))
    runner = InferenceLocalRunner()
    from_file = runner.run(with_template, max_elements=100, stdout=False)
    direct = run_inference_local(
        experiment, variables=variables, max_elements=100, stdout=False
    )
    assert (
        from_file["inference_runs"]["inference_results"]
        == (direct["inference_runs"]["inference_results"])
    )
    missing = experiment.replace(weight_template_id=str(tmp_path / "absent"))
    with pytest.raises(DatasetError, match="absent"):
        runner.run(missing, max_elements=10, stdout=False)


def test_basic_inferencing_checks_its_fields():
    model = _model(InferenceRPUConfig())
    with pytest.raises(ConfigError, match="inference_repeats"):
        BasicInferencing(dataset=FashionMNIST, model=model, inference_repeats=0)
    with pytest.raises(ConfigError, match="inference_time"):
        BasicInferencing(dataset=FashionMNIST, model=model, inference_time=-1.0)
    experiment = BasicInferencing(dataset=FashionMNIST, model=model)
    times = experiment.times()
    assert times[0] == 0.0
    assert times[1] == 1.0
    assert times[-1] == pytest.approx(86400.0)
    np.testing.assert_allclose(times[2], 4.1406, rtol=1e-4)


def test_mapping_scales_and_learned_out_scaling(key):
    mapping = MappingParameter(
        weight_scaling_omega=1.0,
        weight_scaling_columnwise=True,
        learn_out_scaling=True,
        out_scaling_columnwise=True,
    )
    scaled = _model(InferenceRPUConfig(forward=PERFECT, mapping=mapping))
    plain = _model(InferenceRPUConfig(forward=PERFECT))
    variables = _init(scaled, key)
    reference = _init(plain, key)
    state = _state(variables)
    # Every tile row is scaled to an absolute maximum of omega = 1.
    np.testing.assert_allclose(jnp.max(jnp.abs(state["weight"]), axis=-1), 1.0)
    layer, plain_layer = scaled.layers[1], plain.layers[1]
    np.testing.assert_allclose(
        layer.get_weights(_layer_variables(variables, "layers_1"))[0],
        plain_layer.get_weights(_layer_variables(reference, "layers_1"))[0],
        rtol=1e-6,
    )
    assert variables["params"]["layers_1"]["out_scaling"].shape == (10,)

    x = jax.random.uniform(key, (3, 28, 28, 1))
    rngs = {"noise": jax.random.key(1)}
    logits = lambda net, v: net.layers[1].apply(
        _layer_variables(v, "layers_1"), x.reshape(3, -1), rngs=rngs
    )
    # The extra parameter changes the bias draw, so compare without biases.
    bias = variables["params"]["layers_1"]["bias"]
    plain_bias = reference["params"]["layers_1"]["bias"]
    np.testing.assert_allclose(
        logits(scaled, variables) - bias,
        logits(plain, reference) - plain_bias,
        rtol=1e-4,
        atol=1e-5,
    )
    doubled = jax.tree.map(lambda a: a, variables)
    doubled["params"]["layers_1"]["out_scaling"] = 2.0 * jnp.ones(10)
    np.testing.assert_allclose(
        logits(scaled, doubled) - bias,
        2.0 * (logits(scaled, variables) - bias),
        rtol=1e-4,
        atol=1e-5,
    )


def _digital_accuracy(model, variables, images, labels):
    """Accuracy (percent) of the trained weights with an exact periphery."""
    apply = jax.jit(
        lambda x: model.apply(variables, x, rngs={"noise": jax.random.key(0)})
    )
    correct = 0
    for start in range(0, images.shape[0], 1000):
        output = apply(images[start : start + 1000])
        correct += int(jnp.sum(jnp.argmax(output, -1) == labels[start : start + 1000]))
    return 100.0 * correct / images.shape[0]


def test_shipped_template_fits_the_lenet5():
    experiment = BasicInferencing(
        dataset=FashionMNIST,
        model=lenet5_mapped(),
        weight_template_id="hwa-trained-lenet5-mapped",
    )
    variables = experiment.load_weights(read_template("hwa-trained-lenet5-mapped"))
    first = variables["analog"]["layers_1"]["linear_0"]["state"]["weight"]
    assert first.shape == (1, 1, 16, 25)
    wrong = BasicInferencing(dataset=FashionMNIST, model=_model(InferenceRPUConfig()))
    with pytest.raises(SerializationError, match="layers_1"):
        wrong.load_weights(read_template("hwa-trained-lenet5-mapped"))


@pytest.mark.slow
def test_documented_inference_experiment_holds_its_accuracy():
    experiment = BasicInferencing(
        dataset=FashionMNIST,
        model=lenet5_mapped(),
        batch_size=8,
        inference_repeats=2,
        inference_time=86400,
        weight_template_id="hwa-trained-lenet5-mapped",
    )
    result = InferenceLocalRunner().run(experiment, stdout=False)
    rows = result["inference_runs"]["inference_results"]

    images, labels = FashionMNIST.load("test")
    images = jnp.asarray(FashionMNIST.normalize(images))
    exact = lenet5_mapped(lenet5_config().replace(forward=PERFECT))
    variables = experiment.load_weights(read_template("hwa-trained-lenet5-mapped"))
    digital = _digital_accuracy(exact, variables, images, jnp.asarray(labels))
    # Programming noise costs at most 3 points at t = 0, and global drift
    # compensation keeps the accuracy within 3 points of that after one day.
    assert abs(rows[0]["avg_accuracy"] - digital) <= 3.0, (rows[0], digital)
    assert abs(rows[-1]["avg_accuracy"] - rows[0]["avg_accuracy"]) <= 3.0, rows


def test_inference_sweep_equals_separate_runs_per_value():
    experiment = BasicInferencing(
        dataset=FashionMNIST,
        model=_model(InferenceRPUConfig()),
        inference_repeats=2,
        inference_time=3600,
    )
    scales = [0.0, 1.0, 5.0]
    sweep = run_inference_sweep(
        experiment,
        {"noise_model.prog_noise_scale": scales},
        seed=3,
        max_elements=300,
    )
    assert sweep["accuracy"].shape == (3, 2, 10)
    assert sweep["config_values"] == {"noise_model.prog_noise_scale": scales}
    for index, scale in enumerate(scales):
        config = InferenceRPUConfig(
            noise_model=PCMLikeNoiseModel(prog_noise_scale=scale)
        )
        single = run_inference_local(
            experiment.replace(model=_model(config)),
            seed=3,
            max_elements=300,
            stdout=False,
        )
        expected = [
            row["avg_accuracy"] for row in single["inference_runs"]["inference_results"]
        ]
        got = [
            row["avg_accuracy"]
            for row in sweep["results"][index]["inference_runs"]["inference_results"]
        ]
        # One sample of 300 is 0.33 %: allow one flipped prediction per repeat.
        np.testing.assert_allclose(got, expected, atol=0.34)
    # Programming noise changes the outputs: the three rows differ.
    assert not np.allclose(sweep["accuracy"][0], sweep["accuracy"][2])


def test_inference_sweep_rejects_bad_values():
    experiment = BasicInferencing(
        dataset=FashionMNIST, model=_model(InferenceRPUConfig())
    )
    with pytest.raises(ConfigError, match="does not name a field"):
        run_inference_sweep(experiment, {"noise_model.no_such_field": [1.0]})
    with pytest.raises(ConfigError, match="share one non-zero length"):
        run_inference_sweep(
            experiment,
            {"noise_model.prog_noise_scale": [1.0], "noise_model.drift_scale": []},
        )
    with pytest.raises(ConfigError, match="prog_noise_scale"):
        run_inference_sweep(experiment, {"noise_model.prog_noise_scale": [-1.0]})


def test_repeat_calls_share_one_shape():
    assert [(list(i), real) for i, real in call_groups(2)] == [([0, 1], 2)]
    groups = call_groups(40)
    assert [real for _, real in groups] == [16, 16, 8]
    assert all(len(indices) == 16 for indices, _ in groups)
    assert list(groups[-1][0]) == list(range(32, 40)) + [39] * 8

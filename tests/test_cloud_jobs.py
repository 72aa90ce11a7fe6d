"""The cloud inference converter and run_job, against the local runners."""

from __future__ import annotations

import math
import multiprocessing
import re

import jax
import msgpack
import pytest
from _cloud_info import ANALOG_INFO, NOISE_MODEL_INFO

from aihw_jax import serialization
from aihw_jax.cloud import codec, converter, jobs
from aihw_jax.datasets import FashionMNIST
from aihw_jax.errors import ConfigError, SerializationError
from aihw_jax.experiments import BasicInferencing, BasicTraining
from aihw_jax.experiments.runners import run_inference_local, run_local
from aihw_jax.inference import (
    GlobalDriftCompensation,
    PCMLikeNoiseModel,
    StateIndependentNoiseModel,
)
from aihw_jax.nn import (
    AnalogConv2d,
    AnalogLinear,
    AnalogSequential,
    Flatten,
    LogSoftmax,
    Unflatten,
)
from aihw_jax.simulator.configs import (
    FloatingPointRPUConfig,
    InferenceRPUConfig,
    SingleRPUConfig,
)
from aihw_jax.simulator.presets.web import (
    OldWebComposerInferenceRPUConfig,
    WebComposerInferenceRPUConfig,
)

GENERIC_INFO = {**NOISE_MODEL_INFO, "device_id": "generic", "drift_compensation": False}


def _small_model(config=None):
    return AnalogSequential(
        Flatten(), AnalogLinear(784, 10, rpu_config=config), LogSoftmax(dim=1)
    )


def _training():
    return BasicTraining(
        dataset=FashionMNIST,
        model=_small_model(FloatingPointRPUConfig()),
        epochs=1,
        batch_size=32,
    )


def _inferencing():
    return BasicInferencing(
        dataset=FashionMNIST,
        model=_small_model(InferenceRPUConfig()),
        inference_repeats=2,
        inference_time=3600.0,
    )


def _without_times(result):
    """Drop the wall-clock fields, which differ between two runs."""
    if "epochs" in result:
        return [
            {k: v for k, v in epoch.items() if k != "time_epoch"}
            for epoch in result["epochs"]
        ]
    runs = dict(result["inference_runs"])
    del runs["time_elapsed"]
    return runs


# --- converter ---------------------------------------------------------------


def test_converter_worked_example():
    config = converter.rpu_config_from_info(ANALOG_INFO, NOISE_MODEL_INFO)
    assert config.forward.out_noise == 0.04
    assert config.forward.out_res == 1 / 510
    assert config.forward.inp_res == 1 / 126
    assert config.noise_model == PCMLikeNoiseModel(
        g_max=25.0,
        prog_coeff=(0.2635, 1.965, -1.1731),
        prog_noise_scale=1.1,
        read_noise_scale=1.2,
        drift_scale=1.3,
    )
    assert config.noise_model.prog_coeff == (0.2635, 1.965, -1.1731)
    assert config.noise_model.g_max == 25.0
    assert config.noise_model.prog_noise_scale == 1.1
    assert config.noise_model.read_noise_scale == 1.2
    assert config.noise_model.drift_scale == 1.3
    assert config.drift_compensation == GlobalDriftCompensation()
    base = WebComposerInferenceRPUConfig()
    assert config.forward.out_bound == 20.0
    restored = config.replace(
        forward=config.forward.replace(out_noise=0.1, out_res=1 / 510, inp_res=1 / 126),
        noise_model=base.noise_model,
    )
    assert restored == base


def test_converter_generic_device():
    config = converter.rpu_config_from_info(
        {"output_noise_strength": 0.0, "adc": 2, "dac": 32},
        GENERIC_INFO,
        base="InferenceRPUConfig",
    )
    assert config.noise_model == StateIndependentNoiseModel(
        g_max=25.0,
        prog_coeff=(0.2635, 1.965, -1.1731),
        prog_noise_scale=1.1,
        read_noise_scale=1.2,
        drift_scale=1.3,
        drift_nu_mean=7.7,
        drift_nu_std=8.8,
    )
    assert config.drift_compensation is None
    assert config.forward.out_noise == 0.0
    assert config.forward.out_res == 1 / 2
    assert config.forward.inp_res == 1 / (2**32 - 2)
    assert config.mapping == InferenceRPUConfig().mapping


@pytest.mark.parametrize(
    "base",
    [
        "InferenceRPUConfig",
        "OldWebComposerInferenceRPUConfig",
        OldWebComposerInferenceRPUConfig,
        InferenceRPUConfig,
    ],
)
def test_converter_keeps_base_fields(base):
    config = converter.rpu_config_from_info(ANALOG_INFO, NOISE_MODEL_INFO, base=base)
    expected = converter.BASE_CONFIGS[getattr(base, "__name__", base)]()
    assert config.mapping == expected.mapping
    assert config.clip == expected.clip
    assert config.forward.out_bound == expected.forward.out_bound
    assert config.forward.out_res == 1 / 510


def test_apply_info_uses_each_layers_base():
    model = AnalogSequential(
        Unflatten(2, (28, 1)),
        AnalogConv2d(1, 2, 3, rpu_config=OldWebComposerInferenceRPUConfig()),
        Flatten(),
        AnalogSequential(
            AnalogLinear(26 * 26 * 2, 16, rpu_config=InferenceRPUConfig())
        ),
        AnalogLinear(16, 10, rpu_config=WebComposerInferenceRPUConfig()),
        LogSoftmax(dim=1),
    )
    experiment = BasicInferencing(dataset=FashionMNIST, model=model)
    converted = converter.apply_info(experiment, ANALOG_INFO, NOISE_MODEL_INFO)
    layers = converted.model.layers

    def expected(base):
        return converter.rpu_config_from_info(ANALOG_INFO, NOISE_MODEL_INFO, base)

    assert layers[1].rpu_config == expected("OldWebComposerInferenceRPUConfig")
    assert layers[3].layers[0].rpu_config == expected("InferenceRPUConfig")
    assert layers[4].rpu_config == expected("WebComposerInferenceRPUConfig")
    assert layers[0] == model.layers[0]
    assert converted.inference_repeats == experiment.inference_repeats


@pytest.mark.parametrize("config", [SingleRPUConfig(), None], ids=["single", "none"])
def test_apply_info_rejects_training_configs(config):
    model = AnalogSequential(
        Flatten(),
        AnalogLinear(784, 16, rpu_config=InferenceRPUConfig()),
        AnalogLinear(16, 10, rpu_config=config),
    )
    experiment = BasicInferencing(dataset=FashionMNIST, model=model)
    with pytest.raises(ConfigError, match="layers_2"):
        converter.apply_info(experiment, ANALOG_INFO, NOISE_MODEL_INFO)


INVALID_INFO = [
    ("missing key", {"adc": 9, "dac": 7}, NOISE_MODEL_INFO, "output_noise_strength"),
    ("unknown key", {**ANALOG_INFO, "gain": 2}, NOISE_MODEL_INFO, "'gain'"),
    ("adc too small", {**ANALOG_INFO, "adc": 1}, NOISE_MODEL_INFO, "[2, 32]"),
    ("dac too large", {**ANALOG_INFO, "dac": 33}, NOISE_MODEL_INFO, "[2, 32]"),
    ("float adc", {**ANALOG_INFO, "adc": 9.0}, NOISE_MODEL_INFO, "integer"),
    ("bool dac", {**ANALOG_INFO, "dac": True}, NOISE_MODEL_INFO, "integer"),
    (
        "negative noise",
        {**ANALOG_INFO, "output_noise_strength": -0.1},
        NOISE_MODEL_INFO,
        ">= 0",
    ),
    (
        "negative scale",
        ANALOG_INFO,
        {**NOISE_MODEL_INFO, "drift_scale": -1.0},
        "drift_scale",
    ),
    (
        "nan coefficient",
        ANALOG_INFO,
        {**NOISE_MODEL_INFO, "poly_constant_coef": math.nan},
        "finite",
    ),
    (
        "string scale",
        ANALOG_INFO,
        {**NOISE_MODEL_INFO, "read_noise_scale": "1.2"},
        "number",
    ),
    ("unknown device", ANALOG_INFO, {**NOISE_MODEL_INFO, "device_id": "rram"}, "pcm"),
    (
        "compensation not bool",
        ANALOG_INFO,
        {**NOISE_MODEL_INFO, "drift_compensation": "yes"},
        "True or False",
    ),
    (
        "generic without drift",
        ANALOG_INFO,
        {k: v for k, v in GENERIC_INFO.items() if k != "drift_std"},
        "drift_std",
    ),
    ("not a dict", [1, 2], NOISE_MODEL_INFO, "dict"),
]


@pytest.mark.parametrize(
    ("analog_info", "noise_model_info", "word"),
    [case[1:] for case in INVALID_INFO],
    ids=[case[0] for case in INVALID_INFO],
)
def test_converter_rejects_invalid_info(analog_info, noise_model_info, word):
    with pytest.raises(ConfigError, match=re.escape(word)):
        converter.rpu_config_from_info(analog_info, noise_model_info)


def test_converter_rejects_unknown_base():
    with pytest.raises(ConfigError, match="WebComposerInferenceRPUConfig"):
        converter.rpu_config_from_info(
            ANALOG_INFO, NOISE_MODEL_INFO, base="TorchInferenceRPUConfig"
        )


# --- jobs ----------------------------------------------------------------------


def test_training_job_matches_run_local(capfd):
    experiment = _training()
    output = jobs.run_job(codec.encode_experiment(experiment), max_elements=128, seed=3)
    assert capfd.readouterr().out == ""
    decoded = jobs.decode_output(output)
    direct = run_local(experiment, seed=3, max_elements=128, stdout=False)
    assert set(decoded["result"]) == {"epochs"}
    assert _without_times(decoded["result"]) == _without_times(direct)
    assert decoded["weights"] == direct["weights"]
    assert decoded["device"] == "cpu"
    assert len(decoded["result"]["epochs"]) == 1


def test_inference_job_applies_info_and_matches_runner(capfd):
    data = codec.encode_experiment(
        _inferencing(), analog_info=ANALOG_INFO, noise_model_info=NOISE_MODEL_INFO
    )
    output = jobs.decode_output(
        jobs.run_job(data, device="gpu", max_elements=200, seed=1)
    )
    assert capfd.readouterr().out == ""
    # Without a GPU the job runs on the CPU and reports it.
    assert output["device"] == jax.devices()[0].platform

    decoded = codec.decode_experiment(data)
    experiment = converter.apply_info(decoded.experiment, ANALOG_INFO, NOISE_MODEL_INFO)
    direct = run_inference_local(experiment, seed=1, max_elements=200, stdout=False)
    assert _without_times(output["result"]) == _without_times(direct)
    results = output["result"]["inference_runs"]["inference_results"]
    assert len(results) == 10
    assert results[-1]["t_inference"] == pytest.approx(3600.0)

    # The returned weights are the variables that were evaluated.
    evaluated = run_inference_local(
        experiment,
        seed=1,
        max_elements=200,
        stdout=False,
        variables=experiment.load_weights(output["weights"]),
    )
    assert _without_times(evaluated) == _without_times(direct)


def test_inference_job_evaluates_attached_weights():
    experiment = _inferencing()
    variables = experiment.init_variables(jax.random.key(7))
    weights = serialization.variables_to_bytes(variables)
    data = codec.encode_experiment(
        experiment,
        analog_info=ANALOG_INFO,
        noise_model_info=NOISE_MODEL_INFO,
        weights=weights,
    )
    output = jobs.decode_output(jobs.run_job(data, max_elements=200, seed=2))
    converted = converter.apply_info(experiment, ANALOG_INFO, NOISE_MODEL_INFO)
    direct = run_inference_local(
        converted,
        seed=2,
        max_elements=200,
        stdout=False,
        variables=converted.load_weights(weights),
    )
    fresh = run_inference_local(converted, seed=2, max_elements=200, stdout=False)
    assert _without_times(output["result"]) == _without_times(direct)
    assert _without_times(output["result"]) != _without_times(fresh)
    assert output["weights"] == weights


def test_training_job_rejects_weights():
    body = msgpack.unpackb(
        serialization.load_envelope(codec.encode_experiment(_training()), "experiment")
    )
    body["weights"] = serialization.variables_to_bytes(
        _training().init_variables(jax.random.key(0))
    )
    data = serialization.dump_envelope(
        "experiment", msgpack.packb(body, use_bin_type=True)
    )
    with pytest.raises(ConfigError, match="training"):
        jobs.run_job(data, max_elements=32)


def test_job_rejects_unknown_device():
    with pytest.raises(ConfigError, match="'cpu', 'gpu'"):
        jobs.run_job(codec.encode_experiment(_training()), device="tpu")


@pytest.mark.parametrize("seed", [-1, 2**32, "0", True])
def test_job_rejects_invalid_seed(seed):
    data = codec.encode_experiment(_inferencing())
    with pytest.raises(ConfigError, match="seed"):
        jobs.run_job(data, seed=seed)


def test_job_runs_in_spawned_process():
    data = codec.encode_experiment(_training())
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        output = pool.apply(jobs.run_job, (data,), {"max_elements": 64, "seed": 4})
    spawned = jobs.decode_output(output)
    in_process = jobs.decode_output(jobs.run_job(data, max_elements=64, seed=4))
    assert _without_times(spawned["result"]) == _without_times(in_process["result"])
    assert spawned["weights"] == in_process["weights"]
    assert spawned["device"] == "cpu"


def _output(body) -> bytes:
    return serialization.dump_envelope("output", msgpack.packb(body, use_bin_type=True))


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (serialization.dump_envelope("experiment", b"\x80"), "expected 'output'"),
        (_output({"result": {}, "weights": None}), "exactly the keys"),
        (_output({"result": [], "weights": None, "device": "cpu"}), "`result`"),
        (_output({"result": {}, "weights": 3, "device": "cpu"}), "`weights`"),
        (_output({"result": {}, "weights": None, "device": "tpu"}), "`device`"),
        (b"\x00\x01", "msgpack"),
    ],
    ids=["kind", "keys", "result", "weights", "device", "garbage"],
)
def test_decode_output_rejects_malformed(data, word):
    with pytest.raises(SerializationError, match=re.escape(word)):
        jobs.decode_output(data)


def test_output_round_trip():
    data = jobs.encode_output({"epochs": [{"epoch": 1}]}, b"w", "gpu")
    assert jobs.decode_output(data) == {
        "result": {"epochs": [{"epoch": 1}]},
        "weights": b"w",
        "device": "gpu",
    }

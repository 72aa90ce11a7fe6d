"""The experiment payload codec: round trips, the payload layout and hostile payloads."""

from __future__ import annotations

import copy
import hashlib
import re

import flax.linen as nn
import msgpack
import numpy as np
import pytest
from _cloud_info import ANALOG_INFO, NOISE_MODEL_INFO

from aihw_jax import serialization
from aihw_jax.cloud import codec
from aihw_jax.datasets import SVHN, ArrayDataset, FashionMNIST
from aihw_jax.errors import ConfigError, SerializationError
from aihw_jax.experiments import BasicInferencing, BasicTraining
from aihw_jax.experiments.demo import documented_model
from aihw_jax.experiments.templates.lenet5 import lenet5_mapped
from aihw_jax.inference import GlobalDriftCompensation, PCMLikeNoiseModel
from aihw_jax.nn import (
    AnalogConv2d,
    AnalogLinear,
    AnalogSequential,
    CrossEntropyLoss,
    Flatten,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Unflatten,
)
from aihw_jax.simulator import presets
from aihw_jax.simulator.configs import (
    FloatingPointRPUConfig,
    InferenceRPUConfig,
    SingleRPUConfig,
)


def _small_model(config=None):
    return AnalogSequential(
        Flatten(), AnalogLinear(784, 10, rpu_config=config), LogSoftmax(dim=1)
    )


def _training(**fields):
    fields.setdefault("model", _small_model(SingleRPUConfig()))
    fields.setdefault("epochs", 1)
    return BasicTraining(dataset=FashionMNIST, **fields)


def _inferencing(**fields):
    fields.setdefault("model", _small_model(InferenceRPUConfig()))
    return BasicInferencing(dataset=FashionMNIST, **fields)


def _round_trip(experiment, **attachments):
    data = codec.encode_experiment(experiment, **attachments)
    decoded = codec.decode_experiment(data)
    assert codec.encode_experiment(decoded.experiment, **attachments) == data
    return decoded


def _body(experiment) -> dict:
    """The plain msgpack map inside an experiment envelope."""
    payload = serialization.load_envelope(
        codec.encode_experiment(experiment), "experiment"
    )
    return msgpack.unpackb(payload)


def _pack(body) -> bytes:
    return serialization.dump_envelope(
        "experiment", msgpack.packb(body, use_bin_type=True)
    )


def test_round_trip_default_training_network():
    experiment = BasicTraining(dataset=FashionMNIST, model=documented_model())
    decoded = _round_trip(experiment)
    assert decoded.experiment == experiment
    assert decoded.category == "train"
    assert decoded.analog_info is None
    assert decoded.noise_model_info is None
    assert decoded.weights is None


@pytest.mark.parametrize("preset", ["TikiTakaEcRamPreset", "MixedPrecisionEcRamPreset"])
def test_round_trip_compound_presets(preset):
    config = presets.FAMILY_PRESETS[preset]()
    experiment = BasicTraining(
        dataset=FashionMNIST, model=documented_model(config), learning_rate=0.1
    )
    decoded = _round_trip(experiment)
    assert decoded.experiment == experiment
    assert decoded.experiment.model.layers[1].rpu_config == config


def test_round_trip_inference_noise_and_compensation():
    config = InferenceRPUConfig(
        noise_model=PCMLikeNoiseModel(
            g_max=20.0, prog_coeff=(0.1, 1.0, -0.5), drift_scale=1.5
        ),
        drift_compensation=GlobalDriftCompensation(),
    )
    experiment = _inferencing(
        model=_small_model(config),
        inference_repeats=3,
        inference_time=3600.0,
        loss_function=CrossEntropyLoss,
    )
    decoded = _round_trip(experiment)
    assert decoded.experiment == experiment
    noise_model = decoded.experiment.model.layers[1].rpu_config.noise_model
    assert noise_model.prog_coeff == (0.1, 1.0, -0.5)
    assert noise_model.g_max == 20.0
    assert decoded.category == "inference"


def test_round_trip_shipped_lenet5_template():
    experiment = _inferencing(
        model=lenet5_mapped(), weight_template_id="hwa-trained-lenet5-mapped"
    )
    decoded = _round_trip(experiment)
    assert decoded.experiment == experiment
    assert decoded.experiment.model.layers[0].unflattened_size == (28, 1)


def test_round_trip_convolution_tuples():
    model = AnalogSequential(
        Unflatten(2, (28, 1)),
        AnalogConv2d(1, 4, kernel_size=(3, 5), stride=(1, 2), padding=(1, 2)),
        ReLU(),
        MaxPool2d(kernel_size=2),
        Flatten(),
        AnalogSequential(AnalogLinear(14 * 7 * 4, 10, bias=False)),
        LogSoftmax(dim=1),
    )
    decoded = _round_trip(_training(model=model))
    assert decoded.experiment.model == model
    assert decoded.experiment.model.layers[1].kernel_size == (3, 5)


def test_every_preset_round_trips():
    names = sorted(presets.FAMILY_PRESETS) + [
        name for name in presets.__all__ if name.endswith("Preset")
    ]
    failed = []
    for name in names:
        factory = presets.FAMILY_PRESETS.get(name) or getattr(presets, name)
        experiment = _training(model=_small_model(factory()))
        decoded = codec.decode_experiment(codec.encode_experiment(experiment))
        if decoded.experiment != experiment:
            failed.append(name)
    assert len(names) > 50
    assert failed == []


def test_attachments_round_trip():
    weights = serialization.dump_envelope("weights", b"\x80")
    decoded = _round_trip(
        _inferencing(),
        analog_info=ANALOG_INFO,
        noise_model_info=NOISE_MODEL_INFO,
        weights=weights,
    )
    assert decoded.analog_info == ANALOG_INFO
    assert decoded.noise_model_info == NOISE_MODEL_INFO
    assert decoded.weights == weights


def test_payload_is_plain_data():
    body = _body(_training(batch_size=32, learning_rate=0.2))
    assert body["category"] == "train"
    assert body["analog_info"] is None
    assert body["weights"] is None
    experiment = body["experiment"]
    assert experiment["type"] == "BasicTraining"
    assert experiment["dataset"] == "FashionMNIST"
    assert experiment["loss_function"] == "NLLLoss"
    assert experiment["batch_size"] == 32
    assert experiment["learning_rate"] == 0.2
    layers = experiment["model"]["layers"]
    assert experiment["model"]["type"] == "AnalogSequential"
    assert layers[0] == {"type": "Flatten", "args": {"start_dim": 1}}
    linear = layers[1]["args"]
    assert linear["in_features"] == 784
    assert linear["rpu_config"]["type"] == "SingleRPUConfig"
    forward = linear["rpu_config"]["fields"]["forward"]
    assert forward["type"] == "IOParameters"
    assert forward["fields"]["noise_management"] == {
        "enum": "NoiseManagementType",
        "value": "ABS_MAX",
    }


def test_category_of_experiments():
    assert codec.category_of(_training()) == "train"
    assert codec.category_of(_inferencing()) == "inference"
    with pytest.raises(ConfigError, match="BasicTraining"):
        codec.category_of(_small_model())


def test_encoder_rejects_array_dataset():
    images = np.zeros((4, 28, 28), np.uint8)
    labels = np.arange(4, dtype=np.int32)
    dataset = ArrayDataset(train=(images, labels), test=(images, labels))
    experiment = BasicTraining(dataset=dataset, model=_small_model())
    with pytest.raises(SerializationError, match="experiment.dataset"):
        codec.encode_experiment(experiment)


def test_encoder_rejects_custom_layer():
    class Doubling(nn.Module):
        def __call__(self, x):
            return 2 * x

    experiment = _training(model=AnalogSequential(Flatten(), Doubling()))
    with pytest.raises(SerializationError, match=r"model\.layers\[1\]"):
        codec.encode_experiment(experiment)


def test_encoder_rejects_weights_on_training():
    weights = serialization.dump_envelope("weights", b"\x80")
    with pytest.raises(ConfigError, match="training"):
        codec.encode_experiment(_training(), weights=weights)


def test_trusted_decoding_skips_upload_limits():
    body = _body(_inferencing())
    body["experiment"]["weight_template_id"] = "/data/weights.msgpack"
    body["experiment"]["inference_repeats"] = 1000
    decoded = codec.decode_experiment(_pack(body), trusted=True)
    assert decoded.experiment.weight_template_id == "/data/weights.msgpack"
    assert decoded.experiment.inference_repeats == 1000
    with pytest.raises(ConfigError):
        codec.decode_experiment(_pack(body))


def test_limits_accept_their_maximum():
    experiment = _training(epochs=codec.MAX_EPOCHS, batch_size=codec.MAX_BATCH_SIZE)
    decoded = codec.decode_experiment(codec.encode_experiment(experiment))
    assert decoded.experiment.epochs == 100
    assert decoded.experiment.batch_size == 10000
    inference = _inferencing(
        inference_repeats=codec.MAX_INFERENCE_REPEATS,
        inference_time=codec.MAX_INFERENCE_TIME,
    )
    decoded = codec.decode_experiment(codec.encode_experiment(inference))
    assert decoded.experiment.inference_repeats == 256
    assert decoded.experiment.inference_time == 1e9


# --- hostile payloads -------------------------------------------------------

VALID_TRAINING = _training()
VALID_INFERENCING = _inferencing()
FORWARD = ("experiment", "model", "layers", 1, "args", "rpu_config", "fields")
FORWARD += ("forward", "fields")


def _edit(keys, value, experiment=VALID_TRAINING):
    """Return a payload with the value at ``keys`` replaced (None-key: deleted)."""

    def make():
        body = copy.deepcopy(_body(experiment))
        target = body
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
        return _pack(body)

    return make


def _truncated():
    return codec.encode_experiment(VALID_TRAINING)[:-20]


def _wrong_kind():
    payload = serialization.load_envelope(
        codec.encode_experiment(VALID_TRAINING), "experiment"
    )
    return serialization.dump_envelope("weights", payload)


def _bad_checksum():
    envelope = msgpack.unpackb(codec.encode_experiment(VALID_TRAINING))
    envelope["sha256"] = hashlib.sha256(b"other").hexdigest()
    return msgpack.packb(envelope, use_bin_type=True)


def _many_layers():
    body = _body(VALID_TRAINING)
    body["experiment"]["model"]["layers"] = [{"type": "Flatten"}] * 70
    return _pack(body)


def _deep_nesting():
    body = _body(VALID_TRAINING)
    module = {"type": "Flatten"}
    for _ in range(9):
        module = {"type": "AnalogSequential", "layers": [module]}
    body["experiment"]["model"] = module
    return _pack(body)


def _deep_lists():
    value = 1.0
    for _ in range(100):
        value = [value]
    return _edit(("experiment", "learning_rate"), value)()


def _missing_model():
    body = _body(VALID_TRAINING)
    del body["experiment"]["model"]
    return _pack(body)


def _missing_linear_arg():
    body = _body(VALID_TRAINING)
    del body["experiment"]["model"]["layers"][1]["args"]["in_features"]
    return _pack(body)


def _training_with_weights():
    body = _body(VALID_TRAINING)
    body["weights"] = serialization.dump_envelope("weights", b"\x80")
    return _pack(body)


HOSTILE_PAYLOADS = [
    ("truncated", _truncated, SerializationError, "msgpack"),
    ("wrong kind", _wrong_kind, SerializationError, "expected 'experiment'"),
    ("bad checksum", _bad_checksum, SerializationError, "checksum"),
    (
        "payload not msgpack",
        lambda: serialization.dump_envelope("experiment", b"\xc1"),
        SerializationError,
        "msgpack",
    ),
    ("payload not a map", lambda: _pack([1, 2]), SerializationError, "map"),
    (
        "unknown layer type",
        _edit(("experiment", "model", "layers", 0, "type"), "Dropout"),
        SerializationError,
        "layer type",
    ),
    (
        "unknown enum member",
        _edit((*FORWARD, "noise_management", "value"), "LOUDEST"),
        SerializationError,
        "NoiseManagementType member",
    ),
    (
        "unknown enum class",
        _edit((*FORWARD, "noise_management", "enum"), "Signals"),
        SerializationError,
        "unknown enum",
    ),
    (
        "string for a number",
        _edit((*FORWARD, "inp_res"), "fine"),
        ConfigError,
        "inp_res",
    ),
    (
        "nan learning rate",
        _edit(("experiment", "learning_rate"), float("nan")),
        ConfigError,
        "finite",
    ),
    (
        "infinite config value",
        _edit((*FORWARD, "out_noise"), float("inf")),
        ConfigError,
        "finite",
    ),
    (
        "huge layer",
        _edit(("experiment", "model", "layers", 1, "args", "out_features"), 100_000),
        ConfigError,
        "8192",
    ),
    (
        "huge kernel",
        _edit(
            ("experiment", "model", "layers", 2),
            {"type": "MaxPool2d", "args": {"kernel_size": 99}},
        ),
        ConfigError,
        "at most 15",
    ),
    (
        "string for in_features",
        _edit(("experiment", "model", "layers", 1, "args", "in_features"), "784"),
        ConfigError,
        "int",
    ),
    ("missing layer argument", _missing_linear_arg, ConfigError, "in_features"),
    (
        "path as template",
        _edit(("experiment", "weight_template_id"), "/etc/passwd", VALID_INFERENCING),
        ConfigError,
        "never a path",
    ),
    (
        "url as template",
        _edit(
            ("experiment", "weight_template_id"),
            "http://127.0.0.1:1/weights",
            VALID_INFERENCING,
        ),
        ConfigError,
        "URL",
    ),
    (
        "unknown dataset",
        _edit(("experiment", "dataset"), "MNIST"),
        SerializationError,
        "data set",
    ),
    (
        "array dataset",
        _edit(("experiment", "dataset"), {"type": "ArrayDataset"}),
        SerializationError,
        "data set",
    ),
    (
        "unknown loss",
        _edit(("experiment", "loss_function"), "HingeLoss"),
        SerializationError,
        "loss",
    ),
    (
        "unknown experiment field",
        _edit(("experiment", "optimizer"), "adam"),
        SerializationError,
        "unknown keys ['optimizer']",
    ),
    (
        "unknown layer argument",
        _edit(("experiment", "model", "layers", 1, "args", "dropout"), 0.5),
        SerializationError,
        "unknown keys ['dropout']",
    ),
    (
        "unknown config field",
        _edit((*FORWARD, "gain"), 2.0),
        SerializationError,
        "unknown keys ['gain']",
    ),
    (
        "unknown top-level key",
        _edit(("script",), "import os"),
        SerializationError,
        "unknown keys ['script']",
    ),
    (
        "config type not allowed",
        _edit(
            ("experiment", "model", "layers", 1, "args", "rpu_config"),
            {"type": "Popen", "fields": {"args": "ls"}},
        ),
        SerializationError,
        "config type",
    ),
    (
        "parameter as rpu_config",
        _edit(
            ("experiment", "model", "layers", 1, "args", "rpu_config"),
            {"type": "IOParameters", "fields": {}},
        ),
        ConfigError,
        "rpu_config",
    ),
    (
        "bytes as value",
        _edit(("experiment", "batch_size"), b"\x00"),
        SerializationError,
        "not a value",
    ),
    (
        "too many epochs",
        _edit(("experiment", "epochs"), 1000),
        ConfigError,
        "at most 100",
    ),
    (
        "batch size zero",
        _edit(("experiment", "batch_size"), 0),
        ConfigError,
        "batch_size",
    ),
    (
        "batch size too large",
        _edit(("experiment", "batch_size"), 20_000),
        ConfigError,
        "at most 10000",
    ),
    (
        "too many repeats",
        _edit(("experiment", "inference_repeats"), 1000, VALID_INFERENCING),
        ConfigError,
        "at most 256",
    ),
    (
        "inference time too long",
        _edit(("experiment", "inference_time"), 1e12, VALID_INFERENCING),
        ConfigError,
        "inference_time",
    ),
    ("too many layers", _many_layers, ConfigError, "64 layers"),
    ("containers too deep", _deep_nesting, ConfigError, "8 levels"),
    ("lists too deep", _deep_lists, SerializationError, "64 levels"),
    ("missing model", _missing_model, SerializationError, "missing keys ['model']"),
    (
        "category mismatch",
        _edit(("category",), "inference"),
        SerializationError,
        "category",
    ),
    (
        "overlong string",
        _edit(("experiment", "dataset"), "x" * 5000),
        SerializationError,
        "limits",
    ),
    ("training with weights", _training_with_weights, ConfigError, "training"),
    (
        "weights not an envelope",
        _edit(("weights",), b"raw weights", VALID_INFERENCING),
        SerializationError,
        "envelope",
    ),
    (
        "analog info alone",
        _edit(("analog_info",), ANALOG_INFO, VALID_INFERENCING),
        ConfigError,
        "together",
    ),
]


@pytest.mark.parametrize(
    ("make", "error", "word"),
    [case[1:] for case in HOSTILE_PAYLOADS],
    ids=[case[0] for case in HOSTILE_PAYLOADS],
)
def test_hostile_payload_is_rejected(make, error, word):
    with pytest.raises(error, match=re.escape(word)):
        codec.decode_experiment(make())


def test_hostile_cases_are_distinct():
    assert len(HOSTILE_PAYLOADS) >= 20
    assert len({case[0] for case in HOSTILE_PAYLOADS}) == len(HOSTILE_PAYLOADS)


def test_rejection_names_the_path():
    make = _edit((*FORWARD, "noise_management", "value"), "LOUDEST")
    path = (
        "experiment.model.layers[1].args.rpu_config.fields.forward.fields"
        ".noise_management.value"
    )
    with pytest.raises(SerializationError, match=re.escape(path)):
        codec.decode_experiment(make())


def test_invalid_analog_info_is_rejected_on_upload():
    make = _edit(("analog_info",), {**ANALOG_INFO, "adc": 40}, VALID_INFERENCING)

    def with_noise_model():
        body = msgpack.unpackb(serialization.load_envelope(make(), "experiment"))
        body["noise_model_info"] = NOISE_MODEL_INFO
        return _pack(body)

    with pytest.raises(ConfigError, match=re.escape("[2, 32]")):
        codec.decode_experiment(with_noise_model())


def test_floating_point_config_round_trips():
    experiment = _training(model=_small_model(FloatingPointRPUConfig()))
    decoded = _round_trip(experiment)
    assert decoded.experiment == experiment


def test_uploads_reject_models_too_large_in_total():
    layers = [AnalogLinear(8192, 8192, rpu_config=FloatingPointRPUConfig())] * 3
    model = AnalogSequential(
        Flatten(), AnalogLinear(784, 8192), *layers, AnalogLinear(8192, 10)
    )
    data = codec.encode_experiment(BasicTraining(dataset=FashionMNIST, model=model))
    with pytest.raises(ConfigError, match=r"contains \d+ numbers.*at most 16777216"):
        codec.decode_experiment(data)
    # Trusted data (a local file) is not limited.
    assert codec.decode_experiment(data, trusted=True).category == "train"


def test_uploads_reject_layers_that_do_not_fit():
    model = AnalogSequential(Flatten(), AnalogLinear(100, 10), LogSoftmax(dim=1))
    data = codec.encode_experiment(BasicTraining(dataset=FashionMNIST, model=model))
    with pytest.raises(ConfigError, match="got inputs with 784 features"):
        codec.decode_experiment(data)


def test_envelope_header_cannot_claim_huge_arrays():
    # A msgpack array header claiming 60 million items, with little data.
    data = b"\xdd" + (60 * 2**20).to_bytes(4, "big") + b"\xc0" * 1000
    with pytest.raises(SerializationError, match="not a msgpack envelope"):
        serialization.load_envelope(data, "experiment")


def test_round_trip_svhn_dataset():
    model = AnalogSequential(Flatten(), AnalogLinear(32 * 32 * 3, 10), LogSoftmax())
    decoded = _round_trip(BasicTraining(dataset=SVHN, model=model))
    assert decoded.experiment.dataset is SVHN

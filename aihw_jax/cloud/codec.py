"""Experiments as plain msgpack data: the payload the Composer service stores and runs.

The payload is a msgpack map inside an envelope of kind ``"experiment"``
(:mod:`aihw_jax.serialization`)::

    {"category": "train" | "inference",
     "experiment": {"type": "BasicTraining" | "BasicInferencing",
                    "dataset": "FashionMNIST" | "SVHN",
                    "loss_function": "NLLLoss" | "CrossEntropyLoss" | ...,
                    "model": <module>, <every other field>: <value>},
     "analog_info": dict | None, "noise_model_info": dict | None,
     "weights": <weights envelope bytes> | None}

A module is ``{"type": "AnalogSequential", "layers": [<module>, ...]}`` or
``{"type": "AnalogLinear", "args": {field: value}}`` with the layer's
dataclass fields except ``parent`` and ``name``. A config or parameter
dataclass is ``{"type": ClassName, "fields": {...}}``, an enum member is
``{"enum": EnumClassName, "value": member name}``, and a tuple is a list.
The payload contains no pickles and no code. The decoder builds objects
only from the allow-lists below, and every constructor runs its own checks.

Decoding with ``trusted=False`` (what the service does with uploads) adds
the limits ``MAX_*`` of this module, accepts only a shipped
``weight_template_id`` and rejects NaN and infinite numbers.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

import flax.linen as nn
import jax
import msgpack
import numpy as np

from aihw_jax import datasets, inference, nn as analog_nn, serialization
from aihw_jax.cloud import api, converter
from aihw_jax.errors import ConfigError, SerializationError
from aihw_jax.experiments import BasicInferencing, BasicTraining
from aihw_jax.experiments.templates import SHIPPED_TEMPLATES
from aihw_jax.simulator import configs

__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_EPOCHS",
    "MAX_FEATURES",
    "MAX_INFERENCE_REPEATS",
    "MAX_INFERENCE_TIME",
    "MAX_KERNEL_SIZE",
    "MAX_LAYERS",
    "MAX_NESTING",
    "MAX_VARIABLES",
    "DecodedExperiment",
    "category_of",
    "check_data",
    "decode_experiment",
    "encode_experiment",
    "unpack_bounded",
]

MAX_LAYERS = 64
"""Modules in one model, containers included."""
MAX_NESTING = 8
"""Depth of nested ``AnalogSequential`` containers (the model itself is 1)."""
MAX_FEATURES = 8192
"""Largest ``in_features``, ``out_features``, channel count or unflattened size."""
MAX_KERNEL_SIZE = 15
"""Largest kernel size, stride, padding, dilation or output padding of a layer."""
MAX_EPOCHS = 100
"""Largest ``epochs`` of a training experiment."""
MAX_BATCH_SIZE = 10000
"""Largest ``batch_size``."""
MAX_INFERENCE_REPEATS = 256
"""Largest ``inference_repeats`` of an inference experiment."""
MAX_VARIABLES = 16 * 1024 * 1024
"""Maximum count of numbers in a model's variables (weights, tile state, biases): 64 MB."""
MAX_INFERENCE_TIME = 1e9
"""Largest ``inference_time``, in seconds."""

MAX_STRING_LENGTH = 4096
MAX_ARRAY_LENGTH = 4096
MAX_MAP_LENGTH = 256
MAX_DATA_DEPTH = 64
"""Nesting of maps and lists in the decoded msgpack data."""

FEATURE_ARGS = (
    "in_features",
    "out_features",
    "in_channels",
    "out_channels",
    "num_features",
)
KERNEL_ARGS = ("kernel_size", "stride", "padding", "dilation", "output_padding")

EXPERIMENTS: dict[str, tuple[type, str]] = {
    "BasicTraining": (BasicTraining, "train"),
    "BasicInferencing": (BasicInferencing, "inference"),
}
"""Experiment classes and their categories, by type name."""

DATASETS = {"FashionMNIST": datasets.FashionMNIST, "SVHN": datasets.SVHN}
"""Data sets that a payload can name."""

LOSSES = {
    name: getattr(analog_nn, name)
    for name in ("BCELoss", "CrossEntropyLoss", "MSELoss", "NLLLoss")
}
"""Loss classes, by name."""

LAYERS: dict[str, type] = {
    name: getattr(analog_nn, name)
    for name in analog_nn.__all__
    if isinstance(getattr(analog_nn, name), type)
    and issubclass(getattr(analog_nn, name), nn.Module)
}
"""Layer classes of ``aihw_jax.nn``, by name."""

_INFERENCE_CLASSES = (
    inference.PCMLikeNoiseModel,
    inference.StateIndependentNoiseModel,
    inference.GlobalDriftCompensation,
    inference.GlobalDriftCompensationWithExactReference,
    inference.PerColumnDriftCompensation,
    inference.SinglePairConductanceConverter,
)

CONFIGS: dict[str, type] = {
    **{
        name: getattr(configs, name)
        for name in configs.__all__
        if dataclasses.is_dataclass(getattr(configs, name))
    },
    **{cls.__name__: cls for cls in _INFERENCE_CLASSES},
}
"""RPU configs, parameter, device, compound, noise-model and compensation classes.

Every dataclass exported by ``aihw_jax.simulator.configs`` is here, so a
new config class or field needs no change in this module.
"""

ENUMS: dict[str, type[enum.Enum]] = {
    name: getattr(configs, name)
    for name in configs.__all__
    if isinstance(getattr(configs, name), type)
    and issubclass(getattr(configs, name), enum.Enum)
}
"""Enum classes of the configs, by name."""

RPU_CONFIGS = (
    configs.SingleRPUConfig,
    configs.FloatingPointRPUConfig,
    configs.UnitCellRPUConfig,
    configs.DigitalRankUpdateRPUConfig,
    configs.InferenceRPUConfig,
)
"""Classes that a layer's ``rpu_config`` may have."""


@dataclasses.dataclass(frozen=True)
class DecodedExperiment:
    """An experiment payload, decoded and checked.

    Attributes:
        experiment: the ``BasicTraining`` or ``BasicInferencing``.
        category: ``"train"`` or ``"inference"``.
        analog_info: the Composer's periphery settings (inference only).
        noise_model_info: the Composer's noise model settings (inference only).
        weights: trained variables in a weights envelope (inference only).
    """

    experiment: BasicTraining | BasicInferencing
    category: str
    analog_info: dict | None = None
    noise_model_info: dict | None = None
    weights: bytes | None = None


def category_of(experiment: Any) -> str:
    """Return ``"train"`` for a BasicTraining and ``"inference"`` for a BasicInferencing.

    Raises:
        ConfigError: for any other object.
    """
    for cls, category in EXPERIMENTS.values():
        if type(experiment) is cls:
            return category
    raise ConfigError(
        "The cloud runs BasicTraining and BasicInferencing experiments, got "
        f"{type(experiment).__name__}."
    )


def _check_attachments(
    category: str,
    analog_info: Any,
    noise_model_info: Any,
    weights: Any,
) -> tuple[dict | None, dict | None]:
    """Check the info dicts and the weights that travel with an experiment."""
    attached = [
        name
        for name, value in (
            ("analog_info", analog_info),
            ("noise_model_info", noise_model_info),
            ("weights", weights),
        )
        if value is not None
    ]
    if category == "train" and attached:
        raise ConfigError(
            f"A training experiment cannot carry {', '.join(attached)}: training "
            "starts from freshly initialised weights with the layers' own "
            "configs. Remove them, or use a BasicInferencing."
        )
    if (analog_info is None) != (noise_model_info is None):
        raise ConfigError(
            "`analog_info` and `noise_model_info` must be given together; got "
            f"only {'analog_info' if analog_info is not None else 'noise_model_info'}."
        )
    if weights is not None:
        if not isinstance(weights, bytes):
            raise SerializationError(
                f"`weights` must be bytes from serialization.variables_to_bytes, "
                f"got {type(weights).__name__}."
            )
        try:
            serialization.load_envelope(weights, "weights")
        except SerializationError as error:
            raise SerializationError(f"`weights`: {error}") from error
    if analog_info is None:
        return None, None
    return converter.check_info(analog_info, noise_model_info)


def encode_experiment(
    experiment: BasicTraining | BasicInferencing,
    *,
    analog_info: dict | None = None,
    noise_model_info: dict | None = None,
    weights: bytes | None = None,
) -> bytes:
    """Encode an experiment and its attachments as a payload envelope.

    Args:
        experiment: a BasicTraining or BasicInferencing on FashionMNIST or SVHN.
        analog_info: the Composer's periphery settings, for inference.
        noise_model_info: the Composer's noise model settings, for inference.
        weights: trained variables (``serialization.variables_to_bytes``) that
            an inference evaluates instead of its ``weight_template_id``.

    Raises:
        SerializationError: if the experiment contains a value that the
            payload cannot carry, such as another data set or a custom layer
            or config class. The message names its path.
        ConfigError: if the attachments are invalid or do not fit the category.
    """
    category = category_of(experiment)
    analog_info, noise_model_info = _check_attachments(
        category, analog_info, noise_model_info, weights
    )
    body = {
        "category": category,
        "experiment": _encode_experiment(experiment),
        "analog_info": analog_info,
        "noise_model_info": noise_model_info,
        "weights": weights,
    }
    return serialization.dump_envelope(
        "experiment", msgpack.packb(body, use_bin_type=True)
    )


def _encode_experiment(experiment: Any) -> dict[str, Any]:
    path = "experiment"
    encoded: dict[str, Any] = {"type": type(experiment).__name__}
    for field in dataclasses.fields(experiment):
        value = getattr(experiment, field.name)
        where = f"{path}.{field.name}"
        if field.name == "dataset":
            encoded[field.name] = _registered_name(value, DATASETS, where, "data set")
        elif field.name == "loss_function":
            loss = value if isinstance(value, type) else type(value)
            if not isinstance(value, type) and dataclasses.fields(value):
                raise SerializationError(
                    f"`{where}`: a loss with fields cannot be sent; use a class."
                )
            encoded[field.name] = _registered_name(loss, LOSSES, where, "loss")
        elif field.name == "model":
            encoded[field.name] = _encode_module(value, where)
        else:
            encoded[field.name] = _encode_value(value, where)
    return encoded


def _registered_name(value: Any, registry: dict[str, Any], path: str, kind: str):
    for name, registered in registry.items():
        if value is registered:
            return name
    raise SerializationError(
        f"`{path}`: the {kind} {value!r} cannot be sent; use one of {sorted(registry)}."
    )


def _module_fields(cls: type) -> tuple[dataclasses.Field, ...]:
    return tuple(
        field
        for field in dataclasses.fields(cls)
        if field.init and field.name not in ("parent", "name")
    )


def _encode_module(module: Any, path: str) -> dict[str, Any]:
    name = _registered_name(type(module), LAYERS, path, "layer class")
    if type(module) is analog_nn.AnalogSequential:
        return {
            "type": name,
            "layers": [
                _encode_module(layer, f"{path}.layers[{index}]")
                for index, layer in enumerate(module.layers)
            ],
        }
    args = {
        field.name: _encode_value(
            getattr(module, field.name), f"{path}.args.{field.name}"
        )
        for field in _module_fields(type(module))
    }
    return {"type": name, "args": args}


def _encode_value(value: Any, path: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        name = _registered_name(type(value), ENUMS, path, "enum")
        return {"enum": name, "value": value.name}
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (np.generic, np.ndarray, jax.Array)):
        array = np.asarray(value)
        if array.ndim == 0 and array.dtype.kind in "biuf":
            return array.item()
    if isinstance(value, (tuple, list)):
        return [_encode_value(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = _registered_name(type(value), CONFIGS, path, "config class")
        fields = {
            field.name: _encode_value(
                getattr(value, field.name), f"{path}.fields.{field.name}"
            )
            for field in dataclasses.fields(value)
            if field.init
        }
        return {"type": name, "fields": fields}
    raise SerializationError(
        f"`{path}`: cannot encode {type(value).__name__} {value!r}; a payload "
        "carries numbers, strings, booleans, None, tuples, enums and the "
        "config classes of aihw_jax."
    )


def decode_experiment(data: bytes, *, trusted: bool = False) -> DecodedExperiment:
    """Decode and check a payload envelope from :func:`encode_experiment`.

    Args:
        data: the envelope bytes.
        trusted: False for data from strangers (the service's uploads): then
            the ``MAX_*`` limits apply, numbers must be finite, and
            ``weight_template_id`` must be "" or a shipped template id,
            never a local path or a URL.

    Raises:
        SerializationError: if the data is not a valid envelope, or if its
            structure, a type name or an enum name is not allowed. The
            message names the path of the bad value, such as
            ``experiment.model.layers[2].args.rpu_config``.
        ConfigError: if a value is invalid or over a limit; the message names
            its path, and a constructor's own message follows it.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SerializationError(
            f"An experiment payload must be bytes, got {type(data).__name__}."
        )
    data = bytes(data)
    if not trusted and len(data) > api.MAX_PAYLOAD_BYTES:
        raise SerializationError(
            f"The experiment payload has {len(data)} bytes, more than the "
            f"{api.MAX_PAYLOAD_BYTES} allowed."
        )
    body = unpack_bounded(serialization.load_envelope(data, "experiment"))
    check_data(body, "", finite=not trusted)
    body = _expect_map(body, "payload")
    _check_keys(
        body,
        "payload",
        required=("category", "experiment"),
        optional=("analog_info", "noise_model_info", "weights"),
    )
    experiment = _Decoder(trusted).experiment(body["experiment"], "experiment")
    category = category_of(experiment)
    if body["category"] != category:
        raise SerializationError(
            f"`category` is {body['category']!r}, but the experiment is a "
            f"{type(experiment).__name__}, whose category is {category!r}."
        )
    analog_info, noise_model_info = _check_attachments(
        category,
        body.get("analog_info"),
        body.get("noise_model_info"),
        body.get("weights"),
    )
    if not trusted:
        _check_model_size(experiment)
    return DecodedExperiment(
        experiment=experiment,
        category=category,
        analog_info=analog_info,
        noise_model_info=noise_model_info,
        weights=body.get("weights"),
    )


def _check_model_size(experiment: Any) -> None:
    """Raise ConfigError if the model's variables hold more than MAX_VARIABLES numbers.

    The per-field limits allow models far too large for any worker (dozens
    of 8192 x 8192 layers), so the total is checked too. The shapes come
    from tracing the model's initialisation; nothing is allocated.
    """
    try:
        shapes = jax.eval_shape(lambda: experiment.init_variables(jax.random.key(0)))
    except ConfigError:
        raise
    except Exception as error:  # layers that do not fit each other
        raise ConfigError(
            f"The model cannot be built for the inputs of "
            f"{getattr(experiment.dataset, '__name__', experiment.dataset)}: "
            f"{str(error).strip() or type(error).__name__}"
        ) from error
    total = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes))
    if total > MAX_VARIABLES:
        raise ConfigError(
            f"The model contains {total} numbers in its variables; the service "
            f"accepts at most {MAX_VARIABLES}. Use fewer or smaller layers."
        )


def unpack_bounded(payload: bytes) -> Any:
    """Unpack msgpack bytes with bounded string, binary, array and map sizes.

    Raises:
        SerializationError: if the bytes are not msgpack or exceed a bound.
    """
    try:
        return msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=True,
            max_str_len=MAX_STRING_LENGTH,
            max_bin_len=api.MAX_PAYLOAD_BYTES,
            max_array_len=MAX_ARRAY_LENGTH,
            max_map_len=MAX_MAP_LENGTH,
            max_ext_len=0,
        )
    except Exception as error:  # msgpack raises several unrelated types
        detail = str(error).rstrip(".") or type(error).__name__
        raise SerializationError(
            f"The payload is not valid msgpack within the limits (strings of "
            f"{MAX_STRING_LENGTH} characters, lists of {MAX_ARRAY_LENGTH} items, "
            f"maps of {MAX_MAP_LENGTH} keys): {detail}."
        ) from error


def check_data(data: Any, path: str, *, finite: bool) -> None:
    """Check the nesting depth and, if ``finite``, that every float is finite.

    The walk uses its own stack, so deep data cannot exhaust Python's.

    Raises:
        SerializationError: if maps and lists nest more than MAX_DATA_DEPTH deep.
        ConfigError: if ``finite`` and a number is NaN or infinite.
    """
    stack = [(data, path, 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DATA_DEPTH:
            raise SerializationError(
                f"`{where}`: the data nests more than {MAX_DATA_DEPTH} levels deep."
            )
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append((item, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((item, f"{where}[{index}]", depth + 1))
        elif finite and isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(
                f"`{where}` is {value!r}; a payload accepts finite numbers only."
            )


def _expect_map(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise SerializationError(
            f"`{path}` must be a map, got {type(value).__name__} {_short(value)}."
        )
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_keys(
    mapping: dict, path: str, *, required: tuple[str, ...], optional=()
) -> None:
    allowed = list(dict.fromkeys((*required, *optional)))
    missing = [key for key in required if key not in mapping]
    unknown = sorted(repr(key) for key in mapping if key not in allowed)
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unknown:
        problems.append(f"unknown keys [{', '.join(unknown)}]")
    if problems:
        raise SerializationError(
            f"`{path}` has {' and '.join(problems)}; the allowed keys are {allowed}."
        )


def _lookup(registry: dict[str, Any], name: Any, path: str, kind: str) -> Any:
    if not isinstance(name, str) or name not in registry:
        raise SerializationError(
            f"`{path}`: unknown {kind} {_short(name)}; allowed are {sorted(registry)}."
        )
    return registry[name]


def _construct(cls: type, kwargs: dict[str, Any], path: str) -> Any:
    """Call ``cls(**kwargs)``, prefixing a validation error with ``path``."""
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise ConfigError(f"`{path}`: {error}") from error
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"`{path}`: invalid arguments for {cls.__name__}: {error}."
        ) from error


class _Decoder:
    """Builds objects from decoded msgpack data, counting the layers it builds."""

    def __init__(self, trusted: bool) -> None:
        self.trusted = trusted
        self.layer_count = 0

    def experiment(self, raw: Any, path: str) -> Any:
        mapping = _expect_map(raw, path)
        cls, _ = _lookup(EXPERIMENTS, mapping.get("type"), f"{path}.type", "type")
        names = tuple(field.name for field in dataclasses.fields(cls))
        _check_keys(
            mapping, path, required=("type", "dataset", "model"), optional=names
        )
        kwargs = {}
        for name, value in mapping.items():
            where = f"{path}.{name}"
            if name == "dataset":
                kwargs[name] = _lookup(DATASETS, value, where, "data set")
            elif name == "loss_function":
                kwargs[name] = _lookup(LOSSES, value, where, "loss")
            elif name == "model":
                kwargs[name] = self.module(value, where, nesting=1)
            elif name != "type":
                kwargs[name] = self.value(value, where)
        experiment = _construct(cls, kwargs, path)
        if not self.trusted:
            _check_experiment_limits(experiment, path)
        return experiment

    def module(self, raw: Any, path: str, nesting: int) -> nn.Module:
        mapping = _expect_map(raw, path)
        cls = _lookup(LAYERS, mapping.get("type"), f"{path}.type", "layer type")
        self.layer_count += 1
        if not self.trusted and self.layer_count > MAX_LAYERS:
            raise ConfigError(
                f"`{path}`: the model has more than {MAX_LAYERS} layers, the most "
                "a payload may contain."
            )
        if cls is analog_nn.AnalogSequential:
            return self._sequential(mapping, path, nesting)
        _check_keys(mapping, path, required=("type",), optional=("args",))
        args = _expect_map(mapping.get("args", {}), f"{path}.args")
        names = tuple(field.name for field in _module_fields(cls))
        _check_keys(args, f"{path}.args", required=(), optional=names)
        kwargs = {
            name: self.value(value, f"{path}.args.{name}")
            for name, value in args.items()
        }
        _check_layer_args(cls, kwargs, f"{path}.args", self.trusted)
        return _construct(cls, kwargs, path)

    def _sequential(self, mapping: dict, path: str, nesting: int) -> nn.Module:
        if not self.trusted and nesting > MAX_NESTING:
            raise ConfigError(
                f"`{path}`: AnalogSequential containers nest more than "
                f"{MAX_NESTING} levels deep."
            )
        _check_keys(mapping, path, required=("type", "layers"))
        layers = mapping["layers"]
        if not isinstance(layers, list):
            raise SerializationError(
                f"`{path}.layers` must be a list of modules, got "
                f"{type(layers).__name__}."
            )
        children = tuple(
            self.module(layer, f"{path}.layers[{index}]", nesting + 1)
            for index, layer in enumerate(layers)
        )
        return analog_nn.AnalogSequential(layers=children)

    def value(self, raw: Any, path: str) -> Any:
        if raw is None or isinstance(raw, (bool, int, float, str)):
            return raw
        if isinstance(raw, list):
            return tuple(
                self.value(item, f"{path}[{index}]") for index, item in enumerate(raw)
            )
        if isinstance(raw, dict) and "enum" in raw:
            return self._enum(raw, path)
        if isinstance(raw, dict) and "type" in raw:
            return self._config(raw, path)
        raise SerializationError(
            f"`{path}`: {type(raw).__name__} {_short(raw)} is not a value; expected "
            "a number, string, boolean, None, list, {'enum', 'value'} or "
            "{'type', 'fields'}."
        )

    def _enum(self, raw: dict, path: str) -> enum.Enum:
        _check_keys(raw, path, required=("enum", "value"))
        cls = _lookup(ENUMS, raw["enum"], f"{path}.enum", "enum")
        return _lookup(
            dict(cls.__members__),
            raw["value"],
            f"{path}.value",
            f"{cls.__name__} member",
        )

    def _config(self, raw: dict, path: str) -> Any:
        _check_keys(raw, path, required=("type",), optional=("fields",))
        cls = _lookup(CONFIGS, raw["type"], f"{path}.type", "config type")
        fields = _expect_map(raw.get("fields", {}), f"{path}.fields")
        names = tuple(field.name for field in dataclasses.fields(cls) if field.init)
        _check_keys(fields, f"{path}.fields", required=(), optional=names)
        kwargs = {
            name: self.value(value, f"{path}.fields.{name}")
            for name, value in fields.items()
        }
        _check_annotations(cls, kwargs, f"{path}.fields")
        return _construct(cls, kwargs, path)


_SIMPLE_TYPES = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "None": lambda v: v is None,
}


def _check_annotations(cls: type, kwargs: dict[str, Any], path: str) -> None:
    """Raise ConfigError for a value whose type the field's annotation excludes.

    Only annotations made of ``int``, ``float``, ``bool``, ``str`` and
    ``None`` are checked; the constructors check the others.
    """
    annotations = {field.name: field.type for field in dataclasses.fields(cls)}
    for name, value in kwargs.items():
        annotation = annotations.get(name)
        if not isinstance(annotation, str):
            continue
        options = [option.strip() for option in annotation.split("|")]
        if not all(option in _SIMPLE_TYPES for option in options):
            continue
        if not any(_SIMPLE_TYPES[option](value) for option in options):
            raise ConfigError(
                f"`{path}.{name}` must be of type {' or '.join(options)}, got "
                f"{_short(value)}."
            )


def _check_layer_args(
    cls: type, kwargs: dict[str, Any], path: str, trusted: bool
) -> None:
    """Check a layer's argument types and, unless ``trusted``, its size limits."""
    _check_annotations(cls, kwargs, path)
    config = kwargs.get("rpu_config")
    if config is not None and not isinstance(config, RPU_CONFIGS):
        names = ", ".join(kind.__name__ for kind in RPU_CONFIGS)
        raise ConfigError(
            f"`{path}.rpu_config` must be one of {names} or None, got "
            f"{type(config).__name__}."
        )
    if trusted:
        return
    for name in FEATURE_ARGS:
        if isinstance(kwargs.get(name), int) and kwargs[name] > MAX_FEATURES:
            raise ConfigError(
                f"`{path}.{name}` is {kwargs[name]}; a payload allows at most "
                f"{MAX_FEATURES}."
            )
    for name in KERNEL_ARGS:
        _check_small_ints(kwargs.get(name), f"{path}.{name}", MAX_KERNEL_SIZE)
    _check_small_ints(
        kwargs.get("unflattened_size"), f"{path}.unflattened_size", MAX_FEATURES
    )
    fan_in = kwargs.get("init_fan_in")
    if isinstance(fan_in, int) and fan_in > MAX_FEATURES * MAX_KERNEL_SIZE**2:
        raise ConfigError(
            f"`{path}.init_fan_in` is {fan_in}; a payload allows at most "
            f"{MAX_FEATURES * MAX_KERNEL_SIZE**2}."
        )


def _check_small_ints(value: Any, path: str, limit: int) -> None:
    """Raise unless ``value`` is absent, a string, or integers of at most ``limit``."""
    if value is None or isinstance(value, str):
        return
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ConfigError(
                f"`{path}` must be an integer or a list of integers, got "
                f"{_short(value)}."
            )
        if item > limit:
            raise ConfigError(
                f"`{path}` is {_short(value)}; a payload allows at most {limit}."
            )


def _check_experiment_limits(experiment: Any, path: str) -> None:
    """Raise ConfigError if an untrusted experiment exceeds a size or time limit."""
    limits = [("batch_size", MAX_BATCH_SIZE)]
    if isinstance(experiment, BasicTraining):
        limits.append(("epochs", MAX_EPOCHS))
    else:
        limits += [
            ("inference_repeats", MAX_INFERENCE_REPEATS),
            ("inference_time", MAX_INFERENCE_TIME),
        ]
    for name, limit in limits:
        value = getattr(experiment, name)
        if value > limit:
            raise ConfigError(
                f"`{path}.{name}` is {value!r}; a payload allows at most {limit:g}."
            )
    template = getattr(experiment, "weight_template_id", "")
    if template and template not in SHIPPED_TEMPLATES:
        raise ConfigError(
            f"`{path}.weight_template_id` is {_short(template)}; uploads accept "
            f"only '' or a shipped template id {sorted(SHIPPED_TEMPLATES)}, never "
            "a path or a URL. Attach the trained weights to the payload instead."
        )

"""Build experiments from the builder form of the web app.

The form has plain string fields. :func:`build` parses them, builds a
``BasicTraining`` or ``BasicInferencing`` from a model template and a
preset, encodes it with :func:`codec.encode_experiment` and checks the
payload with ``codec.decode_experiment(..., trusted=False)``, the check that
API uploads pass. Errors come back per form field, so the page can show each
message next to its input.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from aihw_jax.cloud import converter
from aihw_jax.cloud.service.validation import control_character_problem
from aihw_jax.errors import AihwError

__all__ = [
    "DATASETS",
    "INFERENCE_TEMPLATES",
    "MODELS",
    "BuildResult",
    "build",
    "default_form",
    "preset_names",
]

logger = logging.getLogger(__name__)

DATASETS = ("FashionMNIST", "SVHN")
"""Data sets the builder offers."""

MODELS = {
    "three_layer": "3-layer network (784-256-128-10, sigmoid)",
    "lenet5": "LeNet-5 (mapped convolutions, Fashion-MNIST only)",
}
"""Model templates of training experiments, with their labels."""

INFERENCE_TEMPLATES = ("hwa-trained-lenet5-mapped",)
"""Shipped weight templates that an inference experiment can evaluate."""

DEFAULT_PRESET = "ReRamESPreset"
MAX_NAME_LENGTH = 200

_NUMBER_FIELDS: dict[str, tuple[type, float, float]] = {
    "epochs": (int, 1, 100),
    "batch_size": (int, 1, 10000),
    "learning_rate": (float, 0.0, 1e3),
    "max_elements": (int, 0, 2**31 - 1),
    "seed": (int, 0, 2**31 - 1),
    "inference_repeats": (int, 1, 256),
    "inference_time": (float, 1.0, 1e9),
    "output_noise_strength": (float, 0.0, 1e3),
    "adc": (int, converter.MIN_BITS, converter.MAX_BITS),
    "dac": (int, converter.MIN_BITS, converter.MAX_BITS),
    "programming_noise_scale": (float, 0.0, 1e3),
    "read_noise_scale": (float, 0.0, 1e3),
    "drift_scale": (float, 0.0, 1e3),
    "poly_constant_coef": (float, -1e3, 1e3),
    "poly_first_order_coef": (float, -1e3, 1e3),
    "poly_second_order_coef": (float, -1e3, 1e3),
    "drift_mean": (float, 0.0, 1e3),
    "drift_std": (float, 0.0, 1e3),
}
"""Numeric fields: type, lower and upper bound (inclusive).

Learning rate is the exception: it must be strictly positive. The codec
re-checks the experiment limits it defines (epochs, batch size, repeats,
inference time), so these bounds only catch input mistakes early.
"""

TRAIN_FIELDS = ("epochs", "batch_size", "learning_rate", "max_elements", "seed")
INFERENCE_FIELDS = (
    "batch_size",
    "max_elements",
    "seed",
    "inference_repeats",
    "inference_time",
    "output_noise_strength",
    "adc",
    "dac",
    "programming_noise_scale",
    "read_noise_scale",
    "drift_scale",
    "poly_constant_coef",
    "poly_first_order_coef",
    "poly_second_order_coef",
    "drift_mean",
    "drift_std",
)


@dataclasses.dataclass(frozen=True)
class BuildResult:
    """Outcome of :func:`build`: a payload, or messages by form field.

    Attributes:
        errors: message per field name; ``"form"`` contains one that fits no field.
        name: experiment name.
        category: ``"train"`` or ``"inference"``.
        payload: the encoded and checked experiment envelope.
        job: ``device``, ``max_elements`` and ``seed`` of the job to create.
    """

    errors: dict[str, str]
    name: str = ""
    category: str = ""
    payload: bytes = b""
    job: dict[str, Any] = dataclasses.field(default_factory=dict)


def preset_names() -> list[str]:
    """Return the names of the tile-config presets, sorted."""
    from aihw_jax.simulator import presets

    return sorted(
        name
        for name in presets.__all__
        if name.endswith("Preset") and callable(getattr(presets, name))
    )


def _bits(resolution: float) -> int:
    return round(math.log2(1.0 / resolution + 2.0))


def default_form() -> dict[str, str]:
    """Return the builder's initial values, taken from the library's defaults."""
    from aihw_jax import inference
    from aihw_jax.simulator.presets.web import WebComposerInferenceRPUConfig

    pcm = inference.PCMLikeNoiseModel()
    generic = inference.StateIndependentNoiseModel()
    forward = WebComposerInferenceRPUConfig().forward
    values: dict[str, Any] = {
        "name": "",
        "category": "train",
        "dataset": "FashionMNIST",
        "model": "three_layer",
        "preset": DEFAULT_PRESET,
        "device": "cpu",
        "epochs": 1,
        "batch_size": 64,
        "learning_rate": 0.05,
        "max_elements": 1000,
        "seed": 0,
        "template": INFERENCE_TEMPLATES[0],
        "inference_repeats": 2,
        "inference_time": 86400.0,
        "output_noise_strength": forward.out_noise,
        "adc": _bits(forward.out_res),
        "dac": _bits(forward.inp_res),
        "device_id": "pcm",
        "programming_noise_scale": pcm.prog_noise_scale,
        "read_noise_scale": pcm.read_noise_scale,
        "drift_scale": pcm.drift_scale,
        "drift_compensation": "on",
        "poly_constant_coef": pcm.prog_coeff[0],
        "poly_first_order_coef": pcm.prog_coeff[1],
        "poly_second_order_coef": pcm.prog_coeff[2],
        "drift_mean": generic.drift_nu_mean,
        "drift_std": generic.drift_nu_std,
    }
    return {key: str(value) for key, value in values.items()}


def _parse_numbers(
    form: dict[str, str], names: tuple[str, ...], errors: dict[str, str]
) -> dict[str, Any]:
    numbers: dict[str, Any] = {}
    for name in names:
        kind, low, high = _NUMBER_FIELDS[name]
        text = form.get(name, "").strip()
        try:
            value = kind(text)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            errors[name] = f"Enter {noun}."
            continue
        too_low = value <= low if name == "learning_rate" else value < low
        if not math.isfinite(value) or too_low or value > high:
            relation = ">" if name == "learning_rate" else ">="
            errors[name] = f"Must be {relation} {low:g} and <= {high:g}."
            continue
        numbers[name] = value
    return numbers


def _choice(
    form: dict[str, str], name: str, options, errors: dict[str, str]
) -> str | None:
    value = form.get(name, "")
    if value not in options:
        errors[name] = f"Choose one of: {', '.join(options)}."
        return None
    return value


def build(form: dict[str, str]) -> BuildResult:
    """Build, encode and check the experiment that ``form`` describes."""
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        errors["name"] = f"Enter a name of 1 to {MAX_NAME_LENGTH} characters."
    elif problem := control_character_problem(name, "Name"):
        errors["name"] = problem
    category = _choice(form, "category", ("train", "inference"), errors)
    device = _choice(form, "device", ("cpu", "gpu"), errors)
    if category is None:
        return BuildResult(errors)
    if category == "train":
        numbers = _parse_numbers(form, TRAIN_FIELDS, errors)
        make = _training_maker(form, numbers, errors)
    else:
        numbers = _parse_numbers(form, INFERENCE_FIELDS, errors)
        make = _inference_maker(form, numbers, errors)
    if errors:
        return BuildResult(errors)
    try:
        payload = _encode_checked(make)
    except AihwError as error:
        return BuildResult({_field_of(str(error)): str(error)})
    job = {
        "device": device,
        "max_elements": numbers["max_elements"],
        "seed": numbers["seed"],
    }
    return BuildResult({}, name, category, payload, job)


def _encode_checked(make: Callable[[], tuple[Any, dict[str, Any]]]) -> bytes:
    from aihw_jax.cloud import codec

    experiment, attachments = make()
    payload = codec.encode_experiment(experiment, **attachments)
    codec.decode_experiment(payload, trusted=False)
    return payload


def _training_maker(
    form: dict[str, str], numbers: dict[str, Any], errors: dict[str, str]
) -> Callable[[], tuple[Any, dict[str, Any]]]:
    dataset_name = _choice(form, "dataset", DATASETS, errors)
    model_name = _choice(form, "model", tuple(MODELS), errors)
    preset_name = _choice(form, "preset", preset_names(), errors)
    if model_name == "lenet5" and dataset_name == "SVHN":
        errors["model"] = (
            "LeNet-5 takes 28x28 grey images; choose FashionMNIST or the "
            "3-layer network."
        )

    def make() -> tuple[Any, dict[str, Any]]:
        from aihw_jax import datasets
        from aihw_jax.experiments import BasicTraining
        from aihw_jax.simulator import presets

        dataset = getattr(datasets, dataset_name)
        rpu_config = getattr(presets, preset_name)()
        model = _training_model(model_name, dataset, rpu_config)
        experiment = BasicTraining(
            dataset=dataset,
            model=model,
            epochs=numbers["epochs"],
            batch_size=numbers["batch_size"],
            learning_rate=numbers["learning_rate"],
        )
        return experiment, {}

    return make


def _training_model(name: str, dataset: Any, rpu_config: Any) -> Any:
    if name == "lenet5":
        from aihw_jax.experiments.templates.lenet5 import lenet5_mapped

        return lenet5_mapped(rpu_config)
    from aihw_jax.experiments.demo import documented_model
    from aihw_jax.nn import AnalogLinear

    in_features = math.prod(dataset.image_shape)
    model = documented_model(rpu_config)
    layers = list(model.layers)
    layers[1] = AnalogLinear(in_features, 256, rpu_config=rpu_config)
    return model.clone(layers=tuple(layers))


def _inference_maker(
    form: dict[str, str], numbers: dict[str, Any], errors: dict[str, str]
) -> Callable[[], tuple[Any, dict[str, Any]]]:
    # The one shipped template is LeNet-5 on Fashion-MNIST, built below.
    _choice(form, "template", INFERENCE_TEMPLATES, errors)
    device_id = _choice(form, "device_id", converter.DEVICE_IDS, errors)

    def make() -> tuple[Any, dict[str, Any]]:
        from aihw_jax.datasets import FashionMNIST
        from aihw_jax.experiments import BasicInferencing
        from aihw_jax.experiments.templates.lenet5 import TEMPLATE_ID, lenet5_mapped

        experiment = BasicInferencing(
            dataset=FashionMNIST,
            model=lenet5_mapped(),
            batch_size=numbers["batch_size"],
            weight_template_id=TEMPLATE_ID,
            inference_repeats=numbers["inference_repeats"],
            inference_time=numbers["inference_time"],
        )
        analog_info = {key: numbers[key] for key in converter.ANALOG_INFO_KEYS}
        noise_model_info = {
            "device_id": device_id,
            "drift_compensation": form.get("drift_compensation") == "on",
            **{
                key: numbers[key]
                for key in converter.NOISE_MODEL_INFO_KEYS
                if key not in ("device_id", "drift_compensation")
            },
        }
        if device_id == "generic":
            noise_model_info["drift_mean"] = numbers["drift_mean"]
            noise_model_info["drift_std"] = numbers["drift_std"]
        attachments = {"analog_info": analog_info, "noise_model_info": noise_model_info}
        return experiment, attachments

    return make


_FIELD_IN_MESSAGE = re.compile(r"`[^`]*?(?:\.|\[')(\w+)(?:'\])?`")


def _field_of(message: str) -> str:
    """Return the form field that a codec or converter message names, or "form"."""
    for match in _FIELD_IN_MESSAGE.finditer(message):
        if match.group(1) in _NUMBER_FIELDS:
            return match.group(1)
    return "form"

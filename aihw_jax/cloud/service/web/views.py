"""Turn stored inputs and outputs into what the detail page shows.

:func:`describe_input` lists the configuration of a decoded experiment
payload, and :func:`chart_specs` turns a job result into chart series for
the page's charting script.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["chart_specs", "describe_input"]

_LAYER_ARGS = (
    "in_features",
    "out_features",
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "bias",
    "dim",
)


def _layer_rows(module: Any) -> list[dict[str, str]]:
    from aihw_jax.nn import AnalogSequential

    rows = []
    for layer in getattr(module, "layers", ()):
        if isinstance(layer, AnalogSequential):
            rows.extend(_layer_rows(layer))
            continue
        args = ", ".join(
            f"{name}={getattr(layer, name)!r}"
            for name in _LAYER_ARGS
            if getattr(layer, name, None) is not None
        )
        config = getattr(layer, "rpu_config", None)
        rows.append(
            {
                "type": type(layer).__name__,
                "args": args,
                "rpu_config": _config_label(config),
            }
        )
    return rows


def _config_label(config: Any) -> str:
    if config is None:
        return ""
    label = type(config).__name__
    device = getattr(config, "device", None)
    if device is not None:
        label += f" ({type(device).__name__})"
    noise = getattr(config, "noise_model", None)
    if noise is not None:
        label += f" ({type(noise).__name__})"
    return label


def describe_input(decoded: Any) -> dict[str, Any]:
    """Return the data set, hyperparameters, layers and infos of a payload.

    Args:
        decoded: a :class:`aihw_jax.cloud.codec.DecodedExperiment`.
    """
    experiment = decoded.experiment
    skipped = {"dataset", "model", "loss_function"}
    hyperparameters = {
        field.name: getattr(experiment, field.name)
        for field in dataclasses.fields(experiment)
        if field.name not in skipped
    }
    loss = experiment.loss_function
    hyperparameters["loss_function"] = getattr(loss, "__name__", type(loss).__name__)
    return {
        "type": type(experiment).__name__,
        "dataset": getattr(experiment.dataset, "__name__", str(experiment.dataset)),
        "hyperparameters": hyperparameters,
        "layers": _layer_rows(experiment.model),
        "analog_info": decoded.analog_info,
        "noise_model_info": decoded.noise_model_info,
    }


def chart_specs(category: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Return chart specifications for the page script.

    Each spec is ``{"id", "title", "x_label", "y_label", "log_x", "x",
    "series": [{"label", "values", "dash"}]}``. Training gives accuracy and
    losses per epoch; inference gives the mean accuracy over repeats, with
    mean ± std, against the time after programming. The time t = 0 s is
    left out of that chart because its axis is logarithmic.
    """
    if category == "train":
        return _training_specs(result.get("epochs", []))
    runs = result.get("inference_runs", {})
    return _inference_specs(runs.get("inference_results", []))


def _training_specs(epochs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    x = [float(row.get("epoch", index + 1)) for index, row in enumerate(epochs)]
    accuracy = {
        "id": "accuracy",
        "title": "Validation accuracy",
        "x_label": "epoch",
        "y_label": "accuracy (fraction)",
        "log_x": False,
        "x": x,
        "series": [
            {"label": "accuracy", "values": [r["accuracy"] for r in epochs], "dash": 0}
        ],
    }
    losses = {
        "id": "loss",
        "title": "Losses",
        "x_label": "epoch",
        "y_label": "loss per sample",
        "log_x": False,
        "x": x,
        "series": [
            {"label": "train", "values": [r["train_loss"] for r in epochs], "dash": 0},
            {"label": "valid", "values": [r["valid_loss"] for r in epochs], "dash": 0},
        ],
    }
    return [accuracy, losses]


def _inference_specs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [row for row in rows if row["t_inference"] > 0]
    mean = [row["avg_accuracy"] for row in rows]
    std = [row["std_accuracy"] for row in rows]
    spec = {
        "id": "inference",
        "title": "Accuracy after programming",
        "x_label": "time after programming (s)",
        "y_label": "accuracy (%)",
        "log_x": True,
        "x": [row["t_inference"] for row in rows],
        "series": [
            {"label": "mean", "values": mean, "dash": 0},
            {
                "label": "mean - std",
                "values": [m - s for m, s in zip(mean, std)],
                "dash": 4,
            },
            {
                "label": "mean + std",
                "values": [m + s for m, s in zip(mean, std)],
                "dash": 4,
            },
        ],
    }
    return [spec]

"""Submit experiments to a Composer service: run_cloud and aihwkit's runners.

:func:`run_cloud` does the work; :class:`CloudRunner` and
:class:`InferenceCloudRunner` keep one logged-in session for several calls
and offer aihwkit's method names.
"""

from __future__ import annotations

import datetime
import logging
import os
import urllib.parse
from typing import Any, Self

from aihw_jax import serialization
from aihw_jax.cloud import api
from aihw_jax.cloud.client._credentials import resolve_credentials
from aihw_jax.cloud.client._experiment import CloudExperiment
from aihw_jax.cloud.client._session import ApiSession, SessionConfig
from aihw_jax.errors import CloudError, ConfigError

__all__ = ["CloudRunner", "InferenceCloudRunner", "run_cloud"]

logger = logging.getLogger(__name__)

VerifyOption = bool | str | os.PathLike


def _check_run_arguments(
    experiment: Any,
    category: str,
    analog_info: dict[str, Any] | None,
    noise_model_info: dict[str, Any] | None,
    device: str,
    max_elements: int,
    seed: int,
    name: str,
) -> None:
    """Raise ConfigError for arguments the service would reject after upload."""
    if not isinstance(name, str):
        raise ConfigError(f"`name` must be a string, got {name!r}.")
    if device not in api.DEVICES:
        raise ConfigError(f"`device` must be one of {api.DEVICES}, got {device!r}.")
    # The service stores max_elements and seed as 32-bit signed integers.
    if (
        isinstance(max_elements, bool)
        or not isinstance(max_elements, int)
        or not 0 <= max_elements < 2**31
    ):
        raise ConfigError(
            f"`max_elements` must be an integer in [0, 2**31), got {max_elements!r}."
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ConfigError(f"`seed` must be an integer in [0, 2**31), got {seed!r}.")
    given = (analog_info is not None, noise_model_info is not None)
    if category == "train" and any(given):
        raise ConfigError(
            "`analog_info` and `noise_model_info` apply to inference experiments "
            "only; a BasicTraining takes its configuration from its model."
        )
    if category == "inference" and any(given):
        if not all(given):
            raise ConfigError(
                "Give both `analog_info` and `noise_model_info`, or neither (the "
                "model's own RPU configs are then used)."
            )
        from aihw_jax.cloud import converter

        # Both raise ConfigError before anything is sent: the first names an
        # invalid info field, the second an analog layer without an
        # InferenceRPUConfig, which the service could not convert.
        converter.rpu_config_from_info(analog_info, noise_model_info)
        converter.apply_info(experiment, analog_info, noise_model_info)


def _default_name(experiment: Any, category: str) -> str:
    dataset = experiment.dataset
    dataset_name = getattr(dataset, "__name__", None) or type(dataset).__name__
    return f"{dataset_name} {category} experiment"


def submit_experiment(
    session: ApiSession,
    experiment: Any,
    *,
    analog_info: dict[str, Any] | None = None,
    noise_model_info: dict[str, Any] | None = None,
    weights: bytes | dict[str, Any] | None = None,
    name: str = "",
    device: str = "gpu",
    max_elements: int = 0,
    seed: int = 0,
) -> CloudExperiment:
    """Create the experiment, upload its payload and create its job.

    The arguments are those of :func:`run_cloud`; ``session`` is used for
    every request and kept by the returned handle.
    """
    # Imported here because the codec imports the experiments package, which
    # imports this module through the runners.
    from aihw_jax.cloud import codec

    category = codec.category_of(experiment)
    _check_run_arguments(
        experiment,
        category,
        analog_info,
        noise_model_info,
        device,
        max_elements,
        seed,
        name,
    )
    if isinstance(weights, dict):
        weights = serialization.variables_to_bytes(weights)
    payload = codec.encode_experiment(
        experiment,
        analog_info=analog_info,
        noise_model_info=noise_model_info,
        weights=weights,
    )
    name = name or _default_name(experiment, category)

    record = session.post("experiments", {"name": name, "category": category})
    handle = CloudExperiment(session, record)
    upload = session.post("inputs", {"experiment": handle.id})
    if not isinstance(upload, dict) or "upload_url" not in upload:
        raise CloudError(
            f"The service returned no upload URL for experiment {handle.id}."
        )
    handle.input_id = str(upload.get("id") or "") or None
    session.upload(upload["upload_url"], payload)
    job = session.post(
        "jobs",
        {
            "experiment": handle.id,
            "device": device,
            "max_elements": max_elements,
            "seed": seed,
        },
    )
    handle._update_job(job)
    logger.info(
        "Submitted %s experiment %s (job %s, %d payload bytes)",
        category,
        handle.id,
        handle.job_id,
        len(payload),
    )
    return handle


def run_cloud(
    experiment: Any,
    *,
    analog_info: dict[str, Any] | None = None,
    noise_model_info: dict[str, Any] | None = None,
    weights: bytes | dict[str, Any] | None = None,
    name: str = "",
    device: str = "gpu",
    max_elements: int = 0,
    seed: int = 0,
    api_url: str | None = None,
    api_token: str | None = None,
    verify: VerifyOption = True,
) -> CloudExperiment:
    """Submit an experiment to a Composer service and return its handle.

    The call returns once the job is queued; use the handle's ``wait``,
    ``status`` and ``get_result``. The handle keeps its own session.

    Args:
        experiment: a ``BasicTraining`` or ``BasicInferencing``.
        analog_info: for inference, aihwkit's analog settings
            (``output_noise_strength``, ``adc``, ``dac``); needs
            ``noise_model_info``.
        noise_model_info: for inference, aihwkit's noise model settings
            (``device_id``, ``programming_noise_scale``, ...).
        weights: for inference, trained variables to evaluate instead of
            the ``weight_template_id``: a variables dict (such as
            ``get_weights()`` of a training run) or its serialised bytes.
        name: the experiment's name; empty picks one from the data set.
        device: ``"gpu"`` or ``"cpu"``, as the service's workers offer.
        max_elements: if > 0, the number of samples the job uses, as in
            ``run_local``.
        seed: the job's seed; the same seed gives the result of ``run_local``
            (or ``run_inference_local``) with that seed.
        api_url: base URL of the service; see :func:`resolve_credentials`.
        api_token: the API token; see :func:`resolve_credentials`.
        verify: TLS verification: True, False, or the path of a CA bundle.

    Returns:
        The handle of the submitted experiment.

    Raises:
        CredentialsError: if no token is found or the service rejects it.
        ConfigError: if an argument or the info dicts are invalid (raised
            before anything is sent).
        ApiResponseError: if the service rejects a request.
        CloudError: if the service cannot be reached.
    """
    credentials = resolve_credentials(api_url, api_token, verify)
    session = ApiSession(credentials)
    try:
        return submit_experiment(
            session,
            experiment,
            analog_info=analog_info,
            noise_model_info=noise_model_info,
            weights=weights,
            name=name,
            device=device,
            max_elements=max_elements,
            seed=seed,
        )
    except BaseException:
        session.close()
        raise


def _sort_key(handle: CloudExperiment) -> datetime.datetime:
    return handle.created_at or datetime.datetime.min.replace(tzinfo=datetime.UTC)


class _CloudRunnerBase:
    """A logged-in session shared by the runner and the handles it returns."""

    def __init__(
        self,
        api_url: str | None = None,
        api_token: str | None = None,
        verify: VerifyOption = True,
        *,
        config: SessionConfig | None = None,
    ) -> None:
        self.credentials = resolve_credentials(api_url, api_token, verify)
        self.session = ApiSession(self.credentials, config)
        try:
            self.session.login()
        except BaseException:
            self.session.close()
            raise

    @property
    def api_url(self) -> str:
        """The service's base URL."""
        return self.credentials.api_url

    def close(self) -> None:
        """Close the session; the handles this runner returned stop working."""
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self.api_url!r})"

    def list_experiments(self) -> list[CloudExperiment]:
        """Return the caller's experiments on the service, newest first."""
        records = self.session.get("experiments/me")
        if not isinstance(records, list):
            raise CloudError(
                "The service returned something other than a list for experiments/me."
            )
        handles = [CloudExperiment(self.session, record) for record in records]
        # The service lists oldest first; reversing first keeps equal creation
        # times newest first too, because the sort is stable.
        newest_listed_first = handles[::-1]
        return sorted(newest_listed_first, key=_sort_key, reverse=True)

    def list_cloud_experiments(self) -> list[CloudExperiment]:
        """Return the caller's experiments; aihwkit's name of list_experiments."""
        return self.list_experiments()

    def get_cloud_experiment(self, id_: str) -> CloudExperiment:
        """Return the caller's experiment ``id_``.

        Raises:
            ApiResponseError: with status 404 if no experiment of the caller
                has this id.
        """
        return CloudExperiment(
            self.session,
            self.session.get(f"experiments/{urllib.parse.quote(id_, safe='')}"),
        )


class CloudRunner(_CloudRunnerBase):
    """aihwkit's ``CloudRunner``: runs experiments on a Composer service.

    Logs in when created, so a rejected token raises here. A thin wrapper over
    :func:`submit_experiment`; usable as a context manager.

    Args:
        api_url: base URL of the service; looked up as
            :func:`resolve_credentials` describes when None.
        api_token: the API token; looked up likewise when None.
        verify: TLS verification: True, False, or the path of a CA bundle.
        config: timeouts and retries of the session.

    Raises:
        CredentialsError: if no token is found or the service rejects it.
    """

    def run(
        self,
        experiment: Any,
        name: str = "",
        device: str = "gpu",
        max_elements: int = 0,
        seed: int = 0,
    ) -> CloudExperiment:
        """Submit ``experiment`` and return its handle; see :func:`run_cloud`."""
        return submit_experiment(
            self.session,
            experiment,
            name=name,
            device=device,
            max_elements=max_elements,
            seed=seed,
        )


class InferenceCloudRunner(_CloudRunnerBase):
    """aihwkit's ``InferenceCloudRunner``: inference experiments on a service.

    Takes the same arguments as :class:`CloudRunner`, and TLS verification
    is on by default here too.
    """

    def run(
        self,
        experiment: Any,
        analog_info: dict[str, Any],
        noise_model_info: dict[str, Any],
        name: str = "",
        device: str = "gpu",
        max_elements: int = 0,
        seed: int = 0,
        *,
        weights: bytes | dict[str, Any] | None = None,
    ) -> CloudExperiment:
        """Submit an inference ``experiment`` with aihwkit's info dicts.

        See :func:`run_cloud` for the arguments; ``analog_info`` and
        ``noise_model_info`` are validated before anything is sent.
        """
        return submit_experiment(
            self.session,
            experiment,
            analog_info=analog_info,
            noise_model_info=noise_model_info,
            weights=weights,
            name=name,
            device=device,
            max_elements=max_elements,
            seed=seed,
        )

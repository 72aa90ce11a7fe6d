"""The Composer client: submit experiments to a service and fetch their results.

Example::

    from aihw_jax.experiments.runners import CloudRunner

    with CloudRunner(api_url="http://127.0.0.1:8000", api_token=TOKEN) as runner:
        cloud_experiment = runner.run(experiment, max_elements=200)
        cloud_experiment.wait(timeout=600)
        epochs = cloud_experiment.get_result()

Requests are logged at INFO level on the ``aihw_jax.cloud.client`` loggers,
with tokens and URL signatures removed.
"""

from aihw_jax.cloud.client._credentials import (
    DEFAULT_API_URL as DEFAULT_API_URL,
    Credentials as Credentials,
    config_file_paths as config_file_paths,
    resolve_credentials as resolve_credentials,
)
from aihw_jax.cloud.client._experiment import (
    CloudExperiment as CloudExperiment,
    CloudJobStatus as CloudJobStatus,
)
from aihw_jax.cloud.client._runners import (
    CloudRunner as CloudRunner,
    InferenceCloudRunner as InferenceCloudRunner,
    run_cloud as run_cloud,
    submit_experiment as submit_experiment,
)
from aihw_jax.cloud.client._session import (
    ApiSession as ApiSession,
    SessionConfig as SessionConfig,
    sanitize as sanitize,
)

__all__ = [
    "DEFAULT_API_URL",
    "ApiSession",
    "CloudExperiment",
    "CloudJobStatus",
    "CloudRunner",
    "Credentials",
    "InferenceCloudRunner",
    "SessionConfig",
    "config_file_paths",
    "resolve_credentials",
    "run_cloud",
    "sanitize",
    "submit_experiment",
]

"""Unit tests of the Composer client: credentials, sanitising and error mapping.

These tests need no service; the end-to-end tests are in test_cloud_e2e.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket

import pytest
import requests
from _cloud_info import ANALOG_INFO, NOISE_MODEL_INFO

from aihw_jax.cloud.client import (
    DEFAULT_API_URL,
    ApiSession,
    CloudExperiment,
    CloudJobStatus,
    Credentials,
    SessionConfig,
    cli,
    config_file_paths,
    resolve_credentials,
    run_cloud,
    sanitize,
)
from aihw_jax.errors import (
    ApiResponseError,
    CloudError,
    ConfigError,
    CredentialsError,
    ExperimentStatusError,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Isolate the five lookup places; return the three config file paths."""
    home = tmp_path / "home"
    xdg = tmp_path / "xdg"
    work = tmp_path / "work"
    for folder in (home / ".config", xdg / "aihwkit", work):
        folder.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.delenv("AIHW_API_TOKEN", raising=False)
    monkeypatch.delenv("AIHW_API_URL", raising=False)
    monkeypatch.chdir(work)
    return {
        "cwd": work / "aihwkit.conf",
        "xdg": xdg / "aihwkit" / "aihwkit.conf",
        "home": home / ".config" / "aihwkit.conf",
    }


def _write_config(path, token=None, url=None, section="cloud"):
    lines = [f"[{section}]"]
    if token is not None:
        lines.append(f"api_token = {token}")
    if url is not None:
        lines.append(f"api_url = {url}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _response(status: int, body: object, url: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = "Error"
    response.url = url
    response._content = (
        body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    )
    return response


def test_config_file_paths_order(places):
    assert config_file_paths() == [places["cwd"], places["xdg"], places["home"]]


def test_config_paths_default_xdg(places, monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    paths = config_file_paths()
    assert paths[1] == tmp_path / "home" / ".config" / "aihwkit" / "aihwkit.conf"


def test_token_lookup_order(places, monkeypatch):
    _write_config(places["home"], token="from-home", url="http://127.0.0.1:9005")
    credentials = resolve_credentials()
    assert credentials.api_token == "from-home"
    assert credentials.token_source == str(places["home"])
    assert credentials.api_url == "http://127.0.0.1:9005"

    _write_config(places["xdg"], token="from-xdg", url="http://127.0.0.1:9004")
    credentials = resolve_credentials()
    assert credentials.api_token == "from-xdg"
    assert credentials.api_url == "http://127.0.0.1:9004"

    _write_config(places["cwd"], token="from-cwd", url="http://127.0.0.1:9003")
    credentials = resolve_credentials()
    assert credentials.api_token == "from-cwd"
    assert credentials.api_url == "http://127.0.0.1:9003"

    monkeypatch.setenv("AIHW_API_TOKEN", "from-env")
    monkeypatch.setenv("AIHW_API_URL", "http://127.0.0.1:9002")
    credentials = resolve_credentials()
    assert credentials.api_token == "from-env"
    assert credentials.token_source == "environment variable AIHW_API_TOKEN"
    assert credentials.api_url == "http://127.0.0.1:9002"

    credentials = resolve_credentials("http://127.0.0.1:9001/", "from-argument")
    assert credentials.api_token == "from-argument"
    assert credentials.token_source == "argument"
    assert credentials.api_url == "http://127.0.0.1:9001"


def test_token_and_url_resolved_separately(places):
    _write_config(places["cwd"], token="from-cwd")
    _write_config(places["home"], url="http://127.0.0.1:9005")
    credentials = resolve_credentials()
    assert credentials.api_token == "from-cwd"
    assert credentials.api_url == "http://127.0.0.1:9005"
    assert credentials.url_source == str(places["home"])


def test_url_defaults_to_local_service(places):
    credentials = resolve_credentials(api_token="secret-token")
    assert credentials.api_url == DEFAULT_API_URL
    assert credentials.url_source == "the default"


def test_empty_values_are_skipped(places, monkeypatch):
    monkeypatch.setenv("AIHW_API_TOKEN", "  ")
    _write_config(places["cwd"], token="")
    _write_config(places["xdg"], token="from-xdg")
    assert resolve_credentials(api_token="").api_token == "from-xdg"


def test_config_without_cloud_section_ignored(places):
    _write_config(places["cwd"], token="elsewhere", section="other")
    _write_config(places["home"], token="from-home")
    assert resolve_credentials().api_token == "from-home"


def test_missing_token_lists_every_place(places):
    with pytest.raises(CredentialsError) as caught:
        resolve_credentials()
    message = str(caught.value)
    assert "api_token" in message
    assert "AIHW_API_TOKEN" in message
    assert str(places["cwd"]) in message
    assert str(places["xdg"]) in message
    assert str(places["home"]) in message


def test_unreadable_config_raises_without_content(places):
    places["cwd"].write_text("api_token = leaked-secret\n", encoding="utf-8")
    with pytest.raises(CredentialsError, match="aihwkit.conf") as caught:
        resolve_credentials()
    assert "leaked-secret" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1", "127.0.0.1:8000", "http://", "http://u:p@127.0.0.1"],
    ids=["ftp", "no-scheme", "no-host", "userinfo"],
)
def test_invalid_url_rejected(places, url):
    with pytest.raises(ConfigError, match="Composer URL"):
        resolve_credentials(url, "secret-token")


def test_verify_ca_bundle_checked(places, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    assert resolve_credentials(api_token="t0ken", verify=bundle).verify == str(bundle)
    assert resolve_credentials(api_token="t0ken", verify=False).verify is False
    with pytest.raises(ConfigError, match="CA bundle"):
        resolve_credentials(api_token="t0ken", verify=tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match="verify"):
        resolve_credentials(api_token="t0ken", verify=3)


def test_credentials_repr_hides_token():
    credentials = Credentials("http://127.0.0.1:8000", "very-secret-token")
    assert "very-secret-token" not in repr(credentials)


@pytest.mark.parametrize(
    ("text", "secret_part"),
    [
        ("PUT http://127.0.0.1:8000/blobs/x?expires=1&signature=abcdef", "abcdef"),
        ("GET /api/v1/blobs/x?expires=1&signature=abcdef failed", "abcdef"),
        (f"Invalid JWT {JWT}", "c2lnbmF0dXJl"),
        ("Authorization: Bearer opaque-value", "opaque-value"),
        ('{"token": "plain-value"}', "plain-value"),
        ("api_token=plain-value", "plain-value"),
        ("http://alice:hunter2@127.0.0.1/x", "hunter2"),
        ("token was my-api-token-1234", "my-api-token-1234"),
    ],
    ids=[
        "signed-url",
        "relative-url",
        "jwt",
        "bearer",
        "json",
        "form",
        "userinfo",
        "known",
    ],
)
def test_sanitize_removes_secrets(text, secret_part):
    cleaned = sanitize(text, ("my-api-token-1234",))
    assert secret_part not in cleaned


def test_sanitize_keeps_plain_text():
    text = "Experiment 1234 not found. Is the id right?"
    assert sanitize(text) == text
    assert sanitize("GET /api/v1/jobs/abc") == "GET /api/v1/jobs/abc"


def test_sanitize_marks_removed_query():
    cleaned = sanitize("http://127.0.0.1/blobs/a?expires=1&signature=ff")
    assert cleaned == "http://127.0.0.1/blobs/a?..."


def test_error_status_maps_to_api_response_error():
    session = ApiSession(Credentials("http://127.0.0.1:1", "secret-token-42"))
    url = "http://127.0.0.1:1/api/v1/blobs/a?expires=1&signature=deadbeef"
    body = {"detail": "Experiment a is not yours (token secret-token-42)."}
    with session, pytest.raises(ApiResponseError) as caught:
        session._raise_for_status(_response(404, body, url), "GET", url)
    assert caught.value.status_code == 404
    message = str(caught.value)
    assert "Experiment a is not yours" in message
    assert "404" in message
    assert "deadbeef" not in message
    assert "secret-token-42" not in message


def test_validation_error_detail_is_flattened():
    session = ApiSession(Credentials("http://127.0.0.1:1", "secret-token-42"))
    body = {"detail": [{"loc": ["body", "device"], "msg": "Input should be 'cpu'"}]}
    url = "http://127.0.0.1:1/api/v1/jobs"
    with session, pytest.raises(ApiResponseError) as caught:
        session._raise_for_status(_response(422, body, url), "POST", url)
    assert "body.device: Input should be 'cpu'" in str(caught.value)


def test_non_json_error_body_is_shown():
    session = ApiSession(Credentials("http://127.0.0.1:1", "secret-token-42"))
    url = "http://127.0.0.1:1/api/v1/jobs/x"
    with session, pytest.raises(ApiResponseError, match="Bad Gateway text"):
        session._raise_for_status(_response(502, b"Bad Gateway text", url), "GET", url)


def test_unreachable_service_names_base_url(caplog):
    base_url = f"http://127.0.0.1:{_closed_port()}"
    config = SessionConfig(connect_timeout=2.0, get_retries=2, retry_backoff=0.01)
    session = ApiSession(Credentials(base_url, "secret-token-42"), config)
    with session, caplog.at_level(logging.WARNING), pytest.raises(CloudError) as caught:
        session.download(base_url + "/api/v1/blobs/x?expires=1&signature=cafe")
    message = str(caught.value)
    assert base_url in message
    assert "cafe" not in message
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert all("cafe" not in record.getMessage() for record in caplog.records)


def test_post_is_not_retried(caplog):
    base_url = f"http://127.0.0.1:{_closed_port()}"
    config = SessionConfig(connect_timeout=2.0, get_retries=3, retry_backoff=0.01)
    session = ApiSession(Credentials(base_url, "secret-token-42"), config)
    with session, caplog.at_level(logging.WARNING), pytest.raises(CloudError):
        session.login()
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


def test_closed_session_rejects_use():
    session = ApiSession(Credentials("http://127.0.0.1:1", "secret-token-42"))
    session.close()
    assert session.closed
    with pytest.raises(CloudError, match="closed"):
        session.get("experiments/me")


def test_upload_rejects_oversized_payload(monkeypatch):
    from aihw_jax.cloud import api

    monkeypatch.setattr(api, "MAX_PAYLOAD_BYTES", 10)
    session = ApiSession(Credentials("http://127.0.0.1:1", "secret-token-42"))
    with session, pytest.raises(CloudError, match="more than the 10 bytes"):
        session.upload("/api/v1/blobs/x", b"x" * 11)


def test_job_status_maps_api_values():
    assert CloudJobStatus.from_api("waiting") is CloudJobStatus.WAITING
    assert CloudJobStatus.from_api("running") is CloudJobStatus.RUNNING
    assert CloudJobStatus.from_api("completed") is CloudJobStatus.COMPLETED
    assert CloudJobStatus.from_api("failed") is CloudJobStatus.FAILED
    with pytest.raises(CloudError, match="unknown job status"):
        CloudJobStatus.from_api("paused")


def test_experiment_repr_makes_no_request():
    # The session points at a closed port: any request would raise.
    session = ApiSession(Credentials(f"http://127.0.0.1:{_closed_port()}", "t0ken"))
    record = {
        "id": "abc123",
        "name": "mnist",
        "category": "train",
        "created_at": "2025-01-02T03:04:05+00:00",
        "job": {"id": "job1", "status": "running"},
    }
    with session:
        handle = CloudExperiment(session, record)
        assert repr(handle) == (
            "CloudExperiment(id='abc123', name='mnist', status=RUNNING)"
        )
        assert handle.job_id == "job1"
        assert handle.created_at.year == 2025


def test_finished_status_is_cached():
    session = ApiSession(Credentials(f"http://127.0.0.1:{_closed_port()}", "t0ken"))
    record = {"id": "e1", "job": {"id": "j1", "status": "failed", "message": "OOM"}}
    with session:
        handle = CloudExperiment(session, record)
        assert handle.status() is CloudJobStatus.FAILED
        with pytest.raises(ExperimentStatusError, match="OOM") as caught:
            handle.get_result()
    assert "FAILED" in str(caught.value)


def test_cli_missing_token_prints_one_line(places, capsys):
    status = cli.main(["experiments", "list"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.startswith("error: No Composer API token was found")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


def test_cli_unreachable_service_prints_one_line(places, capsys):
    url = f"http://127.0.0.1:{_closed_port()}"
    status = cli.main(["experiments", "show", "x", "--url", url, "--token", "t0ken"])
    captured = capsys.readouterr()
    assert status == 1
    assert url in captured.err
    assert "t0ken" not in captured.err


def _small_inference_experiment():
    from aihw_jax.datasets import FashionMNIST
    from aihw_jax.experiments import BasicInferencing
    from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten
    from aihw_jax.simulator.configs import InferenceRPUConfig

    model = AnalogSequential(
        Flatten(), AnalogLinear(784, 10, rpu_config=InferenceRPUConfig())
    )
    return BasicInferencing(dataset=FashionMNIST, model=model)


@pytest.mark.parametrize(
    ("analog_info", "noise_model_info", "match"),
    [
        ({**ANALOG_INFO, "adc": 1}, NOISE_MODEL_INFO, "adc"),
        ({"adc": 9, "dac": 7}, NOISE_MODEL_INFO, "output_noise_strength"),
        (ANALOG_INFO, {**NOISE_MODEL_INFO, "device_id": "rram"}, "device_id"),
        (ANALOG_INFO, None, "noise_model_info"),
    ],
    ids=["adc-bits", "missing-key", "device-id", "one-dict"],
)
def test_run_cloud_validates_info_first(places, analog_info, noise_model_info, match):
    # The URL points at a closed port, so reaching the network would raise
    # CloudError instead of ConfigError.
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(ConfigError, match=match):
        run_cloud(
            _small_inference_experiment(),
            analog_info=analog_info,
            noise_model_info=noise_model_info,
            api_url=url,
            api_token="t0ken",
        )


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"device": "tpu"}, "device"),
        ({"max_elements": -1}, "max_elements"),
        ({"seed": 2**31}, "seed"),
        ({"seed": True}, "seed"),
    ],
    ids=["device", "max-elements", "seed-range", "seed-bool"],
)
def test_run_cloud_validates_arguments(places, arguments, match):
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(ConfigError, match=match):
        run_cloud(
            _small_inference_experiment(), api_url=url, api_token="t0ken", **arguments
        )


def test_training_rejects_info_dicts(places):
    from aihw_jax.datasets import FashionMNIST
    from aihw_jax.experiments import BasicTraining
    from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten

    experiment = BasicTraining(
        dataset=FashionMNIST, model=AnalogSequential(Flatten(), AnalogLinear(784, 10))
    )
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(ConfigError, match="inference experiments only"):
        run_cloud(
            experiment,
            analog_info=ANALOG_INFO,
            noise_model_info=NOISE_MODEL_INFO,
            api_url=url,
            api_token="t0ken",
        )


def test_run_cloud_unreachable_raises_cloud_error(places):
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(CloudError, match=url):
        run_cloud(_small_inference_experiment(), api_url=url, api_token="t0ken")


@pytest.mark.parametrize(
    "url",
    ["http://host:8000/api/v1", "http://host:8000/api/v1/", "http://host:8000"],
)
def test_url_api_prefix_is_dropped(places, url):
    assert resolve_credentials(url, "secret-token").api_url == "http://host:8000"


class _RecordingSession:
    """Stands in for an ApiSession and records the requested paths."""

    def __init__(self, record: dict) -> None:
        self.record = record
        self.paths: list[str] = []

    def get(self, path: str) -> dict:
        self.paths.append(path)
        return self.record


def test_client_quotes_ids_in_paths():
    session = _RecordingSession({"id": "a/b?c", "job": None})
    handle = CloudExperiment(session, {"id": "a/b?c", "job": None})
    assert handle.status() is CloudJobStatus.UNKNOWN
    assert session.paths == ["experiments/a%2Fb%3Fc"]


def test_result_without_job_message():
    session = _RecordingSession({"id": "e1", "job": None})
    handle = CloudExperiment(session, {"id": "e1", "job": None})
    with pytest.raises(ExperimentStatusError, match="has no job yet") as caught:
        handle.get_result()
    assert "UNKNOWN" not in str(caught.value)
    assert "wait()" not in str(caught.value)


class _FakeRunner:
    def __init__(self, result) -> None:
        self.result = result

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def get_cloud_experiment(self, experiment_id):
        return self

    def get_result(self):
        return self.result


def test_cli_result_writes_nan_as_null(monkeypatch, capsys):
    result = {"epochs": [{"loss": float("nan"), "accuracy": 0.5}], "x": float("inf")}
    monkeypatch.setattr(cli, "_runner", lambda args: _FakeRunner(result))
    assert cli.main(["experiments", "result", "e1"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text
    assert json.loads(text) == {"epochs": [{"loss": None, "accuracy": 0.5}], "x": None}


def test_cli_list_has_description():
    parser = argparse.ArgumentParser(prog="aihw-jax")
    cli.add_commands(parser.add_subparsers(dest="command"))
    experiments = parser._subparsers._group_actions[0].choices["experiments"]
    listing = experiments._subparsers._group_actions[0].choices["list"]
    assert listing.description

"""The Composer web app over HTTP: accounts, CSRF, tokens, isolation, builder.

One real ``serve`` process is shared by the module; the tests drive its
pages with ``requests`` sessions as a browser would, reading CSRF tokens
from the rendered forms.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import subprocess
import sys
import threading
import time

import pytest
import requests
import uvicorn
from _service import API, REPO_ROOT, _environment, free_port, service

from aihw_jax import serialization
from aihw_jax.cloud import codec, jobs
from aihw_jax.cloud.service import create_app, make_config
from aihw_jax.cloud.service.web import builder, views

__all__ = ["service"]

PASSWORD = "correct horse battery"
CSRF_PATTERN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


class Browser:
    """A ``requests`` session that keeps the cookie and the last CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.csrf = ""

    def get(self, path: str, **kwargs) -> requests.Response:
        response = self.http.get(f"{self.base_url}{path}", timeout=60, **kwargs)
        match = CSRF_PATTERN.search(response.text)
        if match:
            self.csrf = match.group(1)
        return response

    def post(self, path: str, data: dict, *, csrf: bool = True) -> requests.Response:
        body = {**data, "csrf_token": self.csrf} if csrf else data
        response = self.http.post(
            f"{self.base_url}{path}", data=body, timeout=120, allow_redirects=False
        )
        match = CSRF_PATTERN.search(response.text)
        if match:
            self.csrf = match.group(1)
        return response

    def sign_up(self, name: str) -> requests.Response:
        self.get("/signup")
        form = {"username": name, "password": PASSWORD, "password_repeat": PASSWORD}
        response = self.post("/signup", form)
        assert response.status_code == 303, response.text
        self.get("/account")
        return response

    def create_token(self, name: str) -> str:
        response = self.post("/account/tokens", {"name": name})
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/account"
        page = self.get("/account")
        return re.search(r'id="new-token">([^<]+)<', page.text).group(1)


def training_form(name: str, **changes: str) -> dict[str, str]:
    """Builder fields of a small training run (100 samples, one epoch)."""
    form = builder.default_form()
    form.update(
        name=name,
        preset="FloatingPointPreset",
        epochs="1",
        batch_size="10",
        max_elements="100",
    )
    form.update(changes)
    return form


def wait_until_finished(browser: Browser, path: str, timeout: float = 150) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = browser.get(f"{path}/status").json()
        if body["status"] in ("completed", "failed"):
            return body
        assert time.monotonic() < deadline, f"job still {body['status']}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def alice(service) -> Browser:
    browser = Browser(service.base_url)
    browser.sign_up("alice")
    return browser


@pytest.fixture(scope="module")
def bob(service) -> Browser:
    browser = Browser(service.base_url)
    browser.sign_up("bob")
    return browser


@pytest.fixture(scope="module")
def alice_experiment(alice) -> str:
    """Path of alice's finished training experiment."""
    response = alice.post("/experiments/new", training_form("small run"))
    assert response.status_code == 303, response.text
    path = response.headers["location"]
    status = wait_until_finished(alice, path)
    assert status["status"] == "completed", status["job"]["message"]
    return path


def test_session_cookie_flags(service):
    response = requests.get(f"{service.base_url}/login", timeout=30)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("aihw_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP; TLS adds it
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_form_without_csrf_rejected(service, alice):
    response = alice.post("/account/tokens", {"name": "no csrf"}, csrf=False)
    assert response.status_code == 403
    assert "CSRF token" in response.text
    stranger = Browser(service.base_url)
    stranger.get("/login")
    form = {"username": "alice", "password": PASSWORD, "csrf_token": alice.csrf}
    response = stranger.post("/login", form, csrf=False)
    assert response.status_code == 403
    assert "no csrf" not in alice.get("/account").text


def test_sign_in_and_out(service, alice):
    browser = Browser(service.base_url)
    browser.get("/login")
    wrong = browser.post("/login", {"username": "alice", "password": "wrong-pass"})
    assert wrong.status_code == 401
    assert "Wrong user name or password." in wrong.text
    response = browser.post(
        "/login", {"username": "alice", "password": PASSWORD, "next": "/account"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    assert browser.get("/account", allow_redirects=False).status_code == 200
    assert browser.post("/logout", {}).status_code == 303
    response = browser.get("/account", allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_sign_in_ignores_foreign_next(service, alice):
    browser = Browser(service.base_url)
    browser.get("/login")
    form = {"username": "alice", "password": PASSWORD, "next": "//example.com/"}
    response = browser.post("/login", form)
    assert response.headers["location"] == "/experiments"


def test_signup_rejects_taken_name(service, alice):
    browser = Browser(service.base_url)
    browser.get("/signup")
    form = {"username": "alice", "password": PASSWORD, "password_repeat": PASSWORD}
    response = browser.post("/signup", form)
    assert response.status_code == 422
    assert "This user name is taken" in response.text


def test_revoked_token_stops_at_once(service, alice):
    token = alice.create_token("laptop")
    assert token[-4:] in alice.get("/account").text
    assert token not in alice.get("/account").text
    login = requests.post(
        f"{service.base_url}{API}/token/login", json={"token": token}, timeout=30
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['jwt']}"}
    me = f"{service.base_url}{API}/experiments/me"
    assert requests.get(me, headers=headers, timeout=30).status_code == 200
    token_id = re.findall(r'data-token-id="([0-9a-f]+)"', alice.get("/account").text)
    response = alice.post(f"/account/tokens/{token_id[-1]}/revoke", {})
    assert response.status_code == 303
    assert "revoked" in alice.get("/account").text
    again = requests.post(
        f"{service.base_url}{API}/token/login", json={"token": token}, timeout=30
    )
    assert again.status_code == 401
    old_jwt = requests.get(me, headers=headers, timeout=30)
    assert old_jwt.status_code == 401
    assert "revoked" in old_jwt.json()["detail"]


def test_other_users_get_404(alice, bob, alice_experiment):
    routes = ("", "/status", "/result.json", "/weights.msgpack")
    for route in routes:
        assert alice.get(alice_experiment + route).status_code == 200, route
        assert bob.get(alice_experiment + route).status_code == 404, route
    assert bob.post(f"/account/tokens/{'0' * 32}/revoke", {}).status_code == 404
    assert alice_experiment.rsplit("/", 1)[1] not in bob.get("/experiments").text


def test_builder_result_downloads(alice, alice_experiment):
    page = alice.get(alice_experiment).text
    assert 'data-points="1"' in page
    assert "AnalogLinear" in page
    assert "InferenceRPUConfig" in page
    assert "FashionMNIST" in page
    result = alice.get(alice_experiment + "/result.json").json()
    assert len(result["result"]["epochs"]) == 1
    assert result["device"] == "cpu"
    weights = alice.get(alice_experiment + "/weights.msgpack").content
    assert serialization.load_envelope(weights, "weights")
    listing = alice.get("/experiments").text
    assert "small run" in listing
    assert "completed" in listing


def test_builder_errors_next_to_field(alice):
    form = training_form("bad", epochs="500", learning_rate="-1", batch_size="x")
    response = alice.post("/experiments/new", form)
    assert response.status_code == 422
    assert 'id="error-epochs"' in response.text
    assert 'id="error-learning_rate"' in response.text
    assert 'id="error-batch_size"' in response.text
    form = training_form("bad", model="lenet5", dataset="SVHN")
    response = alice.post("/experiments/new", form)
    assert 'id="error-model"' in response.text


def test_builder_inference_payload(service, alice):
    form = {**builder.default_form(), "name": "drift", "category": "inference"}
    form.update(
        inference_repeats="1", max_elements="20", adc="7", dac="6", device_id="generic"
    )
    response = alice.post("/experiments/new", form)
    assert response.status_code == 303, response.text
    experiment_id = response.headers["location"].rsplit("/", 1)[1]
    page = alice.get(response.headers["location"]).text
    assert "hwa-trained-lenet5-mapped" in page
    stored = list((service.storage / "inputs").glob("*"))
    decoded = [codec.decode_experiment(path.read_bytes()) for path in stored]
    infos = [item.analog_info for item in decoded if item.category == "inference"]
    assert infos == [{"output_noise_strength": 0.1, "adc": 7, "dac": 6}]
    assert experiment_id in alice.get("/experiments").text


def test_builder_matches_codec_limits():
    form = training_form("x", epochs="100", batch_size="10001")
    assert "batch_size" in builder.build(form).errors
    form = {**builder.default_form(), "name": "x", "category": "inference"}
    form["inference_time"] = "2e9"
    assert "inference_time" in builder.build(form).errors


def test_inference_chart_spec_skips_time_zero():
    rows = [
        {"t_inference": t, "avg_accuracy": 80.0, "std_accuracy": 1.0}
        for t in (0.0, 1.0, 10.0)
    ]
    result = {"inference_runs": {"inference_results": rows}}
    (spec,) = views.chart_specs("inference", result)
    assert spec["log_x"] is True
    assert spec["x"] == [1.0, 10.0]
    assert [line["values"] for line in spec["series"]] == [
        [80.0, 80.0],
        [79.0, 79.0],
        [81.0, 81.0],
    ]


def test_users_add_password(service):
    command = [
        sys.executable,
        "-m",
        "aihw_jax.cli",
        "users",
        "add",
        "carol",
        "--password",
        "--storage",
        str(service.storage),
        "--db",
        service.db_url,
    ]
    completed = subprocess.run(
        command,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=_environment(),
        cwd=REPO_ROOT,
        timeout=120,
        check=True,
    )
    assert "API token (shown once)" in completed.stdout
    browser = Browser(service.base_url)
    browser.get("/login")
    response = browser.post("/login", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 303


def test_signup_switched_off(tmp_path):
    config = dataclasses.replace(make_config(tmp_path / "storage"), signup=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, run_jobs=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        response = requests.get(f"{base}/signup", timeout=30)
        assert response.status_code == 404
        assert "does not accept new accounts" in response.text
        assert 'href="/signup"' not in requests.get(f"{base}/login", timeout=30).text
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_log_has_no_secrets(service, alice, alice_experiment):
    token = alice.create_token("for the log test")
    log = pathlib.Path(service.log_path).read_text(errors="replace")
    assert "POST /signup 303" in log
    assert PASSWORD not in log
    assert token not in log
    assert alice.csrf not in log
    assert alice.http.cookies["aihw_session"] not in log


def test_non_ascii_csrf_token_rejected(service):
    browser = Browser(service.base_url)
    browser.get("/login")
    form = {"username": "alice", "password": PASSWORD, "csrf_token": "é" * 64}
    response = browser.post("/login", form, csrf=False)
    assert response.status_code == 403
    assert "Form rejected" in response.text


def test_oversized_form_message(service):
    browser = Browser(service.base_url)
    browser.get("/login")
    response = browser.post("/login", {"username": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "allowed for a form" in response.text


def test_token_shown_once_after_redirect(alice):
    alice.get("/account")
    created = alice.post("/account/tokens", {"name": "shown once"})
    assert created.status_code == 303
    assert "new-token" not in created.text
    first = alice.get("/account")
    assert 'id="new-token"' in first.text
    reloaded = alice.get("/account")
    assert 'id="new-token"' not in reloaded.text
    assert reloaded.text.count("shown once") == 1  # one token, listed once


def test_account_page_times_and_client_name(alice):
    alice.create_token("timed")
    page = alice.get("/account").text
    stamps = re.findall(r'<time datetime="([^"]+)"', page)
    assert stamps
    assert all(stamp.endswith("+00:00") for stamp in stamps)
    assert "CloudRunner(api_url=..., api_token=...)" in page
    assert "CloudClient" not in page


def test_control_characters_rejected(alice):
    alice.get("/account")
    response = alice.post("/account/tokens", {"name": "a\x00b"})
    assert response.status_code == 422
    assert "control characters" in response.text
    for token_id in ("%00", "a%00b", "x" * 300):
        revoked = alice.post(f"/account/tokens/{token_id}/revoke", {})
        assert revoked.status_code == 404, token_id
    long_page = alice.get("/experiments/" + "y" * 300)
    assert long_page.status_code == 404
    assert "y" * 41 not in long_page.text
    nul_page = alice.get("/experiments/a%00b")
    assert nul_page.status_code == 404
    form = training_form("bad\x01name")
    built = alice.post("/experiments/new", form)
    assert built.status_code == 422
    assert "control characters" in built.text


def test_user_names_ignore_case(service, alice):
    browser = Browser(service.base_url)
    browser.get("/signup")
    form = {"username": "ALICE", "password": PASSWORD, "password_repeat": PASSWORD}
    taken = browser.post("/signup", form)
    assert taken.status_code == 422
    assert "taken" in taken.text
    signed_in = browser.post("/login", {"username": "Alice", "password": PASSWORD})
    assert signed_in.status_code == 303


def test_failed_sign_ins_limited(service):
    Browser(service.base_url).sign_up("dave")
    browser = Browser(service.base_url)
    browser.get("/login")
    for _ in range(5):
        wrong = browser.post("/login", {"username": "Dave", "password": "wrong-pw"})
        assert wrong.status_code == 401
    blocked = browser.post("/login", {"username": "dave", "password": PASSWORD})
    assert blocked.status_code == 429
    assert "try again in" in blocked.text
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    other = browser.post("/login", {"username": "alice", "password": PASSWORD})
    assert other.status_code == 303


def test_nan_result_is_json_null(service, alice, alice_experiment):
    status = alice.get(f"{alice_experiment}/status").json()
    output_id = status["job"]["output"]
    blob = service.storage / "outputs" / f"{output_id}.msgpack"
    output = jobs.decode_output(blob.read_bytes())
    original = blob.read_bytes()
    result = output["result"]
    result["epochs"][0]["train_loss"] = float("nan")
    result["epochs"][0]["accuracy"] = float("inf")
    blob.write_bytes(jobs.encode_output(result, output["weights"], output["device"]))
    try:
        download = alice.get(f"{alice_experiment}/result.json")
        page = alice.get(alice_experiment).text
    finally:
        blob.write_bytes(original)
    assert download.status_code == 200
    assert "NaN" not in download.text
    parsed = json.loads(download.text)
    assert parsed["result"]["epochs"][0]["train_loss"] is None
    assert parsed["result"]["epochs"][0]["accuracy"] is None
    chart_data = re.search(r'id="chart-data">([^<]*)<', page).group(1)
    assert "NaN" not in chart_data
    assert "Infinity" not in chart_data
    json.loads(chart_data)

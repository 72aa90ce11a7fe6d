"""The Composer service over HTTP: jobs, isolation, bad requests and TLS.

One real ``serve`` process (SQLite, temporary blob directory, embedded Dask
cluster) is shared by the module; the tests drive it with ``requests``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import stat
import subprocess
import time

import argon2
import jwt
import msgpack
import pytest
import requests
from _service import API, login, service, start_service, submit, wait_for_job

from aihw_jax import cli, serialization
from aihw_jax.cloud import codec, jobs
from aihw_jax.cloud.service import database, make_config
from aihw_jax.cloud.service.limits import SignInLimiter
from aihw_jax.cloud.service.middleware import BLOB_PREFIX
from aihw_jax.cloud.service.models import User
from aihw_jax.cloud.service.storage import BlobStore
from aihw_jax.cloud.service.web import accounts
from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicTraining
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax

__all__ = ["service"]

MAX_ELEMENTS = 100


def tiny_training() -> BasicTraining:
    """A 784->10 analog network trained for one epoch."""
    model = AnalogSequential([Flatten(), AnalogLinear(784, 10), LogSoftmax()])
    return BasicTraining(dataset=FashionMNIST, model=model, epochs=1, batch_size=10)


@pytest.fixture(scope="module")
def payload() -> bytes:
    return codec.encode_experiment(tiny_training())


@pytest.fixture(scope="module")
def alice(service) -> dict[str, str]:
    return login(service.base_url, service.add_user("alice"))


@pytest.fixture(scope="module")
def bob(service) -> dict[str, str]:
    return login(service.base_url, service.add_user("bob"))


@pytest.fixture(scope="module")
def finished_job(service, alice, payload) -> dict:
    job = submit(service.base_url, alice, payload, max_elements=MAX_ELEMENTS, seed=3)
    assert job["status"] == "waiting"
    return wait_for_job(service.base_url, alice, job["id"])


def _url_key(service) -> bytes:
    secret = (service.storage / "secret.key").read_bytes().strip()
    return hmac.new(secret, b"url", hashlib.sha256).digest()


def _jwt_key(service) -> bytes:
    secret = (service.storage / "secret.key").read_bytes().strip()
    return hmac.new(secret, b"jwt", hashlib.sha256).digest()


def _download(service, headers, route: str) -> bytes:
    link = requests.get(f"{service.base_url}{API}/{route}", headers=headers, timeout=30)
    assert link.status_code == 200, link.text
    blob = requests.get(link.json()["url"], timeout=60)
    assert blob.status_code == 200, blob.text
    return blob.content


def _without_times(result: dict) -> dict:
    """Drop the wall-clock ``time_*`` entries, which differ between runs."""
    epochs = [
        {key: value for key, value in epoch.items() if not key.startswith("time_")}
        for epoch in result["epochs"]
    ]
    return {**result, "epochs": epochs}


def test_training_job_matches_run_job(service, alice, payload, finished_job):
    assert finished_job["status"] == "completed", finished_job["message"]
    assert finished_job["ran_on"] == "cpu"
    assert finished_job["attempts"] == 1
    assert finished_job["started_at"] is not None
    served = jobs.decode_output(
        _download(service, alice, f"outputs/{finished_job['output']}/file")
    )
    direct = jobs.decode_output(
        jobs.run_job(payload, device="cpu", max_elements=MAX_ELEMENTS, seed=3)
    )
    assert _without_times(served["result"]) == _without_times(direct["result"])
    assert served["weights"] == direct["weights"]


def test_experiment_record_lists_job(service, alice, finished_job):
    response = requests.get(
        f"{service.base_url}{API}/experiments/me", headers=alice, timeout=30
    )
    assert response.status_code == 200
    records = {record["id"]: record for record in response.json()}
    record = records[finished_job["experiment"]]
    assert record["status"] == "completed"
    assert record["job"]["id"] == finished_job["id"]
    assert record["finished_at"] is not None
    uploaded = _download(service, alice, f"inputs/{record['input']}/file")
    assert codec.decode_experiment(uploaded).category == "train"


def test_gpu_job_falls_back_to_cpu(service, alice, payload):
    job = submit(service.base_url, alice, payload, max_elements=20, device="gpu")
    job = wait_for_job(service.base_url, alice, job["id"])
    assert job["status"] == "completed", job["message"]
    assert job["device"] == "gpu"
    assert job["ran_on"] == "cpu"
    assert "GPU" in job["message"]


def test_users_see_only_their_records(service, alice, bob, finished_job):
    base = f"{service.base_url}{API}"
    experiment_id = finished_job["experiment"]
    routes = [
        f"experiments/{experiment_id}",
        f"jobs/{finished_job['id']}",
        f"outputs/{finished_job['output']}/file",
        "jobs/0123456789abcdef0123456789abcdef",
    ]
    for route in routes:
        response = requests.get(f"{base}/{route}", headers=bob, timeout=30)
        assert response.status_code == 404, route
        assert "not found" in response.json()["detail"]
    listing = requests.get(f"{base}/experiments/me", headers=bob, timeout=30).json()
    assert experiment_id not in [record["id"] for record in listing]
    for body, route in (
        ({"experiment": experiment_id}, "inputs"),
        ({"experiment": experiment_id}, "jobs"),
    ):
        response = requests.post(f"{base}/{route}", json=body, headers=bob, timeout=30)
        assert response.status_code == 404, route


def test_wrong_token_is_rejected(service):
    response = requests.post(
        f"{service.base_url}{API}/token/login",
        json={"token": "not-a-token"},
        timeout=30,
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API token."


def test_second_upload_conflicts(service, alice, payload):
    base = f"{service.base_url}{API}"
    experiment = requests.post(
        f"{base}/experiments",
        json={"name": "twice", "category": "train"},
        headers=alice,
        timeout=30,
    ).json()
    upload = requests.post(
        f"{base}/inputs",
        json={"experiment": experiment["id"]},
        headers=alice,
        timeout=30,
    ).json()
    first = requests.put(upload["upload_url"], data=payload, timeout=60)
    second = requests.put(upload["upload_url"], data=payload, timeout=60)
    again = requests.post(
        f"{base}/inputs",
        json={"experiment": experiment["id"]},
        headers=alice,
        timeout=30,
    )
    assert first.status_code == 200
    assert second.status_code == 409
    assert again.status_code == 409


def _malformed_cases(service, alice, payload):
    """Yield ``(name, method, url, request kwargs, expected status)``."""
    base = f"{service.base_url}{API}"
    post = {"headers": alice}
    experiment = requests.post(
        f"{base}/experiments",
        json={"name": "bad", "category": "train"},
        **post,
        timeout=30,
    ).json()
    inference = requests.post(
        f"{base}/experiments",
        json={"name": "inf", "category": "inference"},
        **post,
        timeout=30,
    ).json()
    upload_url = requests.post(
        f"{base}/inputs", json={"experiment": experiment["id"]}, **post, timeout=30
    ).json()["upload_url"]
    inference_url = requests.post(
        f"{base}/inputs", json={"experiment": inference["id"]}, **post, timeout=30
    ).json()["upload_url"]
    path = upload_url.split("?")[0]
    blob_path = path.removeprefix(service.base_url)
    expired = int(time.time()) - 10
    expired_signature = hmac.new(
        _url_key(service), f"PUT\n{blob_path}\n{expired}".encode(), hashlib.sha256
    ).hexdigest()
    envelope = msgpack.unpackb(payload, raw=False)
    bad_checksum = msgpack.packb({**envelope, "sha256": "0" * 64}, use_bin_type=True)
    content = msgpack.unpackb(envelope["payload"], raw=False)
    content["experiment"]["model"]["layers"][1]["type"] = "NoSuchLayer"
    unknown_layer = serialization.dump_envelope(
        "experiment", msgpack.packb(content, use_bin_type=True)
    )
    now = int(time.time())
    expired_jwt = jwt.encode(
        {"sub": "x", "iss": "aihw-jax", "iat": now - 7200, "exp": now - 3600},
        _jwt_key(service),
        algorithm="HS256",
    )
    forged_jwt = jwt.encode(
        {"sub": "x", "iss": "aihw-jax", "exp": now + 60}, b"k" * 32, algorithm="HS256"
    )
    none_jwt = jwt.encode(
        {"sub": "x", "iss": "aihw-jax", "exp": now + 60}, None, algorithm="none"
    )
    bearer = lambda token: {"headers": {"Authorization": f"Bearer {token}"}}
    raw = {"headers": {**alice, "Content-Type": "application/json"}}
    yield "login bad json", "POST", f"{base}/token/login", {"data": b"{"}, 422
    yield (
        "login extra field",
        "POST",
        f"{base}/token/login",
        {"json": {"token": "a", "x": 1}},
        422,
    )
    yield "login wrong type", "POST", f"{base}/token/login", {"json": {"token": 5}}, 422
    yield "login empty body", "POST", f"{base}/token/login", {}, 422
    yield "login list body", "POST", f"{base}/token/login", {"json": ["token"]}, 422
    yield "missing auth", "GET", f"{base}/experiments/me", {}, 401
    yield "basic auth", "GET", f"{base}/experiments/me", {"auth": ("a", "b")}, 401
    yield "garbage jwt", "GET", f"{base}/experiments/me", bearer("abc.def.ghi"), 401
    yield "forged jwt", "GET", f"{base}/experiments/me", bearer(forged_jwt), 401
    yield "expired jwt", "GET", f"{base}/experiments/me", bearer(expired_jwt), 401
    yield "alg none jwt", "GET", f"{base}/experiments/me", bearer(none_jwt), 401
    yield (
        "experiment extra field",
        "POST",
        f"{base}/experiments",
        {"json": {"name": "a", "category": "train", "owner": "b"}, **post},
        422,
    )
    yield (
        "experiment bad category",
        "POST",
        f"{base}/experiments",
        {"json": {"name": "a", "category": "x"}, **post},
        422,
    )
    yield (
        "experiment empty name",
        "POST",
        f"{base}/experiments",
        {"json": {"name": "", "category": "train"}, **post},
        422,
    )
    yield (
        "experiment long name",
        "POST",
        f"{base}/experiments",
        {"json": {"name": "a" * 1000, "category": "train"}, **post},
        422,
    )
    yield (
        "experiment name int",
        "POST",
        f"{base}/experiments",
        {"json": {"name": 1, "category": "train"}, **post},
        422,
    )
    yield (
        "experiment huge body",
        "POST",
        f"{base}/experiments",
        {"data": b"[" + b"1," * 1_100_000 + b"1]", **raw},
        413,
    )
    yield (
        "input unknown experiment",
        "POST",
        f"{base}/inputs",
        {"json": {"experiment": "f" * 32}, **post},
        404,
    )
    yield (
        "input experiment int",
        "POST",
        f"{base}/inputs",
        {"json": {"experiment": 7}, **post},
        422,
    )
    yield (
        "job unknown device",
        "POST",
        f"{base}/jobs",
        {"json": {"experiment": experiment["id"], "device": "tpu"}, **post},
        422,
    )
    yield (
        "job negative elements",
        "POST",
        f"{base}/jobs",
        {"json": {"experiment": experiment["id"], "max_elements": -1}, **post},
        422,
    )
    yield (
        "job elements string",
        "POST",
        f"{base}/jobs",
        {"json": {"experiment": experiment["id"], "max_elements": "100"}, **post},
        422,
    )
    yield (
        "job huge seed",
        "POST",
        f"{base}/jobs",
        {"json": {"experiment": experiment["id"], "seed": 2**40}, **post},
        422,
    )
    yield (
        "job unknown experiment",
        "POST",
        f"{base}/jobs",
        {"json": {"experiment": "f" * 32}, **post},
        404,
    )
    yield (
        "job without input",
        "POST",
        f"{base}/jobs",
        {"json": {"experiment": experiment["id"]}, **post},
        409,
    )
    yield "job text body", "POST", f"{base}/jobs", {"data": "experiment", **raw}, 422
    yield "unknown job", "GET", f"{base}/jobs/{'e' * 32}", post, 404
    yield "unknown output", "GET", f"{base}/outputs/{'e' * 32}/file", post, 404
    yield (
        "input not uploaded",
        "GET",
        f"{base}/inputs/{path.rsplit('/', 1)[1]}/file",
        post,
        404,
    )
    yield "unknown route", "GET", f"{base}/nothing", post, 404
    yield "wrong method", "DELETE", f"{base}/experiments/me", post, 405
    yield (
        "upload not msgpack",
        "PUT",
        upload_url,
        {"data": b"\xc1\xff not msgpack"},
        400,
    )
    yield "upload empty", "PUT", upload_url, {"data": b""}, 400
    yield "upload bad checksum", "PUT", upload_url, {"data": bad_checksum}, 400
    yield (
        "upload weights kind",
        "PUT",
        upload_url,
        {"data": serialization.dump_envelope("weights", b"x")},
        400,
    )
    yield "upload unknown layer", "PUT", upload_url, {"data": unknown_layer}, 400
    yield "upload wrong category", "PUT", inference_url, {"data": payload}, 422
    yield (
        "upload oversized",
        "PUT",
        upload_url,
        {"data": b"\0" * (64 * 1024 * 1024 + 1)},
        413,
    )
    yield (
        "upload tampered signature",
        "PUT",
        upload_url[:-4] + "0000",
        {"data": payload},
        403,
    )
    yield (
        "upload expired url",
        "PUT",
        f"{path}?expires={expired}&signature={expired_signature}",
        {"data": payload},
        403,
    )
    yield "upload unsigned", "PUT", path, {"data": payload}, 403
    yield (
        "upload bad expiry",
        "PUT",
        f"{path}?expires=soon&signature=00",
        {"data": payload},
        403,
    )
    yield "download with upload url", "GET", upload_url, {}, 403


def test_malformed_requests_answer_4xx(service, alice, payload):
    results = []
    for name, method, url, kwargs, expected in _malformed_cases(
        service, alice, payload
    ):
        response = requests.request(method, url, timeout=60, **kwargs)
        detail = response.json().get("detail")
        results.append((name, response.status_code, expected, detail))
    assert len(results) >= 30
    wrong = [(name, got, want) for name, got, want, _ in results if got != want]
    assert wrong == []
    without_message = [
        name
        for name, _, _, detail in results
        if not isinstance(detail, str) or not detail
    ]
    assert without_message == []
    health = requests.get(f"{service.base_url}{API}/health", timeout=30)
    assert health.status_code == 200
    listing = requests.get(
        f"{service.base_url}{API}/experiments/me", headers=alice, timeout=30
    )
    assert listing.status_code == 200


def test_upload_error_names_layer(service, alice, payload):
    base = f"{service.base_url}{API}"
    experiment = requests.post(
        f"{base}/experiments",
        json={"name": "layer", "category": "train"},
        headers=alice,
        timeout=30,
    ).json()
    upload_url = requests.post(
        f"{base}/inputs",
        json={"experiment": experiment["id"]},
        headers=alice,
        timeout=30,
    ).json()["upload_url"]
    envelope = msgpack.unpackb(payload, raw=False)
    content = msgpack.unpackb(envelope["payload"], raw=False)
    content["experiment"]["model"]["layers"][1]["type"] = "NoSuchLayer"
    data = serialization.dump_envelope(
        "experiment", msgpack.packb(content, use_bin_type=True)
    )
    response = requests.put(upload_url, data=data, timeout=60)
    assert response.status_code == 400
    assert "NoSuchLayer" in response.json()["detail"]


def test_log_has_no_secrets(service, alice):
    token = alice["Authorization"].split()[1]
    log = service.log_path.read_text(errors="replace")
    assert "INFO aihw_jax.cloud.service.access: POST /api/v1/token/login 200" in log
    assert token not in log
    assert "signature=" not in log


def test_tls_service(tmp_path):
    certificate = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    tls = start_service(
        tmp_path,
        extra_args=("--ssl-certfile", str(certificate), "--ssl-keyfile", str(key)),
    )
    try:
        assert tls.base_url.startswith("https://")
        headers = login(tls.base_url, tls.add_user("carol"), verify=str(certificate))
        response = requests.get(
            f"{tls.base_url}{API}/experiments/me",
            headers=headers,
            verify=str(certificate),
            timeout=30,
        )
        assert response.status_code == 200
        assert response.json() == []
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{tls.base_url}{API}/health", timeout=30)
    finally:
        tls.stop()


def test_non_ascii_signature_rejected(service, alice):
    url = f"{service.base_url}{BLOB_PREFIX}outputs/{'0' * 32}"
    expires = int(time.time()) + 60
    response = requests.get(
        url, params={"expires": expires, "signature": "é" * 64}, timeout=30
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "URL signature is invalid."


def test_impossible_ids_answer_404(service, alice):
    base = f"{service.base_url}{API}"
    for path in (
        "experiments/%00",
        "jobs/a%00b",
        "inputs/%00/file",
        "outputs/a%00/file",
        "experiments/" + "z" * 500,
    ):
        response = requests.get(f"{base}/{path}", headers=alice, timeout=30)
        assert response.status_code == 404, path
        assert len(response.json()["detail"]) < 100, path
    for body in ({"experiment": "a\x00b"}, {"experiment": "\x00"}):
        job = requests.post(f"{base}/jobs", json=body, headers=alice, timeout=30)
        assert job.status_code == 404


def test_control_characters_in_name_rejected(service, alice):
    response = requests.post(
        f"{service.base_url}{API}/experiments",
        json={"name": "a\x00b", "category": "train"},
        headers=alice,
        timeout=30,
    )
    assert response.status_code == 422
    assert "control characters" in response.json()["detail"]


def test_engine_hides_parameters(tmp_path):
    engine = database.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert engine.hide_parameters
    finally:
        engine.dispose()


def test_password_hash_parameters():
    stored = accounts.hash_password("a long password")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    old = argon2.PasswordHasher().hash("a long password")
    user = User(name="old", password_hash=old)
    assert accounts.verify_password(user, "a long password")
    assert accounts.password_needs_rehash(user)


def test_sign_in_limiter_per_address():
    limiter = SignInLimiter(max_failures=5, max_address_failures=3, window_s=60)
    for name in ("a", "b", "c"):
        assert limiter.retry_after(name, "10.0.0.1") == 0
        limiter.record_failure(name, "10.0.0.1")
    assert 0 < limiter.retry_after("d", "10.0.0.1") <= 60
    assert limiter.retry_after("d", "10.0.0.2") == 0


def test_storage_files_are_private(tmp_path):
    storage = tmp_path / "new-storage"
    config = make_config(storage)
    store = BlobStore(config.storage)
    store.write("inputs", "abc", b"data")
    assert stat.S_IMODE(storage.stat().st_mode) == 0o700
    assert stat.S_IMODE((storage / "secret.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((storage / "aihw-jax.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((storage / "inputs").stat().st_mode) == 0o700
    blob = store.path("inputs", "abc")
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--web-session-hours", "1e30", "not in (0,"),
        ("--web-session-hours", "nan", "not in (0,"),
        ("--web-session-hours", "0", "not in (0,"),
        ("--port", "99999", "not in 0..65535"),
        ("--port", "http", "invalid port"),
        ("--ssl-certfile", "/nonexistent/cert.pem", "not found"),
    ],
)
def test_serve_rejects_bad_options(capsys, option, value, message):
    with pytest.raises(SystemExit) as stopped:
        cli.build_parser().parse_args(["serve", option, value])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in error
    assert error.startswith("aihw-jax serve: error:")


def test_serve_help_texts():
    parser = cli.build_parser()
    serve = parser._subparsers._group_actions[0].choices["serve"]
    text = " ".join(serve.format_help().split())
    assert "default: 127.0.0.1" in text
    assert "default: 8000" in text
    for option in ("--ssl-certfile", "--ssl-keyfile", "--log-level"):
        action = next(a for a in serve._actions if option in a.option_strings)
        assert action.help, option


@pytest.mark.parametrize(
    "name", ["", "bad name/../x", "n" * 300, "tab\there", "nul\x00"]
)
def test_users_add_rejects_bad_names(tmp_path, capsys, name):
    status = cli.main(["users", "add", name, "--storage", str(tmp_path / "s")])
    assert status == 2
    assert "User name must be" in capsys.readouterr().err


def test_users_add_names_and_messages(tmp_path, capsys, monkeypatch):
    storage = str(tmp_path / "s")
    assert cli.main(["users", "add", "alice", "--storage", storage]) == 0
    first = capsys.readouterr()
    assert first.err.startswith("note: creating a new database")
    assert first.err.count("\n") == 1
    assert "Created user 'alice'" in first.out
    monkeypatch.setattr("sys.stdin", io.StringIO("a good password\n"))
    assert cli.main(["users", "add", "alice", "--password", "--storage", storage]) == 0
    second = capsys.readouterr()
    assert "creating a new database" not in second.err
    assert "Set the web password of user 'alice'." in second.out
    assert cli.main(["users", "add", "ALICE", "--storage", storage]) == 2
    assert "differs only in case" in capsys.readouterr().err

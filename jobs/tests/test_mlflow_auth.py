"""MLflow login of the cloud jobs: password from Lockbox, server CA from the bucket (mlflow_auth.py).

The metadata token endpoint and the Lockbox payload API are the boot test's stand-in
(boot/standins.py) on 127.0.0.1; the MLflow side is a loopback HTTPS server with its own
self-signed certificate that answers MLflow's REST API with 401 unless basic auth is right, like
the nginx in front of the cloud MLflow server.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import ssl
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fraud_jobs import bootstrap, compare, mlflow_auth, train
from fraud_jobs.common import JobError
from fraud_jobs.pipeline_spec import STEPS, PipelineConfig, step_args
from tests.synthetic_features import write_features

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_ID = "e6qmlflowjobs0standin"
PASSWORD = "Pw-" + os.urandom(9).hex()
DATE = "2024-04-07"
MLFLOW_ENV = (mlflow_auth.USERNAME_ENV, mlflow_auth.PASSWORD_ENV, mlflow_auth.CERT_PATH_ENV)


def _load_standins():
    """boot/standins.py, imported from its file (the boot part owns it; no copy here)."""
    name = "boot_standins"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "boot" / "standins.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture()
def clean_env(monkeypatch):
    """No MLflow credentials before the test; whatever the test sets is undone afterwards."""
    for name in MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture()
def cloud_api(clean_env):
    standin = _load_standins().CloudApiStandIn({SECRET_ID: {"password": PASSWORD}}).start()
    clean_env.setenv("YC_METADATA_URL", standin.url)
    clean_env.setenv("YC_LOCKBOX_PAYLOAD_URL", standin.url)
    try:
        yield standin
    finally:
        standin.stop()


def test_credentials_from_lockbox_land_in_the_driver_env(spark, cloud_api, capfd):
    mlflow_auth.configure_mlflow_client(spark, username="jobs", password_secret_id=SECRET_ID, ca_uri="")

    assert os.environ[mlflow_auth.USERNAME_ENV] == "jobs"
    assert os.environ[mlflow_auth.PASSWORD_ENV] == PASSWORD
    paths = [(method, path) for method, path, status in cloud_api.requests if status == 200]
    assert ("GET", "/computeMetadata/v1/instance/service-accounts/default/token") in paths
    assert ("GET", f"/lockbox/v1/secrets/{SECRET_ID}/payload") in paths
    out, err = capfd.readouterr()
    assert SECRET_ID in err  # says where the password came from ...
    assert PASSWORD not in out + err  # ... never what it is


def test_wrong_secret_id_names_the_id_and_status_never_the_password(spark, cloud_api, capfd):
    with pytest.raises(JobError) as caught:
        mlflow_auth.configure_mlflow_client(spark, username="jobs", password_secret_id="e6qnosuchsecret",
                                            ca_uri="")
    message = str(caught.value)
    assert "e6qnosuchsecret" in message and "HTTP 404" in message
    assert PASSWORD not in message
    out, err = capfd.readouterr()
    assert PASSWORD not in out + err
    assert mlflow_auth.PASSWORD_ENV not in os.environ


def test_username_without_a_password_secret_is_refused(spark, clean_env):
    with pytest.raises(JobError, match="'jobs'"):
        mlflow_auth.configure_mlflow_client(spark, username="jobs", password_secret_id="", ca_uri="")


def test_nothing_configured_is_a_no_op(spark, cloud_api):
    before = dict(os.environ)
    mlflow_auth.configure_mlflow_client(spark, username="", password_secret_id="", ca_uri="")
    assert dict(os.environ) == before
    assert cloud_api.requests == []


def test_missing_ca_file_names_the_uri(spark, clean_env, tmp_uri):
    missing = tmp_uri + "/tls/mlflow-server.crt"
    with pytest.raises(JobError) as caught:
        mlflow_auth.configure_mlflow_client(spark, username="", password_secret_id="", ca_uri=missing)
    assert missing in str(caught.value)
    assert mlflow_auth.CERT_PATH_ENV not in os.environ


def test_ca_that_is_not_a_certificate_or_not_a_uri_is_refused(spark, clean_env, tmp_path):
    junk = tmp_path / "junk.crt"
    junk.write_text("<html>AccessDenied</html>")
    with pytest.raises(JobError, match="no PEM certificate"):
        mlflow_auth.configure_mlflow_client(spark, ca_uri=f"file://{junk}")
    with pytest.raises(JobError, match="bad MLflow CA URI 'ftp://x/ca.crt'"):
        mlflow_auth.configure_mlflow_client(spark, ca_uri="ftp://x/ca.crt")


# ---------------------------------------------------------------------------------------------
# End to end: an MLflow call after configure passes TLS verification and basic auth


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class _AuthMlflowStandIn:
    """HTTPS on 127.0.0.1: 401 without the right basic auth (as nginx does), else a tiny subset of
    MLflow's REST API (experiments/get-by-name). Records the Authorization header of every request."""

    def __init__(self, cert: Path, key: Path, user: str, password: str):
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        seen = self.authorization = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict, extra: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **(extra or {})}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                seen.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != expected:
                    return self._send(401, {"error": "401 Authorization Required"},
                                      {"WWW-Authenticate": 'Basic realm="MLflow"'})
                if self.path.startswith("/api/2.0/mlflow/experiments/get-by-name"):
                    return self._send(200, {"experiment": {
                        "experiment_id": "7", "name": "fraud-detection",
                        "artifact_location": "s3://bucket/7", "lifecycle_stage": "active"}})
                return self._send(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": self.path})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_mlflow_call_after_configure_verifies_the_server_and_sends_basic_auth(
        spark, cloud_api, tmp_path):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    cert, key = _self_signed(tmp_path)
    server = _AuthMlflowStandIn(cert, key, "jobs", PASSWORD)
    try:
        client = MlflowClient(tracking_uri=server.url)
        # the certificate alone: TLS is verified against it, but nginx still says 401
        mlflow_auth.configure_mlflow_client(spark, ca_uri=f"file://{cert}")
        ca_copy = Path(os.environ[mlflow_auth.CERT_PATH_ENV])
        assert ca_copy.read_bytes() == cert.read_bytes()
        assert stat.S_IMODE(ca_copy.stat().st_mode) == 0o600
        with pytest.raises(MlflowException, match="401"):
            client.get_experiment_by_name("fraud-detection")
        assert server.authorization == [None]

        mlflow_auth.configure_mlflow_client(spark, username="jobs", password_secret_id=SECRET_ID,
                                            ca_uri=f"file://{cert}")
        experiment = client.get_experiment_by_name("fraud-detection")
        assert experiment.experiment_id == "7"
        assert server.authorization[-1].startswith("Basic ")
    finally:
        server.stop()


def test_train_cli_reads_the_password_before_any_mlflow_call(spark, cloud_api, tmp_uri):
    """The job's flags reach configure, and a bad secret stops the job before MLflow is contacted."""
    write_features(spark, tmp_uri, DATE, rows_per_day=20)
    unreachable = "http://127.0.0.1:9"
    with pytest.raises(JobError, match="e6qwrongsecret.*HTTP 404"):
        train.main_lr(["--date", DATE, "--data-root", tmp_uri, "--mlflow-uri", unreachable,
                       "--experiment", "e", "--registered-model", "m",
                       "--train-days", "4", "--delay-days", "1", "--test-days", "2",
                       "--validation-days", "1",
                       "--mlflow-username", "jobs", "--mlflow-password-secret", "e6qwrongsecret"])
    # (had MLflow come first, the unreachable URI would have failed it with an MLflow error)


# ---------------------------------------------------------------------------------------------
# The contract: step_args passes the flags to the MLflow steps only, and only when set

MLFLOW_STEPS = ("train_lr", "train_rf", "bootstrap", "compare")
FLAGS = ("--mlflow-username", "--mlflow-password-secret", "--mlflow-ca-uri")


def test_step_args_carry_the_auth_flags_only_when_set():
    plain = PipelineConfig()
    for step in STEPS:
        assert not set(FLAGS) & set(step_args(step, plain, DATE)), step

    cloud = PipelineConfig(mlflow_username="jobs", mlflow_password_secret_id=SECRET_ID,
                           mlflow_ca_uri="s3a://bucket/tls/mlflow-server.crt")
    for step in STEPS:
        args = step_args(step, cloud, DATE)
        if step in MLFLOW_STEPS:
            pairs = dict(zip(args, args[1:]))
            assert pairs["--mlflow-username"] == "jobs"
            assert pairs["--mlflow-password-secret"] == SECRET_ID
            assert pairs["--mlflow-ca-uri"] == "s3a://bucket/tls/mlflow-server.crt"
        else:
            assert not set(FLAGS) & set(args), step

    only_ca = PipelineConfig(mlflow_ca_uri="s3a://bucket/tls/mlflow-server.crt")
    args = step_args("compare", only_ca, DATE)
    assert "--mlflow-ca-uri" in args and "--mlflow-username" not in args


def test_each_mlflow_job_cli_accepts_what_step_args_emits():
    cloud = PipelineConfig(mlflow_username="jobs", mlflow_password_secret_id=SECRET_ID,
                           mlflow_ca_uri="s3a://bucket/tls/mlflow-server.crt")
    parsers = {"train_lr": train.parser("lr"), "train_rf": train.parser("rf"),
               "bootstrap": bootstrap.parser(), "compare": compare.parser()}
    for step, parser in parsers.items():
        args = parser.parse_args(step_args(step, cloud, DATE))
        assert (args.mlflow_username, args.mlflow_password_secret, args.mlflow_ca_uri) == (
            "jobs", SECRET_ID, "s3a://bucket/tls/mlflow-server.crt"), step
        plain = parser.parse_args(step_args(step, PipelineConfig(), DATE))
        assert (plain.mlflow_username, plain.mlflow_password_secret, plain.mlflow_ca_uri) == ("", "", "")

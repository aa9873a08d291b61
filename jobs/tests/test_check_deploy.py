"""scripts/deploy/check_deploy.py (`make check-deploy`): its pure parts here (the outputs it reads, the
summary it prints, Airflow's log content, the champion line), plus the two network primitives on
loopback with real sockets: the port probe and TLS verification against a host's own certificate;
and reading the password from the boot harness's Lockbox stand-in (strict on the token).
The whole program runs against booted hosts behind their real nginx in boot/tests."""
from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS / "deploy"))
sys.path.insert(0, str(SCRIPTS / "demo"))

import check_deploy as cd  # noqa: E402
from demo_summary import summary_lines  # noqa: E402

VALUE = {
    "mlflow": {"url": "https://198.51.100.7", "user": "admin", "password_secret_id": "e6q1",
               "password_key": "password", "certificate_bucket": "b", "certificate_key": "tls/mlflow-server.crt",
               "storage_endpoint": "https://storage.yandexcloud.net"},
    "airflow": {"url": "https://198.51.100.8", "user": "admin", "password_secret_id": "e6q2",
                "password_key": "password", "ssh_user": "ubuntu", "certificate_path": "/etc/yc-mlops/tls/server.crt"},
}


@pytest.mark.parametrize("text", [
    json.dumps({"yc-mlops": {"check_deploy": VALUE, "bucket": "b"}}),          # cdktf output --outputs-file
    json.dumps({"check_deploy": {"sensitive": False, "type": [], "value": VALUE}}),  # terraform output -json
    json.dumps(VALUE),                                                          # the bare value
])
def test_outputs_are_read_from_cdktf_and_terraform_formats(text):
    eps = cd.parse_outputs(text)
    assert eps["mlflow"].host == "198.51.100.7" and eps["mlflow"].port == 443
    assert eps["mlflow"].certificate_key == "tls/mlflow-server.crt"
    assert eps["airflow"].ssh_user == "ubuntu" and eps["airflow"].password_secret_id == "e6q2"


@pytest.mark.parametrize("change, message", [
    (lambda v: v["airflow"].pop("password_secret_id"), "check_deploy.airflow.password_secret_id is missing or empty"),
    (lambda v: v["mlflow"].update(user=""), "check_deploy.mlflow.user is missing or empty: ''"),
    (lambda v: v["mlflow"].update(url="http://198.51.100.7"), "check_deploy.mlflow.url must be https://<address>"),
    (lambda v: v["mlflow"].update(url="https://198.51.100.7/x"), "must be https://<address>: 'https://198.51.100.7/x'"),
    (lambda v: v.pop("airflow"), "no 'check_deploy' output with 'mlflow' and 'airflow'"),
])
def test_bad_outputs_fail_naming_the_key(change, message):
    value = json.loads(json.dumps(VALUE))
    change(value)
    with pytest.raises(cd.CheckFailed) as e:
        cd.parse_outputs(json.dumps({"yc-mlops": {"check_deploy": value}}), "out.json")
    assert message in str(e.value) and str(e.value).startswith("out.json: ")


def test_outputs_that_are_not_json_fail_clearly():
    with pytest.raises(cd.CheckFailed, match=r"^o.json: not JSON"):
        cd.parse_outputs("Error: stack not deployed", "o.json")


METRICS = {"f1_lr": 0.61234, "f1_lr_ci_low": 0.55, "f1_lr_ci_high": 0.67, "f1_rf": 0.80001,
           "f1_rf_ci_low": 0.75, "f1_rf_ci_high": 0.85, "f1_diff": 0.18767, "f1_diff_ci_low": 0.12,
           "f1_diff_ci_high": 0.25, "p_value": 1.234e-7, "t_stat": 5.4321}


def test_summary_is_the_demo_summary():
    lines = summary_lines("2024-04-07", METRICS, {"pipeline.verdict": "random forest is better",
                                                  "pipeline.champion_version": "3"},
                          "fraud-detector", {"MLflow experiment ": "https://m/#/experiments/1"},
                          {"lr": {"test_roc_auc": 0.8861, "test_average_precision": 0.6512,
                                  "test_card_precision_top_100": 0.319},
                           "rf": {"test_roc_auc": 0.9}})
    assert lines == [
        "",
        "Fraud pipeline, logical date 2024-04-07 (the test week ends that day)",
        "                          ROC AUC       AP   CP@100       F1   95% CI of F1",
        "  logistic regression       0.886    0.651    0.319   0.6123   [0.5500, 0.6700]",
        "  random forest             0.900        ?        ?   0.8000   [0.7500, 0.8500]",
        "  F1 difference (RF - LR)                            +0.1877   [+0.1200, +0.2500]",
        "  one-sided p-value      1.234e-07  (t = 5.432, bootstrap standard error)",
        "  verdict: random forest is better",
        "  model registry: fraud-detector version 3 is now 'champion'",
        "",
        "  MLflow experiment : https://m/#/experiments/1",
        "",
    ]


def test_champion_line_says_whether_the_run_moved_it():
    assert cd.champion_line("3", "3") == "champion alias: fraud-detector version 3 (moved by this run)"
    assert cd.champion_line("2", None) == "champion alias: fraud-detector version 2 (not moved by this run)"
    assert cd.champion_line(None, None) == "champion alias: none yet on fraud-detector"


def test_log_lines_of_structured_and_text_logs():
    content = [{"timestamp": "t", "event": "::group::Log message source details", "level": "info"},
               {"event": "Task failed with exception", "level": "error",
                "error_detail": [{"exc_type": "RuntimeError", "exc_value": "no cluster"}]},
               "plain line"]
    lines = cd.log_lines(content)
    assert lines[0] == "::group::Log message source details"
    assert lines[1] == "error: Task failed with exception"
    assert "RuntimeError" in lines[2] and "no cluster" in lines[2]
    assert lines[3] == "plain line"
    assert cd.log_lines("a\nb\n") == ["a", "b"]


def test_open_ports_finds_a_listener_and_not_a_closed_port():
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        ports = (listening.getsockname()[1], closed.getsockname()[1])
        assert cd.open_ports("127.0.0.1", ports, timeout=1) == [ports[0]]


def _self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    key, crt = tmp / f"{name}.key", tmp / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(crt)], check=True, capture_output=True)
    return key, crt


def test_tls_is_verified_against_the_hosts_own_certificate(tmp_path):
    """A server presenting another self-signed certificate than the one the host published is
    refused before any request (so no password is sent), with a line naming where the expected
    certificate came from."""
    key, crt = _self_signed(tmp_path, "impostor")
    _, published = _self_signed(tmp_path, "published")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    got: list[bytes] = []

    def serve():
        conn, _ = srv.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                got.append(tls.recv(100))
        except (ssl.SSLError, OSError):
            pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    ep = cd.Endpoint("mlflow", f"https://127.0.0.1:{port}", "admin", "s", "password")
    client = cd.Https(ep, published.read_text(), "s3://b/tls/mlflow-server.crt")
    with pytest.raises(cd.CheckFailed) as e:
        client.request("GET", "/", auth=("admin", "secret-value"))
    t.join(10)
    srv.close()
    assert str(e.value).startswith(f"mlflow: https://127.0.0.1:{port} presents a certificate that does not "
                                   "verify against s3://b/tls/mlflow-server.crt"), e.value
    assert got == []  # nothing (no Authorization header) reached the impostor


def test_a_bad_date_is_refused_before_anything_is_sent(tmp_path, capsys):
    (tmp_path / "o.json").write_text(json.dumps(VALUE))
    with pytest.raises(SystemExit) as e:
        cd.main(["--outputs", str(tmp_path / "o.json"), "--date", "2024-13-01"])
    assert e.value.code == 2
    assert "--date must be YYYY-MM-DD: '2024-13-01'" in capsys.readouterr().err


@pytest.fixture
def lockbox():
    """The boot harness's Lockbox stand-in (boot/standins.py): the payload API, strict on the token."""
    sys.path.insert(0, str(SCRIPTS.parent / "boot"))
    from standins import CloudApiStandIn
    api = CloudApiStandIn({"e6qadmin": {"password": "sv-right-password"}}).start()
    yield api
    api.stop()


def test_the_published_certificate_is_read_from_the_bucket_with_the_users_token(lockbox, tmp_path):
    """The MLflow check's expected certificate: fetched by the program itself from Object Storage,
    the user's IAM token in X-YaCloud-SubjectToken (no S3 keys), from the stand-in that serves the
    object only to that token."""
    _, crt = _self_signed(tmp_path, "published")
    lockbox.objects["/fraud-bucket/tls/mlflow-server.crt"] = crt.read_bytes()
    ep = cd.Endpoint("mlflow", "https://127.0.0.1:1", "admin", "e6qadmin", "password",
                     certificate_bucket="fraud-bucket", certificate_key="tls/mlflow-server.crt",
                     storage_endpoint="https://storage.invalid")
    cloud = cd.Cloud({"YC_TOKEN": lockbox.token, "YC_STORAGE_ENDPOINT": lockbox.url})
    pem, where = cd.certificate_of(ep, cloud, None)
    assert (pem, where) == (crt.read_text(), "s3://fraud-bucket/tls/mlflow-server.crt")
    assert ("GET", "/fraud-bucket/tls/mlflow-server.crt", 200) in lockbox.requests
    # another token, or an object that is not there: one line naming what and the status
    other = cd.Cloud({"YC_TOKEN": "t1.not-issued", "YC_STORAGE_ENDPOINT": lockbox.url})
    with pytest.raises(cd.CheckFailed, match=r"^mlflow: its published certificate "
                       r"s3://fraud-bucket/tls/mlflow-server.crt: HTTP 403 from "):
        cd.certificate_of(ep, other, None)
    missing = cd.Endpoint(**{**vars(ep), "certificate_key": "tls/none.crt"})
    with pytest.raises(cd.CheckFailed, match=r"HTTP 404 from .*/fraud-bucket/tls/none.crt$"):
        cd.certificate_of(missing, cloud, None)


def test_the_admin_password_is_read_from_lockbox_with_the_users_token(lockbox):
    cloud = cd.Cloud({"YC_TOKEN": lockbox.token, "YC_LOCKBOX_PAYLOAD_URL": lockbox.url})
    assert cloud.lockbox_entry("e6qadmin", "password", "mlflow: the admin password") == "sv-right-password"
    assert ("GET", "/lockbox/v1/secrets/e6qadmin/payload", 200) in lockbox.requests


def test_lockbox_refusals_fail_with_one_line_and_no_secret(lockbox):
    refused = cd.Cloud({"YC_TOKEN": "t1.not-issued", "YC_LOCKBOX_PAYLOAD_URL": lockbox.url})
    with pytest.raises(cd.CheckFailed) as e:
        refused.lockbox_entry("e6qadmin", "password", "airflow: the admin password")
    assert str(e.value) == "airflow: the admin password: payload of Lockbox secret e6qadmin: HTTP 403"
    cloud = cd.Cloud({"YC_TOKEN": lockbox.token, "YC_LOCKBOX_PAYLOAD_URL": lockbox.url})
    with pytest.raises(cd.CheckFailed) as e:
        cloud.lockbox_entry("e6qadmin", "admin-password", "mlflow: the admin password")
    assert str(e.value) == ("mlflow: the admin password: Lockbox secret e6qadmin has no entry "
                            "'admin-password' (entries: ['password'])")
    assert "sv-right-password" not in str(e.value)
    with pytest.raises(cd.CheckFailed, match=r"^mlflow: the admin password: payload of Lockbox secret e6qother: HTTP 404$"):
        cloud.lockbox_entry("e6qother", "password", "mlflow: the admin password")


def test_no_token_and_no_yc_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `yc` on PATH
    with pytest.raises(cd.CheckFailed, match=r"^no IAM token: set YC_TOKEN"):
        cd.Cloud({}).token()

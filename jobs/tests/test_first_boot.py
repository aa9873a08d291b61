"""The VMs' first-boot program (units/first-boot/first_boot.py, written to the VMs by the stack and
run once by cloud-init), run from a temp dir layout: its steps one by one, then a whole Airflow
boot up to systemd. Nothing here touches the network or this machine's services."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parents[2] / "units" / "first-boot" / "first_boot.py"
_spec = importlib.util.spec_from_file_location("first_boot", PROGRAM)
fb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fb)

AS_ROOT = os.geteuid() == 0
WWW_DATA_GID = 33  # Debian's fixed gid

# as the stack renders host.env (units/env/host.env.ejs): single-quoted values
HOST_ENV = """# Deploy values (rendered)
YC_METADATA_URL='http://169.254.169.254'
YC_LOCKBOX_PAYLOAD_URL='https://payload.lockbox.api.cloud.yandex.net'
YC_STORAGE_ENDPOINT='https://storage.yandexcloud.net'
YC_PG_HOST='c-1.rw.mdb.yandexcloud.net'
YC_PG_PORT='6432'
YC_PG_SSLMODE='verify-full'
PG_DATABASE='airflow'
PG_USER='airflow'
LOCKBOX_PG_PASSWORD='e6qpg:password'
WEB_USERS='admin=e6qweb:password jobs=e6qjobs:password'
YC_API_ENDPOINT='api.cloud.yandex.net:443'
DEFAULT_YC_API_ENDPOINT='api.cloud.yandex.net:443'
YANDEX_FOLDER_ID='b1gfolder'
LOCKBOX_FERNET_SEED='e6qfernet:seed'
LOCKBOX_JWT_SECRET='e6qjwt:secret'
LOCKBOX_API_SECRET_KEY='e6qapi:key'
"""
SECRETS = {
    "e6qpg/password": "p@ss/w:rd%x y",
    "e6qweb/password": "admin-password-1",
    "e6qjobs/password": "jobs-password-2",
    "e6qfernet/seed": "fernet-seed-3",
    "e6qjwt/secret": "jwt-secret-4",
    "e6qapi/key": "apisecretkey5",
}


@pytest.fixture(autouse=True)
def chown_only_as_root(monkeypatch):
    """The program, root on the VM, chowns its files to root:<group>; run by another user, these
    tests check everything but the owner (asserted only when run as root)."""
    if not AS_ROOT:
        monkeypatch.setattr(fb.shutil, "chown", lambda path, user=None, group=None: None)


@pytest.fixture
def conf(tmp_path):
    d = tmp_path / "conf"
    d.mkdir()
    (d / "host.env").write_text(HOST_ENV)
    return d


@pytest.fixture
def secrets(tmp_path):
    d = tmp_path / "secrets"
    for name, value in SECRETS.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(value + "\n")
    return fb.Secrets(d)


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_uses_the_override_files_endpoints_and_logs_them_with_index_credentials_masked(conf, capsys):
    (conf / "endpoints.env").write_text(
        "# boot test\nYC_METADATA_URL=http://127.0.0.1:18080\nYC_PG_HOST=127.0.0.1\nYC_PG_SSLMODE=disable\n"
        "PIP_INDEX_URL=https://user:s3cr3t@pypi.example/simple\n")
    values = fb.load_settings(conf)
    out = capsys.readouterr().out
    assert f"yc-mlops-boot: endpoint overrides read from {conf}/endpoints.env" in out
    assert "yc-mlops-boot: endpoint YC_METADATA_URL=http://127.0.0.1:18080\n" in out
    assert "endpoint YC_PG_SSLMODE=disable\n" in out
    assert "endpoint YC_API_ENDPOINT=api.cloud.yandex.net:443\n" in out
    assert "endpoint PIP_INDEX_URL=https://***@pypi.example/simple\n" in out
    assert "s3cr3t" not in out and "169.254.169.254" not in out
    assert values["YC_PG_PORT"] == "6432" and values["PIP_INDEX_URL"].endswith("s3cr3t@pypi.example/simple")


def test_without_an_override_uses_the_cloud_defaults(conf, capsys):
    fb.load_settings(conf)
    out = capsys.readouterr().out
    assert "endpoint YC_METADATA_URL=http://169.254.169.254\n" in out
    assert "endpoint YC_PG_PORT=6432\n" in out
    assert "overrides" not in out


@pytest.mark.parametrize("override, error", [
    ("YC_PG_SSLMODE=sometimes\n", "YC_PG_SSLMODE=sometimes is not a libpq sslmode"),
    ("YC_PG_HOST=\n", "YC_PG_HOST is empty"),
    ("# stand-ins\nYC_PG_HOST=a b\n", "endpoints.env:2 is not a NAME=VALUE line"),
    ("YC_PG_HOST='127.0.0.1\n", "endpoints.env:1 is not a NAME=VALUE line"),
])
def test_refuses_a_bad_setting_naming_it(conf, override, error):
    (conf / "endpoints.env").write_text(override)
    with pytest.raises(fb.BootError, match=error):
        fb.load_settings(conf)


@pytest.fixture
def fake_python(tmp_path):
    """A python3 of the given version whose `-m venv DIR` makes DIR/bin/pip, a pip that records its
    arguments (and the PIP_CACHE_DIR it saw)."""
    calls = tmp_path / "pip-calls"
    pip = ('#!/bin/sh\nprintf "%s|%s\\n" "${PIP_CACHE_DIR:-}" "$*" >> ' + str(calls) + "\n")

    def make(version: str) -> Path:
        return executable(tmp_path / "bin/python3", f"""#!/bin/sh
case "$1" in
  -c) echo {version} ;;
  -m) mkdir -p "$3/bin" && printf '%s' '{pip}' > "$3/bin/pip" && chmod 0755 "$3/bin/pip" ;;
esac
""")
    make.calls = calls
    return make


def test_stops_before_making_a_venv_when_python3_is_not_the_locks_python(tmp_path, fake_python):
    lock = tmp_path / "service.lock"
    lock.write_text("mlflow==1.0 --hash=sha256:00\n")
    with pytest.raises(fb.BootError) as err:
        fb.install_venv(tmp_path / "venv", lock, "3.11", python=str(fake_python("3.12")))
    assert str(err.value).startswith(f"python3 here is 3.12, but {lock} is compiled for CPython 3.11 (versions.json)")
    assert not (tmp_path / "venv").exists()


def test_rebuilds_the_venv_only_when_the_locks_sha256_changes(tmp_path, fake_python, monkeypatch, capsys):
    monkeypatch.delenv("PIP_CACHE_DIR", raising=False)
    python, venv, lock = str(fake_python("3.11")), tmp_path / "venv", tmp_path / "service.lock"
    lock.write_text("mlflow==1.0 --hash=sha256:00\n")
    fb.install_venv(venv, lock, "3.11", python=python)
    fb.install_venv(venv, lock, "3.11", python=python)
    assert f"venv {venv} is up to date" in capsys.readouterr().out
    assert (venv / ".lock-sha256").read_text() == hashlib.sha256(lock.read_bytes()).hexdigest() + "\n"
    lock.write_text("mlflow==1.1 --hash=sha256:01\n")
    monkeypatch.setenv("PIP_CACHE_DIR", "/var/cache/shared-pip")
    fb.install_venv(venv, lock, "3.11", python=python)
    assert fake_python.calls.read_text().splitlines() == [
        f"|install --quiet --disable-pip-version-check --no-cache-dir --require-hashes -r {lock}",
        f"/var/cache/shared-pip|install --quiet --disable-pip-version-check --require-hashes -r {lock}",
    ]


def test_fetches_the_postgresql_ca_only_for_verify_modes_and_only_once(tmp_path, conf, capsys):
    storage = tmp_path / "storage"
    (storage / "cloud-certs").mkdir(parents=True)
    (storage / "cloud-certs/CA.pem").write_text("CA-1\n")
    fb.fetch_pg_ca(conf, "require", f"file://{storage}")
    assert not (conf / "pg-root.crt").exists()
    fb.fetch_pg_ca(conf, "verify-full", f"file://{storage}")
    assert (conf / "pg-root.crt").read_text() == "CA-1\n"
    assert stat.S_IMODE((conf / "pg-root.crt").stat().st_mode) == 0o644
    (storage / "cloud-certs/CA.pem").write_text("CA-2\n")
    fb.fetch_pg_ca(conf, "verify-ca", f"file://{storage}")
    assert (conf / "pg-root.crt").read_text() == "CA-1\n"
    out = capsys.readouterr().out
    assert "sslmode require: no CA needed" in out and "CA downloaded" in out and "CA present" in out


def test_percent_encodes_a_database_password_and_refuses_env_values_systemd_would_reinterpret(secrets):
    values = {"PG_USER": "u", "YC_PG_HOST": "h", "YC_PG_PORT": "6432", "PG_DATABASE": "db"}
    url = fb.database_url(values, secrets.value("e6qpg:password"))
    assert fb.env_line("URL", url) == "URL=postgresql+psycopg2://u:p%40ss%2Fw%3Ard%25x%20y@h:6432/db\n"
    for bad in ["a b", "", "it's", 'x"y', "$HOME", "a\\b", "a\nb"]:
        with pytest.raises(fb.BootError) as err:
            fb.env_line("BAD", bad)
        assert str(err.value) == "the value for BAD is empty or has characters not allowed in an environment file"


def test_gives_mlflow_its_database_bucket_keys_and_every_host_name_as_allowed_host_and_origin(secrets):
    values = {"PG_USER": "mlflow", "PG_DATABASE": "mlflow", "YC_PG_HOST": "h", "YC_PG_PORT": "6432",
              "YC_PG_SSLMODE": "verify-full", "YC_STORAGE_ENDPOINT": "https://storage.yandexcloud.net",
              "LOCKBOX_PG_PASSWORD": "e6qweb:password", "LOCKBOX_S3_ACCESS_KEY_ID": "e6qapi:key",
              "LOCKBOX_S3_SECRET_KEY": "e6qjobs:password"}
    env = fb.mlflow_env(values, secrets, ["10.0.0.5", "localhost"]).splitlines()
    assert env == [
        "MLFLOW_BACKEND_STORE_URI=postgresql+psycopg2://mlflow:admin-password-1@h:6432/mlflow",
        "PGSSLMODE=verify-full",
        "MLFLOW_S3_ENDPOINT_URL=https://storage.yandexcloud.net",
        "AWS_ACCESS_KEY_ID=apisecretkey5",
        "AWS_SECRET_ACCESS_KEY=jobs-password-2",
        "MLFLOW_ALLOWED_HOSTS=10.0.0.5,localhost",
        "MLFLOW_CORS_ALLOWED_ORIGINS=https://10.0.0.5,https://localhost",
    ]


def test_names_a_missing_lockbox_entry(secrets):
    with pytest.raises(fb.BootError, match="Lockbox secret e6qnothere has no entry 'password'"):
        secrets.path("e6qnothere:password")


def test_writes_files_atomically_with_the_given_group_and_mode(tmp_path):
    dest = tmp_path / "x.env"
    dest.write_text("old\n")
    fb.write_private(dest, b"A=1\n", "www-data", 0o640)
    st = dest.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    if AS_ROOT:
        assert (st.st_uid, st.st_gid) == (0, WWW_DATA_GID)
    assert dest.read_text() == "A=1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.env"]


def test_derives_airflows_fernet_key_and_a_128_hex_digit_jwt_key():
    fernet = fb.fernet_key(b"seed")
    assert len(base64.urlsafe_b64decode(fernet)) == 32 and fernet.endswith("=") and len(fernet) == 44
    assert fernet == base64.urlsafe_b64encode(hashlib.sha256(b"seed").digest()).decode()
    jwt = fb.jwt_key(b"secret")
    assert len(jwt) == 128 and int(jwt, 16) >= 0


def connection(line: str) -> dict:
    name, _, value = line.rstrip("\n").partition("=")
    assert name == "AIRFLOW_CONN_YANDEXCLOUD_DEFAULT" and value[0] == value[-1] == "'"
    return json.loads(value[1:-1])


def test_gives_airflow_the_yandex_connection_with_only_the_folder_and_a_changed_endpoint():
    default = "api.cloud.yandex.net:443"
    assert connection(fb.yandex_connection("b1gfolder", default, default)) == {
        "conn_type": "yandexcloud", "extra": {"folder_id": "b1gfolder"}}
    assert connection(fb.yandex_connection("b1gfolder", "127.0.0.1:18443", default)) == {
        "conn_type": "yandexcloud", "extra": {"folder_id": "b1gfolder", "endpoint": "127.0.0.1:18443"}}
    with pytest.raises(fb.BootError, match="YANDEX_FOLDER_ID or YC_API_ENDPOINT has unexpected characters"):
        fb.yandex_connection("b1g'}", default, default)


def test_the_api_endpoints_ca_comes_only_from_the_override_and_reaches_airflows_grpc(conf, tmp_path, secrets,
                                                                                    capsys):
    """YC_API_CA_FILE (the boot test's Data Proc API stand-in's CA) becomes the Airflow units'
    GRPC_DEFAULT_SSL_ROOTS_FILE_PATH; a deploy's host.env cannot set it; not a file: refused."""
    ca = tmp_path / "api-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    (conf / "host.env").write_text(HOST_ENV + f"YC_API_CA_FILE='{ca}'\n")
    values = dict(fb.load_settings(conf), LOCKBOX_PG_PASSWORD="e6qpg:password")
    assert "YC_API_CA_FILE" not in values
    assert "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" not in fb.airflow_env(values, secrets)
    (conf / "endpoints.env").write_text(f"YC_API_ENDPOINT=127.0.0.1:18443\nYC_API_CA_FILE={ca}\n")
    values = fb.load_settings(conf)
    assert f"the Yandex Cloud API endpoint's CA: YC_API_CA_FILE={ca}\n" in capsys.readouterr().out
    env = fb.airflow_env(values, secrets).splitlines()
    assert f"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH={ca}" in env
    for bad in ["relative/ca.pem", str(tmp_path / "missing.pem")]:
        (conf / "endpoints.env").write_text(f"YC_API_CA_FILE={bad}\n")
        with pytest.raises(fb.BootError, match="YC_API_CA_FILE=.* is not the absolute path of a file"):
            fb.load_settings(conf)


def test_gives_the_yandex_sdk_the_metadata_address():
    assert fb.metadata_addr("http://169.254.169.254") == "169.254.169.254"
    assert fb.metadata_addr("http://127.0.0.1:18080/") == "127.0.0.1:18080"
    for bad in ["https://169.254.169.254", "http://h/path", "http://"]:
        with pytest.raises(fb.BootError, match="is not http://HOST\\[:PORT\\]"):
            fb.metadata_addr(bad)


def test_names_the_host_by_every_name_it_answers_to_except_ipv6():
    names = fb.host_names(["localhost", "127.0.0.1", "vm", "vm.ru-central1.internal", "10.0.0.5", "fe80::1",
                           "", "10.0.0.5", "mlflow.example.com", "bad name"])
    assert names == ["10.0.0.5", "127.0.0.1", "localhost", "mlflow.example.com", "vm", "vm.ru-central1.internal"]
    assert fb.subject_alt_names(["10.0.0.5", "vm"]) == "IP:10.0.0.5,DNS:vm"


def tls_layout(tmp_path: Path) -> dict:
    return {"tlsCert": str(tmp_path / "tls/server.crt"), "tlsKey": str(tmp_path / "tls/server.key")}


def test_tls_is_self_signed_at_first_boot_with_the_hosts_names_then_kept(tmp_path, secrets, capsys):
    layout = tls_layout(tmp_path)
    values = {"YC_METADATA_URL": "http://127.0.0.1:9", "EXTRA_HOST_NAMES": "mlflow.example.com"}
    fb.ensure_tls(layout, values, secrets)
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", layout["tlsCert"]],
                          capture_output=True, text=True, check=True).stdout
    assert "DNS:mlflow.example.com" in text and "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    assert stat.S_IMODE(os.stat(layout["tlsKey"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(layout["tlsCert"]).st_mode) == 0o644
    cert = Path(layout["tlsCert"]).read_bytes()
    fb.ensure_tls(layout, values, secrets)
    assert Path(layout["tlsCert"]).read_bytes() == cert
    out = capsys.readouterr().out
    assert "TLS: self-signed certificate made, sha256 Fingerprint=" in out.replace("SHA256", "sha256")
    assert "TLS: keeping the existing certificate" in out


def test_tls_from_lockbox_replaces_the_certificate(tmp_path, secrets):
    layout = tls_layout(tmp_path)
    values = {"LOCKBOX_TLS_CERT": "e6qapi:key", "LOCKBOX_TLS_KEY": "e6qjwt:secret"}
    fb.ensure_tls(layout, values, secrets)
    assert Path(layout["tlsCert"]).read_text() == "apisecretkey5\n"
    assert stat.S_IMODE(os.stat(layout["tlsKey"]).st_mode) == 0o600


def test_builds_htpasswd_from_lockbox_for_every_user(tmp_path, secrets, capsys):
    htpasswd = tmp_path / "yc-mlops.htpasswd"
    fb.ensure_htpasswd(htpasswd, fb.web_users({"WEB_USERS": "admin=e6qweb:password jobs=e6qjobs:password"}), secrets)
    st = htpasswd.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    if AS_ROOT:
        assert st.st_gid == WWW_DATA_GID
    assert [line.split(":")[0] for line in htpasswd.read_text().splitlines()] == ["admin", "jobs"]
    for user, password in [("admin", "admin-password-1"), ("jobs", "jobs-password-2")]:
        check = subprocess.run(["htpasswd", "-v", "-i", str(htpasswd), user], input=password, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    assert capsys.readouterr().out == "yc-mlops-boot: nginx basic auth: users admin jobs\n"


@pytest.fixture
def airflow_vm(tmp_path, conf, monkeypatch):
    """An Airflow VM's layout in tmp_path: its venv up to date, a Lockbox reader that stages SECRETS
    (and records the ids it was asked for), systemd and nginx recorded instead of started."""
    lib = tmp_path / "lib"
    lock = lib / "airflow-host.lock"
    lock.parent.mkdir()
    lock.write_text("apache-airflow==3 --hash=sha256:00\n")
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv/.lock-sha256").write_text(hashlib.sha256(lock.read_bytes()).hexdigest() + "\n")
    staged = tmp_path / "staged.json"
    staged.write_text(json.dumps(SECRETS))
    executable(lib / "ycm-lockbox", f"""#!{sys.executable}
import json, os, sys
open({str(tmp_path / "lockbox-ids")!r}, "w").write(" ".join(sys.argv[2:]) + "|" + os.environ["YC_METADATA_URL"])
for name, value in json.load(open({str(staged)!r})).items():
    os.makedirs(os.path.join(sys.argv[1], os.path.dirname(name)), exist_ok=True)
    open(os.path.join(sys.argv[1], name), "w").write(value + "\\n")
""")
    (conf / "airflow.base.env").write_text("# base\nAIRFLOW_HOME=/var/lib/airflow\n")
    (conf / "endpoints.env").write_text("YC_METADATA_URL=http://127.0.0.1:18080\nYC_PG_SSLMODE=disable\n")
    started = []
    monkeypatch.setattr(fb, "start_units", lambda units: started.append(list(units)))
    monkeypatch.setattr(fb, "start_nginx", lambda layout: started.append("nginx"))
    monkeypatch.setattr(fb, "public_ip", lambda url: "")
    layout = {
        "host": "airflow", "confDir": str(conf), "libDir": str(lib), "secretsDir": str(tmp_path / "run/secrets"),
        "htpasswd": str(tmp_path / "nginx/yc-mlops.htpasswd"), **tls_layout(tmp_path),
        "venv": str(tmp_path / "venv"), "lock": str(lock), "lockPython": "3.11",
        "baseEnv": str(conf / "airflow.base.env"), "envFile": str(conf / "airflow.env"), "user": "www-data",
        "units": ["airflow-api-server.service", "airflow-scheduler.service"],
    }
    (tmp_path / "nginx").mkdir()
    settings = tmp_path / "boot.json"
    settings.write_text(json.dumps(layout))
    return {"layout": layout, "settings": settings, "started": started, "staged": staged, "dir": tmp_path}


def test_an_airflow_boot_writes_its_env_file_tls_and_htpasswd_then_starts_its_units(airflow_vm, capsys):
    vm, layout = airflow_vm, airflow_vm["layout"]
    assert fb.main(["airflow", "--settings", str(vm["settings"])]) == 0
    out = capsys.readouterr().out
    env = Path(layout["envFile"]).read_text().splitlines()
    assert env[:2] == ["# base", "AIRFLOW_HOME=/var/lib/airflow"]
    lines = dict(line.split("=", 1) for line in env[2:])
    assert lines["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://airflow:p%40ss%2Fw%3Ard%25x%20y@c-1.rw.mdb.yandexcloud.net:6432/airflow")
    assert lines["PGSSLMODE"] == "disable"
    assert lines["AIRFLOW__CORE__FERNET_KEY"] == fb.fernet_key(b"fernet-seed-3")
    assert lines["AIRFLOW__API_AUTH__JWT_SECRET"] == fb.jwt_key(b"jwt-secret-4")
    assert lines["AIRFLOW__API__SECRET_KEY"] == "apisecretkey5"
    assert lines["YC_METADATA_ADDR"] == "127.0.0.1:18080"
    assert json.loads(lines["AIRFLOW_CONN_YANDEXCLOUD_DEFAULT"].strip("'")) == {
        "conn_type": "yandexcloud", "extra": {"folder_id": "b1gfolder"}}
    assert stat.S_IMODE(os.stat(layout["envFile"]).st_mode) == 0o640
    # the reader got each secret's id (and the override's endpoints through the environment)
    assert (vm["dir"] / "lockbox-ids").read_text() == (
        "e6qpg e6qfernet e6qjwt e6qapi e6qweb e6qjobs|http://127.0.0.1:18080")
    assert Path(layout["tlsCert"]).is_file() and Path(layout["htpasswd"]).is_file()
    assert vm["started"] == [layout["units"], "nginx"]
    assert not Path(layout["secretsDir"]).exists()
    for value in SECRETS.values():
        assert value not in out
    assert "PostgreSQL sslmode disable: no CA needed" in out and f"wrote {layout['envFile']}" in out


def test_a_failed_boot_names_the_variable_never_the_value_and_removes_the_staged_secrets(airflow_vm, capsys):
    secrets = dict(SECRETS, **{"e6qapi/key": "api key with spaces"})
    airflow_vm["staged"].write_text(json.dumps(secrets))
    assert fb.main(["airflow", "--settings", str(airflow_vm["settings"])]) == 1
    out = capsys.readouterr().out
    assert out.endswith("yc-mlops-boot: ERROR: the value for AIRFLOW__API__SECRET_KEY is empty or has characters "
                        "not allowed in an environment file\n")
    assert "api key" not in out
    assert not Path(airflow_vm["layout"]["secretsDir"]).exists()
    assert not Path(airflow_vm["layout"]["envFile"]).exists()
    assert airflow_vm["started"] == []


def test_refuses_the_layout_of_another_host(airflow_vm, capsys):
    assert fb.main(["mlflow", "--settings", str(airflow_vm["settings"])]) == 2
    assert "is the layout of the airflow VM, not mlflow" in capsys.readouterr().err


def test_publishes_mlflows_certificate_with_its_venvs_python_best_effort(tmp_path, capsys):
    calls = tmp_path / "calls"
    layout = {"venv": str(tmp_path / "venv"), "envFile": "/etc/yc-mlops/mlflow.env",
              "tlsCert": "/etc/yc-mlops/tls/server.crt", "certKey": "tls/mlflow-server.crt"}
    fb.publish_certificate(layout)
    executable(tmp_path / "venv/bin/python", f'#!/bin/sh\nshift 2\necho "$*" > {calls}\n')
    fb.publish_certificate(layout)
    assert calls.read_text() == "/etc/yc-mlops/mlflow.env /etc/yc-mlops/tls/server.crt tls/mlflow-server.crt\n"
    assert capsys.readouterr().out == (
        "yc-mlops-boot: WARNING: could not publish the TLS certificate to the bucket (clients must get it another way)\n"
        "yc-mlops-boot: TLS certificate published to the bucket as tls/mlflow-server.crt\n")

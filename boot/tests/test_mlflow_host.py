"""The MLflow VM, booted from its rendered user-data, probed as a user and as an attacker would.
Tests run in file order on one booted host (module fixture); the restart test comes last."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from probes import report, exposure_score, is_loopback, listeners, logged_endpoints, secrets_found, wait_for
from rendered import boot_rendered, check_release_and_python, first_boot, stop_rendered

BOOT_TIMEOUT = float(os.environ.get("BOOT_MLFLOW_TIMEOUT", "1500"))
state: dict = {}


@pytest.fixture(scope="module")
def mlflow_host(host_factory):
    rh = boot_rendered("mlflow", host_factory, os.environ.get("BOOT_MOTO_SERVER"), BOOT_TIMEOUT)
    bucket = rh.host_env.get("MLFLOW_ARTIFACTS_DESTINATION") or _base_env(rh).get(
        "MLFLOW_ARTIFACTS_DESTINATION", "")
    rh.bucket = bucket.removeprefix("s3://").split("/", 1)[0]
    rh.s3.create_bucket(rh.bucket)
    try:
        first_boot(rh, BOOT_TIMEOUT)
        yield rh
    finally:
        stop_rendered(rh)


def _base_env(rh):
    from rendered import parse_env_file
    return parse_env_file((rh.dir / "rootfs/etc/yc-mlops/mlflow.base.env").read_text())


@pytest.fixture(scope="module")
def ca(mlflow_host, tmp_path_factory) -> Path:
    return mlflow_host.ca_file(tmp_path_factory.mktemp("mlflow-ca"))


def test_cloud_init_finishes_without_errors(mlflow_host):
    assert "status: done" in mlflow_host.facts["status_text"], mlflow_host.facts["status_text"]
    assert mlflow_host.facts["result"]["v1"]["errors"] == []


def test_every_shipped_unit_is_active(mlflow_host):
    states = {u: mlflow_host.host.unit_state(u) for u in mlflow_host.units + ["nginx.service"]}
    assert all(s == "active" for s in states.values()), states


def test_boots_the_vms_release_and_serves_from_the_fleets_python(mlflow_host):
    check_release_and_python(mlflow_host, "/opt/mlflow/venv/bin/python")


def test_admin_has_one_account_with_the_key_only_and_sudo(mlflow_host):
    users = yaml.safe_load(mlflow_host.user_data)["users"]
    [admin] = [u for u in users if isinstance(u, dict) and u.get("ssh_authorized_keys")]
    name, h = admin["name"], mlflow_host.host
    home = h.run(["getent", "passwd", name]).stdout.split(":")[5]
    assert h.read(f"{home}/.ssh/authorized_keys").splitlines() == admin["ssh_authorized_keys"]
    assert "sudo" in h.run(["id", "-nG", name]).stdout.split()
    assert h.run(["passwd", "-S", name]).stdout.split()[1] == "L"  # no password: key only
    assert h.run(["runuser", "-u", name, "--", "sudo", "-n", "true"], check=False).returncode == 0
    # the default admin is the image's own default user: cloud-init merged them into one login
    logins = [f[0] for f in (l.split(":") for l in h.read("/etc/passwd").splitlines())
              if 1000 <= int(f[2]) < 65534 and not f[6].endswith("nologin")]
    assert logins == [name]


def test_boot_script_used_only_loopback_standins(mlflow_host):
    log = mlflow_host.host.read("/var/log/cloud-init-output.log")
    used = logged_endpoints(log)
    assert set(used) >= {"YC_METADATA_URL", "YC_LOCKBOX_PAYLOAD_URL", "YC_STORAGE_ENDPOINT", "YC_PG_HOST"}, log[-3000:]
    assert all(is_loopback(v) for v in used.values()), used
    # and the stand-ins were really asked: an IAM token, then every Lockbox secret the host needs
    paths = [p for _, p, status in mlflow_host.api.requests if status == 200]
    assert any(p.startswith("/computeMetadata/v1/instance/service-accounts/default/token") for p in paths)
    for sid, _ in mlflow_host.secret_values:
        assert f"/lockbox/v1/secrets/{sid}/payload" in paths


def test_https_asks_for_credentials_and_refuses_wrong_ones(mlflow_host, ca):
    assert mlflow_host.https("/", ca)[0] == 401
    for user, password in mlflow_host.web_users.items():
        assert mlflow_host.https("/", ca, (user, password + "x"))[0] == 401
        assert mlflow_host.https("/", ca, (user, "")) [0] == 401
    assert mlflow_host.https("/", ca, ("nobody", "nothing"))[0] == 401


def test_https_lets_each_web_user_in(mlflow_host, ca):
    # cloud-init is done when the unit has started; MLflow itself needs a moment to answer
    first = next(iter(mlflow_host.web_users.items()))
    wait_for(lambda: mlflow_host.https("/health", ca, first, timeout=5)[0] == 200, 180, 2,
             what="MLflow answering through nginx")
    for user, password in mlflow_host.web_users.items():
        status, _ = mlflow_host.https("/health", ca, (user, password))
        assert status == 200, user


def _mlflow_env(rh, ca: Path) -> dict:
    user, password = next(iter(rh.web_users.items()))
    env = dict(os.environ)
    env.update(MLFLOW_TRACKING_URI="https://127.0.0.1:443", MLFLOW_TRACKING_USERNAME=user,
               MLFLOW_TRACKING_PASSWORD=password, MLFLOW_TRACKING_SERVER_CERT_PATH=str(ca))
    return env


CLIENT_LOG = r"""
import sys, tempfile, pathlib, mlflow
mlflow.set_experiment("boot-test")
with mlflow.start_run() as run:
    mlflow.log_param("model", "boot-probe")
    mlflow.log_metric("f1", 0.8125)
    d = pathlib.Path(tempfile.mkdtemp()) / "report.txt"
    d.write_text("artifact through nginx\n")
    mlflow.log_artifact(str(d))
print(run.info.run_id)
"""

CLIENT_READ = r"""
import sys, mlflow
from mlflow.tracking import MlflowClient
c = MlflowClient()
run = c.get_run(sys.argv[1])
assert run.data.metrics == {"f1": 0.8125}, run.data.metrics
assert run.data.params == {"model": "boot-probe"}, run.data.params
p = mlflow.artifacts.download_artifacts(run_id=sys.argv[1], artifact_path="report.txt")
assert open(p).read() == "artifact through nginx\n"
print("read back ok")
"""


def _client(rh, ca, script: str, *args: str) -> str:
    import sys
    res = subprocess.run([sys.executable, "-c", script, *args], env=_mlflow_env(rh, ca),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.strip().splitlines()[-1]


def test_mlflow_client_logs_a_run_through_nginx_and_reads_it_back(mlflow_host, ca):
    run_id = _client(mlflow_host, ca, CLIENT_LOG)
    assert _client(mlflow_host, ca, CLIENT_READ, run_id) == "read back ok"
    state["run_id"] = run_id
    # the artifact landed in the Object Storage stand-in's bucket, not on the VM's disk
    import boto3
    s3 = boto3.client("s3", endpoint_url=mlflow_host.s3.url, aws_access_key_id="x",
                      aws_secret_access_key="x", region_name="ru-central1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=mlflow_host.bucket).get("Contents", [])]
    assert any(k.endswith(f"{run_id}/artifacts/report.txt") for k in keys), keys


def test_mlflow_listens_on_loopback_only(mlflow_host):
    socks = listeners(mlflow_host.host)
    exposed = sorted({(a, p, n) for a, p, n in socks if not is_loopback(a)})
    # the only port open beyond loopback is nginx's TLS port
    assert exposed and all(p == 443 and "nginx" in n for _, p, n in exposed), exposed
    mlflow_socks = [(a, p) for a, p, n in socks if p == 5000]
    assert mlflow_socks and all(a == "127.0.0.1" for a, _ in mlflow_socks), socks


def test_kill_9_of_mlflow_is_repaired_within_15_s_and_keeps_its_data(mlflow_host, ca):
    h = mlflow_host.host
    before_pid = h.main_pid("mlflow-server.service")
    journal_before = h.run(["journalctl", "-u", "mlflow-server.service", "-o", "cat"]).stdout.splitlines()
    assert before_pid > 0 and journal_before
    t0 = time.monotonic()
    h.run(["kill", "-9", str(before_pid)])

    # systemd's part, bounded by the requirement: a new main process, unit active, within 15 s
    wait_for(lambda: h.main_pid("mlflow-server.service") not in (0, before_pid)
             and h.unit_state("mlflow-server.service") == "active", 15, 0.2,
             what="mlflow-server restarted by systemd")
    restarted = time.monotonic() - t0
    # MLflow's own start-up (schema check, workers) comes on top; reported, loosely bounded
    wait_for(lambda: mlflow_host.https("/health", ca, next(iter(mlflow_host.web_users.items())),
                                       timeout=5)[0] == 200, 180, 1, what="MLflow answering again")
    report(f"mlflow-server: restarted {restarted:.1f} s, answering {time.monotonic() - t0:.1f} s "
          "after kill -9")
    journal_after = h.run(["journalctl", "-u", "mlflow-server.service", "-o", "cat"]).stdout.splitlines()
    assert journal_after[:len(journal_before)] == journal_before
    assert _client(mlflow_host, ca, CLIENT_READ, state["run_id"]) == "read back ok"


def test_units_exposure_scores(mlflow_host):
    scores = {u: exposure_score(mlflow_host.host, u) for u in mlflow_host.units + ["nginx.service"]}
    report(f"mlflow host systemd-analyze security: {scores}")
    state["scores"] = scores
    high = {u: s for u, s in scores.items() if s > 5.0}
    assert not high, f"exposure above 5.0: {high}"


def test_restart_of_the_host_brings_everything_back_without_rerunning_first_boot(mlflow_host, ca):
    h = mlflow_host.host
    runs_before = h.read("/var/log/cloud-init-output.log").count("endpoint overrides read")
    lockbox_calls = len(mlflow_host.api.requests)
    h.stop()
    h.boot()
    facts = h.wait_for_cloud_init(timeout=300)
    assert "status: done" in facts["status_text"]
    wait_for(lambda: all(h.unit_state(u) == "active" for u in mlflow_host.units + ["nginx.service"]),
             60, what="all units active after restart")
    assert h.read("/var/log/cloud-init-output.log").count("endpoint overrides read") == runs_before == 1
    assert len(mlflow_host.api.requests) == lockbox_calls, "the boot script ran again"
    wait_for(lambda: mlflow_host.https("/health", ca, next(iter(mlflow_host.web_users.items())),
                                       timeout=5)[0] == 200, 180, 2, what="MLflow answering after restart")
    assert _client(mlflow_host, ca, CLIENT_READ, state["run_id"]) == "read back ok"


def test_no_secret_in_user_data_cloud_init_log_or_journal(mlflow_host):
    h = mlflow_host.host
    places = {
        "rendered user-data": mlflow_host.user_data,
        "/var/log/cloud-init-output.log": h.read("/var/log/cloud-init-output.log"),
        "/var/log/cloud-init.log": h.read("/var/log/cloud-init.log"),
        "journal": h.run(["journalctl", "--no-pager", "-o", "cat"], timeout=120).stdout,
    }
    assert len(places["journal"]) > 1000
    leaks = {where: len(secrets_found(text, mlflow_host.all_secrets())) for where, text in places.items()}
    assert not any(leaks.values()), f"secret values found (count per place): {leaks}"

"""The MLflow VM, booted from its rendered user-data, probed as a user and as an attacker would.
Tests run in file order on one booted host (module fixture); after the restart test, the
pipeline's runs and the UI in a browser."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from probes import report, exposure_score, is_loopback, listeners, logged_endpoints, secrets_found, wait_for
from rendered import (boot_rendered, check_apt_sources, check_deploy_outputs, check_release_and_python, first_boot,
                      machine_address, replace_rendered, run_check_deploy,
                      check_deploy_failures_with_a_password_nginx_does_not_know, stop_rendered)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "browser"))
import pages  # noqa: E402  (browser/pages.py: what a person opens in the UIs, and must see)
import uicheck  # noqa: E402

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


def test_apt_reads_only_the_https_mirrors_of_the_release_and_its_security_updates(mlflow_host):
    check_apt_sources(mlflow_host)


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
    # /health: a path every web user may request (the `jobs` user gets 403 before any password check
    # on the paths it may not use, see test_jobs_user_cannot_delete_rename_or_reach_other_apis...)
    for user, password in mlflow_host.web_users.items():
        assert mlflow_host.https("/health", ca, (user, password + "x"))[0] == 401
        assert mlflow_host.https("/health", ca, (user, "")) [0] == 401
    assert mlflow_host.https("/", ca, ("nobody", "nothing"))[0] == 401


def test_https_lets_each_web_user_in(mlflow_host, ca):
    # cloud-init is done when the unit has started; MLflow itself needs a moment to answer
    first = next(iter(mlflow_host.web_users.items()))
    wait_for(lambda: mlflow_host.https("/health", ca, first, timeout=5)[0] == 200, 180, 2,
             what="MLflow answering through nginx")
    for user, password in mlflow_host.web_users.items():
        status, _ = mlflow_host.https("/health", ca, (user, password))
        assert status == 200, user


def _mlflow_env(rh, ca: Path, user: str | None = None) -> dict:
    user = user or next(iter(rh.web_users))
    password = rh.web_users[user]
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


def _client(rh, ca, script: str, *args: str, user: str | None = None) -> str:
    import sys
    res = subprocess.run([sys.executable, "-c", script, *args], env=_mlflow_env(rh, ca, user),
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


# The MLflow calls of the pipeline's jobs (fraud_jobs/train.py, bootstrap.py, compare.py), made as
# the `jobs` user: experiment, run with params/inputs/metrics/tags, a logged and registered model
# (artifacts uploaded through mlflow-artifacts), version tags, a search, the champion alias, report
# artifacts. jobs/tests/test_compare.py checks the real jobs send nothing else.
CLIENT_PIPELINE = r"""
import mlflow, pandas as pd
from mlflow.tracking import MlflowClient

class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input

mlflow.set_experiment("boot-pipeline")
client = MlflowClient()
with mlflow.start_run(run_name="train-lr", tags={"pipeline.step": "train"}) as run:
    mlflow.log_params({"model": "lr", "train_dates": "a..b"})
    mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame({"x": [1.0, 2.0]}), name="train"), context="training")
    mlflow.log_metrics({"val_f1": 0.5, "val_roc_auc": 0.9})
    info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["mlflow"],
                                   registered_model_name="boot-detector")
    version = str(info.registered_model_version)
    client.set_model_version_tag("boot-detector", version, "model_type", "lr")
    mlflow.set_tags({"pipeline.version": version})
exp = client.get_experiment_by_name("boot-pipeline")
runs = client.search_runs([exp.experiment_id], filter_string="tags.`pipeline.step` = 'train'")
client.log_metric(runs[0].info.run_id, "val_f1_boot_ci_low", 0.4)
client.set_tag(runs[0].info.run_id, "pipeline.bootstrap_n_boot", "1000")
with mlflow.start_run(run_name="compare"):
    mlflow.log_dict({"verdict": "boot"}, "comparison/report.json")
    mlflow.log_text("figure", "comparison/bootstrap_f1.txt")
client.set_registered_model_alias("boot-detector", "champion", version)
print(exp.experiment_id)
"""


def test_jobs_user_can_make_the_pipelines_mlflow_calls(mlflow_host, ca):
    state["pipeline_experiment"] = _client(mlflow_host, ca, CLIENT_PIPELINE, user="jobs")
    status, body = mlflow_host.https("/api/2.0/mlflow/registered-models/alias?name=boot-detector&alias=champion",
                                     ca, ("jobs", mlflow_host.web_users["jobs"]))
    assert status == 200 and '"version": "1"' in body.replace('":"', '": "'), body


def test_jobs_user_cannot_delete_rename_or_reach_other_apis_but_admin_can(mlflow_host, ca):
    jobs = ("jobs", mlflow_host.web_users["jobs"])
    admin = ("admin", mlflow_host.web_users["admin"])
    exp_id = state["pipeline_experiment"]
    forbidden = [
        ("POST", "/api/2.0/mlflow/experiments/delete", {"experiment_id": exp_id}),
        ("POST", "/api/2.0/mlflow/experiments/update", {"experiment_id": exp_id, "new_name": "x"}),
        ("DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": "boot-detector"}),
        ("DELETE", "/api/2.0/mlflow/model-versions/delete", {"name": "boot-detector", "version": "1"}),
        ("DELETE", "/api/2.0/mlflow/registered-models/alias", {"name": "boot-detector", "alias": "champion"}),
        ("POST", "/api/2.0/mlflow/registered-models/rename", {"name": "boot-detector", "new_name": "x"}),
        ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/0/x", None),
        ("GET", "/api/3.0/mlflow/gateway/secrets/list", None),
        ("GET", "/", None),
        # the same forbidden call hidden behind dot segments or encoded slashes
        ("POST", "/api/2.0/mlflow/runs/create/../../experiments/delete", {"experiment_id": exp_id}),
        ("POST", "/api/2.0/mlflow/runs%2F..%2F..%2Fexperiments%2Fdelete", {"experiment_id": exp_id}),
    ]
    for method, path, body in forbidden:
        status, text = mlflow_host.https(path, ca, jobs, method=method, body=body)
        assert status == 403, (method, path, status, text[:200])
    # a wrong password on an allowed call is still a 401 (nginx's auth runs after the rule)
    assert mlflow_host.https("/api/2.0/mlflow/experiments/search", ca, ("jobs", "wrong"),
                             method="POST", body={})[0] == 401
    # the experiment and the model are intact; admin may delete both
    assert mlflow_host.https(f"/api/2.0/mlflow/experiments/get?experiment_id={exp_id}", ca, jobs)[0] == 200
    for method, path, body in [
        ("DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": "boot-detector"}),
        ("POST", "/api/2.0/mlflow/experiments/delete", {"experiment_id": exp_id}),
    ]:
        status, text = mlflow_host.https(path, ca, admin, method=method, body=body)
        assert status == 200, (method, path, status, text[:200])


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


SEED_DATE = "2024-04-07"


def test_pipeline_steps_log_through_nginx_as_the_jobs_user(mlflow_host, ca, tmp_path_factory):
    """The model steps' entry scripts, with the DAG's arguments, log to the booted server the way
    they do from Data Proc: user `jobs`, its password read from Lockbox (the stand-in) with the
    metadata service's token, the host's own CA (boot/seed_pipeline.py)."""
    work = tmp_path_factory.mktemp("seed")
    jobs_ref = dict(e.split("=", 1) for e in mlflow_host.host_env["WEB_USERS"].split())["jobs"]
    config = work / "pipeline.json"
    config.write_text(json.dumps({
        "backend": "local", "landing_root": f"file://{work}/landing", "data_root": f"file://{work}/lake",
        "mlflow_tracking_uri": "https://127.0.0.1:443", "mlflow_username": "jobs",
        "mlflow_password_secret_id": jobs_ref.split(":", 1)[0], "mlflow_ca_uri": f"file://{ca}",
        "n_boot": 2000, "seed": 7,
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(PYTHONPATH=str(REPO / "jobs"), YC_METADATA_URL=mlflow_host.api.url,
               YC_LOCKBOX_PAYLOAD_URL=mlflow_host.api.url, SPARK_MASTER="local[2]")
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, str(REPO / "boot" / "seed_pipeline.py"), str(config), SEED_DATE],
                         env=env, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-4000:]
    report(f"mlflow: the model steps logged through nginx in {time.monotonic() - t0:.0f} s")
    compare = json.loads(res.stdout.strip().splitlines()[-1])["compare"]
    assert compare["champion_alias_set"] is True, compare
    # the jobs user's password came from the Lockbox stand-in, for this very secret
    assert any(p == f"/lockbox/v1/secrets/{jobs_ref.split(':', 1)[0]}/payload" and st == 200
               for _, p, st in mlflow_host.api.requests)
    admin_user = next(iter(mlflow_host.web_users))
    auth = (admin_user, mlflow_host.web_users[admin_user])
    from fraud_jobs.pipeline_spec import PipelineConfig  # jobs/ is on the path (pages)
    experiment = PipelineConfig.load(str(config)).experiment
    exp = pages.rest("https://127.0.0.1:443/api/2.0/mlflow/experiments/get-by-name?experiment_name="
                     + experiment, auth=auth, cafile=str(ca))["experiment"]
    # MLflow 3's experiment kind: a model-training experiment
    assert {t["key"]: t["value"] for t in exp.get("tags", [])}.get("mlflow.experimentKind") \
        == "custom_model_development", exp
    state["seeded"] = pages.find_mlflow_run("https://127.0.0.1:443", experiment, SEED_DATE,
                                            auth=auth, cafile=str(ca))


def test_mlflow_ui_in_a_browser_through_nginx(mlflow_host, ca):
    """A person's browser at https://<mlflow_url>: without credentials or with a wrong password
    nginx's 401 and nothing else; as admin the experiment list, the pipeline's link opening on the
    runs table, a run's metrics, the comparison figure, the model with its `champion` alias."""
    if "seeded" not in state:
        pytest.skip("needs the pipeline's runs (the previous test)")
    run = state["seeded"]
    admin_user = next(iter(mlflow_host.web_users))
    plan = {"baseUrl": "https://127.0.0.1", "certFile": str(ca), "sessions": [
        *pages.refused_sessions(admin_user, "MLFLOW_WRONG_PASSWORD",
                                ["/", "/api/2.0/mlflow/experiments/search?max_results=5"]),
        {"name": "admin", "credentials": {"username": admin_user, "passwordEnv": "MLFLOW_PASSWORD"},
         "pages": pages.mlflow_pages(run)},
    ]}
    t0 = time.monotonic()
    result = uicheck.run(plan, "boot-mlflow", secrets={
        "MLFLOW_PASSWORD": mlflow_host.web_users[admin_user],
        "MLFLOW_WRONG_PASSWORD": mlflow_host.web_users[admin_user] + "x"})
    report(f"mlflow UI in Chromium: {time.monotonic() - t0:.0f} s; screenshots in {result.out}")
    pages.check_refused(result, app_words=("mlflow", "experiment"))
    pages.check_mlflow(result, run)


def test_check_deploy_proves_the_host_and_prints_the_demo_summary(mlflow_host, ca, tmp_path):
    """`make check-deploy` (scripts/deploy/check_deploy.py) at the host's address, verified against the
    certificate the VM published to the bucket, the admin password from Lockbox: the endpoint
    checks hold, nothing but 443 answers, and the seeded run's comparison is printed as `make demo`
    prints it, with the champion alias. The published certificate is read here with an S3 signature
    and passed as --mlflow-ca: the program itself reads it with Object Storage's IAM-token header
    (X-YaCloud-SubjectToken), which the S3 stand-in (moto) does not know and answers with 403."""
    if "seeded" not in state:
        pytest.skip("needs the pipeline's runs (test_pipeline_steps_log_through_nginx_as_the_jobs_user)")
    import boto3
    s3 = boto3.client("s3", endpoint_url=mlflow_host.s3.url, aws_access_key_id="x", aws_secret_access_key="x",
                      region_name="ru-central1")
    published = tmp_path / "mlflow-published.crt"
    published.write_bytes(s3.get_object(Bucket=mlflow_host.bucket, Key="tls/mlflow-server.crt")["Body"].read())
    address = machine_address()
    outputs = check_deploy_outputs(mlflow_host, address)
    t0 = time.monotonic()
    res = run_check_deploy(mlflow_host, outputs, tmp_path, "--only", "mlflow", "--date", SEED_DATE,
                           "--mlflow-ca", str(published))
    report(f"mlflow: check_deploy.py took {time.monotonic() - t0:.1f} s")
    out = res.stdout
    assert res.returncode == 0, out + res.stderr[-2000:]
    assert f"TLS verified against {published}" in out, out
    assert f"ok   ports: {address} answers on none of" in out, out
    # the summary's figures are the comparison run's, as MLflow's REST API has them
    admin_user = next(iter(mlflow_host.web_users))
    kw = {"auth": (admin_user, mlflow_host.web_users[admin_user]), "cafile": str(ca)}
    run = pages.rest("https://127.0.0.1:443/api/2.0/mlflow/runs/get?run_id=" + state["seeded"].compare_run_id,
                     **kw)["run"]
    m = {x["key"]: x["value"] for x in run["data"]["metrics"]}
    tags = {x["key"]: x["value"] for x in run["data"]["tags"]}
    lines = out.splitlines()

    def line(start: str) -> str:
        found = [ln for ln in lines if ln.strip().startswith(start)]
        assert found, f"no line starting {start!r} in:\n{out}"
        return found[0]
    assert f"Fraud pipeline, logical date {SEED_DATE}" in out
    for label, key in (("logistic regression", "f1_lr"), ("random forest", "f1_rf")):
        # the table's last two columns: F1 and its 95% CI
        assert line(label).endswith(f"{m[key]:.4f}   [{m[key + '_ci_low']:.4f}, {m[key + '_ci_high']:.4f}]"), out
    assert f"{m['f1_diff']:+.4f}" in line("F1 difference (RF - LR)")
    assert f"{m['p_value']:.4g}" in line("one-sided p-value")
    assert line("verdict:") == f"  verdict: {tags['pipeline.verdict']}"
    alias = pages.rest("https://127.0.0.1:443/api/2.0/mlflow/registered-models/alias?name="
                       f"{state['seeded'].registered_model}&alias=champion", **kw)["model_version"]["version"]
    assert line("champion alias:") == (f"  champion alias: {state['seeded'].registered_model} version {alias} "
                                       "(moved by this run)"), out
    assert f"/#/experiments/{state['seeded'].experiment_id}/runs/{state['seeded'].compare_run_id}" in out
    assert out.rstrip().endswith("check-deploy: all checks passed"), out


def test_check_deploy_fails_clearly_on_a_wrong_password_and_on_an_endpoint_that_is_down(mlflow_host, ca,
                                                                                       tmp_path):
    assert len(check_deploy_failures_with_a_password_nginx_does_not_know(mlflow_host, ca, tmp_path)) == 1

    address = machine_address()
    outputs = check_deploy_outputs(mlflow_host, address)
    # nginx down: nothing answers on 443
    h = mlflow_host.host
    h.run(["systemctl", "stop", "nginx.service"])
    try:
        res = run_check_deploy(mlflow_host, outputs, tmp_path, "--only", "mlflow", "--mlflow-ca", str(ca))
    finally:
        h.run(["systemctl", "start", "nginx.service"])
    assert res.returncode == 1, res.stdout
    failures = [ln for ln in res.stdout.splitlines() if ln.startswith("  - ")]
    assert failures == [f"  - mlflow: https://{address} does not answer (GET /): Connection refused"], res.stdout
    admin = next(iter(mlflow_host.web_users.items()))
    wait_for(lambda: mlflow_host.https("/health", ca, admin, timeout=5)[0] == 200, 60, 1,
             what="MLflow answering through nginx again")


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


# Day two. Must stay the last test of this file: it replaces the host the tests above used.
def test_day_two_deploy_replaces_the_vm_which_serves_v2_and_keeps_v1s_runs(mlflow_host, host_factory,
                                                                           tmp_path):
    v1 = mlflow_host
    removed = ("jobs", v1.web_users["jobs"])  # in v1's spec, not in v2's
    assert "jobs" not in (v1.dir.parent / "mlflow-v2/rootfs/etc/yc-mlops/host.env").read_text()
    v2, gone = replace_rendered(v1, host_factory, BOOT_TIMEOUT)
    v2.bucket = v1.bucket
    assert "status: done" in v2.facts["status_text"], v2.facts["status_text"]
    assert v2.facts["result"]["v1"]["errors"] == []

    # TLS: the new VM made its own certificate (the key never left the old disk) and published it
    # where the jobs fetch their CA, replacing the old one
    ca = v2.ca_file(tmp_path)
    admin = ("admin", v2.web_users["admin"])
    wait_for(lambda: v2.https("/health", ca, admin, timeout=5)[0] == 200, 300, 1,
             what="MLflow answering through nginx on the new VM")
    unreachable = time.monotonic() - gone
    report(f"mlflow: day-two replacement, UI unreachable {unreachable:.0f} s (old VM gone -> new VM "
           f"answering; cloud-init {v2.boot_seconds:.0f} s of it)")
    import boto3
    s3 = boto3.client("s3", endpoint_url=v2.s3.url, aws_access_key_id="x", aws_secret_access_key="x",
                      region_name="ru-central1")
    published = s3.get_object(Bucket=v2.bucket, Key="tls/mlflow-server.crt")["Body"].read().decode()
    assert published == ca.read_text()

    # v2's users: the new one gets in, the removed one's old password no longer does
    assert v2.https("/health", ca, ("analyst", v2.web_users["analyst"]))[0] == 200
    assert v2.https("/health", ca, removed)[0] == 401
    assert set(v2.web_users) == {"admin", "analyst"}
    # v2's unit setting is what systemd runs
    exec_start = v2.host.run(["systemctl", "show", "-p", "ExecStart", "--value", "mlflow-server.service"]).stdout
    assert "--workers 2 " in exec_start, exec_start
    # v1's run, its metrics, params and artifact (PostgreSQL + the bucket), read through the new VM
    assert _client(v2, ca, CLIENT_READ, state["run_id"]) == "read back ok"

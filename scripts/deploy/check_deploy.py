#!/usr/bin/env python3
"""Prove a deployed platform works (`make check-deploy`), talking only to the stack's own outputs.

Reads the stack's `check_deploy` output (constructs/mlops-stack.ts) and then:

1. endpoints: each web endpoint over TLS, verified against that host's own certificate (MLflow:
   the one its VM published to the bucket; Airflow: read from the VM over SSH; or --mlflow-ca /
   --airflow-ca): no credentials -> 401, a wrong password -> 401, the admin password (read from
   Lockbox with your own IAM token, never printed) -> the application answers;
2. ports: nothing but 443 (and SSH, 22) answers on the VMs' public addresses;
3. pipeline: triggers one run of the DAG through Airflow 3's REST API (/api/v2), follows it task
   by task, and on a failed task prints its log tail;
4. summary: reads that run's comparison from MLflow's REST API and prints it as `make demo` does,
   with where the `champion` alias points.

Exit 0 only if everything held; each failure is one line naming what failed.

Where it sends what: HTTPS to the two URLs of the outputs (the basic-auth password in the
Authorization header, to that host only); TCP connects to the ports listed in CLOSED_PORTS on
those two addresses; your IAM token to Lockbox's payload API (the two password entries) and to
Object Storage (the MLflow certificate), as `Authorization: Bearer` / `X-YaCloud-SubjectToken`;
`ssh <ssh_user>@<airflow address>` for the Airflow certificate. The token is `$YC_TOKEN` (or
`$YC_IAM_TOKEN`), else `yc iam create-token`. YC_LOCKBOX_PAYLOAD_URL and YC_STORAGE_ENDPOINT
override the Yandex Cloud addresses (the same names the VMs' boot scripts use; the tests point
them at stand-ins).

Standard library only: it runs with the python3 of the machine you deployed from.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import http.client
import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field, fields
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "demo"))
sys.path.insert(0, str(HERE.parents[1] / "jobs"))

from demo_summary import summary_lines  # noqa: E402  (the summary `make demo` prints)
from fraud_jobs.pipeline_spec import STEPS, PipelineConfig  # noqa: E402  (pure Python)
from fraud_jobs.tracking import ui_url  # noqa: E402  (the jobs' MLflow UI links)
from fraud_jobs import lockbox_client  # noqa: E402  (the project's one Lockbox client)

STACK = "yc-mlops"
OUTPUT = "check_deploy"
DAG_ID = "fraud_pipeline"  # jobs/dags/fraud_pipeline.py
# The stack does not set these in the pipeline config: the deployed pipeline uses the defaults.
EXPERIMENT = PipelineConfig.__dataclass_fields__["experiment"].default
REGISTERED_MODEL = PipelineConfig.__dataclass_fields__["registered_model"].default
CHAMPION_ALIAS = "champion"

# one try: a refusal of the user's own token is final, and the user reruns the check
LOCKBOX_ONE_TRY = lockbox_client.RetryPolicy(attempts=1, retry_statuses=())
# What must not answer from outside: the apps behind nginx (MLflow 5000, Airflow 8080), Airflow's
# log servers (8793/8794), PostgreSQL (5432, Managed PostgreSQL's 6432), plain HTTP, and the usual
# Spark/Jupyter/Hadoop UIs the seed's security group opened.
CLOSED_PORTS = (80, 4040, 5000, 5432, 6432, 8000, 8080, 8443, 8793, 8794, 8888, 9870, 18080)
PORT_TIMEOUT = 2.0
LOG_TAIL_LINES = 30
TERMINAL_RUN_STATES = ("success", "failed")


class CheckFailed(Exception):
    """One check did not hold; the message is the one line the user reads."""


# ---------------------------------------------------------------------------------------------
# the stack's outputs


@dataclass(frozen=True)
class Endpoint:
    """One web endpoint of the stack, as the `check_deploy` output describes it."""
    name: str
    url: str
    user: str
    password_secret_id: str
    password_key: str
    certificate_bucket: str = ""
    certificate_key: str = ""
    storage_endpoint: str = ""
    ssh_user: str = ""
    certificate_path: str = ""

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.url).port or 443


REQUIRED = ("url", "user", "password_secret_id", "password_key")


def parse_outputs(text: str, source: str = "outputs") -> dict[str, Endpoint]:
    """The endpoints from the stack's outputs: `cdktf output --outputs-file` ({stack: {name:
    value}}), `terraform output -json` ({name: {"value": value}}) or the bare `check_deploy` value."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckFailed(f"{source}: not JSON ({e})") from None
    if isinstance(data, dict) and STACK in data and isinstance(data[STACK], dict):
        data = data[STACK]
    if isinstance(data, dict) and OUTPUT in data:
        data = data[OUTPUT]
        if isinstance(data, dict) and set(data) >= {"value"} and "mlflow" not in data:
            data = data["value"]
    if not isinstance(data, dict) or not {"mlflow", "airflow"} <= set(data):
        raise CheckFailed(f"{source}: no '{OUTPUT}' output with 'mlflow' and 'airflow' (deployed with an "
                          f"older version of the stack? run `cdktf deploy {STACK}` again)")
    known = {f.name for f in fields(Endpoint)} - {"name"}
    out = {}
    for name in ("mlflow", "airflow"):
        raw = data[name]
        if not isinstance(raw, dict):
            raise CheckFailed(f"{source}: {OUTPUT}.{name} is not an object: {raw!r}")
        for key in REQUIRED:
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise CheckFailed(f"{source}: {OUTPUT}.{name}.{key} is missing or empty: {raw.get(key)!r}")
        ep = Endpoint(name, **{k: str(v) for k, v in raw.items() if k in known})
        parts = urllib.parse.urlsplit(ep.url)
        if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
            raise CheckFailed(f"{source}: {OUTPUT}.{name}.url must be https://<address>: {ep.url!r}")
        out[name] = ep
    return out


# ---------------------------------------------------------------------------------------------
# Yandex Cloud: your IAM token, Lockbox, Object Storage


class Cloud:
    """Your own access to Lockbox and Object Storage (IAM token from the environment or `yc`)."""

    def __init__(self, env: dict[str, str] | None = None):
        self.env = dict(os.environ if env is None else env)
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            token = self.env.get("YC_TOKEN") or self.env.get("YC_IAM_TOKEN")
            if not token:
                try:
                    res = subprocess.run(["yc", "iam", "create-token"], capture_output=True, text=True,
                                         timeout=60)
                except FileNotFoundError:
                    raise CheckFailed("no IAM token: set YC_TOKEN (yc iam create-token) or install the "
                                      "yc CLI") from None
                if res.returncode != 0:
                    raise CheckFailed("no IAM token: `yc iam create-token` failed: "
                                      + (res.stderr.strip().splitlines() or ["?"])[-1])
                token = res.stdout.strip()
            self._token = token
        return self._token

    def _get(self, url: str, headers: dict[str, str], what: str) -> bytes:
        req = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise CheckFailed(f"{what}: HTTP {e.code} from {url}") from None
        except (urllib.error.URLError, OSError) as e:
            raise CheckFailed(f"{what}: {url} does not answer: {getattr(e, 'reason', e)}") from None

    def lockbox_entry(self, secret_id: str, key: str, what: str) -> str:
        try:
            entries = lockbox_client.secret_entries(secret_id, self.token(), LOCKBOX_ONE_TRY,
                                                    lockbox=self.env.get("YC_LOCKBOX_PAYLOAD_URL"))
        except lockbox_client.LockboxError as e:
            raise CheckFailed(f"{what}: {e}") from None
        if not entries.get(key):
            raise CheckFailed(f"{what}: Lockbox secret {secret_id} has no entry {key!r} "
                              f"(entries: {sorted(entries)})")
        return entries[key].decode()

    def storage_object(self, endpoint: str, bucket: str, key: str, what: str) -> bytes:
        base = self.env.get("YC_STORAGE_ENDPOINT") or endpoint
        url = f"{base.rstrip('/')}/{urllib.parse.quote(bucket)}/{urllib.parse.quote(key)}"
        # Object Storage takes an IAM token in this header in place of an S3 signature
        return self._get(url, {"X-YaCloud-SubjectToken": self.token()}, what)


def certificate_of(ep: Endpoint, cloud: Cloud, ca_file: str | None) -> tuple[str, str]:
    """(PEM, where it came from) of the certificate `ep` must present."""
    if ca_file:
        return Path(ca_file).read_text(), ca_file
    if ep.certificate_bucket and ep.certificate_key:
        where = f"s3://{ep.certificate_bucket}/{ep.certificate_key}"
        pem = cloud.storage_object(ep.storage_endpoint, ep.certificate_bucket, ep.certificate_key,
                                   f"{ep.name}: its published certificate {where}").decode()
        return pem, where
    if ep.ssh_user and ep.certificate_path:
        where = f"{ep.ssh_user}@{ep.host}:{ep.certificate_path}"
        try:
            res = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15",
                                  f"{ep.ssh_user}@{ep.host}", "cat", ep.certificate_path],
                                 capture_output=True, text=True, timeout=60)
        except (FileNotFoundError, subprocess.TimeoutExpired) as e:
            raise CheckFailed(f"{ep.name}: could not read its certificate {where} over SSH: {e}") from None
        if res.returncode != 0 or "BEGIN CERTIFICATE" not in res.stdout:
            raise CheckFailed(f"{ep.name}: could not read its certificate {where} over SSH: "
                              + (res.stderr.strip().splitlines() or ["no certificate"])[-1])
        return res.stdout, where
    raise CheckFailed(f"{ep.name}: no certificate to verify it against (pass --{ep.name}-ca FILE)")


# ---------------------------------------------------------------------------------------------
# HTTPS to one endpoint


class Https:
    """HTTPS to one endpoint's address only (no redirects followed), its certificate verified
    against `ca_pem` (including the address it is for)."""

    def __init__(self, ep: Endpoint, ca_pem: str, ca_source: str):
        self.ep, self.ca_source = ep, ca_source
        try:
            self.ctx = ssl.create_default_context(cadata=ca_pem)
        except ssl.SSLError as e:
            raise CheckFailed(f"{ep.name}: the certificate from {ca_source} is not a usable PEM "
                              f"certificate: {e}") from None
        self.auth: tuple[str, str] | None = None

    def request(self, method: str, path: str, body: dict | None = None, auth: tuple[str, str] | None = None,
                accept: str = "application/json", timeout: float = 60) -> tuple[int, bytes]:
        auth = auth if auth is not None else self.auth
        headers = {"Accept": accept}
        if auth:
            headers["Authorization"] = "Basic " + b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPSConnection(self.ep.host, self.ep.port, context=self.ctx, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        except ssl.SSLCertVerificationError as e:
            raise CheckFailed(f"{self.ep.name}: {self.ep.url} presents a certificate that does not verify "
                              f"against {self.ca_source}: {e.verify_message}") from None
        except ssl.SSLError as e:
            raise CheckFailed(f"{self.ep.name}: TLS with {self.ep.url} failed: {e}") from None
        except (OSError, http.client.HTTPException) as e:
            raise CheckFailed(f"{self.ep.name}: {self.ep.url} does not answer ({method} {path}): "
                              f"{e.strerror or e if isinstance(e, OSError) else e}") from None
        finally:
            conn.close()

    def json(self, method: str, path: str, body: dict | None = None, ok=(200,)) -> dict:
        status, data = self.request(method, path, body)
        if status not in ok:
            raise CheckFailed(f"{self.ep.name}: {method} {path} answered HTTP {status}: "
                              f"{data[:200].decode(errors='replace').strip()}")
        try:
            return json.loads(data or b"{}")
        except ValueError:
            raise CheckFailed(f"{self.ep.name}: {method} {path} did not answer JSON: "
                              f"{data[:200].decode(errors='replace').strip()}") from None


# What "the application answers" means behind each nginx.
def mlflow_answers(client: Https) -> str:
    status, body = client.request("GET", "/health", accept="text/plain")
    if status != 200 or body.strip() != b"OK":
        raise CheckFailed(f"mlflow: with the admin password /health answered HTTP {status}, not MLflow's OK")
    client.json("POST", "/api/2.0/mlflow/experiments/search", {"max_results": 1})
    return "MLflow answers (/health OK, the REST API lists experiments)"


def airflow_answers(client: Https) -> str:
    health = client.json("GET", "/api/v2/monitor/health")
    states = {k: (v or {}).get("status") for k, v in health.items() if isinstance(v, dict)}
    bad = {k: s for k, s in states.items() if s != "healthy"}
    if not states or bad:
        raise CheckFailed(f"airflow: the REST API answers but components are not healthy: {bad or health}")
    return "Airflow answers (" + ", ".join(f"{k} {s}" for k, s in sorted(states.items())) + ")"


APP_CHECKS = {"mlflow": mlflow_answers, "airflow": airflow_answers}


def check_endpoint(client: Https, password: str) -> str:
    """401 without credentials and with a wrong password; the app answers with the right one."""
    ep = client.ep
    status, _ = client.request("GET", "/", auth=None)
    if status != 401:
        raise CheckFailed(f"{ep.name}: {ep.url} without credentials answered HTTP {status}, not 401")
    wrong = "wrong-" + secrets.token_hex(8)
    status, _ = client.request("GET", "/", auth=(ep.user, wrong))
    if status != 401:
        raise CheckFailed(f"{ep.name}: {ep.url} with a wrong password answered HTTP {status}, not 401")
    client.auth = (ep.user, password)
    status, _ = client.request("GET", "/")
    if status == 401:
        client.auth = None
        raise CheckFailed(f"{ep.name}: {ep.url} refused user '{ep.user}' with the password from Lockbox "
                          f"secret {ep.password_secret_id} (HTTP 401)")
    return APP_CHECKS[ep.name](client)


def open_ports(host: str, ports=CLOSED_PORTS, timeout: float = PORT_TIMEOUT) -> list[int]:
    """The ports of `ports` on `host` that accept a TCP connection (refused or silent = closed)."""
    def answers(port: int) -> bool:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            return False
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(ports)) as pool:
        return [p for p, ok in zip(ports, pool.map(answers, ports)) if ok]


# ---------------------------------------------------------------------------------------------
# the pipeline through Airflow's REST API


def log_tail(client: Https, run_id: str, task: dict, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of a task try's log (Airflow 3: structured events or plain text)."""
    q = urllib.parse.quote
    path = (f"/api/v2/dags/{DAG_ID}/dagRuns/{q(run_id, safe='')}/taskInstances/{q(task['task_id'])}"
            f"/logs/{int(task.get('try_number') or 1)}?full_content=true")
    try:
        content = client.json("GET", path).get("content", "")
    except CheckFailed as e:
        return [f"(no log: {e})"]
    return log_lines(content)[-lines:]


def log_lines(content) -> list[str]:
    """Airflow 3's log `content`: a list of structured events ({"event": ..., "level": ...}), or text."""
    if isinstance(content, str):
        return content.splitlines()
    out: list[str] = []
    for item in content or []:
        if isinstance(item, dict):
            text = str(item.get("event", ""))
            level = item.get("level")
            out.extend(f"{level}: {line}" if level and level != "info" else line
                       for line in (text.splitlines() or [""]))
            for extra in ("error_detail", "exception"):
                if item.get(extra):
                    out.extend(json.dumps(item[extra], default=str)[:2000].splitlines())
        else:
            out.extend(str(item).splitlines())
    return out


def run_pipeline(client: Https, timeout: float, poll: float, fail_fast: bool, out=print) -> str:
    """Triggers one run of the DAG, follows it; returns the run's logical date (YYYY-MM-DD)."""
    dag = client.json("GET", f"/api/v2/dags/{DAG_ID}")
    if dag.get("is_paused"):
        raise CheckFailed(f"pipeline: DAG {DAG_ID} is paused (unpause it in the Airflow UI, then rerun)")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    run_id = f"check-deploy-{now:%Y%m%dT%H%M%SZ}"
    run = client.json("POST", f"/api/v2/dags/{DAG_ID}/dagRuns",
                      {"dag_run_id": run_id, "logical_date": now.isoformat().replace("+00:00", "Z"), "conf": {}})
    date = (run.get("logical_date") or now.isoformat())[:10]
    out(f"[pipeline] triggered {DAG_ID} run {run_id} (logical date {date}); following it")
    q = urllib.parse.quote(run_id, safe="")
    seen: dict[str, tuple] = {}
    deadline = time.monotonic() + timeout
    while True:
        run = client.json("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{q}")
        tis = client.json("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{q}/taskInstances").get("task_instances", [])
        order = {s: i for i, s in enumerate(STEPS)}
        tis.sort(key=lambda t: order.get(t["task_id"], len(order)))
        for t in tis:
            now_state = (t.get("state") or "none", t.get("try_number"))
            if seen.get(t["task_id"]) != now_state:
                seen[t["task_id"]] = now_state
                out(f"[pipeline]   {t['task_id']:<14} {now_state[0]}"
                    + (f" (try {now_state[1]})" if now_state[1] else ""))
        failed = [t for t in tis if t.get("state") == "failed"
                  or (fail_fast and t.get("state") == "up_for_retry")]
        if failed:
            t = failed[0]
            out(f"[pipeline] log tail of {t['task_id']} (try {t.get('try_number')}):")
            for line in log_tail(client, run_id, t):
                out(f"    {line}")
            how = "failed" if t.get("state") == "failed" else "failed a try (--fail-fast)"
            raise CheckFailed(f"pipeline: task {t['task_id']} {how} in run {run_id}")
        if run.get("state") == "success":
            out(f"[pipeline] run {run_id} succeeded")
            return date
        if run.get("state") == "failed":
            states = {t["task_id"]: t.get("state") for t in tis}
            raise CheckFailed(f"pipeline: run {run_id} failed (tasks: {states})")
        if time.monotonic() > deadline:
            states = {t["task_id"]: t.get("state") for t in tis}
            raise CheckFailed(f"pipeline: run {run_id} not finished after {timeout:.0f} s "
                              f"(run {run.get('state')}, tasks: {states})")
        time.sleep(poll)


# ---------------------------------------------------------------------------------------------
# the summary from MLflow's REST API


def comparison_summary(client: Https, date: str) -> list[str]:
    api = "/api/2.0/mlflow/"
    exp = client.json("GET", api + "experiments/get-by-name?"
                      + urllib.parse.urlencode({"experiment_name": EXPERIMENT}), ok=(200, 404))
    if "experiment" not in exp:
        raise CheckFailed(f"summary: no MLflow experiment {EXPERIMENT!r} at {client.ep.url}")
    exp_id = exp["experiment"]["experiment_id"]
    runs = client.json("POST", api + "runs/search", {
        "experiment_ids": [exp_id],
        "filter": (f"tags.`pipeline.step` = 'compare' and tags.`pipeline.logical_date` = '{date}' "
                   "and attributes.status = 'FINISHED'"),
        "order_by": ["attributes.start_time DESC"], "max_results": 1}).get("runs", [])
    if not runs:
        raise CheckFailed(f"summary: no finished comparison run for {date} in MLflow experiment {EXPERIMENT!r}")
    run = runs[0]
    metrics = {m["key"]: m["value"] for m in run["data"].get("metrics", [])}
    tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    missing = [k for k in ("f1_lr", "f1_rf", "f1_diff", "p_value") if k not in metrics]
    if missing:
        raise CheckFailed(f"summary: comparison run {run['info']['run_id']} lacks metrics {missing}")
    base = client.ep.url.rstrip("/")

    def link(run_id: str | None) -> str:
        return ui_url(base, exp_id, run_id) if run_id else "?"
    def train_metrics(run_id: str) -> dict:
        got = client.json("GET", api + "runs/get?" + urllib.parse.urlencode({"run_id": run_id}))
        return {m["key"]: m["value"] for m in got["run"]["data"].get("metrics", [])}
    lines = summary_lines(date, metrics, tags, REGISTERED_MODEL, {
        "MLflow experiment ": ui_url(base, exp_id),
        "comparison run    ": link(run["info"]["run_id"]),
        "logistic regression run": link(tags.get("pipeline.lr_run_id")),
        "random forest run      ": link(tags.get("pipeline.rf_run_id")),
    }, {model: train_metrics(tags[f"pipeline.{model}_run_id"])
        for model in ("lr", "rf") if tags.get(f"pipeline.{model}_run_id")})
    # no such alias (or model): MLflow 3 answers 400 INVALID_PARAMETER_VALUE "... not found"
    alias = client.json("GET", api + "registered-models/alias?" + urllib.parse.urlencode(
        {"name": REGISTERED_MODEL, "alias": CHAMPION_ALIAS}), ok=(200, 400, 404))
    version = (alias.get("model_version") or {}).get("version")
    lines.insert(-1, "  " + champion_line(version, tags.get("pipeline.champion_version")))
    return lines


def champion_line(current: str | None, moved_to: str | None) -> str:
    if not current:
        return f"champion alias: none yet on {REGISTERED_MODEL}"
    how = "moved by this run" if moved_to == current else "not moved by this run"
    return f"champion alias: {REGISTERED_MODEL} version {current} ({how})"


# ---------------------------------------------------------------------------------------------


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)

    def ok(self, what: str) -> None:
        print(f"ok   {what}", flush=True)

    def fail(self, e: CheckFailed) -> None:
        self.failures.append(str(e))
        print(f"FAIL {e}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outputs", required=True,
                    help="the stack's outputs as JSON (`cdktf output yc-mlops --outputs-file FILE`)")
    ap.add_argument("--mlflow-ca", help="PEM to verify MLflow with (default: the certificate its VM "
                                        "published to the bucket)")
    ap.add_argument("--airflow-ca", help="PEM to verify Airflow with (default: read from the VM over SSH)")
    ap.add_argument("--only", choices=("mlflow", "airflow"), help="check one host only")
    ap.add_argument("--date", help="do not trigger a run: summarize the finished run of this logical date")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the run (default 3600)")
    ap.add_argument("--poll", type=float, default=10, help="seconds between looks at the run")
    ap.add_argument("--fail-fast", action="store_true",
                    help="a task's failed try ends the check (default: wait for its retries)")
    args = ap.parse_args(argv)
    if args.date:
        try:
            dt.date.fromisoformat(args.date)
        except ValueError:
            ap.error(f"--date must be YYYY-MM-DD: {args.date!r}")

    report = Report()
    try:
        endpoints = parse_outputs(Path(args.outputs).read_text(), args.outputs)
    except OSError as e:
        report.fail(CheckFailed(f"outputs: cannot read {args.outputs}: {e.strerror}"))
        return finish(report)
    except CheckFailed as e:
        report.fail(e)
        return finish(report)
    names = [args.only] if args.only else ["mlflow", "airflow"]
    cloud = Cloud()
    clients: dict[str, Https] = {}
    for name in names:
        ep = endpoints[name]
        try:
            pem, source = certificate_of(ep, cloud, getattr(args, f"{name}_ca"))
            client = Https(ep, pem, source)
            password = cloud.lockbox_entry(ep.password_secret_id, ep.password_key, f"{name}: the admin password")
            report.ok(f"{name}: {check_endpoint(client, password)}; 401 without and with a wrong password; "
                      f"TLS verified against {source}")
            clients[name] = client
        except CheckFailed as e:
            report.fail(e)
    for host in dict.fromkeys(endpoints[n].host for n in names):
        opened = open_ports(host)
        if opened:
            report.fail(CheckFailed(f"ports: {host} answers on {', '.join(map(str, opened))} from outside "
                                    "(only 443 and 22 may)"))
        else:
            report.ok(f"ports: {host} answers on none of {', '.join(map(str, CLOSED_PORTS))}")

    date = args.date
    if "airflow" in names and not date:
        if "airflow" not in clients:
            report.fail(CheckFailed("pipeline: not run, Airflow's endpoint check failed"))
        else:
            try:
                date = run_pipeline(clients["airflow"], args.timeout, args.poll, args.fail_fast,
                                    out=lambda s: print(s, flush=True))
                report.ok(f"pipeline: run of {date} succeeded")
            except CheckFailed as e:
                report.fail(e)
    if "mlflow" in names and date and not report.failures:
        try:
            print("\n".join(comparison_summary(clients["mlflow"], date)), flush=True)
            report.ok(f"summary: the comparison of {date} read from MLflow")
        except CheckFailed as e:
            report.fail(e)
    return finish(report)


def finish(report: Report) -> int:
    if report.failures:
        print(f"check-deploy: {len(report.failures)} check(s) failed:", flush=True)
        for line in report.failures:
            print(f"  - {line}", flush=True)
        return 1
    print("check-deploy: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

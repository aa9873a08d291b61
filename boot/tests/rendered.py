"""Boots one rendered host (scripts/test/render-user-data.ts output) against fresh stand-ins.

Every secret value is made up here, at random, per run, and served only by the Lockbox stand-in, so a
leak of any of them into logs is detectable and cannot be a coincidence.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.request
import base64
import hashlib
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from harness import BootedHost
from probes import report, endpoints_env, is_loopback, secrets_found, unconditional_yandex_addresses
from standins import CloudApiStandIn, PostgresStandIn, S3StandIn

# versions.json: the release the VMs boot (and so this test) and the Python the locks are made for
FLEET = json.loads((Path(__file__).resolve().parents[2] / "versions.json").read_text())

# Ports the rendered hosts use on the (shared) loopback: nginx and the apps behind it.
HOST_PORTS = {"mlflow": [443, 5000], "airflow": [443, 8080]}


def rendered_dir(name: str) -> Path:
    base = os.environ.get("BOOT_RENDERED_DIR", "")
    if not base:
        pytest.skip("BOOT_RENDERED_DIR not set: scripts/test/render-user-data.ts was not run")
    d = Path(base) / name
    render_log = os.environ.get("BOOT_RENDER_LOG", "")
    if not (d / "user-data").is_file() and render_log and Path(render_log).is_file():
        pytest.fail(f"scripts/test/render-user-data.ts did not render host '{name}':\n"
                    + Path(render_log).read_text()[-3000:])
    if not (d / "user-data").is_file():
        pytest.skip(f"no rendered user-data for host '{name}' in {base}")
    return d


def wheelhouse(lock: Path) -> Path | None:
    """The wheels of a host's hash-pinned lock, downloaded once on this machine and kept in the cache.
    The booted host installs from them (pip still checks every hash against the lock); the first
    run pays the download, later runs do not. BOOT_WHEELHOUSE=0 makes the host use the index."""
    if os.environ.get("BOOT_WHEELHOUSE", "1") == "0":
        return None
    cache = Path(os.environ.get("MLOPS_CACHE", Path.home() / ".cache/yc-mlops"))
    key = hashlib.sha256(lock.read_bytes()).hexdigest()[:12]
    d = cache / "boot-wheels" / f"{lock.stem}-{key}"
    if (d / ".complete").exists():
        return d
    tmp = d.with_name(d.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    res = subprocess.run(["python3", "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                          "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", str(lock),
                          "-d", str(tmp)], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"downloading the wheels of {lock.name} failed:\n{res.stderr[-3000:]}")
    (tmp / ".complete").touch()
    shutil.rmtree(d, ignore_errors=True)
    tmp.rename(d)
    return d


def parse_env_file(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2).strip("'\"")
    return out


def lockbox_refs(host_env: dict[str, str]) -> dict[str, list[str]]:
    """The Lockbox entries the boot script reads: LOCKBOX_*='SECRET_ID:KEY' and the refs in
    WEB_USERS='name=SECRET_ID:KEY ...' of host.env (other values, e.g. host:port, are not refs)."""
    found = [v for k, v in host_env.items() if k.startswith("LOCKBOX_") and v]
    found += [entry.split("=", 1)[1] for entry in host_env.get("WEB_USERS", "").split()]
    refs: dict[str, list[str]] = {}
    for ref in found:
        sid, key = ref.split(":", 1)
        if key not in refs.setdefault(sid, []):
            refs[sid].append(key)
    return refs


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# where the booted Airflow host finds the Data Proc API stand-in's CA (endpoints.env YC_API_CA_FILE)
API_CA_PATH = "/etc/yc-mlops/yc-api-ca.pem"


class DataprocStandInProcess:
    """boot/dataproc_standin_server.py (the Data Proc API stand-in: gRPC + TLS on 127.0.0.1, with the
    SDK's generated service definitions) in the Airflow environment's Python ($BOOT_AIRFLOW_PYTHON,
    which has grpcio and the SDK; this test's Python has neither), accepting the IAM token of
    `token`'s metadata stand-in. Driven by JSON lines (see that file)."""

    def __init__(self, token: str, folders: list[str], work: Path):
        python = os.environ.get("BOOT_AIRFLOW_PYTHON", "")
        if not python:
            pytest.fail("BOOT_AIRFLOW_PYTHON not set: run the boot test through scripts/test/test-boot.sh")
        work.mkdir(parents=True, exist_ok=True)
        self.log = open(work / "standin.log", "wb")
        self.proc = subprocess.Popen([python, str(Path(__file__).resolve().parents[1] / "dataproc_standin_server.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     start_new_session=True)
        try:
            started = self._send({"token": token, "folders": folders, "work": str(work)})
        except BaseException:
            self.stop()
            raise
        self.address, self.ca_pem = started["address"], Path(started["ca_file"]).read_text()
        assert is_loopback(self.address), self.address

    def _send(self, message: dict) -> dict:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.log.flush()
            raise RuntimeError("the Data Proc API stand-in exited: "
                               + Path(self.log.name).read_text(errors="replace")[-3000:])
        return json.loads(line)

    def command(self, cmd: str, **fields) -> dict:
        answer = self._send({"cmd": cmd, **fields})
        assert "error" not in answer, answer
        return answer

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # end of input: the server stops its jobs and exits
                self.proc.wait(60)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()


@dataclass
class RenderedHost:
    name: str
    dir: Path
    user_data: str
    host_env: dict[str, str]
    host: BootedHost
    api: CloudApiStandIn
    pg: PostgresStandIn
    s3: S3StandIn | None
    secret_values: dict[tuple[str, str], str]
    endpoints: dict[str, str]
    web_users: dict[str, str] = field(default_factory=dict)  # user -> password
    boot_seconds: float = 0.0
    facts: dict = field(default_factory=dict)
    # the VM that replaced this one (day two); stopped with it
    replacement: "RenderedHost | None" = None
    # files written into the host before its first boot besides the seed (endpoints.env, the API CA)
    seed_files: dict[str, str] = field(default_factory=dict)
    # the Airflow host's Data Proc API stand-in (None, the MLflow host: YC_API_ENDPOINT is a loopback
    # port that speaks no gRPC; that host never calls the API)
    dataproc: DataprocStandInProcess | None = None

    @property
    def units(self) -> list[str]:
        return (self.dir / "units.txt").read_text().split()

    def secret(self, ref: str) -> str:
        sid, key = ref.split(":", 1)
        return self.secret_values[(sid, key)]

    def all_secrets(self) -> list[str]:
        return list(self.secret_values.values())

    def ca_file(self, tmp: Path) -> Path:
        """The host's self-signed certificate, taken from the host (as a user would fetch its CA)."""
        path = tmp / f"{self.name}-server.crt"
        path.write_text(self.host.read("/etc/yc-mlops/tls/server.crt"))
        return path

    def https(self, path: str, ca: Path, auth: tuple[str, str] | None = None,
              timeout: float = 30, method: str = "GET", body: dict | None = None) -> tuple[int, str]:
        ctx = ssl.create_default_context(cafile=str(ca))
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"https://127.0.0.1:443{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")


def boot_rendered(name: str, host_factory, moto_server: str | None, timeout: float,
                  dataproc_work: Path | None = None) -> RenderedHost:
    """`dataproc_work`: start the Data Proc API stand-in (its files there) and point the host's
    YC_API_ENDPOINT at it, its CA in YC_API_CA_FILE."""
    d = rendered_dir(name)
    busy = [p for p in HOST_PORTS[name] if port_in_use(p)]
    if busy:
        pytest.fail(f"loopback port(s) {busy} already in use on this machine: the {name} host binds them "
                    "(the boot test shares the machine's network); stop what uses them and rerun")
    user_data = (d / "user-data").read_text()
    host_env = parse_env_file((d / "rootfs/etc/yc-mlops/host.env").read_text())
    refs = lockbox_refs(host_env)
    # Alphanumeric like Lockbox's generator without punctuation (what the stack asks for).
    values = {(sid, key): "sv" + secrets.token_hex(14) for sid, keys in refs.items() for key in keys}
    secrets_by_id: dict[str, dict[str, str]] = {}
    for (sid, key), v in values.items():
        secrets_by_id.setdefault(sid, {})[key] = v

    api = CloudApiStandIn(secrets_by_id).start()
    pg_password = values[tuple(host_env["LOCKBOX_PG_PASSWORD"].split(":", 1))]
    # TLS with verify-full like Managed PostgreSQL; BOOT_PG_TLS=0 falls back to a plain connection
    pg_tls = os.environ.get("BOOT_PG_TLS", "1") != "0"
    pg = PostgresStandIn({host_env["PG_DATABASE"]: (host_env["PG_USER"], pg_password)}, tls=pg_tls)
    s3 = None
    started: list = [api]
    try:
        pg.start()
        started.append(pg)
        if moto_server:
            s3 = S3StandIn(moto_server).start()
            started.append(s3)
        if pg_tls:
            # where the boot script fetches Managed PostgreSQL's CA: $YC_STORAGE_ENDPOINT/cloud-certs/CA.pem
            if s3:
                s3.put_public("cloud-certs", "CA.pem", pg.ca_pem.encode())
            else:
                api.files["/cloud-certs/CA.pem"] = pg.ca_pem.encode()
        dataproc = None
        if dataproc_work is not None:
            dataproc = DataprocStandInProcess(api.token, [host_env["YANDEX_FOLDER_ID"]], dataproc_work)
            started.append(dataproc)
        endpoints = {
            "YC_METADATA_URL": api.url,
            "YC_LOCKBOX_PAYLOAD_URL": api.url,
            "YC_STORAGE_ENDPOINT": s3.url if s3 else api.url,
            # Yandex Cloud API (Data Proc, used by the Airflow DAG's tasks): the gRPC stand-in, or
            # (MLflow host, which never calls it) a loopback port: no call can leave the machine
            "YC_API_ENDPOINT": dataproc.address if dataproc else f"127.0.0.1:{api.port}",
            "YC_PG_HOST": "127.0.0.1",
            "YC_PG_PORT": str(pg.port),
            "YC_PG_SSLMODE": "verify-full" if pg_tls else "disable",
        }
        # the network rule: nothing may point at a non-loopback Yandex address
        for key, value in endpoints.items():
            if key.startswith("YC_") and key not in ("YC_PG_SSLMODE", "YC_PG_PORT"):
                assert is_loopback(value), f"{key}={value} is not a loopback address"
        seed_files = {}
        if dataproc:
            endpoints["YC_API_CA_FILE"] = API_CA_PATH
            seed_files[API_CA_PATH] = dataproc.ca_pem
        bad = unconditional_yandex_addresses(user_data)
        assert not bad, f"the user-data uses Yandex addresses outside the YC_* overrides: {bad}"

        host = host_factory(name)
        for lock in sorted((d / "rootfs/usr/local/lib/yc-mlops").glob("*.lock")):
            wheels = wheelhouse(lock)
            if wheels:
                host.binds.append((wheels, "/var/cache/boot-test-wheels"))
                # read by the boot script with its endpoint overrides, exported to pip
                endpoints.update(PIP_NO_INDEX="1", PIP_FIND_LINKS="/var/cache/boot-test-wheels")
        seed_files["/etc/yc-mlops/endpoints.env"] = endpoints_env(endpoints)
        host.seed(user_data.encode(), f"boot-test-{name}-{secrets.token_hex(4)}", seed_files)
        rh = RenderedHost(name, d, user_data, host_env, host, api, pg, s3, values, endpoints,
                          seed_files=seed_files, dataproc=dataproc)
        for entry in host_env.get("WEB_USERS", "").split():
            user, ref = entry.split("=", 1)
            rh.web_users[user] = rh.secret(ref)
        return rh
    except BaseException:
        for s in reversed(started):
            s.stop()
        raise


def stop_rendered(rh: RenderedHost) -> None:
    rh.host.stop()
    if rh.replacement is not None:
        rh.replacement.host.stop()
    for s in (rh.dataproc, rh.s3, rh.pg, rh.api):
        if s is not None:
            s.stop()


def first_boot(rh: RenderedHost, timeout: float, label: str | None = None) -> None:
    t0 = time.monotonic()
    rh.host.boot()
    rh.facts = rh.host.wait_for_cloud_init(timeout=timeout)
    rh.boot_seconds = time.monotonic() - t0
    report(f"{label or rh.name}: first boot to cloud-init done in {rh.boot_seconds:.0f} s")


def python_minor(rh: RenderedHost, exe: str = "python3") -> str:
    """The X.Y of a Python inside the booted host."""
    return rh.host.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()


def check_release_and_python(rh: RenderedHost, venv_python: str) -> None:
    """The booted root is the release of the VMs' default image family, and the host's venv runs
    the Python every lock is compiled for."""
    os_release = parse_env_file(rh.host.read("/etc/os-release"))
    assert f"{os_release['ID']}-{os_release['VERSION_ID']}" == FLEET["vm"]["imageFamily"], os_release
    assert os_release["VERSION_CODENAME"] == FLEET["vm"]["debianSuite"], os_release
    assert python_minor(rh) == FLEET["vm"]["python"] == FLEET["python"]
    assert python_minor(rh, venv_python) == FLEET["python"]


def check_apt_sources(rh: RenderedHost) -> None:
    """apt on the booted host uses only the user-data's HTTPS mirrors (cloud-init rewrote the root's
    plain-HTTP sources before installing anything), for the release and its security updates."""
    mirrors = yaml.safe_load(rh.user_data)["apt"]
    primary, security = (mirrors[k][0]["uri"].rstrip("/") for k in ("primary", "security"))
    suite = FLEET["vm"]["debianSuite"]
    entries = [line.split() for line in rh.host.read("/etc/apt/sources.list").splitlines()
               if line.startswith(("deb ", "deb-src "))]
    for extra in rh.host.run(["find", "/etc/apt/sources.list.d", "-type", "f"]).stdout.split():
        assert not extra.endswith((".list", ".sources")), f"apt source outside sources.list: {extra}"
    assert entries, rh.host.read("/etc/apt/sources.list")
    assert all(e[1].rstrip("/") in (primary, security) and e[1].startswith("https://") for e in entries), entries
    debs = {(e[1].rstrip("/"), e[2]) for e in entries if e[0] == "deb"}
    assert {(primary, suite), (security, f"{suite}-security")} <= debs, debs
    output = rh.host.read("/var/log/cloud-init-output.log")
    assert re.search(rf"^(Get|Hit):\d+ {re.escape(security)} {suite}-security ", output, re.M), \
        "apt-get update did not read the security mirror"


def replace_rendered(old: RenderedHost, host_factory, timeout: float) -> tuple[RenderedHost, float]:
    """Day two, as `cdktf deploy` does it: the host's spec changed (OUT/<name>-v2, rendered from
    EXAMPLE_DAY_TWO), so its VM is replaced: the old VM is deleted, then a new VM (fresh disk, new
    instance id, so cloud-init's first boot runs) boots from the new user-data against the SAME
    database, bucket and Lockbox. A secret the new spec names that the old one did not (a new web
    user's password) is in Lockbox already, as the deploy creates it before the VM.

    Returns the new host (booted, cloud-init done) and the monotonic time the old VM went away."""
    d = rendered_dir(f"{old.name}-v2")
    user_data = (d / "user-data").read_text()
    host_env = parse_env_file((d / "rootfs/etc/yc-mlops/host.env").read_text())
    bad = unconditional_yandex_addresses(user_data)
    assert not bad, f"the day-two user-data uses Yandex addresses outside the YC_* overrides: {bad}"
    values = dict(old.secret_values)
    for sid, keys in lockbox_refs(host_env).items():
        for key in keys:
            if (sid, key) not in values:
                values[(sid, key)] = "sv" + secrets.token_hex(14)
                old.api.secrets_by_id.setdefault(sid, {})[key] = values[(sid, key)]
    host = host_factory(f"{old.name}-v2")
    host.binds = list(old.host.binds)  # the same locks' wheelhouse
    host.seed(user_data.encode(), f"boot-test-{old.name}-v2-{secrets.token_hex(4)}", old.seed_files)
    new = RenderedHost(old.name, d, user_data, host_env, host, old.api, old.pg, old.s3, values,
                       old.endpoints, seed_files=old.seed_files, dataproc=old.dataproc)
    for entry in host_env.get("WEB_USERS", "").split():
        user, ref = entry.split("=", 1)
        new.web_users[user] = new.secret(ref)
    old.replacement = new

    # destroy-before-create: the old VM goes first (its ports are the new one's)
    gone = time.monotonic()
    old.host.stop()
    deadline = time.monotonic() + 30
    while any(port_in_use(p) for p in HOST_PORTS[old.name]) and time.monotonic() < deadline:
        time.sleep(0.2)
    first_boot(new, timeout, f"{old.name} (day-two replacement)")
    return new, gone


# ---------------------------------------------------------------------------------------------
# make check-deploy (scripts/deploy/check_deploy.py) against a booted host

CHECK_DEPLOY = Path(__file__).resolve().parents[2] / "scripts" / "deploy" / "check_deploy.py"


def machine_address() -> str:
    """This machine's first non-loopback IPv4 address: the booted host shares the machine's network,
    so this plays the VM's public address (its certificate names it: `hostname -I` at first boot),
    where nginx's 443 answers and the apps' loopback ports must not."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    v4 = [a for a in out if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", a) and not a.startswith("127.")]
    if not v4:
        pytest.skip("this machine has no non-loopback IPv4 address to play the VM's public address")
    return v4[0]


def check_deploy_output(rh: RenderedHost, address: str) -> dict:
    """The stack's `check_deploy` output for this host, as `cdktf output` would give it: the URL
    (at `address`), the nginx admin user and the Lockbox reference of its password from the host's
    own rendered host.env; for MLflow, the bucket its VM publishes its certificate to."""
    user, ref = rh.host_env["WEB_USERS"].split()[0].split("=", 1)
    sid, key = ref.split(":", 1)
    out = {"url": f"https://{address}", "user": user, "password_secret_id": sid, "password_key": key}
    if rh.s3 is not None and getattr(rh, "bucket", None):
        out.update(certificate_bucket=rh.bucket, certificate_key="tls/mlflow-server.crt",
                   # the real one, as in the output; YC_STORAGE_ENDPOINT points the program at the stand-in
                   storage_endpoint="https://storage.yandexcloud.net")
    return out


def check_deploy_outputs(rh: RenderedHost, address: str) -> dict:
    """Both hosts' `check_deploy` entries: this host's at `address`; the tests run the program with
    `--only <this host>`, so the other entry (a closed loopback port) is never contacted."""
    other = {"url": "https://127.0.0.1:9", "user": "admin", "password_secret_id": "unused",
             "password_key": "password"}
    return {"mlflow": other, "airflow": other, rh.name: check_deploy_output(rh, address)}


def check_deploy_failures_with_a_password_nginx_does_not_know(rh: RenderedHost, ca: Path,
                                                              work: Path) -> list[str]:
    """check_deploy.py against this host (at the machine's address) while Lockbox holds another admin
    password than the one nginx was given (say, a new version of the secret made after the VM
    booted): it must exit 1 naming the host, the user and the secret. Returns its failure lines."""
    address = machine_address()
    outputs = check_deploy_outputs(rh, address)
    entry = outputs[rh.name]
    values = rh.api.secrets_by_id[entry["password_secret_id"]]
    right = values[entry["password_key"]]
    values[entry["password_key"]] = "sv" + right[2:][::-1]
    try:
        res = run_check_deploy(rh, outputs, work, "--only", rh.name, f"--{rh.name}-ca", str(ca))
    finally:
        values[entry["password_key"]] = right
    assert res.returncode == 1, res.stdout
    failures = [ln for ln in res.stdout.splitlines() if ln.startswith("  - ")]
    assert failures[0] == (f"  - {rh.name}: https://{address} refused user '{entry['user']}' with the password "
                           f"from Lockbox secret {entry['password_secret_id']} (HTTP 401)"), res.stdout
    return failures


def run_check_deploy(rh: RenderedHost, outputs: dict, work: Path, *args: str,
                     timeout: float = 1200) -> subprocess.CompletedProcess:
    """scripts/deploy/check_deploy.py with the machine's python3 (it needs nothing else), the stack's
    outputs in a file, the Yandex Cloud addresses pointed at this host's stand-ins and an IAM
    token the Lockbox stand-in issued."""
    path = work / "outputs.json"
    path.write_text(json.dumps({"yc-mlops": {"check_deploy": outputs}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YC_", "MLFLOW_"))}
    env.update(YC_TOKEN=rh.api.token, YC_LOCKBOX_PAYLOAD_URL=rh.api.url,
               YC_STORAGE_ENDPOINT=rh.s3.url if rh.s3 is not None else "http://127.0.0.1:9")
    res = subprocess.run(["python3", str(CHECK_DEPLOY), "--outputs", str(path), *args], env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert not secrets_found(res.stdout + res.stderr, rh.all_secrets()), "check_deploy printed a secret"
    return res

"""Local stand-ins for the Yandex Cloud services a booted host talks to.

Only for the boot test: the metadata service (IAM token) and the Lockbox payload API are small HTTP
stand-ins speaking the same protocol on 127.0.0.1; Managed PostgreSQL is a real PostgreSQL on a free
loopback port; Object Storage is a real S3-compatible server (moto's server mode) on loopback.
Every stand-in listens on 127.0.0.1 only and is stopped by the test that started it.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LOOPBACK = "127.0.0.1"
TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
PAYLOAD_RE = re.compile(r"^/lockbox/v1/secrets/([^/]+)/payload$")
OBJECT_RE = re.compile(r"/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+")  # /<bucket>/<key>, path-style
# a refused token as the REST APIs answer it: HTTP status and body (google.rpc code + message)
REFUSALS_HTTP = {
    "UNAUTHENTICATED": (401, {"code": 16, "message": "Unauthenticated"}),
    "PERMISSION_DENIED": (403, {"code": 7, "message": "Permission denied"}),
}


def issue_loopback_tls(folder: Path, ca_name: str, ip: str = LOOPBACK) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for IP `ip` (a loopback address, 127.0.0.1 unless
    told) signed by it, made with openssl in `folder`: returns (ca.crt, server.crt, server.key); the
    key is mode 0600."""
    assert ipaddress.ip_address(ip).is_loopback, ip
    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    ca_crt, ca_key = folder / "ca.crt", folder / "ca.key"
    crt, key, csr, san = folder / "server.crt", folder / "server.key", folder / "server.csr", folder / "san.ext"
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca_name}",
         "-keyout", str(ca_key), "-out", str(ca_crt))
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={ip}", "-keyout", str(key), "-out", str(csr))
    san.write_text(f"subjectAltName=IP:{ip}\n")
    ossl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
         "-days", "2", "-extfile", str(san), "-out", str(crt))
    key.chmod(0o600)
    return ca_crt, crt, key


def data_proc_node(python: str, hdfs_uri: str, s3_url: str, s3a_jars: str, metadata_url: str,
                   **env: str) -> tuple[dict[str, str], dict[str, str]]:
    """(Spark defaults, environment) that a Data Proc node gives a job, for the API stand-in's
    ClusterRuntime: what the image's spark-defaults and core-site set (HDFS as the default file
    system, Object Storage through s3a, here at the S3 stand-in), the node's Python, its metadata
    service and Lockbox (the job reads its MLflow password there); loopback only, no UI port, few
    shuffle partitions for small data. `env` adds to the environment."""
    spark_defaults = {
        "spark.hadoop.fs.defaultFS": hdfs_uri,
        "spark.hadoop.fs.s3a.endpoint": s3_url,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.access.key": "standin",
        "spark.hadoop.fs.s3a.secret.key": "standin",
        "spark.hadoop.fs.s3a.endpoint.region": "ru-central1",
        "spark.driver.extraClassPath": s3a_jars,
        "spark.executor.extraClassPath": s3a_jars,
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
        "spark.driver.host": LOOPBACK,
        "spark.driver.bindAddress": LOOPBACK,
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
    }
    node_env = {"PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python, "SPARK_LOCAL_IP": LOOPBACK,
                "YC_METADATA_URL": metadata_url, "YC_LOCKBOX_PAYLOAD_URL": metadata_url, **env}
    return spark_defaults, node_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@dataclass
class CloudApiStandIn:
    """Stand-in for the metadata service's token endpoint and the Lockbox payload API.

    `secrets_by_id` maps a Lockbox secret id to its entries ({key: textValue}). Every request is
    recorded in `requests` (method, path, status) so a test can prove the host really asked.
    `token` is the IAM token the metadata endpoint issues; the other Yandex Cloud API stand-ins
    (Lockbox here, the gRPC API in dataproc_standin.py) accept only it (`check_bearer`).
    """

    secrets_by_id: dict[str, dict[str, str]]
    # plain files served as is (e.g. the PostgreSQL CA where the storage endpoint would have it)
    files: dict[str, bytes] = field(default_factory=dict)
    # private Object Storage objects ("/<bucket>/<key>" -> bytes), served only to a GET whose
    # X-YaCloud-SubjectToken header is the issued IAM token (Object Storage's IAM-token access,
    # in place of an S3 signature; moto knows no such header)
    objects: dict[str, bytes] = field(default_factory=dict)
    token: str = field(default_factory=lambda: "t1.standin-" + secrets.token_hex(16))
    requests: list[tuple[str, str, int]] = field(default_factory=list)

    def check_bearer(self, authorization: str) -> str | None:
        """None when `authorization` is `Bearer <the issued token>`; else why it is refused:
        UNAUTHENTICATED (no bearer token) or PERMISSION_DENIED (a token this service never issued)."""
        if not authorization.startswith("Bearer "):
            return "UNAUTHENTICATED"
        return None if authorization[len("Bearer "):] == self.token else "PERMISSION_DENIED"

    def start(self) -> "CloudApiStandIn":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean; requests are recorded instead
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                # recorded before the answer goes out: a client that has its answer can rely on
                # finding its request in the record (appending after the write raced with it)
                standin.requests.append((self.command, self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _object(self, path: str) -> None:
                # S3-style answers: 403 AccessDenied without the issued token, 404 NoSuchKey
                if self.headers.get("X-YaCloud-SubjectToken") != standin.token:
                    status, data = 403, b"<Error><Code>AccessDenied</Code></Error>"
                elif path not in standin.objects:
                    status, data = 404, b"<Error><Code>NoSuchKey</Code></Error>"
                else:
                    status, data = 200, standin.objects[path]
                standin.requests.append((self.command, self.path, status))
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path in standin.files:
                    data = standin.files[path]
                    standin.requests.append((self.command, self.path, 200))
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if path == TOKEN_PATH:
                    # The real service refuses requests without the header (SSRF protection).
                    if self.headers.get("Metadata-Flavor") != "Google":
                        return self._send(403, {"error": "Metadata-Flavor: Google header required"})
                    return self._send(200, {"access_token": standin.token, "expires_in": 43200,
                                            "token_type": "Bearer"})
                m = PAYLOAD_RE.match(path)
                if m:
                    refused = standin.check_bearer(self.headers.get("Authorization", ""))
                    if refused:
                        return self._send(*REFUSALS_HTTP[refused])
                    entries = standin.secrets_by_id.get(m.group(1))
                    if entries is None:
                        return self._send(404, {"code": 5, "message": f"Secret {m.group(1)} not found"})
                    return self._send(200, {
                        "versionId": "standin-version-1",
                        "entries": [{"key": k, "textValue": v} for k, v in entries.items()],
                    })
                if OBJECT_RE.fullmatch(path):
                    return self._object(path)
                return self._send(404, {"code": 5, "message": "Not found"})

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PostgresStandIn:
    """A real PostgreSQL 15 (the machine's initdb/pg_ctl) on a free loopback port, standing in for
    Managed PostgreSQL. `databases` maps a database name to (owner user, password)."""

    def __init__(self, databases: dict[str, tuple[str, str]], bindir: str = "/usr/local/bin",
                 tls: bool = False):
        self.databases = databases
        self.tls = tls  # TLS only (hostssl), certificate for IP 127.0.0.1 signed by self.ca_pem
        self.bindir = bindir
        self.port = free_port()
        self.datadir = Path(tempfile.mkdtemp(prefix="boot-pg-"))
        self.superpass = secrets.token_hex(12)

    def _run(self, *cmd: str) -> None:
        # initdb/postgres refuse to run as root: run them as nobody-owned data under "postgres" user
        # when we are root (the test machine), else as ourselves.
        subprocess.run(self._as_pg_user(list(cmd)), check=True, capture_output=True, text=True)

    def _as_pg_user(self, cmd: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return cmd
        return ["runuser", "-u", self.os_user, "--", *cmd]

    def start(self) -> "PostgresStandIn":
        self.os_user = "nobody" if os.geteuid() == 0 else ""
        if os.geteuid() == 0:
            shutil.chown(self.datadir, "nobody")
        data = self.datadir / "data"
        pwfile = self.datadir / "pw"
        pwfile.write_text(self.superpass)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "nobody")
        self._run(f"{self.bindir}/initdb", "-D", str(data), "-U", "postgres", "-A", "scram-sha-256",
                  f"--pwfile={pwfile}", "--no-sync")
        pwfile.unlink()
        if self.tls:
            self._make_tls(data)
        sockdir = self.datadir / "sock"
        sockdir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(sockdir, "nobody")
        self._run(f"{self.bindir}/pg_ctl", "-D", str(data), "-w", "-l", str(self.datadir / "log"),
                  "-o", f"-h {LOOPBACK} -p {self.port} -k {sockdir} -c fsync=off", "start")
        import psycopg2  # from the jobs venv

        conn = psycopg2.connect(host=LOOPBACK, port=self.port, user="postgres",
                                password=self.superpass, dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            for db, (user, password) in self.databases.items():
                cur.execute(f'CREATE ROLE "{user}" LOGIN PASSWORD %s', (password,))
                cur.execute(f'CREATE DATABASE "{db}" OWNER "{user}"')
        conn.close()
        return self

    def query(self, dbname: str, sql: str) -> list[tuple]:
        """Run a query as the superuser (what the test sees of the host's database)."""
        import psycopg2

        conn = psycopg2.connect(host=LOOPBACK, port=self.port, user="postgres", password=self.superpass,
                                dbname=dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def _make_tls(self, data: Path) -> None:
        """A throw-away CA and a server certificate for 127.0.0.1; TCP connections must use TLS."""
        tls = self.datadir / "tls"
        tls.mkdir()
        ca, crt, key = issue_loopback_tls(tls, "boot-test PG stand-in CA")
        for f, target in ((crt, "server.crt"), (key, "server.key")):
            shutil.move(f, data / target)
            if os.geteuid() == 0:
                shutil.chown(data / target, "nobody")
        (data / "server.key").chmod(0o600)
        self.ca_pem = ca.read_text()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        (data / "pg_hba.conf").write_text(
            "local all postgres scram-sha-256\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostnossl all all 0.0.0.0/0 reject\n")

    def stop(self) -> None:
        data = self.datadir / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(self._as_pg_user([f"{self.bindir}/pg_ctl", "-D", str(data), "-m",
                                             "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(self.datadir, ignore_errors=True)


class S3StandIn:
    """Object Storage stand-in: moto's S3-compatible server (pinned in boot/standin-requirements.lock)
    on a free loopback port. Accepts any static key, which is what the host reads from Lockbox."""

    def __init__(self, moto_server: str):
        self.moto_server = moto_server
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def start(self) -> "S3StandIn":
        self.log = tempfile.NamedTemporaryFile(prefix="boot-s3-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([self.moto_server, "-H", LOOPBACK, "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"S3 stand-in exited: {Path(self.log.name).read_text()}")
                time.sleep(0.3)
        raise RuntimeError("S3 stand-in did not start within 60 s")

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.url, aws_access_key_id="x", aws_secret_access_key="x",
                     region_name="ru-central1").create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ru-central1"})

    def put_public(self, bucket: str, key: str, body: bytes) -> None:
        import boto3

        self.create_bucket(bucket)
        boto3.client("s3", endpoint_url=self.url, aws_access_key_id="x", aws_secret_access_key="x",
                     region_name="ru-central1").put_object(Bucket=bucket, Key=key, Body=body,
                                                           ACL="public-read")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.unlink(self.log.name)


class MlflowFrontStandIn:
    """Stand-in for the MLflow VM's nginx in front of a loopback MLflow server (for the Airflow
    host's boot test, where the MLflow VM cannot be booted at the same time: both bind 443): TLS with
    a throw-away CA for `ip` (a loopback address other than 127.0.0.1, so that `make check-deploy`'s
    port probe of this "VM" does not meet the booted Airflow host's own loopback ports), HTTP basic
    auth for `users` (401 otherwise, like nginx's auth_basic), and every authorized request passed to
    `upstream` (http://127.0.0.1:PORT) without the Authorization header. Listens on `ip` only."""

    def __init__(self, upstream: str, users: dict[str, str], ip: str = "127.0.0.2"):
        import base64

        self.upstream, self.ip = upstream.rstrip("/"), ip
        self.allowed = {"Basic " + base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in users.items()}
        self.requests: list[tuple[str, str, int]] = []
        self.tls_dir = Path(tempfile.mkdtemp(prefix="mlflow-front-standin-"))
        self.ca_file, self._cert, self._key = issue_loopback_tls(self.tls_dir, "MLflow front stand-in CA", ip)

    def start(self) -> "MlflowFrontStandIn":
        import ssl
        import urllib.error
        import urllib.request

        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                front.requests.append((self.command, self.path, status))

            def _proxy(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                if self.headers.get("Authorization", "") not in front.allowed:
                    return self._answer(401, b"401 Authorization Required\n",
                                        [("WWW-Authenticate", 'Basic realm="MLflow"'), ("Content-Type", "text/plain")])
                req = urllib.request.Request(front.upstream + self.path, data=data, method=self.command)
                for k in ("Content-Type", "Accept"):
                    if self.headers.get(k):
                        req.add_header(k, self.headers[k])
                try:
                    # no proxy, whatever the environment says: loopback to loopback
                    with front.opener.open(req, timeout=120) as r:
                        return self._answer(r.status, r.read(), list(r.headers.items()))
                except urllib.error.HTTPError as e:
                    return self._answer(e.code, e.read(), list(e.headers.items()))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _proxy

        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.server = ThreadingHTTPServer((self.ip, 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self._cert), str(self._key))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://{self.ip}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.tls_dir, ignore_errors=True)

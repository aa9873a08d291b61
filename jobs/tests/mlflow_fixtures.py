"""pytest plugin: real `mlflow server` processes on loopback, with SQLite and PostgreSQL backends.

- `mlflow_sqlite_server`: backend sqlite:///<tmp>/mlflow.db, artifacts served from <tmp>/artifacts.
- `postgres_cluster`: a throwaway PostgreSQL cluster (initdb + pg_ctl from $PG_BIN or
  /usr/local/bin, else PATH) in a temp dir, listening on 127.0.0.1 on a free port, trust auth
  (loopback only, gone at teardown). initdb refuses to run as root, so as root the cluster runs as
  `nobody`.
- `mlflow_postgres_server`: an mlflow server whose backend store is that cluster.
- `mlflow_server`: parametrized over both ("sqlite", "postgresql").

Every process is stopped at teardown (by its PID / pg_ctl stop), even when a test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MlflowServer:
    backend: str
    uri: str
    backend_store_uri: str
    artifacts: Path
    log_path: Path


def _pg_bin(name: str) -> str:
    for folder in (os.environ.get("PG_BIN"), "/usr/local/bin", "/usr/lib/postgresql/15/bin"):
        if folder and os.access(os.path.join(folder, name), os.X_OK):
            return os.path.join(folder, name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"PostgreSQL binary {name!r} not found (set PG_BIN)")
    return found


def _wait_http(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}:\n"
                               + log_path.read_text(errors="replace")[-4000:])
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"mlflow server not healthy after {timeout}s:\n"
                       + log_path.read_text(errors="replace")[-4000:])


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    # The server runs in its own process group (uvicorn/gunicorn workers): stop the group we made.
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _start_mlflow(backend: str, backend_store_uri: str, workdir: Path):
    port = free_port()
    artifacts = workdir / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "mlflow-server.log"
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    cmd = [
        mlflow_bin, "server",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", backend_store_uri,
        "--artifacts-destination", str(artifacts),
        "--workers", "1",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # no server-side job runner (huey consumers): unused here, and it slows start-up a lot
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    log_file = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                            cwd=str(workdir), start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{uri}/health", proc, log_path)
    except BaseException:
        _stop(proc)
        log_file.close()
        raise
    return proc, log_file, MlflowServer(backend, uri, backend_store_uri, artifacts, log_path)


@pytest.fixture(scope="session")
def mlflow_sqlite_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mlflow-sqlite")
    proc, log_file, server = _start_mlflow("sqlite", f"sqlite:///{workdir / 'mlflow.db'}", workdir)
    try:
        yield server
    finally:
        _stop(proc)
        log_file.close()


@dataclass
class PostgresCluster:
    port: int
    user: str
    datadir: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def postgres_cluster():
    # Not under pytest's tmp dir: `nobody` must be able to traverse every parent folder.
    root = Path(tempfile.mkdtemp(prefix="fraud-pg-"))
    os.chmod(root, 0o755)
    datadir, sockdir = root / "data", root / "sock"
    sockdir.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        shutil.chown(sockdir, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    port = free_port()
    pg_ctl = _pg_bin("pg_ctl")
    log_path = root / "postgres.log"
    started = False
    try:
        subprocess.run([*as_user, _pg_bin("initdb"), "-D", str(datadir), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True)
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockdir} -c fsync=off"
        subprocess.run([*as_user, pg_ctl, "-D", str(datadir), "-l", str(log_path), "-o", opts,
                        "-w", "-t", "60", "start"], check=True, capture_output=True)
        started = True
        subprocess.run([*as_user, _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port),
                        "-U", "postgres", "mlflow"], check=True, capture_output=True)
        yield PostgresCluster(port=port, user="postgres", datadir=datadir)
    except subprocess.CalledProcessError as exc:
        log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
        raise RuntimeError(f"PostgreSQL setup failed: {exc.cmd}: {exc.stderr!r} {log_text}") from exc
    finally:
        if started:
            subprocess.run([*as_user, pg_ctl, "-D", str(datadir), "-m", "fast", "-w", "stop"],
                           capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_postgres_server(postgres_cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mlflow-postgres")
    proc, log_file, server = _start_mlflow("postgresql", postgres_cluster.url("mlflow"), workdir)
    try:
        yield server
    finally:
        _stop(proc)
        log_file.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def mlflow_server(request):
    name = "mlflow_sqlite_server" if request.param == "sqlite" else "mlflow_postgres_server"
    return request.getfixturevalue(name)

"""A real single-node HDFS for the tests: Apache Hadoop's MiniDFSCluster (NameNode + DataNode).

The classpath comes from Maven Central (tests/hdfs/pom.xml; repository cache under $MLOPS_CACHE)
and the launcher (tests/hdfs/src/.../MiniHdfs.java) is compiled with javac; both are cached by the
hash of those two files. Every socket binds to 127.0.0.1 on a free port. The server runs in its own
process group, which the fixture kills at teardown, whatever the tests did.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tempfile
import time

import pytest

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hdfs")
POM = os.path.join(HERE, "pom.xml")
LAUNCHER = os.path.join(HERE, "src", "main", "java", "fraudtest", "MiniHdfs.java")
START_TIMEOUT_S = 180


def _cache_root() -> str:
    default = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "yc-mlops")
    return os.environ.get("MLOPS_CACHE", default)


def _digest(*paths: str) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:12]


def maven_classpath(pom: str) -> str:
    """The jars of `pom`'s dependencies from Maven Central (repository cache $MLOPS_CACHE/m2),
    resolved once per content of the pom; returns them as a Java classpath."""
    out = os.path.join(_cache_root(), "maven-classpath", _digest(pom))
    cp_file = os.path.join(out, "classpath.txt")
    if not os.path.exists(os.path.join(out, ".complete")):
        os.makedirs(out, exist_ok=True)
        subprocess.run(
            ["mvn", "-q", "-B", f"-Dmaven.repo.local={os.path.join(_cache_root(), 'm2')}",
             "-f", pom, "dependency:build-classpath", f"-Dmdep.outputFile={cp_file}"],
            check=True,
        )
        open(os.path.join(out, ".complete"), "w").close()
    with open(cp_file, encoding="utf-8") as fh:
        return fh.read().strip()


def build_mini_hdfs() -> str:
    """Resolve the Hadoop jars and compile the launcher (once); return the Java classpath."""
    jars = maven_classpath(POM)
    classes = os.path.join(_cache_root(), "mini-hdfs", _digest(POM, LAUNCHER), "classes")
    if not os.path.exists(os.path.join(classes, ".complete")):
        os.makedirs(classes, exist_ok=True)
        subprocess.run(["javac", "-d", classes, "-cp", jars, LAUNCHER], check=True)
        open(os.path.join(classes, ".complete"), "w").close()
    return classes + os.pathsep + jars


class MiniHdfs:
    def __init__(self, classpath: str):
        self.base = tempfile.mkdtemp(prefix="mini-hdfs-")
        self.ready = os.path.join(self.base, "ready")
        self.log_path = os.path.join(self.base, "server.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["java", "-Xmx512m", "-cp", classpath, "fraudtest.MiniHdfs",
             os.path.join(self.base, "data"), "0", self.ready],
            stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: teardown kills it all
        )
        self.uri = self._wait_ready()

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if os.path.exists(self.ready):
                with open(self.ready, encoding="utf-8") as fh:
                    return fh.read().strip()
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        self.stop()
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            tail = fh.read()[-3000:]
        raise RuntimeError(f"mini HDFS did not start (exit {self.proc.returncode}); log tail:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # the launcher shuts the cluster down on EOF
                self.proc.wait(timeout=15)
            except (subprocess.TimeoutExpired, OSError):
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def hdfs():
    """The hdfs://127.0.0.1:<port> URI of a running single-node HDFS."""
    server = MiniHdfs(build_mini_hdfs())
    try:
        yield server.uri
    finally:
        server.stop()

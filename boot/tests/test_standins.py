"""The stand-ins answer the way the real Yandex Cloud services do, so the booted hosts meet the same
protocol they meet in the cloud (header checks, bearer token, 401/403/404)."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from standins import TOKEN_PATH, CloudApiStandIn, PostgresStandIn, S3StandIn


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def api():
    s = CloudApiStandIn({"sec-1": {"password": "pw-123"}}).start()
    yield s
    s.stop()


def test_token_needs_metadata_flavor_header(api):
    assert _get(api.url + TOKEN_PATH)[0] == 403
    status, body = _get(api.url + TOKEN_PATH, {"Metadata-Flavor": "Google"})
    assert status == 200
    assert set(body) == {"access_token", "expires_in", "token_type"}


def test_lockbox_payload_needs_the_token(api):
    url = api.url + "/lockbox/v1/secrets/sec-1/payload"
    assert _get(url)[0] == 401
    assert _get(url, {"Authorization": "Bearer wrong"})[0] == 403
    assert _get(api.url + "/lockbox/v1/secrets/nope/payload",
                {"Authorization": f"Bearer {api.token}"})[0] == 404
    status, body = _get(url, {"Authorization": f"Bearer {api.token}"})
    assert status == 200
    assert body["entries"] == [{"key": "password", "textValue": "pw-123"}]


def test_postgres_standin_accepts_its_users_only():
    import psycopg2

    pg = PostgresStandIn({"mlflow": ("mlflow", "pg-pass-1")}).start()
    try:
        with psycopg2.connect(host="127.0.0.1", port=pg.port, user="mlflow", password="pg-pass-1",
                              dbname="mlflow") as c, c.cursor() as cur:
            cur.execute("select current_database(), current_user")
            assert cur.fetchone() == ("mlflow", "mlflow")
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(host="127.0.0.1", port=pg.port, user="mlflow", password="wrong",
                             dbname="mlflow")
    finally:
        pg.stop()


def test_s3_standin_stores_objects():
    import boto3

    s3 = S3StandIn(os.environ["BOOT_MOTO_SERVER"]).start()
    try:
        s3.create_bucket("artifacts")
        c = boto3.client("s3", endpoint_url=s3.url, aws_access_key_id="k", aws_secret_access_key="s",
                         region_name="ru-central1")
        c.put_object(Bucket="artifacts", Key="a/b.txt", Body=b"hello")
        assert c.get_object(Bucket="artifacts", Key="a/b.txt")["Body"].read() == b"hello"
    finally:
        s3.stop()


def test_postgres_standin_with_tls_verifies_and_refuses_plain_connections(tmp_path):
    import psycopg2

    pg = PostgresStandIn({"airflow": ("airflow", "pg-pass-2")}, tls=True).start()
    try:
        ca = tmp_path / "ca.crt"
        ca.write_text(pg.ca_pem)
        with psycopg2.connect(host="127.0.0.1", port=pg.port, user="airflow", password="pg-pass-2",
                              dbname="airflow", sslmode="verify-full", sslrootcert=str(ca)) as c, c.cursor() as cur:
            cur.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
            assert cur.fetchone() == (True,)
        with pytest.raises(psycopg2.OperationalError, match="reject|SSL off|no encryption"):
            psycopg2.connect(host="127.0.0.1", port=pg.port, user="airflow", password="pg-pass-2",
                             dbname="airflow", sslmode="disable")
    finally:
        pg.stop()


def test_mlflow_front_answers_like_nginx_over_tls_on_its_own_loopback_address():
    """The stand-in for the MLflow VM's nginx: TLS verified for 127.0.0.2 with its CA, 401 without
    or with wrong credentials, the upstream's answer (status, body) with the right ones, and the
    password never passed on."""
    import base64
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from standins import MlflowFrontStandIn

    seen = []

    class Upstream(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, body, self.headers.get("Authorization")))
            answer = json.dumps({"echo": json.loads(body)}).encode()
            self.send_response(404 if "missing" in self.path else 200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    up = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    front = MlflowFrontStandIn(f"http://127.0.0.1:{up.server_address[1]}", {"admin": "pw-1"}).start()
    try:
        assert front.url.startswith("https://127.0.0.2:")
        ctx = ssl.create_default_context(cafile=str(front.ca_file))

        def post(path, user=None, password=None):
            req = urllib.request.Request(front.url + path, data=b'{"a": 1}', method="POST",
                                         headers={"Content-Type": "application/json"})
            if user:
                req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

        assert post("/api/x")[0] == 401
        assert post("/api/x", "admin", "pw-2")[0] == 401
        assert post("/api/x", "other", "pw-1")[0] == 401
        assert seen == []
        assert post("/api/x?q=1", "admin", "pw-1") == (200, b'{"echo": {"a": 1}}')
        assert post("/api/missing", "admin", "pw-1")[0] == 404
        assert seen[0] == ("/api/x?q=1", b'{"a": 1}', None)
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # its own CA only
            urllib.request.urlopen(front.url + "/health", context=ssl.create_default_context(), timeout=10)
    finally:
        front.stop()
        up.shutdown()
        up.server_close()

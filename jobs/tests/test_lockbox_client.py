"""The one Lockbox client (fraud_jobs/lockbox_client.py, shipped to the cluster in fraud_jobs.zip and
to the VMs next to units/first-boot/ycm-lockbox.py): its retry policies against a loopback stand-in of
the metadata service and the Lockbox payload API that answers 403 until the account's binding
"arrives", as right after a VM boots."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fraud_jobs import lockbox_client as lc
from fraud_jobs.mlflow_auth import JOB_RETRY

TOKEN = "stand-in-token"


@pytest.fixture
def lockbox(monkeypatch):
    state = {"denials": 0, "seen": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            state["seen"].append(self.path)
            if self.path == lc.TOKEN_PATH and self.headers.get("Metadata-Flavor") == "Google":
                return self._send(200, {"access_token": TOKEN})
            if self.path == "/lockbox/v1/secrets/e6qsecret/payload" and self.headers.get("Authorization") == f"Bearer {TOKEN}":
                if state["denials"] > 0:
                    state["denials"] -= 1
                    return self._send(403, {})
                return self._send(200, {"entries": [
                    {"key": "password", "textValue": "s3cret"},
                    {"key": "blob", "binaryValue": base64.b64encode(b"\x00\x01").decode()},
                ]})
            return self._send(404, {})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("YC_METADATA_URL", url)
    monkeypatch.setenv("YC_LOCKBOX_PAYLOAD_URL", url)
    yield state
    server.shutdown()
    server.server_close()


def test_entries_text_and_binary(lockbox):
    token = lc.iam_token(JOB_RETRY)
    assert lc.secret_entries("e6qsecret", token, JOB_RETRY) == {"password": b"s3cret", "blob": b"\x00\x01"}


def test_a_boot_policy_waits_out_a_lagging_binding_and_the_jobs_policy_does_not(lockbox):
    boot = lc.RetryPolicy(attempts=5, final_statuses=(400, 404), delay=lambda attempt: 0)
    warnings = []
    lockbox["denials"] = 2
    assert lc.secret_entries("e6qsecret", TOKEN, boot, warnings.append)["password"] == b"s3cret"
    assert warnings == [f"payload of Lockbox secret e6qsecret: HTTP 403 (attempt {n}/5), retrying" for n in (1, 2)]
    lockbox["denials"] = 1
    with pytest.raises(lc.LockboxError, match=r"^payload of Lockbox secret e6qsecret: HTTP 403$"):
        lc.secret_entries("e6qsecret", TOKEN, JOB_RETRY)


def test_a_missing_secret_is_final_and_named_and_a_bad_id_is_never_sent(lockbox):
    boot = lc.RetryPolicy(attempts=5, final_statuses=(400, 404), delay=lambda attempt: 0)
    with pytest.raises(lc.LockboxError, match="Lockbox secret e6qnosuch: HTTP 404"):
        lc.secret_entries("e6qnosuch", TOKEN, boot)
    assert lockbox["seen"].count("/lockbox/v1/secrets/e6qnosuch/payload") == 1
    with pytest.raises(lc.LockboxError, match=r"bad Lockbox secret id '\.\./x'"):
        lc.secret_entries("../x", TOKEN, boot)
    assert not any(".." in p for p in lockbox["seen"])

"""Read Lockbox secrets with the instance's service account: the project's one Lockbox client.

Two callers on two kinds of host ship this same file:
  - the VMs' boot reader units/first-boot/ycm-lockbox.py (the stack writes this file next to it, as
    lockbox_client.py, in each VM's user-data), with the VM's system python3;
  - the jobs on the Data Proc driver (fraud_jobs.mlflow_auth, inside fraud_jobs.zip).
So it is standard library only and imports nothing of the project.

The protocol: an IAM token of the instance's service account from the metadata service
(GET <metadata>/computeMetadata/v1/instance/service-accounts/default/token, header
Metadata-Flavor: Google), then the secret's payload (GET <lockbox>/lockbox/v1/secrets/<id>/payload,
Authorization: Bearer <token>). The endpoints are overridden by YC_METADATA_URL and
YC_LOCKBOX_PAYLOAD_URL (units/README.md; the tests point them at stand-ins). Errors name the secret
id, the URL's purpose and the HTTP status, never a value.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable, Collection, Optional

TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
# secret ids and entry keys: also what may become a file name or a CLI argument
SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


class LockboxError(Exception):
    """A secret could not be read; the message names what and why (never a value)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often a GET is tried, which HTTP statuses end it at once, and the pause before try n+1."""

    attempts: int
    # an HTTP status is retried when `retry_statuses` holds it (None: every status but `final_statuses`)
    retry_statuses: Optional[Collection[int]] = None
    final_statuses: Collection[int] = ()
    delay: Callable[[int], float] = lambda attempt: 2 ** (attempt - 1)

    def retries(self, status: int) -> bool:
        if self.retry_statuses is not None:
            return status in self.retry_statuses
        return status not in self.final_statuses


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def endpoints() -> tuple[str, str]:
    """(metadata service, Lockbox payload API) base URLs: the environment's overrides or the cloud's."""
    # each cloud address only as the default of its override, on one line: the boot test's network
    # rule (boot/probes.py) refuses a Yandex address that no YC_* variable can replace
    return (os.environ.get("YC_METADATA_URL", "http://169.254.169.254").rstrip("/"),
            os.environ.get("YC_LOCKBOX_PAYLOAD_URL", "https://payload.lockbox.api.cloud.yandex.net").rstrip("/"))


def get_json(url: str, headers: dict, what: str, policy: RetryPolicy,
             warn: Callable[[str], None] = _warn) -> dict:
    """GET a JSON object, retried by `policy`; LockboxError names `what` and the last failure."""
    reason = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=15) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as err:
            reason = f"HTTP {err.code}"  # the body is not quoted: only the status
            if not policy.retries(err.code):
                raise LockboxError(f"{what}: {reason}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
        except ValueError:
            reason = "the answer is not JSON"
        if attempt < policy.attempts:
            warn(f"{what}: {reason} (attempt {attempt}/{policy.attempts}), retrying")
            time.sleep(policy.delay(attempt))
    raise LockboxError(f"{what}: {reason}, giving up after {policy.attempts} attempts")


def iam_token(policy: RetryPolicy, warn: Callable[[str], None] = _warn) -> str:
    """The instance service account's IAM token from the metadata service."""
    metadata, _ = endpoints()
    token = get_json(metadata + TOKEN_PATH, {"Metadata-Flavor": "Google"},
                     "IAM token from the metadata service", policy, warn).get("access_token")
    if not token:
        raise LockboxError("the metadata service answered without an access_token")
    return token


def secret_entries(secret_id: str, token: str, policy: RetryPolicy,
                   warn: Callable[[str], None] = _warn, lockbox: str | None = None) -> dict[str, bytes]:
    """A secret's entries (key -> value bytes: text entries UTF-8 encoded, binary ones decoded).
    `token`: any IAM token allowed to read it (the instance's, or a user's: scripts/deploy/check_deploy.py);
    `lockbox`: the payload API's base URL (default: endpoints())."""
    if not SAFE_ID.fullmatch(secret_id):
        raise LockboxError(f"bad Lockbox secret id {secret_id!r}")
    lockbox = (lockbox or endpoints()[1]).rstrip("/")
    payload = get_json(f"{lockbox}/lockbox/v1/secrets/{secret_id}/payload",
                       {"Authorization": f"Bearer {token}"},
                       f"payload of Lockbox secret {secret_id}", policy, warn)
    entries = {}
    for entry in payload.get("entries", []):
        key = entry.get("key", "")
        if not isinstance(key, str) or not SAFE_ID.fullmatch(key):
            raise LockboxError(f"Lockbox secret {secret_id} has an entry with a bad key {key!r}")
        if isinstance(entry.get("textValue"), str):
            entries[key] = entry["textValue"].encode()
        else:
            entries[key] = base64.b64decode(entry.get("binaryValue", ""))
    return entries

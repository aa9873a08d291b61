#!/usr/bin/python3
"""Fetch Lockbox secret payloads with this VM's service account and write each entry to a file.

usage: ycm-lockbox OUT_DIR SECRET_ID [SECRET_ID...]
Writes OUT_DIR/SECRET_ID/ENTRY_KEY (mode 0600, root) per entry. Prints secret ids and entry KEYS
only; values are never printed. Endpoints come from the environment (the boot script sets them):
  YC_METADATA_URL         IAM token: GET /computeMetadata/v1/instance/service-accounts/default/token
                          with header Metadata-Flavor: Google
  YC_LOCKBOX_PAYLOAD_URL  GET /lockbox/v1/secrets/<id>/payload with Authorization: Bearer <token>
"""

import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

ATTEMPTS = 10
SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def get_json(url: str, headers: dict, what: str) -> dict:
    """GET with retries: right after boot the metadata service or the SA binding may lag."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            req = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(req, timeout=15) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as err:
            reason = f"HTTP {err.code}"
            if err.code in (400, 404):  # retrying will not help
                sys.exit(f"ycm-lockbox: {what}: {reason} from {url}")
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = type(err).__name__ + ": " + str(getattr(err, "reason", err))
        print(f"ycm-lockbox: {what}: {reason} (attempt {attempt}/{ATTEMPTS})", file=sys.stderr)
        time.sleep(min(2 ** attempt, 30))
    sys.exit(f"ycm-lockbox: {what}: giving up after {ATTEMPTS} attempts ({url})")


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_dir, secret_ids = sys.argv[1], sys.argv[2:]
    metadata = os.environ.get("YC_METADATA_URL", "http://169.254.169.254").rstrip("/")
    lockbox = os.environ.get("YC_LOCKBOX_PAYLOAD_URL", "https://payload.lockbox.api.cloud.yandex.net").rstrip("/")
    token = get_json(
        f"{metadata}/computeMetadata/v1/instance/service-accounts/default/token",
        {"Metadata-Flavor": "Google"},
        "IAM token from the metadata service",
    ).get("access_token")
    if not token:
        sys.exit("ycm-lockbox: the metadata service answered without an access_token")
    os.umask(0o077)
    for secret_id in dict.fromkeys(secret_ids):
        if not SAFE_ID.match(secret_id):
            sys.exit(f"ycm-lockbox: bad secret id {secret_id!r}")
        payload = get_json(
            f"{lockbox}/lockbox/v1/secrets/{secret_id}/payload",
            {"Authorization": f"Bearer {token}"},
            f"payload of Lockbox secret {secret_id}",
        )
        target = os.path.join(out_dir, secret_id)
        os.makedirs(target, mode=0o700, exist_ok=True)
        keys = []
        for entry in payload.get("entries", []):
            key = entry.get("key", "")
            if not SAFE_ID.match(key):
                sys.exit(f"ycm-lockbox: secret {secret_id} has an entry with a bad key {key!r}")
            if "textValue" in entry:
                value = entry["textValue"].encode()
            else:
                value = base64.b64decode(entry.get("binaryValue", ""))
            with open(os.path.join(target, key), "wb") as fh:
                fh.write(value)
            keys.append(key)
        print(f"ycm-lockbox: secret {secret_id}: entries {', '.join(keys) or '(none)'}")


if __name__ == "__main__":
    main()

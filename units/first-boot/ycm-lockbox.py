#!/usr/bin/python3
"""Fetch Lockbox secret payloads with this VM's service account and write each entry to a file.

usage: ycm-lockbox OUT_DIR SECRET_ID [SECRET_ID...]
Writes OUT_DIR/SECRET_ID/ENTRY_KEY (mode 0600, root) per entry. Prints secret ids and entry KEYS
only; values are never printed. The protocol and its endpoint overrides (YC_METADATA_URL,
YC_LOCKBOX_PAYLOAD_URL, set by the boot script) are the project's one Lockbox client,
jobs/fraud_jobs/lockbox_client.py, which the stack writes next to this file on the VM.
"""

import os
import sys

try:
    import lockbox_client  # next to this file on the VM (sys.path[0] is the script's folder)
except ImportError:  # in the repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "jobs", "fraud_jobs"))
    import lockbox_client

# Right after boot the metadata service or the service account's binding may lag: retry all but
# the answers that retrying cannot change, for up to about four minutes.
BOOT_RETRY = lockbox_client.RetryPolicy(attempts=10, final_statuses=(400, 404),
                                        delay=lambda attempt: min(2 ** attempt, 30))


def warn(message: str) -> None:
    print(f"ycm-lockbox: {message}", file=sys.stderr, flush=True)


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_dir, secret_ids = sys.argv[1], sys.argv[2:]
    try:
        token = lockbox_client.iam_token(BOOT_RETRY, warn)
        os.umask(0o077)
        for secret_id in dict.fromkeys(secret_ids):
            entries = lockbox_client.secret_entries(secret_id, token, BOOT_RETRY, warn)
            target = os.path.join(out_dir, secret_id)
            os.makedirs(target, mode=0o700, exist_ok=True)
            for key, value in entries.items():
                with open(os.path.join(target, key), "wb") as fh:
                    fh.write(value)
            print(f"ycm-lockbox: secret {secret_id}: entries {', '.join(entries) or '(none)'}")
    except lockbox_client.LockboxError as exc:
        sys.exit(f"ycm-lockbox: {exc}")


if __name__ == "__main__":
    main()

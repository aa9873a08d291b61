"""How a job logs in to the cloud MLflow server: basic auth from Lockbox and the server's own CA.

In the cloud the MLflow VM sits behind nginx with TLS (a self-signed certificate the VM publishes to
the bucket) and basic auth (user `jobs`, password generated in a Lockbox secret the cluster's
service account may read). `configure_mlflow_client` fetches both on the Spark driver and hands them
to the MLflow client through its documented environment variables:

  MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD   basic auth of every tracking request
  MLFLOW_TRACKING_SERVER_CERT_PATH                      CA bundle used to verify the server

The password comes from Lockbox through the client the VMs use too (fraud_jobs/lockbox_client.py:
an IAM token of the instance's service account from the metadata service, then the secret's
payload; endpoints overridden by YC_METADATA_URL and YC_LOCKBOX_PAYLOAD_URL). Standard library
only: this runs on the cluster's own Python.

The password is never printed; errors name the secret id and the HTTP status only. With nothing
configured (the local run) this is a no-op.
"""

from __future__ import annotations

import argparse
import atexit
import os
import tempfile

from fraud_jobs import lockbox_client
from fraud_jobs.common import JobError, check_uri, log, read_bytes

# entry key of the generated password in the secret (GeneratedSecret's default in constructs/secrets.ts)
PASSWORD_ENTRY = "password"

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
CERT_PATH_ENV = "MLFLOW_TRACKING_SERVER_CERT_PATH"

CA_SCHEMES = ("s3a", "hdfs", "file")


def _safe_id_arg(what: str):
    def parse(value: str) -> str:
        if value and not lockbox_client.SAFE_ID.fullmatch(value):
            raise argparse.ArgumentTypeError(f"bad {what} {value!r}: expected letters, digits, '_', '.', '-'")
        return value

    parse.__name__ = what
    return parse


def _ca_uri_arg(value: str) -> str:
    if not value:
        return value
    try:
        check_uri(value, CA_SCHEMES)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if "://" not in value:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a URI; expected {', '.join(s + '://' for s in CA_SCHEMES)}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The three optional CLI flags of every MLflow step (pipeline_spec.step_args sets them)."""
    parser.add_argument("--mlflow-username", default="", type=_safe_id_arg("MLflow user name"),
                        help="basic-auth user of the MLflow server (cloud: 'jobs')")
    parser.add_argument("--mlflow-password-secret", default="", type=_safe_id_arg("Lockbox secret id"),
                        help="Lockbox secret id holding that user's password (entry 'password')")
    parser.add_argument("--mlflow-ca-uri", default="", type=_ca_uri_arg,
                        help="CA certificate of the MLflow server (s3a://, hdfs:// or file:// URI)")


def configure_from_args(spark, args: argparse.Namespace) -> None:
    configure_mlflow_client(
        spark,
        username=args.mlflow_username,
        password_secret_id=args.mlflow_password_secret,
        ca_uri=args.mlflow_ca_uri,
    )


def configure_mlflow_client(spark, *, username: str = "", password_secret_id: str = "",
                            ca_uri: str = "") -> None:
    """Set the MLflow client's credentials and CA on this (driver) process; see the module doc."""
    username, password_secret_id, ca_uri = (
        (v or "").strip() for v in (username, password_secret_id, ca_uri))
    if bool(username) != bool(password_secret_id):
        raise JobError(
            "--mlflow-username and --mlflow-password-secret go together; got username "
            f"{username!r} and password secret {password_secret_id!r}"
        )
    if password_secret_id:
        password = lockbox_entry(password_secret_id, PASSWORD_ENTRY)
        os.environ[USERNAME_ENV] = username
        os.environ[PASSWORD_ENV] = password
        log(f"MLflow basic auth: user {username!r}, password from Lockbox secret {password_secret_id}")
    if ca_uri:
        os.environ[CERT_PATH_ENV] = _fetch_ca(spark, ca_uri)
        log(f"MLflow server certificate: verified against {ca_uri}")


# On the driver a denied or missing secret is final; throttling, 5xx and network errors are retried.
JOB_RETRY = lockbox_client.RetryPolicy(attempts=4, retry_statuses=(429, 500, 502, 503, 504))


def lockbox_entry(secret_id: str, key: str) -> str:
    """One text entry of a Lockbox secret, read with the instance service account's IAM token."""
    try:
        token = lockbox_client.iam_token(JOB_RETRY, log)
        entries = lockbox_client.secret_entries(secret_id, token, JOB_RETRY, log)
    except lockbox_client.LockboxError as exc:
        raise JobError(str(exc)) from None
    if key not in entries:
        raise JobError(f"Lockbox secret {secret_id} has no entry {key!r} (entries: {sorted(entries)})")
    try:
        return entries[key].decode()
    except UnicodeDecodeError:
        raise JobError(f"Lockbox secret {secret_id} entry {key!r} is not text") from None


def _fetch_ca(spark, ca_uri: str) -> str:
    """Copy the CA certificate at `ca_uri` into a private temp file (removed at exit); its path."""
    scheme = ca_uri.split("://", 1)[0] if "://" in ca_uri else ""
    if scheme not in CA_SCHEMES:
        raise JobError(f"bad MLflow CA URI {ca_uri!r}: expected {', '.join(s + '://' for s in CA_SCHEMES)}")
    try:
        data = read_bytes(spark, ca_uri)
    except JobError:
        raise JobError(f"MLflow CA certificate not found: {ca_uri}") from None
    except Exception as exc:  # e.g. s3a access denied, surfacing as a Py4J error
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise JobError(f"cannot read MLflow CA certificate {ca_uri}: {first}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise JobError(f"MLflow CA certificate {ca_uri} holds no PEM certificate")
    fd, path = tempfile.mkstemp(prefix="mlflow-ca-", suffix=".crt")  # mode 0600
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    atexit.register(_remove_quietly, path)
    return path


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

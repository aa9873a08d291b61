"""The remote-state lock table (tools/state-backend/create_lock_table.py) against a stand-in of
YDB's DynamoDB-compatible Document API: moto's server (boot/standin-requirements.lock) on loopback.
No host is booted here."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from standins import S3StandIn

REPO = Path(__file__).resolve().parents[2]
PROGRAM = REPO / "tools/state-backend/create_lock_table.py"
KEY_ID, SECRET = "YCAJEstandinkeyid00", "YCstand-in-secret-key-never-printed-0123456789"
# moto's DynamoDB knows AWS regions only (YDB's Document API takes ru-central1, the program's default)
STANDIN_REGION = "us-east-1"


@pytest.fixture(scope="module")
def docapi():
    server = S3StandIn(os.environ["BOOT_MOTO_SERVER"]).start()  # moto serves DynamoDB on the same port
    try:
        yield server.url
    finally:
        server.stop()


def run(*args: str, key: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if key:
        env.update(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET)
    env["AWS_DEFAULT_REGION"] = STANDIN_REGION
    return subprocess.run([sys.executable, str(PROGRAM), *args], env=env, capture_output=True, text=True, timeout=120)


def test_creates_the_lock_table_once_and_never_prints_the_key(docapi):
    first = run(docapi, "tfstate-lock")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "lock table tfstate-lock: created"
    second = run(docapi, "tfstate-lock")
    assert second.returncode == 0 and second.stdout.strip() == "lock table tfstate-lock: already there"
    for out in (first, second):
        assert SECRET not in out.stdout + out.stderr and KEY_ID not in out.stdout + out.stderr

    import boto3
    table = boto3.client("dynamodb", endpoint_url=docapi, region_name=STANDIN_REGION, aws_access_key_id="x",
                         aws_secret_access_key="x").describe_table(TableName="tfstate-lock")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "LockID", "AttributeType": "S"}]


def test_refuses_a_table_with_another_key(docapi):
    import boto3
    boto3.client("dynamodb", endpoint_url=docapi, region_name=STANDIN_REGION, aws_access_key_id="x",
                 aws_secret_access_key="x").create_table(
        TableName="wrong-key", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    res = run(docapi, "wrong-key")
    assert res.returncode == 2 and "not (LockID, HASH)" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["http://example.com/x", "t-1"], "is not a Document API endpoint"),
    (["https://docapi.serverless.yandexcloud.net/ru-central1/b1g/etn", "x"], "bad table name 'x'"),
    (["https://docapi.serverless.yandexcloud.net/ru-central1/b1g/etn"], "usage:"),
])
def test_bad_arguments_exit_2_in_one_line(args, message):
    res = run(*args)
    assert res.returncode == 2 and message in res.stderr and res.stderr.count("\n") == 1


def test_without_the_key_it_says_so(docapi):
    res = run(docapi, "tfstate-lock", key=False)
    assert res.returncode == 2 and "AWS_ACCESS_KEY_ID" in res.stderr

"""Creates the Terraform state lock table in the YDB database of the `yc-mlops-state` stack, through
YDB's DynamoDB-compatible Document API, as Yandex documents it ("Locking Terraform states using
Managed Service for YDB": a document table with the string partition key LockID). Idempotent: an
existing table with that key is left as is; one with another key is an error.

Usage: create_lock_table.py DOCUMENT_API_ENDPOINT TABLE
Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment (the state account's
static key, which scripts/deploy/state-backend.sh takes from Lockbox); they are never printed.
Exit 2 with one line on bad arguments or a failed call.
"""

from __future__ import annotations

import os
import re
import sys

LOCK_KEY = "LockID"
REGION = "ru-central1"
# the Document API of a serverless YDB database; plain http only on loopback (the tests' stand-in)
ENDPOINT = re.compile(r"^(https://[A-Za-z0-9.-]+|http://127\.0\.0\.1:\d+)(/[A-Za-z0-9._/-]*)?$")
TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


def fail(message: str) -> None:
    print(f"create_lock_table: error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        fail("usage: create_lock_table.py DOCUMENT_API_ENDPOINT TABLE")
    endpoint, table = argv
    if not ENDPOINT.fullmatch(endpoint):
        fail(f"{endpoint!r} is not a Document API endpoint (https://docapi.serverless.yandexcloud.net/...)")
    if not TABLE.fullmatch(table):
        fail(f"bad table name {table!r}: 3-255 letters, digits, '_', '.', '-'")
    if not (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
        fail("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must hold the state account's static key")

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    # the region only enters the request signature; AWS_DEFAULT_REGION overrides it (the tests' stand-in
    # knows AWS regions only)
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION") or REGION)
    try:
        try:
            described = client.describe_table(TableName=table)["Table"]
        except client.exceptions.ResourceNotFoundException:
            client.create_table(
                TableName=table,
                AttributeDefinitions=[{"AttributeName": LOCK_KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": LOCK_KEY, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
            client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 60})
            print(f"lock table {table}: created")
            return
    except (ClientError, BotoCoreError) as exc:
        fail(f"Document API call failed: {exc}")
    keys = [(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]]
    if keys != [(LOCK_KEY, "HASH")]:
        fail(f"table {table} exists with key {keys}, not ({LOCK_KEY}, HASH): Terraform cannot lock with it")
    print(f"lock table {table}: already there")


if __name__ == "__main__":
    main(sys.argv[1:])

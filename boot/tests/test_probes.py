"""The network-rule checks catch what they exist to catch (so a green host test means something)."""
from probes import is_loopback, logged_endpoints, unconditional_yandex_addresses


def test_defaults_of_override_variables_are_allowed():
    text = "\n".join([
        "YC_METADATA_URL='http://169.254.169.254'",
        'metadata = os.environ.get("YC_METADATA_URL", "http://169.254.169.254")',
        'curl "${YC_STORAGE_ENDPOINT:-https://storage.yandexcloud.net}/x"',
        "# comment naming payload.lockbox.api.cloud.yandex.net",
    ])
    assert unconditional_yandex_addresses(text) == []


def test_hard_coded_yandex_addresses_are_caught():
    text = "\n".join([
        "curl -H 'Metadata-Flavor: Google' http://169.254.169.254/computeMetadata/v1/x",
        'requests.get("https://payload.lockbox.api.cloud.yandex.net/lockbox/v1/secrets/a/payload")',
        "MLFLOW_S3_ENDPOINT_URL=https://storage.yandexcloud.net",
        "host=c-abc.rw.mdb.yandexcloud.net port=6432",
    ])
    assert len(unconditional_yandex_addresses(text)) == 4


def test_logged_endpoints_and_loopback():
    log = ("yc-mlops-boot: endpoint YC_METADATA_URL=http://127.0.0.1:4000\n"
           "yc-mlops-boot: endpoint YC_PG_HOST=c-1.rw.mdb.yandexcloud.net\n")
    found = logged_endpoints(log)
    assert found == {"YC_METADATA_URL": "http://127.0.0.1:4000", "YC_PG_HOST": "c-1.rw.mdb.yandexcloud.net"}
    assert is_loopback(found["YC_METADATA_URL"]) and not is_loopback(found["YC_PG_HOST"])
    assert not is_loopback("http://169.254.169.254") and is_loopback("127.0.0.1")

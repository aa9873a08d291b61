#!/usr/bin/python3
"""First boot of a project VM, run once by cloud-init (runcmd).

usage: python3 /usr/local/lib/yc-mlops/first_boot.py mlflow|airflow [--settings FILE]

Reads the layout the stack rendered (FILE, default /etc/yc-mlops/boot.json: paths, venv, lock,
units, service user...), the deploy values (host.env) and the optional endpoint override
(endpoints.env), then: venv, PostgreSQL CA, Lockbox secrets, the service's env file, TLS, nginx
basic auth, the services and nginx. Every step is idempotent, so running it again (by hand, as
root) is safe. It must never print a secret: secret values go through files and stdin, never
command lines, and errors name the variable, never the value. Standard library only (the VM's
python3 has nothing else).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

DEFAULT_SETTINGS = "/etc/yc-mlops/boot.json"
# Endpoint override only (endpoints.env, never host.env): the CA file of an overridden Yandex Cloud
# API endpoint (the boot test's Data Proc API stand-in, whose certificate a throw-away CA signed).
# The Airflow units get it as GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, which the SDK's gRPC channel reads
# in place of its bundled roots; the cloud's endpoint needs none.
API_CA_OVERRIDE = "YC_API_CA_FILE"
REQUIRED_ENDPOINTS = ("YC_METADATA_URL", "YC_LOCKBOX_PAYLOAD_URL", "YC_STORAGE_ENDPOINT", "YC_PG_HOST",
                      "YC_PG_PORT", "YC_PG_SSLMODE")
INDEX_URLS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# what an EnvironmentFile value may hold without systemd reinterpreting it (no quotes, $, backslash, spaces)
ENV_VALUE = re.compile(r"[A-Za-z0-9%._~:/@?=&+,*-]+")


class BootError(Exception):
    """A boot step cannot go on; the message names what is wrong, never a secret value."""


def log(message: str) -> None:
    print(f"yc-mlops-boot: {message}", flush=True)


def run(*cmd: str, **kwargs) -> subprocess.CompletedProcess:
    """Runs a command (arguments never hold a secret), failing the boot if it fails."""
    return subprocess.run(cmd, check=True, **kwargs)


# --- settings -------------------------------------------------------------------------------------

def read_env_file(path: Path) -> dict[str, str]:
    """NAME=VALUE lines with shell quoting (host.env quotes its values; endpoints.env may not), and
    comment lines. Anything else (a second word, a trailing comment) is refused, by line number."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError:  # an unclosed quote
            words = []
        name, sep, value = words[0].partition("=") if words else ("", "", "")
        if len(words) != 1 or not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BootError(f"{path}:{number} is not a NAME=VALUE line")
        values[name] = value
    return values


def without_credentials(url: str) -> str:
    """An index URL may carry credentials: this is it without them."""
    return re.sub(r"//[^/@]*@", "//***@", url)


def load_settings(conf_dir: Path) -> dict[str, str]:
    """Deploy values, then the optional endpoint override (the boot test's stand-ins), then a log of
    the endpoints this boot will use, before any network call."""
    values = read_env_file(conf_dir / "host.env")
    values.pop(API_CA_OVERRIDE, None)  # an override only: never a deploy value
    override = conf_dir / "endpoints.env"
    if override.is_file():
        values.update(read_env_file(override))
        log(f"endpoint overrides read from {override}")
    for name in REQUIRED_ENDPOINTS:
        if not values.get(name):
            raise BootError(f"{name} is empty")
        log(f"endpoint {name}={values[name]}")
    if values.get("YC_API_ENDPOINT"):
        log(f"endpoint YC_API_ENDPOINT={values['YC_API_ENDPOINT']}")
    if values.get(API_CA_OVERRIDE):
        ca = values[API_CA_OVERRIDE]
        if not ca.startswith("/") or not Path(ca).is_file():
            raise BootError(f"{API_CA_OVERRIDE}={ca} is not the absolute path of a file")
        log(f"the Yandex Cloud API endpoint's CA: {API_CA_OVERRIDE}={ca}")
    for name in INDEX_URLS:
        if values.get(name):
            log(f"endpoint {name}={without_credentials(values[name])}")
    if values["YC_PG_SSLMODE"] not in SSL_MODES:
        raise BootError(f"YC_PG_SSLMODE={values['YC_PG_SSLMODE']} is not a libpq sslmode")
    return values


# --- venv, CA, secrets ----------------------------------------------------------------------------

def python_minor(python: str) -> str:
    return run(python, "-c", 'import sys; print("%d.%d" % sys.version_info[:2])',
               capture_output=True, text=True).stdout.strip()


def install_venv(venv: Path, lock: Path, lock_python: str, python: str = "python3") -> None:
    """A root-owned venv (the service cannot change its own code), rebuilt only when the lock
    changes; pip checks every download against the lock's hashes."""
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = venv / ".lock-sha256"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        log(f"venv {venv} is up to date")
        return
    log(f"creating venv {venv} from {lock}")
    # the lock has the wheels of one CPython minor: another image's python3 fails here, by name
    have = python_minor(python)
    if have != lock_python:
        raise BootError(f"python3 here is {have}, but {lock} is compiled for CPython {lock_python} (versions.json): "
                        f"boot an image family whose python3 is {lock_python} (the default does)")
    shutil.rmtree(venv, ignore_errors=True)
    run(python, "-m", "venv", str(venv))
    # no pip cache on the VM, unless the environment names one (e.g. the boot test's shared cache)
    cache = [] if os.environ.get("PIP_CACHE_DIR") else ["--no-cache-dir"]
    run(str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check", *cache,
        "--require-hashes", "-r", str(lock))
    stamp.write_text(digest + "\n")


def fetch_pg_ca(conf_dir: Path, sslmode: str, storage_endpoint: str) -> None:
    """The CA of Managed PostgreSQL, needed for sslmode verify-ca/verify-full (Yandex's documented
    URL, under the storage endpoint so the override covers it too)."""
    if sslmode not in ("verify-ca", "verify-full"):
        log(f"PostgreSQL sslmode {sslmode}: no CA needed")
        return
    ca = conf_dir / "pg-root.crt"
    if ca.is_file() and ca.stat().st_size > 0:
        log("PostgreSQL CA present")
        return
    new = ca.with_name(ca.name + ".new")
    run("curl", "-fsS", "--retry", "5", "--retry-connrefused", "--max-time", "60", "-o", str(new),
        f"{storage_endpoint}/cloud-certs/CA.pem")
    new.chmod(0o644)
    new.replace(ca)
    log("PostgreSQL CA downloaded")


class Secrets:
    """The Lockbox payloads staged on tmpfs (SECRETS_DIR/SECRET_ID/ENTRY_KEY), by SECRET_ID:KEY ref."""

    def __init__(self, directory: Path):
        self.directory = directory

    def fetch(self, reader: Path, refs: list[str]) -> None:
        ids = [ref.split(":", 1)[0] for ref in refs if ref]
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        run(str(reader), str(self.directory), *ids)

    def path(self, ref: str) -> Path:
        secret_id, _, key = ref.partition(":")
        file = self.directory / secret_id / key
        if not file.is_file():
            raise BootError(f"Lockbox secret {secret_id} has no entry '{key}'")
        return file

    def value(self, ref: str) -> bytes:
        """The entry without trailing newlines."""
        return self.path(ref).read_bytes().rstrip(b"\n")

    def text(self, ref: str) -> str:
        """The entry as is (for values with a known safe alphabet, e.g. S3 keys; env_line checks it)."""
        return self.value(ref).decode(errors="replace")


# --- values of the env files ----------------------------------------------------------------------

def env_line(name: str, value: str) -> str:
    """One EnvironmentFile line. Refuses characters systemd would reinterpret; the error names the
    variable, never the value."""
    if not ENV_VALUE.fullmatch(value):
        raise BootError(f"the value for {name} is empty or has characters not allowed in an environment file")
    return f"{name}={value}\n"


def database_url(values: dict[str, str], password: bytes) -> str:
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the locks have psycopg2
    quoted = urllib.parse.quote(password, safe="")
    return (f"postgresql+psycopg2://{values['PG_USER']}:{quoted}@{values['YC_PG_HOST']}:{values['YC_PG_PORT']}"
            f"/{values['PG_DATABASE']}")


def fernet_key(seed: bytes) -> str:
    """Fernet wants 32 bytes in url-safe base64, which Lockbox's generator cannot make: the key is
    the url-safe base64 of the SHA-256 of the generated seed."""
    return base64.urlsafe_b64encode(hashlib.sha256(seed).digest()).decode()


def jwt_key(secret: bytes) -> str:
    """Airflow signs its task tokens with HS512, for which PyJWT wants a key of at least 64 bytes:
    the key is the hex SHA-512 (128 characters) of the generated secret."""
    return hashlib.sha512(secret).hexdigest()


def yandex_connection(folder_id: str, api_endpoint: str, default_endpoint: str) -> str:
    """The Yandex connection: no credentials (the provider falls back to the VM's service account
    via the metadata service), the folder, and the API endpoint only when the override changes it."""
    if not re.fullmatch(r"[A-Za-z0-9.:_-]*", folder_id + api_endpoint):
        raise BootError("YANDEX_FOLDER_ID or YC_API_ENDPOINT has unexpected characters")
    extra = {"folder_id": folder_id}
    if api_endpoint != default_endpoint:
        extra["endpoint"] = api_endpoint
    connection = json.dumps({"conn_type": "yandexcloud", "extra": extra}, separators=(",", ":"))
    # single quotes: systemd would strip the JSON's double quotes
    return f"AIRFLOW_CONN_YANDEXCLOUD_DEFAULT='{connection}'\n"


def metadata_addr(metadata_url: str) -> str:
    """The Yandex SDK reads the metadata service's address (host[:port], plain http) from YC_METADATA_ADDR."""
    addr = metadata_url.removeprefix("http://").removesuffix("/")
    if not addr or "/" in addr:
        raise BootError(f"YC_METADATA_URL={metadata_url} is not http://HOST[:PORT]")
    return addr


def write_private(dest: Path, content: bytes, group: str, mode: int) -> None:
    """Replaces DEST atomically, owned by root:GROUP with MODE."""
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        shutil.chown(tmp, "root", group)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- host names and TLS ---------------------------------------------------------------------------

def public_ip(metadata_url: str) -> str:
    """The VM's public address, if it has one (Yandex's GCE-compatible metadata); empty otherwise."""
    request = urllib.request.Request(
        f"{metadata_url}/computeMetadata/v1/instance/network-interfaces/0/access-configs/0/external-ip",
        headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=3) as answer:
            ip = answer.read().decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return ip if re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", ip) else ""


def command_output(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def fqdn() -> str:
    return command_output("hostname", "-f") or command_output("hostname")


def host_names(candidates: list[str]) -> list[str]:
    """The names among CANDIDATES a certificate or allowed-hosts list can hold (no IPv6), sorted, once each."""
    return sorted({n for n in candidates if re.fullmatch(r"[A-Za-z0-9.-]+", n)})


def this_host_names(values: dict[str, str]) -> list[str]:
    """Every name this VM answers to: loopback, its host names, its addresses, configured extras."""
    return host_names(["localhost", "127.0.0.1", command_output("hostname"), fqdn(),
                       *command_output("hostname", "-I").split(), public_ip(values["YC_METADATA_URL"]),
                       *values.get("EXTRA_HOST_NAMES", "").split(",")])


def subject_alt_names(names: list[str]) -> str:
    return ",".join(f"IP:{n}" if re.fullmatch(r"[0-9.]+", n) else f"DNS:{n}" for n in names)


def ensure_tls(layout: dict, values: dict[str, str], secrets: Secrets) -> None:
    """TLS for nginx: a certificate from Lockbox if configured, else keep the one made earlier, else
    make a self-signed one (first boot)."""
    cert, key = Path(layout["tlsCert"]), Path(layout["tlsKey"])
    cert.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    if values.get("LOCKBOX_TLS_CERT"):
        write_private(cert, secrets.path(values["LOCKBOX_TLS_CERT"]).read_bytes(), "root", 0o644)
        write_private(key, secrets.path(values["LOCKBOX_TLS_KEY"]).read_bytes(), "root", 0o600)
        log("TLS: certificate and key from Lockbox")
    elif cert.is_file() and cert.stat().st_size > 0 and key.is_file() and key.stat().st_size > 0:
        log("TLS: keeping the existing certificate")
    else:
        new_cert, new_key = cert.with_name(cert.name + ".new"), key.with_name(key.name + ".new")
        old_umask = os.umask(0o077)
        try:
            run("openssl", "req", "-x509", "-newkey", "rsa:3072", "-sha256", "-days", "825", "-nodes",
                "-subj", f"/CN={fqdn()}", "-addext", f"subjectAltName={subject_alt_names(this_host_names(values))}",
                "-keyout", str(new_key), "-out", str(new_cert), stderr=subprocess.DEVNULL)
        finally:
            os.umask(old_umask)
        new_cert.chmod(0o644)
        new_key.replace(key)
        new_cert.replace(cert)
        fingerprint = run("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(cert),
                          capture_output=True, text=True).stdout.strip()
        log(f"TLS: self-signed certificate made, {fingerprint}")


# --- nginx and the services -----------------------------------------------------------------------

def web_users(values: dict[str, str]) -> list[tuple[str, str]]:
    """The basic-auth users and the Lockbox refs of their passwords (WEB_USERS is "NAME=REF ...")."""
    return [tuple(entry.split("=", 1)) for entry in values["WEB_USERS"].split()]


def ensure_htpasswd(htpasswd: Path, users: list[tuple[str, str]], secrets: Secrets) -> None:
    """htpasswd for nginx, built here from Lockbox (bcrypt); passwords go through stdin only."""
    with tempfile.TemporaryDirectory() as scratch:
        built = Path(scratch) / "htpasswd"
        for number, (name, ref) in enumerate(users):
            create = ["-c"] if number == 0 else []
            with secrets.path(ref).open("rb") as password:
                run("htpasswd", "-i", "-B", *create, str(built), name, stdin=password, stderr=subprocess.DEVNULL)
        write_private(htpasswd, built.read_bytes(), "www-data", 0o640)
    log(f"nginx basic auth: users {' '.join(name for name, _ in users)}")


def start_units(units: list[str]) -> None:
    run("systemctl", "daemon-reload")
    run("systemctl", "enable", "--quiet", "--now", *units)
    log(f"started {' '.join(units)}")


def start_nginx(layout: dict) -> None:
    """The site and the hardening drop-in are staged by cloud-init and put in place only now:
    present during the package install, they would make nginx's first start fail (no certificate yet)."""
    Path("/etc/nginx/sites-enabled/default").unlink(missing_ok=True)
    shutil.copyfile(layout["nginxSiteStaged"], "/etc/nginx/conf.d/yc-mlops.conf")
    os.chmod("/etc/nginx/conf.d/yc-mlops.conf", 0o644)
    dropin = Path("/etc/systemd/system/nginx.service.d/yc-mlops-hardening.conf")
    dropin.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    shutil.copyfile(layout["nginxDropinStaged"], dropin)
    dropin.chmod(0o644)
    run("systemctl", "daemon-reload")
    run("nginx", "-t", "-q")
    run("systemctl", "enable", "--quiet", "nginx")
    run("systemctl", "restart", "nginx")
    log("nginx: https on 443")


# Runs with the MLflow venv's python: boto3 is only there. argv: env file, certificate, object key.
PUBLISH_CERTIFICATE = """
import sys
import boto3
env = dict(line.split("=", 1) for line in open(sys.argv[1]).read().splitlines() if "=" in line and not line.startswith("#"))
bucket = env["MLFLOW_ARTIFACTS_DESTINATION"].removeprefix("s3://").split("/", 1)[0]
s3 = boto3.client(
    "s3",
    endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"],
    region_name=env["AWS_DEFAULT_REGION"],
    aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
)
s3.upload_file(sys.argv[2], bucket, sys.argv[3], ExtraArgs={"ContentType": "application/x-pem-file"})
"""


def publish_certificate(layout: dict) -> None:
    """Clients inside the network (the Spark jobs) verify MLflow's TLS with the certificate this VM
    serves; it is published next to the artifacts, as s3://<bucket>/<certKey>. Best effort: a
    failure is logged, and the VM still comes up."""
    try:
        run(f"{layout['venv']}/bin/python", "-c", PUBLISH_CERTIFICATE, layout["envFile"], layout["tlsCert"],
            layout["certKey"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log(f"TLS certificate published to the bucket as {layout['certKey']}")
    except (OSError, subprocess.CalledProcessError):
        log("WARNING: could not publish the TLS certificate to the bucket (clients must get it another way)")


# --- the two hosts --------------------------------------------------------------------------------

def mlflow_env(values: dict[str, str], secrets: Secrets, names: list[str]) -> str:
    return "".join([
        env_line("MLFLOW_BACKEND_STORE_URI", database_url(values, secrets.value(values["LOCKBOX_PG_PASSWORD"]))),
        env_line("PGSSLMODE", values["YC_PG_SSLMODE"]),
        env_line("MLFLOW_S3_ENDPOINT_URL", values["YC_STORAGE_ENDPOINT"]),
        env_line("AWS_ACCESS_KEY_ID", secrets.text(values["LOCKBOX_S3_ACCESS_KEY_ID"])),
        env_line("AWS_SECRET_ACCESS_KEY", secrets.text(values["LOCKBOX_S3_SECRET_KEY"])),
        env_line("MLFLOW_ALLOWED_HOSTS", ",".join(names)),
        env_line("MLFLOW_CORS_ALLOWED_ORIGINS", ",".join(f"https://{n}" for n in names)),
    ])


def airflow_env(values: dict[str, str], secrets: Secrets) -> str:
    return "".join([
        env_line("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", database_url(values, secrets.value(values["LOCKBOX_PG_PASSWORD"]))),
        env_line("PGSSLMODE", values["YC_PG_SSLMODE"]),
        env_line("AIRFLOW__API_AUTH__JWT_SECRET", jwt_key(secrets.value(values["LOCKBOX_JWT_SECRET"]))),
        env_line("AIRFLOW__API__SECRET_KEY", secrets.text(values["LOCKBOX_API_SECRET_KEY"])),
        env_line("AIRFLOW__CORE__FERNET_KEY", fernet_key(secrets.value(values["LOCKBOX_FERNET_SEED"]))),
        env_line("YC_METADATA_ADDR", metadata_addr(values["YC_METADATA_URL"])),
        yandex_connection(values["YANDEX_FOLDER_ID"], values["YC_API_ENDPOINT"], values["DEFAULT_YC_API_ENDPOINT"]),
        env_line("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", values[API_CA_OVERRIDE]) if values.get(API_CA_OVERRIDE) else "",
    ])


# the Lockbox refs each host reads, besides the web users' and the optional TLS pair
HOST_SECRETS = {
    "mlflow": ["LOCKBOX_PG_PASSWORD", "LOCKBOX_S3_ACCESS_KEY_ID", "LOCKBOX_S3_SECRET_KEY"],
    "airflow": ["LOCKBOX_PG_PASSWORD", "LOCKBOX_FERNET_SEED", "LOCKBOX_JWT_SECRET", "LOCKBOX_API_SECRET_KEY"],
}


def boot(role: str, layout: dict) -> None:
    conf_dir, lib_dir = Path(layout["confDir"]), Path(layout["libDir"])
    values = load_settings(conf_dir)
    # exported: pip reads its PIP_* settings, and the Lockbox reader its YC_* endpoints, from the environment
    os.environ.update(values)
    install_venv(Path(layout["venv"]), Path(layout["lock"]), layout["lockPython"])
    fetch_pg_ca(conf_dir, values["YC_PG_SSLMODE"], values["YC_STORAGE_ENDPOINT"])
    secrets = Secrets(Path(layout["secretsDir"]))
    users = web_users(values)
    refs = [values[name] for name in HOST_SECRETS[role]] + [ref for _, ref in users]
    refs += [values.get("LOCKBOX_TLS_CERT", ""), values.get("LOCKBOX_TLS_KEY", "")]
    secrets.fetch(lib_dir / "ycm-lockbox", refs)

    base = Path(layout["baseEnv"]).read_text().rstrip("\n") + "\n"
    env_file = Path(layout["envFile"])
    if role == "mlflow":
        names = this_host_names(values)
        write_private(env_file, (base + mlflow_env(values, secrets, names)).encode(), layout["user"], 0o640)
        log(f"wrote {env_file} (MLflow allowed hosts: {','.join(names)})")
    else:
        write_private(env_file, (base + airflow_env(values, secrets)).encode(), layout["user"], 0o640)
        log(f"wrote {env_file}")

    ensure_tls(layout, values, secrets)
    if role == "mlflow":
        publish_certificate(layout)
    ensure_htpasswd(Path(layout["htpasswd"]), users, secrets)
    # Airflow: each unit Wants= and is After= airflow-db-migrate.service, which runs once (stamp file)
    start_units(layout["units"])
    start_nginx(layout)


def main(argv: list[str]) -> int:
    args = list(argv)
    settings = DEFAULT_SETTINGS
    if "--settings" in args:
        at = args.index("--settings")
        settings = args[at + 1] if at + 1 < len(args) else ""
        del args[at:at + 2]
    if len(args) != 1 or args[0] not in HOST_SECRETS or not settings:
        print(__doc__, file=sys.stderr)
        return 2
    layout = json.loads(Path(settings).read_text())
    if layout["host"] != args[0]:
        print(f"yc-mlops-boot: {settings} is the layout of the {layout['host']} VM, not {args[0]}", file=sys.stderr)
        return 2
    os.umask(0o022)
    # the Lockbox payloads live on tmpfs, and only while this program runs (a SIGTERM included)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        boot(args[0], layout)
    except BootError as exc:
        log(f"ERROR: {exc}")
        return 1
    except subprocess.CalledProcessError as exc:
        # the command line holds no secret (they go through files and stdin)
        log(f"ERROR: {shlex.join(exc.cmd)} failed with exit status {exc.returncode}")
        return 1
    finally:
        shutil.rmtree(layout["secretsDir"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

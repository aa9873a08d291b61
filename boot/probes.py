"""Checks shared by the host tests: endpoint overrides, secrets in logs, exposure scores, listeners."""
from __future__ import annotations

import ipaddress
import re
import time
from urllib.parse import urlparse

from harness import BootedHost

# The addresses the boot script uses in the cloud; in the boot test each must be overridden.
ENDPOINT_KEYS = ["YC_METADATA_URL", "YC_LOCKBOX_PAYLOAD_URL", "YC_STORAGE_ENDPOINT", "YC_PG_HOST",
                 "YC_API_ENDPOINT", "YC_METADATA_ADDR"]
YANDEX_HOST_RE = re.compile(
    r"169\.254\.169\.254|[a-z0-9.-]*\.yandexcloud\.net|[a-z0-9.-]*\.cloud\.yandex\.net|"
    r"[a-z0-9.-]*\.yandex\.(?:net|ru)|[a-z0-9.-]*\.mdb\.yandexcloud\.net")


def endpoints_env(values: dict[str, str]) -> str:
    lines = ["# boot test: every Yandex Cloud endpoint points at a loopback stand-in"]
    lines += [f"{k}={v}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def is_loopback(value: str) -> bool:
    host = urlparse(value).hostname if "://" in value else value.split(":")[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unconditional_yandex_addresses(user_data: str) -> list[str]:
    """Lines of the rendered user-data that name a Yandex address without it being the default of
    one of the override variables (i.e. a line that would send traffic there whatever the env says)."""
    bad = []
    for line in user_data.splitlines():
        if not YANDEX_HOST_RE.search(line):
            continue
        if re.search(r"\$\{?YC_[A-Z_]+|YC_[A-Z_]+=|YC_[A-Z_]+:-|environ\.get\(\s*[\"']YC_[A-Z_]+", line):
            # a default of an override variable: ${YC_METADATA_URL:-http://169...}, YC_X='...' in
            # the deploy values the override file replaces, os.environ.get("YC_X", "...")
            continue
        if line.lstrip().startswith("#"):
            continue
        bad.append(line.strip())
    return bad


def logged_endpoints(text: str) -> dict[str, str]:
    """The endpoints the boot script says it uses: KEY=value pairs of the override variables."""
    found: dict[str, str] = {}
    for key in ENDPOINT_KEYS:
        for m in re.finditer(rf"\b{key}[=: ]+\"?([^\s\",]+)", text):
            found[key] = m.group(1)
    return found


def exposure_score(host: BootedHost, unit: str) -> float:
    out = host.run(["systemd-analyze", "security", "--no-pager", unit], check=False).stdout
    m = re.search(r"Overall exposure level for \S+:\s*([0-9.]+)", out)
    if not m:
        raise AssertionError(f"no exposure score for {unit}:\n{out[-2000:]}")
    return float(m.group(1))


def listeners(host: BootedHost) -> list[tuple[str, int, str]]:
    """TCP listeners owned by processes of the booted host: (address, port, process names).
    `ss -p` inside the host's PID namespace can only name the host's own processes."""
    out = host.run(["ss", "-Hltnp"]).stdout
    result = []
    for line in out.splitlines():
        if "users:(" not in line:
            continue
        local = line.split()[3]
        addr, port = local.rsplit(":", 1)
        names = ",".join(re.findall(r'\("([^"]+)"', line))
        result.append((addr.strip("[]"), int(port), names))
    return result


# Measurements (boot times, restart times, exposure scores) shown at the end of the pytest run.
MEASUREMENTS: list[str] = []


def report(line: str) -> None:
    MEASUREMENTS.append(line)
    print(f"\n[boot] {line}")


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - keep polling; report the last error
            last = e
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")


def secrets_found(text: str, secret_values: list[str]) -> list[str]:
    return [s for s in secret_values if s and s in text]

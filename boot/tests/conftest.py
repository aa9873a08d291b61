"""Fixtures of the boot test: the cached root filesystem, booted hosts that are always stopped and
removed (even when a test fails), and the stand-ins."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

BOOT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BOOT_DIR))

from harness import BootedHost  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "host(name): a test of one rendered host")


def pytest_terminal_summary(terminalreporter):
    from probes import MEASUREMENTS
    if MEASUREMENTS:
        terminalreporter.section("boot test measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def rootfs() -> Path:
    path = os.environ.get("BOOT_ROOTFS")
    if not path or not Path(path, "lib/systemd/systemd").exists():
        pytest.fail("BOOT_ROOTFS is not set to a built root filesystem; run scripts/test/test-boot.sh")
    return Path(path)


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return Path(os.environ.get("MLOPS_CACHE", Path.home() / ".cache/yc-mlops"))


@pytest.fixture(scope="session")
def host_factory(rootfs, cache_dir):
    """Makes BootedHost objects; every one is stopped and its overlay removed at session end."""
    made: list[BootedHost] = []
    base = Path(tempfile.mkdtemp(prefix="boot-runs-", dir=cache_dir))

    def make(name: str) -> BootedHost:
        host = BootedHost(rootfs, base / name, name, cache_dir)
        made.append(host)
        return host

    yield make
    for host in made:  # stop every host first: deleting overlays takes a while
        host.stop()
    for host in made:
        if os.environ.get("BOOT_KEEP") != "1":
            host.destroy()
    if os.environ.get("BOOT_KEEP") != "1":
        import shutil
        shutil.rmtree(base, ignore_errors=True)

"""Proves the harness itself on a small user-data: cloud-init reaches `done`, a unit written by
write_files and enabled by runcmd answers on loopback, and a restart brings it back without
re-running the once-only steps."""
from __future__ import annotations

import urllib.request

import pytest
import yaml

from standins import free_port


@pytest.fixture(scope="module")
def toy(host_factory):
    port = free_port()
    user_data = "#cloud-config\n" + yaml.safe_dump({
        "packages": ["nginx"],
        "write_files": [{
            "path": "/etc/systemd/system/toy-web.service",
            "content": (
                "[Unit]\nDescription=toy web server of the boot harness self-test\n"
                "[Service]\nUser=nobody\n"
                f"ExecStart=/usr/bin/python3 -m http.server {port} --bind 127.0.0.1 --directory /srv/toy\n"
                "Restart=on-failure\n[Install]\nWantedBy=multi-user.target\n"),
        }, {"path": "/srv/toy/index.html", "content": "toy host is up\n"}],
        "runcmd": [
            "echo once >> /var/lib/toy-runcmd-count",
            "systemctl daemon-reload",
            "systemctl enable --now toy-web.service",
        ],
    })
    host = host_factory("toy")
    host.seed(user_data.encode(), "toy-0001")
    host.boot()
    facts = host.wait_for_cloud_init(timeout=600)
    return host, port, facts


def test_cloud_init_finishes_without_errors(toy):
    host, _, facts = toy
    assert "status: done" in facts["status_text"], facts["status_text"]
    assert facts["result"]["v1"]["errors"] == []


def test_unit_from_write_files_answers_on_loopback(toy):
    host, port, _ = toy
    assert host.unit_state("toy-web.service") == "active"
    assert host.unit_state("nginx.service") == "active"
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
    assert body == "toy host is up\n"


def test_restart_brings_unit_back_and_skips_once_only_steps(toy):
    host, port, _ = toy
    host.stop()
    host.boot()
    facts = host.wait_for_cloud_init(timeout=300)
    assert "status: done" in facts["status_text"]
    assert host.unit_state("toy-web.service") == "active"
    assert host.read("/var/lib/toy-runcmd-count").splitlines() == ["once"]
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
    assert body == "toy host is up\n"

"""Boot a rendered user-data on a real Debian userland (the VMs' release): systemd as PID 1 of new
PID/mount/UTS/IPC/cgroup namespaces, chrooted into an overlay of the cached root filesystem,
cloud-init reading a NoCloud seed. No VM and no systemd on the machine itself are needed.

Lifecycle: BootedHost(...).seed(...) -> boot() -> wait_for_cloud_init() -> run(...) ... -> stop();
boot() again on the same overlay is a host restart. Everything the host mounts lives in its own
mount namespace, so killing its PID 1 (the only process we signal) leaves no mount or process behind;
the cgroup folders we made for it are removed by stop().
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

INNER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Units of the Debian image that act on the machine rather than on the booted userland: with a
# shared kernel they would replay the host's device events (udev), rewrite its sysctls, binfmt
# handlers or clock, or wait for a serial console that does not exist. A VM image has them; a
# booted namespace must not run them. Masked in the overlay, never in the cached root.
MASKED_UNITS = [
    "serial-getty@ttyS0.service", "getty@tty1.service", "dev-ttyS0.device",
    "systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service", "systemd-udev-settle.service", "systemd-sysctl.service",
    "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount", "systemd-modules-load.service",
    "systemd-timesyncd.service", "systemd-logind.service", "e2scrub_reap.service",
    "systemd-hwdb-update.service", "systemd-firstboot.service", "kmod-static-nodes.service",
]

# The image side of cloud-init's configuration (what a cloud image bakes in), not the user-data.
CLOUD_CFG = """\
# boot test image settings: NoCloud seed only; the network already exists (shared with the machine),
# and the root is an overlay, so there is nothing to grow or resize.
datasource_list: [ NoCloud, None ]
network: {config: disabled}
growpart: {mode: "off"}
resize_rootfs: false
"""

CGROUP_HIERARCHIES = ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]


class BootError(RuntimeError):
    pass


class BootedHost:
    def __init__(self, rootfs: Path, workdir: Path, name: str, cache_dir: Path):
        self.rootfs = Path(rootfs)
        self.workdir = Path(workdir)
        self.name = name
        self.upper = self.workdir / "upper"
        self.ovl_work = self.workdir / "ovl-work"
        self.merged = self.workdir / "root"
        self.console = self.workdir / "console.log"
        self.apt_cache = cache_dir / "apt-archives"
        self.pip_cache = cache_dir / "boot-pip-cache"
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self.boots = 0
        self.binds: list[tuple[Path, str]] = []  # (folder on the machine, read-only path inside)
        for d in (self.upper, self.ovl_work, self.merged, self.apt_cache, self.pip_cache):
            d.mkdir(parents=True, exist_ok=True)

    # --- preparing the root (before the first boot) -------------------------------------------
    def write(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Write a file into the host's root before it boots (into the overlay's upper layer)."""
        target = self.upper / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        target.chmod(mode)

    def seed(self, user_data: bytes, instance_id: str, files: dict[str, str] | None = None) -> None:
        self.write("/var/lib/cloud/seed/nocloud/user-data", user_data, 0o600)
        self.write("/var/lib/cloud/seed/nocloud/meta-data",
                   f"instance-id: {instance_id}\nlocal-hostname: {self.name}\n", 0o600)
        self.write("/etc/cloud/cloud.cfg.d/90-boot-test.cfg", CLOUD_CFG)
        self.write("/etc/resolv.conf", Path("/etc/resolv.conf").read_text())
        # This machine reaches the package registries through an egress proxy whose CA only the
        # machine trusts: give the booted root the same trust (a VM in the cloud needs none of it).
        for crt in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt")):
            self.write(f"/usr/local/share/ca-certificates/{crt.name}", crt.read_bytes())
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if bundle.is_file():
            self.write("/etc/ssl/certs/ca-certificates.crt", bundle.read_bytes())
        # pip's site-wide config: the trust above, and a wheel cache kept between runs.
        self.write("/etc/pip.conf", "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n"
                   "cache-dir = /var/cache/boot-test-pip\n")
        for unit in MASKED_UNITS:
            link = self.upper / "etc/systemd/system" / unit
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to("/dev/null")
        for path, content in (files or {}).items():
            self.write(path, content)

    # --- boot / stop ----------------------------------------------------------------------------
    def boot(self, timeout: float = 60) -> int:
        if self.proc is not None:
            raise BootError("already booted")
        self.cgroups = []
        run_id = os.environ.get("BOOT_RUN_ID", str(os.getpid()))
        tag = f"yc-boot-{run_id}-{self.name}-{self.boots}"
        for h in CGROUP_HIERARCHIES:
            if os.path.isdir(h):
                cg = Path(h) / tag
                cg.mkdir(exist_ok=True)
                self.cgroups.append(cg)
        # The inner script runs as PID 1 of the new namespaces until it execs systemd; its mounts
        # exist only in the new mount namespace and vanish with it.
        inner = """
set -e
M="$1"
mount -t overlay overlay -o "lowerdir=$2,upperdir=$3,workdir=$4" "$M"
mkdir -p "$M/var/cache/apt/archives" "$M/var/cache/boot-test-pip"
mount --bind "$5" "$M/var/cache/apt/archives"
mount --bind "$6" "$M/var/cache/boot-test-pip"
mount -t proc proc "$M/proc"
eval "$BINDS"
exec chroot "$M" /lib/systemd/systemd --system
"""
        # Join our own cgroups first, then unshare the cgroup namespace: systemd then sees its
        # folder as the root and makes its slices inside it, not in the machine's hierarchy.
        join = "".join(f'echo $$ > "{cg}/cgroup.procs"; ' for cg in self.cgroups)
        outer = (join + 'exec unshare --pid --fork --mount --uts --ipc --cgroup --propagation private '
                 'env -i PATH="$P" BINDS="$B" sh -c "$I" inner "$@"')
        binds = "".join(
            f'mkdir -p "$M"{shlex.quote(dst)}; mount --bind {shlex.quote(str(src))} "$M"{shlex.quote(dst)}; '
            f'mount -o remount,bind,ro "$M"{shlex.quote(dst)}\n' for src, dst in self.binds)
        env = {"PATH": INNER_PATH, "P": INNER_PATH, "I": inner, "B": binds}
        log = open(self.console, "ab")
        self.proc = subprocess.Popen(
            ["sh", "-c", outer, "outer", str(self.merged), str(self.rootfs), str(self.upper),
             str(self.ovl_work), str(self.apt_cache), str(self.pip_cache)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        log.close()
        self.boots += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                self._remove_cgroups()
                raise BootError(f"boot of {self.name} ended at once: {self.console_tail()}")
            child = self._child_of(self.proc.pid)
            if child and _comm(child) == "systemd":
                self.pid = child
                pidfile = self._pidfile()
                if pidfile:
                    pidfile.write_text(str(child))
                break
            time.sleep(0.1)
        else:
            self.stop()
            raise BootError(f"systemd did not start within {timeout} s: {self.console_tail()}")
        # wait until systemd answers on its bus
        while time.monotonic() < deadline:
            if self.run(["systemctl", "is-system-running"], check=False).stdout.strip() not in (
                    "", "offline"):
                return self.pid
            time.sleep(0.3)
        return self.pid

    @staticmethod
    def _child_of(pid: int) -> int | None:
        try:
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    def stop(self) -> None:
        """Kill the namespace's PID 1 (the kernel then ends every process of the namespace)."""
        if self.proc is None:
            return
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            # only reached if systemd never started: end the unshare we started ourselves
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        self.pid = None
        if self._pidfile():
            self._pidfile().unlink(missing_ok=True)
        self._remove_cgroups()

    def _pidfile(self) -> Path | None:
        """Where scripts/test/test-boot.sh's trap finds the PID 1 to kill if pytest itself is killed."""
        d = os.environ.get("BOOT_PIDFILE_DIR")
        return Path(d) / f"{self.name}.pid" if d else None

    def _remove_cgroups(self) -> None:
        for cg in getattr(self, "cgroups", []):
            for _ in range(50):
                try:
                    for sub in sorted((p for p in cg.rglob("*") if p.is_dir()),
                                      key=lambda p: len(p.parts), reverse=True):
                        sub.rmdir()
                    cg.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)  # the kernel empties them a moment after the kill
        self.cgroups = []

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- inside the host ------------------------------------------------------------------------
    def run(self, cmd: list[str], check: bool = True, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess:
        if self.pid is None:
            raise BootError(f"{self.name} is not running")
        full = ["nsenter", "-t", str(self.pid), "-m", "-p", "-u", "-i", "-C", "-r", "-w",
                "env", "-i", f"PATH={INNER_PATH}", "LANG=C.UTF-8", *cmd]
        res = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=input)
        if check and res.returncode != 0:
            raise BootError(f"{' '.join(cmd)} -> exit {res.returncode}\n{res.stdout}\n{res.stderr}")
        return res

    def sh(self, script: str, check: bool = True, timeout: float = 120) -> str:
        return self.run(["sh", "-c", script], check=check, timeout=timeout).stdout

    def read(self, path: str) -> str:
        return self.run(["cat", path]).stdout

    def wait_for_cloud_init(self, timeout: float) -> dict:
        """Wait for cloud-init to finish; returns `cloud-init status --long` facts + status.json."""
        try:
            self.run(["cloud-init", "status", "--wait"], check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BootError(f"cloud-init did not finish within {timeout:.0f} s on {self.name}:\n"
                            + self.sh("tail -n 40 /var/log/cloud-init-output.log", check=False))
        status = self.run(["cloud-init", "status", "--long"], check=False).stdout
        result = json.loads(self.read("/run/cloud-init/result.json"))
        return {"status_text": status, "result": result}

    def unit_state(self, unit: str) -> str:
        return self.run(["systemctl", "is-active", unit], check=False).stdout.strip()

    def main_pid(self, unit: str) -> int:
        out = self.run(["systemctl", "show", "-p", "MainPID", "--value", unit]).stdout.strip()
        return int(out)

    def console_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.console.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""

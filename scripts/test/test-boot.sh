#!/usr/bin/env bash
# Part "boot": boots each rendered user-data (MLflow host, Airflow host) under real systemd + real
# cloud-init on a root of the VMs' Debian release (versions.json), against local stand-ins of the
# Yandex Cloud services, and probes it.
# Needs root (namespaces, mounts, chroot). Usage: scripts/test/test-boot.sh [pytest args]
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

[ "$(id -u)" -eq 0 ] || die "the boot test needs root (namespaces, mounts, chroot)"
apt_install util-linux iproute2
# the pipeline's model steps log to the booted MLflow host (Spark local mode), and a browser
# opens both hosts' UIs through nginx; its screenshots go to .work/ui-artifacts/boot/
command -v java >/dev/null || apt_install openjdk-17-jre-headless
# the Airflow host's whole-pipeline run: its Data Proc jobs run here on HDFS (a MiniDFSCluster,
# compiled once) and s3a (hadoop-aws from Maven Central), like the DAG part's
command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
command -v mvn >/dev/null || apt_install maven
source "$REPO_ROOT/scripts/toolchain/npm-deps.sh"
ensure_browser
export UI_ARTIFACTS_DIR="$REPO_ROOT/.work/ui-artifacts/boot"
rm -rf "$UI_ARTIFACTS_DIR"

export BOOT_ROOTFS
BOOT_ROOTFS="$(bash boot/build-rootfs.sh)"
PY="$(jobs_venv)/bin/python"
# the Data Proc API stand-in runs in the Airflow environment (grpcio and the Yandex SDK, as the DAG's provider)
export BOOT_AIRFLOW_PYTHON
BOOT_AIRFLOW_PYTHON="$(venv_for airflow jobs/requirements-airflow.lock)/bin/python"
export BOOT_MOTO_SERVER
BOOT_MOTO_SERVER="$(venv_for boot-standins boot/standin-requirements.lock)/bin/moto_server"
# The hosts to boot: each VM's user-data exactly as the stack renders it.
if [ -z "${BOOT_RENDERED_DIR:-}" ] && [ -f scripts/test/render-user-data.ts ]; then
  ensure_node_modules
  bash scripts/toolchain/gen-bindings.sh >&2  # the constructs import the provider bindings (.gen/, not in git)
  BOOT_RENDERED_DIR="$(mktemp -d)/rendered"
  export BOOT_RENDER_LOG="${BOOT_RENDERED_DIR%/rendered}/render.log"
  npx --no-install ts-node scripts/test/render-user-data.ts "$BOOT_RENDERED_DIR" >"$BOOT_RENDER_LOG" 2>&1 \
    || log "render-user-data.ts failed (see $BOOT_RENDER_LOG); the host tests will fail with it"
fi
export BOOT_RENDERED_DIR="${BOOT_RENDERED_DIR:-}"

# Whatever pytest does, no booted namespace may outlive this script: the fixtures stop every host
# they booted; this trap is the backstop for a killed pytest (it signals only PIDs recorded by us).
PIDFILE_DIR="$(mktemp -d)"
export BOOT_PIDFILE_DIR="$PIDFILE_DIR" BOOT_RUN_ID="$$"
cleanup() {
  for f in "$PIDFILE_DIR"/*.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = systemd ]; then
      log "stopping leftover booted host (PID $pid)"; kill -9 "$pid" 2>/dev/null || true
    fi
  done
  # the loopback MLflow of the Airflow host's whole-pipeline test (its fixture stops it; this covers a killed pytest)
  [ ! -d "$PIDFILE_DIR/mlflow" ] || bash scripts/demo/mlflow-local.sh stop "$PIDFILE_DIR/mlflow" >/dev/null 2>&1 || true
  rm -rf "$PIDFILE_DIR"
  [ -z "${BOOT_RENDER_LOG:-}" ] || rm -rf "$(dirname "$BOOT_RENDER_LOG")"
  # the cgroup folders made for this run's hosts (named after this script's PID)
  sleep 1
  for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
    for d in "$h"/yc-boot-"$BOOT_RUN_ID"-*; do
      [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  done
}
trap cleanup EXIT INT TERM

start=$SECONDS
set +e
"$PY" -m pytest -p no:cacheprovider -v -rs --durations=8 boot/tests "$@"
rc=$?
set -e
log "boot part runtime: $((SECONDS - start)) s"
[ ! -d "$UI_ARTIFACTS_DIR" ] || log "browser screenshots (and what the browser saw): $UI_ARTIFACTS_DIR"
exit $rc

# Shared shell helpers for the project's scripts. Source it; do not run it.
# Caches live in one fixed folder outside the clone so repeated runs (and CI) are fast.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MLOPS_CACHE="${MLOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/yc-mlops}"
export MLOPS_CACHE
mkdir -p "$MLOPS_CACHE"
export UV_CACHE_DIR="$MLOPS_CACHE/uv-cache"
export PIP_CACHE_DIR="$MLOPS_CACHE/pip-cache"
export npm_config_cache="$MLOPS_CACHE/npm-cache"
export GOPATH="${GOPATH:-$MLOPS_CACHE/go}"
export GOMODCACHE="${GOMODCACHE:-$MLOPS_CACHE/go/pkg/mod}"
export GOCACHE="${GOCACHE:-$MLOPS_CACHE/go-build}"
export CHECKPOINT_DISABLE=1 DISABLE_VERSION_CHECK=1
# uv uses an interpreter of this machine, never one downloaded from elsewhere
export UV_PYTHON_DOWNLOADS=never

log() { printf '\033[1m[%s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# uv, pinned, in its own venv inside the cache.
ensure_uv() {
  local venv="$MLOPS_CACHE/uv-0.13.8"
  if [ ! -x "$venv/bin/uv" ]; then
    log "installing uv 0.13.8 into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check uv==0.13.8
  fi
  UV="$venv/bin/uv"
}

# fleet_version KEY -> one value of versions.json (python, vm.debianSuite, pins.mlflow, ...).
fleet_version() { python3 "$REPO_ROOT/scripts/toolchain/versions.py" get "$1"; }

# venv_for NAME LOCKFILE -> prints the venv path; creates it from the lock (hashes checked) if it
# does not exist yet, on the fleet's CPython (versions.json `python`: what every lock is compiled
# for and the VMs and the cluster run). The path carries the lock's hash, so a changed lock gets a
# fresh venv and an unchanged one is reused as is.
venv_for() {
  local name="$1" lock="$2" python hash dir
  ensure_uv
  python="$(fleet_version python)"
  hash="$(sha256sum "$lock" | cut -c1-12)"
  dir="$MLOPS_CACHE/venvs/$name-$hash"
  if [ ! -f "$dir/.complete" ]; then
    log "creating Python environment $name from $(basename "$lock") (first run only)"
    rm -rf "$dir"
    "$UV" venv -q --python "$python" "$dir" \
      || die "no CPython $python on this machine: every lock is compiled for it (versions.json); install python$python"
    "$UV" pip sync -q --python "$dir/bin/python" --require-hashes "$lock"
    touch "$dir/.complete"
  fi
  printf '%s\n' "$dir"
}

# free_port : prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# stop_group PIDFILE : end the process group whose id PIDFILE holds (TERM, then KILL after 10 s),
# and remove PIDFILE. For servers started with setsid, so their workers go with them.
stop_group() {
  local pgid
  pgid="$(cat "$1" 2>/dev/null || true)"
  if [ -n "$pgid" ] && kill -0 "$pgid" 2>/dev/null; then
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pgid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -f "$1"
}

# apt_install PKG... : install Debian packages that are not installed yet (needs root).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt: installing ${missing[*]}"
  local stamp="$MLOPS_CACHE/.apt-updated"
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && touch "$stamp"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# jobs_venv : prints the path of the pipeline jobs' Python environment (pyspark, mlflow, ...).
jobs_venv() { venv_for jobs "$REPO_ROOT/jobs/requirements.lock"; }

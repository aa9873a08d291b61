#!/usr/bin/env bash
# A loopback MLflow tracking server for local runs (demo and tests): SQLite backend store and a
# local artifact folder, both under one state folder, run from the jobs' Python environment.
#
# Usage:
#   scripts/demo/mlflow-local.sh start STATE_DIR [PORT]   start (PORT: a free one if omitted); prints the URI
#   scripts/demo/mlflow-local.sh stop STATE_DIR           stop the server started for STATE_DIR
#   scripts/demo/mlflow-local.sh uri STATE_DIR            print the URI of the running server
#
# It listens on 127.0.0.1 only. The server's process group id is kept in STATE_DIR/mlflow.pid and
# its log in STATE_DIR/mlflow.log.
source "$(dirname "$0")/../lib.sh"

cmd="${1:-}"; state="${2:-}"
[ -n "$cmd" ] && [ -n "$state" ] || die "usage: $0 start|stop|uri STATE_DIR [PORT]"
pidfile="$state/mlflow.pid" urifile="$state/mlflow.uri"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
  start)
    mkdir -p "$state/artifacts"
    state="$(cd "$state" && pwd)"; pidfile="$state/mlflow.pid"; urifile="$state/mlflow.uri"
    if running; then
      cat "$urifile"; exit 0
    fi
    port="${3:-$(free_port)}"
    [[ "$port" =~ ^[0-9]+$ ]] || die "bad port '$port': expected a number"
    venv="$(jobs_venv)"
    # Own session (setsid) so stop can end the server and its workers as one process group.
    # No server-side job runner (huey consumers): the pipeline does not use it and it slows start-up.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$venv/bin/mlflow" server \
      --host 127.0.0.1 --port "$port" --workers 1 \
      --backend-store-uri "sqlite:///$state/mlflow.db" \
      --artifacts-destination "$state/artifacts" \
      >"$state/mlflow.log" 2>&1 < /dev/null &
    echo $! >"$pidfile"
    uri="http://127.0.0.1:$port"
    for _ in $(seq 1 300); do
      if curl -fsS "$uri/health" >/dev/null 2>&1; then
        echo "$uri" >"$urifile"; echo "$uri"; exit 0
      fi
      running || { tail -20 "$state/mlflow.log" >&2; die "mlflow server exited during start-up (log: $state/mlflow.log)"; }
      sleep 1
    done
    tail -20 "$state/mlflow.log" >&2
    die "mlflow server did not answer on $uri within 300 s (log: $state/mlflow.log)"
    ;;
  stop)
    stop_group "$pidfile"
    rm -f "$urifile"
    ;;
  uri)
    running && cat "$urifile" || die "no MLflow server running for $state"
    ;;
  *) die "unknown command '$cmd': expected start, stop or uri" ;;
esac

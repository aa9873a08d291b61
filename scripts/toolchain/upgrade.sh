#!/usr/bin/env bash
# `make upgrade [MLFLOW=x.y.z] [PYSPARK=...] [AIRFLOW=...] [AIRFLOW_PROVIDERS_YANDEX=...]`: sets those
# pins in versions.json and re-locks every lock that installs them (scripts/toolchain/versions.py).
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"
ensure_uv
exec python3 scripts/toolchain/versions.py upgrade --uv "$UV" "$@"

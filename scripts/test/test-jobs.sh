#!/usr/bin/env bash
# Test part `jobs`: the PySpark jobs' pytest suite (jobs/tests) on Spark local mode.
#  - installs Java 17 (Spark, and javac for the test HDFS) and Maven (Hadoop's minicluster jars,
#    cached under $MLOPS_CACHE/m2) if missing, and the pinned jobs venv;
#  - the fixtures start and stop what the tests use: one SparkSession, a single-node HDFS on
#    127.0.0.1 (tests/hdfs_fixture.py), MLflow servers (tests/mlflow_fixtures.py).
# Usage: scripts/test/test-jobs.sh [pytest args...]
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
command -v mvn >/dev/null || apt_install maven
# PostgreSQL server binaries for the MLflow PostgreSQL-backend fixture (initdb/pg_ctl; Debian 15).
[ -x /usr/local/bin/initdb ] || [ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null \
  || apt_install postgresql-15

JOBS_VENV="$(jobs_venv)"
export PATH="$JOBS_VENV/bin:$PATH"
# Spark and its Python workers use the venv's interpreter, never whatever python3 is on PATH.
export PYSPARK_PYTHON="$JOBS_VENV/bin/python" PYSPARK_DRIVER_PYTHON="$JOBS_VENV/bin/python"

cd "$REPO_ROOT/jobs"
"$JOBS_VENV/bin/python" -m pytest -p no:cacheprovider tests "$@"

# Local Airflow + MLflow plumbing shared by scripts/demo/demo.sh and scripts/test/test-dag.sh. Source it after
# lib.sh. Everything lives under one work folder:
#   $WORK/jobs/           job code as the local backend reads it (entrypoints/ + fraud_jobs.zip)
#   $WORK/spark-conf/     SPARK_CONF_DIR of the local spark-submit (log4j2 at WARN: readable task logs)
#   $WORK/mlflow/         the loopback MLflow server's SQLite store, artifacts, log, pid
#   $WORK/airflow/        AIRFLOW_HOME: SQLite metadata DB
#   $WORK/data/           landing zone and data root of the pipeline
#   $WORK/pipeline.json   the pipeline config ($FRAUD_PIPELINE_CONFIG), local backend
#   $WORK/logs/           output of each `airflow dags test` run (the task logs are in it)

# stage_jobs WORK : copy the entry script and build fraud_jobs.zip with the jobs' own builder.
stage_jobs() {
  local work="$1" jobs="$1/jobs"
  rm -rf "$jobs.tmp" && mkdir -p "$jobs.tmp/entrypoints"
  cp "$REPO_ROOT"/jobs/entrypoints/*.py "$jobs.tmp/entrypoints/"
  python3 "$REPO_ROOT/jobs/build_zip.py" "$jobs.tmp/fraud_jobs.zip" >/dev/null
  rm -rf "$jobs" && mv "$jobs.tmp" "$jobs"
  # Spark's default INFO logging buries a step's own messages (and its error) in the task log.
  mkdir -p "$work/spark-conf"
  cat >"$work/spark-conf/log4j2.properties" <<'PROPS'
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
PROPS
}

# write_local_config WORK MLFLOW_URI JOBS_VENV [KEY=JSON ...] : the pipeline config for the local
# backend (WORK/pipeline.json, path printed), checked by PipelineConfig before it is written; extra
# KEY=JSON pairs override fields (e.g. customers=200 retries=0).
write_local_config() {
  python3 "$REPO_ROOT/jobs/local_pipeline_config.py" "$@"
}

# airflow_env WORK AIRFLOW_VENV : export what the airflow CLI needs for a local SQLite setup.
airflow_env() {
  local work="$1"
  export AIRFLOW_HOME="$work/airflow"
  export AIRFLOW__CORE__DAGS_FOLDER="$REPO_ROOT/jobs/dags"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=300
  export FRAUD_PIPELINE_CONFIG="$work/pipeline.json"
  export PATH="$2/bin:$PATH"
  mkdir -p "$AIRFLOW_HOME"
}

# airflow_db_init AIRFLOW_VENV : `airflow db migrate` once per Airflow environment and AIRFLOW_HOME.
airflow_db_init() {
  local stamp="$AIRFLOW_HOME/.migrated"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$1" ] || [ ! -f "$AIRFLOW_HOME/airflow.db" ]; then
    "$1/bin/airflow" db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 \
      || { tail -20 "$AIRFLOW_HOME/db-migrate.log" >&2; die "airflow db migrate failed (log: $AIRFLOW_HOME/db-migrate.log)"; }
    printf '%s' "$1" >"$stamp"
  fi
}

# run_dag_test LOGFILE DATE [NEEDED_PID] : `airflow dags test fraud_pipeline DATE`, output to
# LOGFILE, with one progress line per step (and a heartbeat while a step runs). Returns non-zero if
# the run failed. NEEDED_PID: a background job of the caller that readies something later steps
# need (the MLflow server's start); if it exits non-zero the run is stopped at once instead of
# failing slowly at the first step that needs it. Sets DAG_TEST_PID so a trap can stop the run.
run_dag_test() {
  local logfile="$1" date="$2" needed="${3:-}" pid start now step="" step_start=0 last_beat seen=0 line rc
  local started=" "
  : >"$logfile"
  # own process group (setsid), so stop_dag_test ends Airflow and the spark-submit under it at once
  setsid airflow dags test fraud_pipeline "$date" >"$logfile" 2>&1 </dev/null &
  pid=$!; DAG_TEST_PID=$pid
  start=$SECONDS; last_beat=$SECONDS
  while :; do
    # each "[DAG TEST] running task <TaskInstance: fraud_pipeline.STEP ..." starts a step
    while IFS= read -r line; do
      seen=$((seen + 1))
      now=$SECONDS
      [ -n "$step" ] && log "  step $step ended ($((now - step_start)) s)"
      step="$(sed -E 's/.*TaskInstance: fraud_pipeline\.([a-z_]+).*/\1/' <<<"$line")"
      step_start=$now; last_beat=$now
      if [[ "$started" == *" $step "* ]]; then
        log "  step $step running again: a retry (run time $((now - start)) s)"
      else
        log "  step $step running (run time $((now - start)) s)"
      fi
      started+="$step "
    done < <(grep -a '\[DAG TEST\] running task' "$logfile" | tail -n +"$((seen + 1))")
    kill -0 "$pid" 2>/dev/null || break
    if [ -n "$needed" ] && ! kill -0 "$needed" 2>/dev/null; then
      if wait "$needed"; then
        needed=""
      else
        log "  a service this run needs failed to start: stopping the run"
        stop_dag_test
        return 1
      fi
    fi
    if [ -n "$step" ] && [ $((SECONDS - last_beat)) -ge 30 ]; then
      log "  ... still on $step ($((SECONDS - step_start)) s)"
      last_beat=$SECONDS
    fi
    sleep 2
  done
  rc=0; wait "$pid" || rc=$?
  DAG_TEST_PID=""
  if [ $rc -eq 0 ] && grep -aq 'DagRun Finished: dag_id=fraud_pipeline.*state=success' "$logfile"; then
    [ -n "$step" ] && log "  step $step ended ($((SECONDS - step_start)) s)"
  else
    [ $rc -eq 0 ] && rc=1
    local failed
    failed="$(failed_steps "$logfile" | tr '\n' ' ')"
    log "  the run FAILED after $((SECONDS - start)) s; failed step(s): ${failed:-? (see the log)}; errors:"
    step_errors "$logfile" | tail -8 >&2
  fi
  return $rc
}

# stop_dag_test : end a running `airflow dags test` (started by run_dag_test) and its children.
stop_dag_test() {
  local pgid="${DAG_TEST_PID:-}"
  [ -n "$pgid" ] || return 0
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  for _ in $(seq 1 20); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pgid" 2>/dev/null || true
  DAG_TEST_PID=""
}

# step_errors LOGFILE : the error lines the steps printed (the jobs end with `error: ...`), stripped
# of Airflow's log decoration.
step_errors() {
  grep -a 'SubprocessHook' "$1" \
    | sed -E 's/^[^]]*\] //; s/ +\[airflow\.task\.hooks\..*$//' \
    | grep -aE '^(error: |[A-Za-z_.]*(Error|Exception)(: |$)|.*: can.t open file)' || true
}

# failed_steps LOGFILE : the steps whose last attempt failed (the log links task ids to ti_id).
failed_steps() {
  awk '
    /\[DAG TEST\] running task/ {
      if (match($0, /fraud_pipeline\.[a-z_]+/)) task = substr($0, RSTART + 15, RLENGTH - 15)
      if (match($0, /ti_id=[0-9a-f-]+/)) name[substr($0, RSTART + 6, RLENGTH - 6)] = task
    }
    /new_state=/ && match($0, /ti_id=[0-9a-f-]+/) {
      id = substr($0, RSTART + 6, RLENGTH - 6)
      match($0, /new_state=[a-z_]+/); state[id] = substr($0, RSTART + 10, RLENGTH - 10)
    }
    END { for (id in state) if (state[id] == "failed" && (id in name)) print name[id] }
  ' "$1" | sort -u
}

# airflow_ui_start WORK AIRFLOW_VENV : the Airflow UI (`airflow api-server`) on a free loopback port
# over WORK's Airflow home, which holds the DAG and the runs `airflow dags test` recorded. Prints its
# URL; reuses a running one. Log in as `admin` (the simple auth manager's default user) with the
# password it generates into $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated. Process group id in
# WORK/airflow-ui.pid, log in WORK/airflow-ui.log.
airflow_ui_start() {
  local work="$1" venv="$2" port url pidfile="$1/airflow-ui.pid"
  if url="$(airflow_ui_url "$work" 2>/dev/null)"; then printf '%s\n' "$url"; return 0; fi
  airflow_env "$work" "$venv"
  airflow_db_init "$venv"
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  # The UI's links and the login's redirects point at $url. Airflow writes the generated password
  # into its home and its log: umask 077 keeps both readable by this user only.
  (
    umask 077
    AIRFLOW__API__BASE_URL="$url" exec setsid "$venv/bin/airflow" api-server --host 127.0.0.1 --port "$port" --workers 1 \
      >"$work/airflow-ui.log" 2>&1 </dev/null
  ) &
  echo $! >"$pidfile"
  for _ in $(seq 1 300); do
    if curl -fsS "$url/api/v2/monitor/health" >/dev/null 2>&1; then
      printf '%s\n' "$url" >"$work/airflow-ui.url"; printf '%s\n' "$url"; return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 1
  done
  tail -20 "$work/airflow-ui.log" >&2
  stop_group "$pidfile"
  die "the Airflow UI did not start on $url (log: $work/airflow-ui.log)"
}

# airflow_ui_url WORK : the URL of WORK's running Airflow UI (fails if none runs).
airflow_ui_url() {
  local pidfile="$1/airflow-ui.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && [ -f "$1/airflow-ui.url" ] \
    && cat "$1/airflow-ui.url"
}

# airflow_ui_stop WORK : stop WORK's Airflow UI, if it runs.
airflow_ui_stop() {
  stop_group "$1/airflow-ui.pid"
  rm -f "$1/airflow-ui.url"
}

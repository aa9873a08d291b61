#!/bin/sh
# wait-for-url URL SECONDS: wait until URL answers 2xx (e.g. the Airflow scheduler waits for the
# api-server, whose execution API its tasks call; starting first would fail a task try at boot).
url=$1
deadline=$(( $(date +%s) + $2 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null && exit 0
  sleep 2
done
echo "wait-for-url: $url did not answer within $2 s" >&2
exit 1

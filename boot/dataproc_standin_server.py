"""The Data Proc API stand-in (dataproc_standin.DataprocApiStandIn: gRPC + TLS on 127.0.0.1, the
`yandexcloud` SDK's generated service definitions) as a process of its own, for the boot test.

The boot test runs in the jobs' Python environment, which has neither grpcio nor the SDK; this
program runs in the Airflow environment (jobs/requirements-airflow.lock, the SDK the DAG's
provider uses) and is driven over its stdin/stdout, one JSON object a line:

  first line in:   {"token": IAM token the metadata stand-in issued, "folders": [...], "work": DIR}
  first line out:  {"address": "127.0.0.1:PORT", "ca_file": PEM path of the per-run CA}
  then, in -> out: {"cmd": "runtime", "spark_submit", "spark_defaults", "env"} -> {"ok": true}
                   (what a node gives a job: set before the first job of a cluster)
                   {"cmd": "add_cluster", "id", "folder", "name"} -> {"ok": true}
                   {"cmd": "remove_cluster", "id"} -> {"ok": true}
                   {"cmd": "report"} -> {"calls": [[method, code, cluster_id]], "jobs": {id: {...}}}
  end of input: the server stops (every job's process group killed) and the program exits.

The token comes on stdin, never in argv or the environment of the jobs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataproc_standin import ClusterRuntime, DataprocApiStandIn  # noqa: E402
from standins import CloudApiStandIn  # noqa: E402


def main() -> int:
    setup = json.loads(sys.stdin.readline())
    # only its token is used: the metadata stand-in itself runs in the boot test's process
    metadata = CloudApiStandIn({}, token=setup["token"])
    work = Path(setup["work"])
    runtime = ClusterRuntime(spark_submit="spark-submit", spark_defaults={}, work=work)
    api = DataprocApiStandIn(metadata, runtime, tuple(setup["folders"])).start()
    try:
        print(json.dumps({"address": api.address, "ca_file": str(api.ca_file)}), flush=True)
        for line in sys.stdin:
            msg = json.loads(line)
            cmd = msg["cmd"]
            if cmd == "runtime":
                runtime.spark_submit = msg["spark_submit"]
                runtime.spark_defaults = dict(msg["spark_defaults"])
                runtime.env = dict(msg["env"])
                answer = {"ok": True}
            elif cmd == "add_cluster":
                api.add_cluster(msg["id"], msg["folder"], msg["name"])
                answer = {"ok": True}
            elif cmd == "remove_cluster":
                with api._lock:
                    api.clusters.pop(msg["id"], None)
                answer = {"ok": True}
            elif cmd == "report":
                with api._lock:
                    calls = [[c.method, c.code, c.request.get("cluster_id", "")] for c in api.calls]
                    jobs = {job_id: {"name": job.name, "cluster_id": job.cluster_id,
                                     "args": list(job.pyspark_job.args),
                                     "statuses": api.job_statuses.get(job_id, [])}
                            for job_id, job in api.jobs.items()}
                answer = {"calls": calls, "jobs": jobs}
            else:
                answer = {"error": f"unknown command {cmd!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""spark-submit entry script of every pipeline step: `run_step.py STEP ARGS...` runs STEP's main
function (fraud_jobs.pipeline_spec.STEP_MAINS) with ARGS.

On the cluster the package arrives as fraud_jobs.zip through --py-files; from a checkout the
package folder next to this script's folder is put on sys.path.
"""

import os
import sys

_jobs_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_jobs_dir, "fraud_jobs")) and _jobs_dir not in sys.path:
    sys.path.insert(0, _jobs_dir)

from fraud_jobs.common import run_job, run_step  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) > 1:
        # argparse names the program after argv[0]: `run_step.py train_rf: error: ...` says which step
        sys.argv[0] = f"{os.path.basename(sys.argv[0])} {sys.argv[1]}"
    run_job(run_step, sys.argv[1:])

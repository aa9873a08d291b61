"""spark-submit entry script of the pipeline step 'bootstrap' (see fraud_jobs/bootstrap.py).

On the cluster the package arrives as fraud_jobs.zip through --py-files; from a checkout the
package folder next to this script is put on sys.path.
"""

import os
import sys

_jobs_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_jobs_dir, "fraud_jobs")) and _jobs_dir not in sys.path:
    sys.path.insert(0, _jobs_dir)

from fraud_jobs.common import run_job  # noqa: E402
from fraud_jobs.bootstrap import main as main  # noqa: E402

if __name__ == "__main__":
    run_job(main)

"""Build fraud_jobs.zip, the package shipped to the cluster with --py-files.

The one builder of the archive: the stack runs it at synth (constructs/job-code.ts uploads what it
writes) and the local runner runs it (scripts/demo/local-airflow.sh stage_jobs), so both ship the same
bytes. Every `.py` file under fraud_jobs/ goes in, skipping caches and hidden folders and files.

Deterministic on any machine: sorted entries, fixed timestamps and permissions, and no compression
(deflate's output depends on the zlib build; the archive's hash names the release the Airflow VM
runs, so a deploy from another machine must not see new bytes for the same sources).
Usage: python jobs/build_zip.py [OUTPUT]
"""

from __future__ import annotations

import os
import sys
import zipfile

JOBS_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(JOBS_DIR, "dist", "fraud_jobs.zip")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def package_files(jobs_dir: str = JOBS_DIR) -> list[str]:
    """The archive's entry names (`fraud_jobs/...py`, sorted): the package's Python sources."""
    names = []
    for folder, dirs, files in os.walk(os.path.join(jobs_dir, "fraud_jobs")):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        rel = os.path.relpath(folder, jobs_dir).replace(os.sep, "/")
        names += [f"{rel}/{n}" for n in files if n.endswith(".py") and not n.startswith(".")]
    return sorted(names)


def build_zip(output: str = DEFAULT_OUTPUT) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in package_files():
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            info.create_system = 3  # unix, on any build machine
            with open(os.path.join(JOBS_DIR, name), "rb") as fh:
                zf.writestr(info, fh.read())
    os.replace(tmp, output)
    return output


if __name__ == "__main__":
    print(build_zip(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT))

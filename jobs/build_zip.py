"""Build jobs/dist/fraud_jobs.zip, the package shipped to the cluster with --py-files.

Deterministic: sorted entries, fixed timestamps and permissions, so the same sources give the
same bytes (and the same hash). Usage: python jobs/build_zip.py [OUTPUT]
"""

from __future__ import annotations

import os
import sys
import zipfile

JOBS_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(JOBS_DIR, "dist", "fraud_jobs.zip")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def build_zip(output: str = DEFAULT_OUTPUT) -> str:
    package = os.path.join(JOBS_DIR, "fraud_jobs")
    files = []
    for folder, dirs, names in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [os.path.join(folder, n) for n in names if n.endswith(".py")]
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(os.path.relpath(path, JOBS_DIR).replace(os.sep, "/"), _FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as fh:
                zf.writestr(info, fh.read())
    os.replace(tmp, output)
    return output


if __name__ == "__main__":
    print(build_zip(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT))

"""The --py-files package: complete, importable, and byte-for-byte reproducible."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from build_zip import build_zip

JOBS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_zip_is_reproducible_and_importable(tmp_path):
    first = build_zip(str(tmp_path / "a.zip"))
    second = build_zip(str(tmp_path / "b.zip"))
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()
    names = zipfile.ZipFile(first).namelist()
    sources = sorted(
        f"fraud_jobs/{n}" for n in os.listdir(os.path.join(JOBS_DIR, "fraud_jobs")) if n.endswith(".py")
    )
    assert sorted(n for n in names if n.count("/") == 1) == sources
    # stored, not deflated: the bytes must not depend on the machine's zlib (they name the release)
    assert {i.compress_type for i in zipfile.ZipFile(first).infolist()} == {zipfile.ZIP_STORED}
    # imported from the zip alone, in a clean interpreter started outside the checkout
    code = "import fraud_jobs.simulator, fraud_jobs.layout as l; print(fraud_jobs.simulator.__file__, len(l.FEATURE_COLUMNS))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": first},
                         capture_output=True, text=True, check=True).stdout
    assert first in out and out.strip().endswith(" 15")

"""The README's pictures, from the UIs of a local run (scripts/demo/screenshots.sh starts them).

Opens the run's MLflow and Airflow UIs in headless Chromium with the pages and checks of the tests
(browser/pages.py); if a person would see everything there, writes the chosen pictures to the
output folder as small palette PNGs. Run with the jobs' Python (Pillow).

Usage: screenshots.py --mlflow URL --airflow URL --work DEMO_WORK_DIR --date YYYY-MM-DD --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "browser"))

import pages  # noqa: E402
import uicheck  # noqa: E402

# page of the visit -> (README picture, the part of the page it shows)
PICTURES = {
    "airflow-run": ("airflow-graph.png", ".react-flow"),
    "mlflow-comparison": ("mlflow-comparison.png", None),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--mlflow", "--airflow", "--work", "--date", "--out"):
        ap.add_argument(name, required=True)
    args = ap.parse_args()
    from fraud_jobs.pipeline_spec import PipelineConfig  # jobs/ is on the path (pages)

    work = Path(args.work)
    experiment = PipelineConfig.load(str(work / "pipeline.json")).experiment
    password = json.loads((work / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    run = pages.local_run(args.mlflow.split("/#")[0], args.airflow, experiment, args.date, password)
    plan = pages.local_plan(run, "AIRFLOW_UI_PASSWORD", viewport=[1280, 800])
    for page in plan["sessions"][0]["pages"]:
        if page["name"] in PICTURES and PICTURES[page["name"]][1]:
            page["elementShot"] = PICTURES[page["name"]][1]
    report = uicheck.run(plan, "screenshots", secrets={"AIRFLOW_UI_PASSWORD": password})
    print(report.summary(), file=sys.stderr)
    pages.check_local(report, run)

    from PIL import Image

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (picture, _) in PICTURES.items():
        page = report.page(name)
        shot = page.get("elementScreenshot") or page["screenshot"]
        # a screenshot has few colours: a 256-colour palette keeps it sharp at a fraction of the size
        Image.open(shot).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT) \
            .save(out / picture, optimize=True)
        print(f"{out / picture}: {(out / picture).stat().st_size // 1024} KiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

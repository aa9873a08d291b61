"""Python side of browser/ui-check.mjs: run a plan in headless Chromium and read what it saw.

Standard library only: the boot tests (jobs environment) and the DAG tests (Airflow environment)
both import it by path. The browser tool reports; the tests decide with the helpers here.

Screenshots go to $UI_ARTIFACTS_DIR/<name>/ (the test scripts set it to a folder they print), or to
a temporary folder. Passwords reach the browser through environment variables named in the plan,
never through the plan file or a command line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BROWSER_DIR = Path(__file__).resolve().parent
TOOL = BROWSER_DIR / "ui-check.mjs"
CHROMIUM = os.environ.get("UI_CHECK_CHROMIUM", "/usr/bin/chromium")
# Console errors that are not faults: Chromium reports "ResizeObserver loop completed with
# undelivered notifications" when a layout change causes more resizing within one frame (the
# observers run again in the next frame; nothing is lost or shown to the user).
BENIGN_CONSOLE = re.compile(r"ResizeObserver loop (completed with undelivered notifications|limit exceeded)")


def missing_tools() -> str | None:
    """Why the browser cannot run here (None when it can); the test scripts install both."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (Debian package chromium; scripts/lib.sh ensure_browser installs it)"
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return "browser/node_modules missing (scripts/lib.sh ensure_browser runs npm ci in browser/)"
    if shutil.which("node") is None:
        return "node not found on PATH"
    return None


def artifacts_dir(name: str) -> Path:
    base = os.environ.get("UI_ARTIFACTS_DIR") or tempfile.mkdtemp(prefix="ui-artifacts-")
    path = Path(base) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Report:
    raw: dict
    out: Path
    stderr: str = ""
    pages: dict = field(init=False)

    def __post_init__(self):
        self.pages = {p["name"]: p for p in self.raw.get("pages", [])}

    def page(self, name: str) -> dict:
        assert name in self.pages, f"no page {name!r} in the browser report: {sorted(self.pages)}"
        return self.pages[name]

    def problems(self, name: str, allowed: tuple[tuple[str, int], ...] = ()) -> list:
        """Everything on a page a person would call broken: console errors, uncaught script
        errors, failed requests and HTTP error responses, less the (url regex, status) pairs in
        `allowed`, each of which the caller explains."""
        p = self.page(name)

        def ok(url: str, status: int | None) -> bool:
            return any(re.search(rx, url) and status in (st, None) for rx, st in allowed)

        out = [("response", r["status"], r["url"]) for r in p["badResponses"] if not ok(r["url"], r["status"])]
        bad_urls = {r["url"] for r in p["badResponses"]}
        out += [("failed", r["error"], r["url"]) for r in p["failedRequests"]
                # a navigation away cancels pending requests: not an error a person sees
                if r["error"] != "net::ERR_ABORTED" and not ok(r["url"], None)]
        # Chromium logs every HTTP error response to the console too: counted once, above
        out += [("console", c["text"][:300], c["url"]) for c in p["consoleErrors"]
                if not (c["text"].startswith("Failed to load resource") and c["url"] in bad_urls)
                and not BENIGN_CONSOLE.search(c["text"])]
        out += [("script error", e[:500], "") for e in p["pageErrors"]]
        return out

    def summary(self) -> str:
        return "\n".join(
            f"  {p['session']}/{p['name']}: status {p['status']}, {p['elapsedMs'] / 1000:.1f} s, "
            f"final {p['finalUrl']}, screenshot {p['screenshot']}" for p in self.raw.get("pages", []))


def run(plan: dict, name: str, secrets: dict[str, str] | None = None, timeout: float = 900) -> Report:
    """Run `plan` (see ui-check.mjs; `out` is filled in here) and return the browser's report.
    `secrets`: environment variables for the browser process (the passwords the plan names)."""
    why = missing_tools()
    if why:
        raise RuntimeError(f"cannot run the browser check: {why}")
    out = artifacts_dir(name)
    plan = dict(plan, out=str(out))
    plan_file = out / "plan.json"
    plan_file.write_text(json.dumps(plan, indent=2))
    env = dict(os.environ, **(secrets or {}))
    res = subprocess.run(["node", str(TOOL), str(plan_file)], env=env, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"ui-check.mjs failed ({res.returncode}):\n{res.stderr[-3000:]}")
    raw = json.loads(res.stdout)
    (out / "report.json").write_text(json.dumps(raw, indent=2))
    return Report(raw, out, res.stderr)

"""What a person opens in this project's MLflow and Airflow UIs, and what they must see there.

Plans for browser/ui-check.mjs, and the checks of its report, shared by the boot test (the hosts
behind nginx), the DAG test (the local run's UIs) and scripts/demo/screenshots.py (the README's
pictures). Standard library only, plus jobs/fraud_jobs/tracking.py for the MLflow links (the very
links the pipeline prints).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "jobs"))

from fraud_jobs.pipeline_spec import STEPS, dependency_edges  # noqa: E402
from fraud_jobs.tracking import ui_url  # noqa: E402

# MLflow 3.17's UI asks every page for the logged-in user of MLflow's own auth app
# (`mlflow server --app-name basic-auth`); without that app (here nginx does the auth) the server
# answers 404 and the UI carries on without a user name.
MLFLOW_USER_PROBE = (r"/ajax-api/2\.0/mlflow/users/current$", 404)
# the MLflow assistant panel opens by itself on a browser's first visit; a person closes it
CLOSE_MLFLOW_ASSISTANT = {"click": {"css": "button[aria-label='Close']"}}
# Airflow's login page loads the UI's config before the user has a token: 401, then the form
AIRFLOW_CONFIG_BEFORE_LOGIN = (r"/ui/config$", 401)
# the DAG's id, tasks and edges: the pipeline's step contract (the DAG tests check its shape)
DAG_ID = "fraud_pipeline"
PIPELINE_EDGES = frozenset(dependency_edges())


# ---------------------------------------------------------------------------------------------
# MLflow


@dataclass
class MlflowRun:
    """The run of one logical date as the test found it in MLflow (REST), to look for in the UI."""
    experiment_id: str
    experiment_name: str
    train_runs: dict          # run name -> (run id, {metric: value})
    compare_run_id: str
    compare_run_name: str
    figure: str               # artifact path of the comparison figure
    registered_model: str
    champion_version: str | None


def rest(url: str, body: dict | None = None, auth: tuple[str, str] | None = None, cafile: str | None = None,
         headers: dict | None = None) -> dict:
    """GET (or POST `body` as JSON) and decode the JSON answer."""
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https") else None
    with urllib.request.urlopen(req, timeout=60, context=ctx) as resp:
        return json.load(resp)


def find_mlflow_run(base: str, experiment: str, logical_date: str, **kw) -> MlflowRun:
    """The pipeline's MLflow records of one logical date, read over MLflow's REST API."""
    api = base.rstrip("/") + "/api/2.0/mlflow/"
    exp = rest(api + "experiments/get-by-name?" + urllib.parse.urlencode({"experiment_name": experiment}),
               **kw)["experiment"]
    runs = rest(api + "runs/search", {"experiment_ids": [exp["experiment_id"]], "filter":
                f"tags.`pipeline.logical_date` = '{logical_date}' and attributes.status = 'FINISHED'",
                "order_by": ["attributes.start_time DESC"]}, **kw).get("runs", [])
    train, compare, model = {}, None, None
    for r in runs:
        tags = {t["key"]: t["value"] for t in r["data"].get("tags", [])}
        name = r["info"]["run_name"]
        if tags.get("pipeline.step") == "train" and name not in train:
            metrics = {m["key"]: m["value"] for m in r["data"].get("metrics", [])
                       if m["key"] in ("test_f1", "test_roc_auc", "test_average_precision")}
            train[name] = (r["info"]["run_id"], metrics)
            model = tags.get("pipeline.registered_model", model)
        elif tags.get("pipeline.step") == "compare" and compare is None:
            compare = r
    assert len(train) == 2 and compare is not None, f"no complete run of {logical_date} in {experiment!r}"
    ctags = {t["key"]: t["value"] for t in compare["data"].get("tags", [])}
    cid = compare["info"]["run_id"]
    # the figure the compare step logged: the one picture among the run's artifacts
    listing = rest(api + "artifacts/list?" + urllib.parse.urlencode({"run_id": cid, "path": "comparison"}), **kw)
    figures = [f["path"] for f in listing.get("files", []) if f["path"].endswith(".png")]
    assert len(figures) == 1, f"comparison run {cid}: expected one figure, got {listing}"
    return MlflowRun(exp["experiment_id"], experiment, train, cid, compare["info"]["run_name"], figures[0],
                     model, ctags.get("pipeline.champion_version"))


def mlflow_pages(run: MlflowRun) -> list[dict]:
    rf_name = next(n for n in run.train_runs if n.startswith("rf-"))
    rf_id, rf_metrics = run.train_runs[rf_name]
    return [
        {"name": "mlflow-experiments", "path": "/#/experiments", "actions": [CLOSE_MLFLOW_ASSISTANT],
         "waitFor": [run.experiment_name]},
        # the experiment's link as the pipeline prints it: the runs table
        {"name": "mlflow-runs", "path": ui_url("", run.experiment_id),
         "waitFor": [*run.train_runs, run.compare_run_name, "matching runs"]},
        {"name": "mlflow-run-metrics", "path": ui_url("", run.experiment_id, rf_id),
         "waitFor": [rf_name, "Metrics", *sorted(rf_metrics)[:3]]},
        {"name": "mlflow-comparison",
         "path": ui_url("", run.experiment_id, run.compare_run_id, artifact=run.figure),
         "waitFor": [run.compare_run_name, Path(run.figure).name]},
        {"name": "mlflow-model", "path": f"/#/models/{run.registered_model}",
         "waitFor": [run.registered_model, "champion"] if run.champion_version else [run.registered_model]},
    ]


def check_mlflow(report, run: MlflowRun, allowed: tuple = ()) -> None:
    """What a person must see on the MLflow pages of mlflow_pages(run)."""
    allowed = (MLFLOW_USER_PROBE, *allowed)
    for name in ("mlflow-experiments", "mlflow-runs", "mlflow-run-metrics", "mlflow-comparison", "mlflow-model"):
        page = report.page(name)
        assert page["error"] is None and not page["missingText"], (name, page["error"], page["missingText"],
                                                                   page["text"][:1500])
        assert not report.problems(name, allowed), (name, report.problems(name, allowed))
    assert page_status_ok(report, "mlflow-experiments")

    runs = report.page("mlflow-runs")
    # the runs table, not the GenAI overview (traces, judges, "no data")
    assert "/runs" in runs["finalUrl"] and "workflowType=machine_learning" in runs["finalUrl"], runs["finalUrl"]
    for gone in ("No data available for the selected time range", "Token Usage"):
        assert gone not in runs["text"], f"the experiment opened in the GenAI view: {gone!r} on the page"

    metrics = report.page("mlflow-run-metrics")
    rf_name = next(n for n in run.train_runs if n.startswith("rf-"))
    for key, value in run.train_runs[rf_name][1].items():
        assert key in metrics["text"], (key, metrics["text"][:2000])
        assert _shown(value, metrics["text"]), (key, value)

    # the artifact browser shows the figure as a picture (icons and logos are far smaller)
    figure = report.page("mlflow-comparison")
    shown = [i for i in figure["images"] if i["naturalWidth"] >= 300 and i["naturalHeight"] >= 150]
    assert shown and all(i["complete"] for i in shown), f"no comparison figure on the page: {figure['images']}"

    if run.champion_version:
        model = report.page("mlflow-model")
        assert re.search(rf"Version {run.champion_version}\b", model["text"]), model["text"][:2000]


def _shown(value: float, text: str) -> bool:
    """MLflow prints metric values in full or rounded: any of the usual forms is on the page."""
    forms = {repr(value), str(value), f"{value:.4g}", f"{value:.3g}", f"{value:.2f}", f"{value:.3f}", f"{value:.4f}"}
    return any(f in text for f in forms)


# ---------------------------------------------------------------------------------------------
# Airflow


def airflow_token(base: str, user: str, password: str) -> dict:
    """Headers for Airflow's REST API as `user` (the simple auth manager's token endpoint)."""
    token = rest(base.rstrip("/") + "/auth/token", {"username": user, "password": password})["access_token"]
    return {"Authorization": f"Bearer {token}"}


def airflow_run(base: str, dag_id: str, logical_date: str, **kw) -> tuple[str, dict]:
    """(run id, {task id: state}) of the DAG's run of `logical_date` (YYYY-MM-DD), from the REST API."""
    api = f"{base.rstrip('/')}/api/v2/dags/{dag_id}/dagRuns"
    runs = [r for r in rest(api + "?order_by=-run_after", **kw)["dag_runs"]
            if (r.get("logical_date") or "").startswith(logical_date)]
    assert runs, f"no run of {dag_id} for {logical_date}"
    run_id = runs[0]["dag_run_id"]
    tis = rest(f"{api}/{urllib.parse.quote(run_id, safe='')}/taskInstances", **kw)["task_instances"]
    return run_id, {t["task_id"]: t.get("state") or "" for t in tis}


def airflow_login_actions(user: str, password_env: str) -> list[dict]:
    """The local Airflow's own login form (simple auth manager); behind nginx there is none."""
    return [{"fill": {"label": "Username", "value": user}}, {"fill": {"label": "Password", "valueEnv": password_env}},
            {"press": "Enter"}, {"waitForUrl": "/dags"}]


def airflow_pages(dag_id: str, run_id: str, login: list[dict] | None = None) -> list[dict]:
    # Airflow 3's graph (React Flow): a node per task (data-id = task id, its state as a badge in
    # a run's graph), an edge per dependency (aria-label "Edge from A to B")
    graph = {"nodes": {"css": ".react-flow__node", "parts": {"state": "[data-testid='state-badge']"}},
             "edges": ".react-flow__edge"}
    show_graph = {"click": {"role": "button", "name": "Show Graph"}}
    run_path = f"/dags/{dag_id}/runs/{urllib.parse.quote(run_id, safe='')}"
    return [
        {"name": "airflow-dags", "path": "/dags", "actions": list(login or []), "waitFor": [dag_id]},
        {"name": "airflow-graph", "path": f"/dags/{dag_id}", "actions": [show_graph],
         "waitFor": list(STEPS), "collect": graph},
        {"name": "airflow-run", "path": run_path, "actions": [show_graph],
         "waitFor": list(STEPS), "collect": graph},
    ]


def graph_of(page: dict) -> tuple[set, set]:
    nodes = {n["attrs"].get("data-id") for n in page["collected"]["nodes"]}
    edges = set()
    for e in page["collected"]["edges"]:
        m = re.fullmatch(r"Edge from (\S+) to (\S+)", e["attrs"].get("aria-label") or "")
        if m:
            edges.add((m.group(1), m.group(2)))
    return nodes, edges


def run_states(page: dict) -> dict:
    """task id -> the state its node shows in a run's graph ("" for a task with no state yet)."""
    return {n["attrs"].get("data-id"): " ".join(n["parts"].get("state", [])).strip()
            for n in page["collected"]["nodes"]}


def check_airflow(report, states_expected: dict | list[dict], edges_expected=PIPELINE_EDGES,
                  logins: int = 0, allowed: tuple = ()) -> None:
    """What a person must see on the pages of airflow_pages(): the DAG in the list, its graph with
    every task and edge, and the run's graph with each task's state as the API reports it (one of
    `states_expected` if the run moves on while the browser looks at it).
    `logins`: how often Airflow's own login form may show (behind nginx: never; locally: once)."""
    seen_login = 0
    for name in ("airflow-dags", "airflow-graph", "airflow-run"):
        page = report.page(name)
        assert page["error"] is None and not page["missingText"], (name, page["error"], page["missingText"],
                                                                   page["text"][:1500])
        assert not report.problems(name, allowed), (name, report.problems(name, allowed))
        # where the browser went (a URL once, however often Chromium reports the same one)
        path = [u for i, u in enumerate(page["navigations"]) if i == 0 or u != page["navigations"][i - 1]]
        seen_login += sum("/auth/login" in u for u in path)
        assert "/auth/login" not in page["finalUrl"] and "Sign into Airflow" not in page["text"], page["finalUrl"]
        assert len(path) <= 1 + 2 * logins, f"{name}: redirected around: {path}"
    assert seen_login == logins, f"Airflow's login form showed {seen_login} time(s), expected {logins}"
    for name in ("airflow-graph", "airflow-run"):
        nodes, edges = graph_of(report.page(name))
        assert nodes == set(STEPS), (name, nodes)
        assert edges == edges_expected, (name, edges)
    shown = run_states(report.page("airflow-run"))
    expected = states_expected if isinstance(states_expected, list) else [states_expected]
    assert shown in [{t: (st or "") for t, st in e.items()} for e in expected], (shown, expected)


def page_status_ok(report, name: str) -> bool:
    status = report.page(name)["status"]
    return status is None or 200 <= status < 400


def at(base: str, page_list: list[dict]) -> list[dict]:
    """The pages with absolute URLs on `base`: one browser session can then visit two servers."""
    return [dict(p, path=base.rstrip("/") + p["path"]) for p in page_list]


# ---------------------------------------------------------------------------------------------
# the local run's UIs (scripts/demo/demo-ui.sh): MLflow without login, Airflow with its own login form


@dataclass
class LocalRun:
    mlflow_base: str
    airflow_base: str
    mlflow: MlflowRun
    airflow_run_id: str
    airflow_states: dict


def local_run(mlflow_base: str, airflow_base: str, experiment: str, logical_date: str,
              airflow_password: str) -> LocalRun:
    """What the local run left in both servers, read over their REST APIs."""
    run_id, states = airflow_run(airflow_base, DAG_ID, logical_date,
                                 headers=airflow_token(airflow_base, "admin", airflow_password))
    return LocalRun(mlflow_base, airflow_base, find_mlflow_run(mlflow_base, experiment, logical_date),
                    run_id, states)


def local_plan(run: LocalRun, password_env: str, **extra) -> dict:
    """One person's visit: the MLflow pages, then Airflow's login and pages."""
    login = airflow_login_actions("admin", password_env)
    return dict({"sessions": [{"name": "person", "pages": [
        *at(run.mlflow_base, mlflow_pages(run.mlflow)),
        *at(run.airflow_base, airflow_pages(DAG_ID, run.airflow_run_id, login=login)),
    ]}]}, **extra)


def check_local(report, run: LocalRun, edges_expected=PIPELINE_EDGES) -> None:
    check_mlflow(report, run.mlflow)
    check_airflow(report, run.airflow_states, edges_expected, logins=1, allowed=(AIRFLOW_CONFIG_BEFORE_LOGIN,))


# ---------------------------------------------------------------------------------------------
# the gate in front: nginx's basic auth


def refused_sessions(user: str, password_env: str, paths: list[str]) -> list[dict]:
    """A browser without credentials and one with a wrong password, each opening `paths`."""
    pages = lambda tag: [{"name": f"{tag}-{i}", "path": p} for i, p in enumerate(paths)]  # noqa: E731
    return [{"name": "no-credentials", "pages": pages("no-credentials")},
            {"name": "wrong-password", "credentials": {"username": user, "passwordEnv": password_env},
             "pages": pages("wrong-password")}]


def check_refused(report, app_words: tuple[str, ...]) -> None:
    """Every page of refused_sessions: nginx's 401 and nothing of the application. Without
    credentials headless Chromium cannot ask a person for them: it stops at the 401
    (net::ERR_INVALID_AUTH_CREDENTIALS) and shows its own error page; with a wrong password it
    shows nginx's 401 page."""
    visits = [p for p in report.raw["pages"] if p["session"] in ("no-credentials", "wrong-password")]
    assert visits
    for p in visits:
        document = [r for r in p["badResponses"] if r["type"] == "document"]
        assert [r["status"] for r in document] == [401], (p["name"], p["badResponses"], p["error"])
        assert p["status"] in (401, None), (p["name"], p["status"])
        if p["session"] == "wrong-password":
            assert "401 Authorization Required" in p["text"], (p["name"], p["text"][:500])
        else:
            assert "ERR_INVALID_AUTH_CREDENTIALS" in (p["error"] or ""), (p["name"], p["error"])
        assert not any(w.lower() in p["text"].lower() for w in app_words), (p["name"], p["text"][:500])
        assert not p["images"], (p["name"], p["images"])
        # nothing but the page (and the browser's icon request) was asked for, and all refused:
        # no script, style or API call of the application got through
        assert all(r["status"] == 401 for r in p["badResponses"]), p["badResponses"]
        assert {r["type"] for r in p["badResponses"]} <= {"document", "other"}, p["badResponses"]

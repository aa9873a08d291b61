/**
 * The fleet runs one set of versions (versions.json): these tests fail when a lock, the cluster's
 * image or the VMs' release drifts from it. `make upgrade` is the one way to move them together.
 */
import * as fs from "fs";
import * as path from "path";
import { FLEET, lockPins, normalizePackageName, REPO_ROOT } from "../../constructs/fleet-versions";

const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), "utf8");

/** Every committed lock, and the fleet pins it must carry (the places that install them). */
const LOCKS: Record<string, readonly string[]> = {
  "jobs/requirements.lock": ["mlflow", "pyspark"],
  "jobs/requirements-airflow.lock": ["apache-airflow", "apache-airflow-providers-yandex"],
  "units/requirements/mlflow-server.lock": ["mlflow"],
  "units/requirements/airflow-host.lock": ["apache-airflow", "apache-airflow-providers-yandex"],
  "boot/standin-requirements.lock": [],
  "tools/checkov/requirements.lock": [],
};

function committedLocks(dir = REPO_ROOT): string[] {
  const skip = new Set(["node_modules", ".git", ".gen", ".work", "cdktf.out"]);
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return skip.has(e.name) ? [] : committedLocks(path.join(dir, e.name));
    return e.name.endsWith(".lock") ? [path.relative(REPO_ROOT, path.join(dir, e.name))] : [];
  });
}

describe("versions.json", () => {
  it("names one Python minor for the whole fleet: the VMs' release, the Data Proc image and the locks", () => {
    expect({ vm: FLEET.vm.python, dataproc: FLEET.dataproc.python }).toEqual({ vm: FLEET.python, dataproc: FLEET.python });
  });

  it("knows every committed lock", () => {
    expect(committedLocks().sort()).toEqual(Object.keys(LOCKS).sort());
  });

  it.each(Object.keys(LOCKS))("compiles %s for the fleet's Python", (lock) => {
    const header = read(lock).split("\n").slice(0, 3).join("\n");
    const compiledFor = /--python-version (\d+\.\d+)|CPython (\d+\.\d+)/.exec(header);
    expect(compiledFor).not.toBeNull();
    expect(compiledFor![1] ?? compiledFor![2]).toBe(FLEET.python);
  });

  it.each(Object.entries(LOCKS))("pins in %s exactly the fleet's versions of %p", (lock, required) => {
    const pins = lockPins(read(lock));
    for (const name of required) expect([name, pins.get(name)]).toEqual([name, FLEET.pins[name]]);
    // and no other lock has another version of a fleet-pinned package
    for (const [name, version] of Object.entries(FLEET.pins)) {
      if (pins.has(name)) expect([name, pins.get(name)]).toEqual([name, version]);
    }
  });

  it("is the only place a fleet pin is written: no .in file pins one", () => {
    const ins = ["jobs/requirements.in", "jobs/requirements-airflow.in", "units/requirements/mlflow-server.in"];
    for (const file of ins) {
      for (const line of read(file).split("\n")) {
        const name = /^([A-Za-z0-9_.-]+)\s*[=<>!~]/.exec(line.replace(/#.*/, "").trim());
        if (name) expect([file, normalizePackageName(name[1]) in FLEET.pins]).toEqual([file, false]);
      }
    }
  });

  it("runs on the MLflow VM the versions the jobs' tests run (their MLflow server included)", () => {
    const jobs = lockPins(read("jobs/requirements.lock"));
    const drift = [...lockPins(read("units/requirements/mlflow-server.lock"))].filter(([n, v]) => jobs.get(n) !== v);
    expect(drift.map(([n, v]) => `${n}: VM ${v}, jobs ${jobs.get(n) ?? "absent"}`)).toEqual([]);
  });

  it("gives the jobs the pyspark of the cluster's Spark", () => {
    expect(FLEET.pins.pyspark.split(".").slice(0, 2).join(".")).toBe(FLEET.dataproc.spark);
  });

  it("pins an Airflow 3 release (the units run api-server and dag-processor)", () => {
    expect(FLEET.pins["apache-airflow"]).toMatch(/^3\./);
  });
});

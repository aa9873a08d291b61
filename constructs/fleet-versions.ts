/**
 * `versions.json`: the versions every machine of the fleet shares (the VMs' OS release and Python,
 * the Data Proc image, the packages pinned across locks), and the locks' pins, read at synth time.
 * `make upgrade` writes both; __tests__/config/fleet-versions.test.ts fails when they drift apart.
 */
import * as fs from "fs";
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..");
export const VERSIONS_FILE = "versions.json";

export interface FleetVersions {
  /** The one CPython minor ("3.11") the locks are compiled for and the tests run on. */
  readonly python: string;
  readonly vm: {
    /** Yandex image family (standard-images folder) the VMs boot by default. */
    readonly imageFamily: string;
    /** The Debian suite of that release: what the boot test debootstraps. */
    readonly debianSuite: string;
    /** That release's python3 minor. */
    readonly python: string;
  };
  readonly dataproc: {
    /** Data Proc image version (a prefix picks its newest release). */
    readonly imageVersion: string;
    /** The image's Python minor. */
    readonly python: string;
    /** The image's Spark minor ("3.5"). */
    readonly spark: string;
  };
  /** Exact versions of the packages several locks share: name -> version. */
  readonly pins: Readonly<Record<string, string>>;
}

function need(obj: unknown, key: string, file: string): string {
  let value: unknown = obj;
  for (const part of key.split(".")) value = (value as Record<string, unknown> | undefined)?.[part];
  if (typeof value !== "string" || value === "") throw new Error(`${file}: ${key} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

/** Reads and checks versions.json. */
export function readFleetVersions(repoRoot: string = REPO_ROOT): FleetVersions {
  const file = path.join(repoRoot, VERSIONS_FILE);
  const raw = JSON.parse(fs.readFileSync(file, "utf8"));
  const pins = raw.pins as Record<string, unknown>;
  if (typeof pins !== "object" || pins === null) throw new Error(`${file}: pins must be an object`);
  for (const name of Object.keys(pins)) need(raw, `pins.${name}`, file);
  return {
    python: need(raw, "python", file),
    vm: { imageFamily: need(raw, "vm.imageFamily", file), debianSuite: need(raw, "vm.debianSuite", file), python: need(raw, "vm.python", file) },
    dataproc: { imageVersion: need(raw, "dataproc.imageVersion", file), python: need(raw, "dataproc.python", file), spark: need(raw, "dataproc.spark", file) },
    pins: pins as Record<string, string>,
  };
}

/** The fleet's versions, read once. */
export const FLEET: FleetVersions = readFleetVersions();

/** A package name as pip compares them (PEP 503). */
export function normalizePackageName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/** Every `name==version` of a requirements lock: normalized name -> version. */
export function lockPins(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^([A-Za-z0-9_.-]+)==([^\s;\\]+)/gm)].map((m) => [normalizePackageName(m[1]), m[2]]));
}

/**
 * What Data Proc installs on every node: the names in `jobs/requirements-cluster.txt`, each at its
 * version in `jobs/requirements.lock` (`name==version`), so the cluster runs what the tests run.
 */
export function clusterPipPackages(jobsDir: string): string[] {
  const listFile = path.join(jobsDir, "requirements-cluster.txt");
  const lockFile = path.join(jobsDir, "requirements.lock");
  const pins = lockPins(fs.readFileSync(lockFile, "utf8"));
  const names = fs.readFileSync(listFile, "utf8").split("\n").map((l) => l.replace(/#.*/, "").trim()).filter((l) => l !== "");
  return names.map((name) => {
    const version = pins.get(normalizePackageName(name));
    if (version === undefined) throw new Error(`${listFile}: ${name} is not in ${lockFile}; add it to requirements.in and run make upgrade`);
    return `${name}==${version}`;
  });
}

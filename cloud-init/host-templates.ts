import * as fs from "fs";
import * as path from "path";
import * as ejs from "ejs";

/** Folder of the EJS templates (units, nginx sites, env files) and the VMs' first-boot files. */
export const UNITS_DIR = path.resolve(__dirname, "..", "units");

/**
 * No HTML escaping (these are config files), but no value may break out of its line either: a
 * newline in a value would let it add directives to a unit or commands to a script.
 */
function lineSafe(value: unknown): string {
  const text = String(value);
  if (/[\r\n\0]/.test(text)) {
    throw new Error(`template value ${JSON.stringify(text)} spans lines; a config value must be one line`);
  }
  return text;
}

/** Renders units/<relPath> (EJS) with `data`. */
export function renderTemplate(relPath: string, data: Record<string, unknown>): string {
  const file = path.join(UNITS_DIR, relPath);
  return ejs.render(fs.readFileSync(file, "utf8"), data, { filename: file, escape: lineSafe, async: false });
}

/**
 * The project's one Lockbox client (jobs/fraud_jobs/lockbox_client.py): the jobs ship it in
 * fraud_jobs.zip, the VMs get it next to their boot reader (units/first-boot/ycm-lockbox.py imports it).
 */
export function readLockboxClient(): string {
  return fs.readFileSync(path.resolve(__dirname, "..", "jobs", "fraud_jobs", "lockbox_client.py"), "utf8");
}

/** A file of units/ taken as is (not a template). */
export function readUnitsFile(relPath: string): string {
  return fs.readFileSync(path.join(UNITS_DIR, relPath), "utf8");
}

/** Reads the DAG files (jobs/dags/*.py) and the step contract the Airflow VM gets (default: from this repository). */
export function readDagSources(repoRoot: string = path.resolve(__dirname, "..")): { dagFiles: Record<string, string>; pipelineSpec: string } {
  const dagsDir = path.join(repoRoot, "jobs", "dags");
  const specFile = path.join(repoRoot, "jobs", "fraud_jobs", "pipeline_spec.py");
  if (!fs.existsSync(specFile)) throw new Error(`pipeline contract not found: ${specFile}`);
  const names = fs.existsSync(dagsDir) ? fs.readdirSync(dagsDir).filter((n) => n.endsWith(".py")).sort() : [];
  if (names.length === 0) throw new Error(`no DAG file (*.py) in ${dagsDir}`);
  const dagFiles = Object.fromEntries(names.map((n) => [n, fs.readFileSync(path.join(dagsDir, n), "utf8")]));
  return { dagFiles, pipelineSpec: fs.readFileSync(specFile, "utf8") };
}

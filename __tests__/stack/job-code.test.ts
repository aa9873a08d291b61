/**
 * fraud_jobs.zip has one builder, jobs/build_zip.py: the stack runs it at synth and uploads what it
 * writes; the local runner (scripts/demo/local-airflow.sh stage_jobs, `make demo`, the DAG tests) runs it
 * too. These tests hold the two paths to the same bytes and file list.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { buildJobPackage, entrypointFiles, JobCode } from "../../constructs/job-code";
import { JOBS_DIR, REPO_ROOT } from "./fixtures";

/** What `stage_jobs WORK` leaves in WORK/jobs: file names and the archive's bytes. */
function stageJobs(work: string): { files: string[]; zip: Buffer } {
  execFileSync("bash", ["-c", 'source scripts/lib.sh && source scripts/demo/local-airflow.sh && stage_jobs "$1"', "_", work], { cwd: REPO_ROOT });
  const jobs = path.join(work, "jobs");
  const files = fs.readdirSync(jobs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(jobs, path.join(e.parentPath, e.name)))
    .sort();
  return { files, zip: fs.readFileSync(path.join(jobs, "fraud_jobs.zip")) };
}

/** The package's entry names and whether Python imports the package from the archive alone. */
function inspectInPython(zipFile: string): string[] {
  return execFileSync("python3", [
    "-c",
    "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print('\\n'.join(z.namelist())); " +
      "sys.path.insert(0, sys.argv[1]); import fraud_jobs.pipeline_spec as p; print('steps', len(p.STEPS))",
    zipFile,
  ], { cwd: os.tmpdir() }).toString().trim().split("\n");
}

/** A constant of jobs/fraud_jobs/pipeline_spec.py, as Python reads it. */
function pipelineSpec(name: string): string {
  return execFileSync("python3", ["-c", `import sys; sys.path.insert(0, sys.argv[1]); import fraud_jobs.pipeline_spec as p; print(p.${name})`, JOBS_DIR])
    .toString().trim();
}

describe("JobCode archive (one builder: jobs/build_zip.py)", () => {
  let dir: string;
  let code: JobCode;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-zip-"));
    code = new JobCode(new TerraformStack(new App({ outdir: path.join(dir, "out") }), "s"), "JobCode", { bucketName: "b", jobsDir: JOBS_DIR });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("uploads the same archive and entry scripts that the local runner stages", () => {
    const staged = stageJobs(dir);
    expect(fs.readFileSync(code.packageFile).equals(staged.zip)).toBe(true);
    const entries = entrypointFiles(JOBS_DIR).map((f) => `entrypoints/${f}`);
    // one entry script for every step: the one the DAG names (pipeline_spec.ENTRY_SCRIPT)
    expect(entries).toEqual([pipelineSpec("ENTRY_SCRIPT")]);
    expect(staged.files).toEqual([...entries, "fraud_jobs.zip"].sort());
    expect(code.objectKeys.map((k) => k.split("/").slice(2).join("/")).sort()).toEqual([...entries, "fraud_jobs.zip"].sort());
  });

  it("holds every Python source of the package, no cache or hidden file, and Python imports it", () => {
    const names = inspectInPython(code.packageFile);
    const sources = fs.readdirSync(path.join(JOBS_DIR, "fraud_jobs")).filter((n) => n.endsWith(".py")).map((n) => `fraud_jobs/${n}`).sort();
    expect(names.slice(0, -1)).toEqual(sources);
    expect(names[names.length - 1]).toBe("steps 7");
  });

  it("is byte-identical for identical sources and changes with a source", () => {
    const copy = path.join(dir, "jobs-copy");
    fs.cpSync(path.join(JOBS_DIR, "fraud_jobs"), path.join(copy, "fraud_jobs"), { recursive: true });
    fs.copyFileSync(path.join(JOBS_DIR, "build_zip.py"), path.join(copy, "build_zip.py"));
    // a cache and a hidden file in the copy change nothing
    fs.mkdirSync(path.join(copy, "fraud_jobs", "__pycache__"), { recursive: true });
    fs.writeFileSync(path.join(copy, "fraud_jobs", "__pycache__", "x.cpython-311.pyc"), "x");
    fs.writeFileSync(path.join(copy, "fraud_jobs", ".scratch.py"), "x = 1\n");
    const original = fs.readFileSync(code.packageFile);
    expect(buildJobPackage(copy).equals(original)).toBe(true);
    fs.appendFileSync(path.join(copy, "fraud_jobs", "common.py"), "\n# a change\n");
    expect(buildJobPackage(copy).equals(original)).toBe(false);
  });

  it("fails synth naming the builder and its error when the build fails", () => {
    const broken = path.join(dir, "broken");
    fs.mkdirSync(path.join(broken, "fraud_jobs"), { recursive: true });
    fs.writeFileSync(path.join(broken, "build_zip.py"), "import sys\nsys.exit('error: cannot read fraud_jobs/x.py')\n");
    expect(() => buildJobPackage(broken)).toThrow(/python3 .*broken\/build_zip\.py failed \(exit 1\): error: cannot read fraud_jobs\/x\.py/);
  });
});

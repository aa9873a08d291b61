import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildZip, pythonSources } from "../../constructs/job-code";
import { JOBS_DIR } from "./fixtures";

const PACKAGE_DIR = path.join(JOBS_DIR, "fraud_jobs");

function packageZip(): Buffer {
  return buildZip(pythonSources(PACKAGE_DIR).map((f) => ({ name: `fraud_jobs/${f}`, data: fs.readFileSync(path.join(PACKAGE_DIR, f)) })));
}

describe("JobCode archive", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-zip-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is a valid zip that Python can import the fraud_jobs package from", () => {
    const zipFile = path.join(dir, "fraud_jobs.zip");
    fs.writeFileSync(zipFile, packageZip());
    const out = execFileSync("python3", [
      "-c",
      "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print('\\n'.join(z.namelist())); " +
        "sys.path.insert(0, sys.argv[1]); import fraud_jobs.pipeline_spec as p; print('steps', len(p.STEPS))",
      zipFile,
    ]).toString();
    const names = out.trim().split("\n");
    expect(names.slice(0, -1)).toEqual(pythonSources(PACKAGE_DIR).map((f) => `fraud_jobs/${f}`));
    expect(names[names.length - 1]).toBe("steps 7");
  });

  it("is byte-identical for identical sources, so an unchanged package is not re-uploaded", () => {
    expect(packageZip().equals(packageZip())).toBe(true);
  });

  it("changes when a source file changes", () => {
    const a = buildZip([{ name: "fraud_jobs/x.py", data: Buffer.from("x = 1\n") }]);
    const b = buildZip([{ name: "fraud_jobs/x.py", data: Buffer.from("x = 2\n") }]);
    expect(a.equals(b)).toBe(false);
  });

  it("leaves out bytecode caches", () => {
    expect(pythonSources(PACKAGE_DIR).some((f) => f.includes("__pycache__") || f.endsWith(".pyc"))).toBe(false);
  });
});

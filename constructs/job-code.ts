import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Construct } from "constructs";
import { AssetType, TerraformAsset } from "cdktf";
import { StorageObject } from "../.gen/providers/yandex/storage-object";
import { JOBS_PREFIX, s3aUri } from "./pipeline-config";

export interface JobCodeProps {
  /** Bucket the code is uploaded to. */
  readonly bucketName: string;
  /** The repository's `jobs/` folder. */
  readonly jobsDir: string;
  /**
   * Key prefix inside the bucket; each release of the code goes under `<prefix><release>/`, and the
   * pipeline config's `jobs_uri` is `s3a://<bucket>/<prefix><release>/`.
   *
   * @default "jobs/"
   */
  readonly keyPrefix?: string;
}

// the Python the project requires (README); build_zip.py needs only its standard library
const PYTHON = "python3";

/** Every file under `dir` (recursively), sorted: what the archive can depend on. */
function allFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

const packageCache = new Map<string, Buffer>();

/**
 * `fraud_jobs.zip` as the jobs' own builder makes it (`jobs/build_zip.py`, which the local runner
 * uses too): one builder, so the cloud and `make demo` run the same archive. Deterministic (same
 * sources, same bytes). Memoized in-process by the content of the builder and the package folder,
 * since one test process synthesizes many stacks.
 */
export function buildJobPackage(jobsDir: string): Buffer {
  const builder = path.join(jobsDir, "build_zip.py");
  const packageDir = path.join(jobsDir, "fraud_jobs");
  const key = crypto.createHash("sha256").update(fs.readFileSync(builder));
  for (const f of allFiles(packageDir)) key.update(`${path.relative(packageDir, f)}\0`).update(fs.readFileSync(f)).update("\0");
  const digest = key.digest("hex");
  const cached = packageCache.get(digest);
  if (cached) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-build-zip-"));
  try {
    const out = path.join(dir, "fraud_jobs.zip");
    const run = spawnSync(PYTHON, [builder, out], { encoding: "utf8" });
    if (run.error || run.status !== 0) {
      throw new Error(`job code: ${PYTHON} ${builder} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr ?? ""}`.trim());
    }
    const zip = fs.readFileSync(out);
    packageCache.set(digest, zip);
    return zip;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The spark-submit main files: `<jobsDir>/entrypoints/*.py` (the local runner copies the same glob).
 * That is one script, pipeline_spec.ENTRY_SCRIPT, which runs the step its first argument names.
 */
export function entrypointFiles(jobsDir: string): string[] {
  const dir = path.join(jobsDir, "entrypoints");
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".py") && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort();
}

/**
 * Uploads the pipeline's job code to the bucket, so `cdktf deploy` ships a code change:
 * every `jobs/entrypoints/*.py` as its own object (the spark-submit main file of every step), and the
 * `fraud_jobs` package as `fraud_jobs.zip` (passed to Spark as a py-file).
 *
 * The zip is built at synth time by the jobs' own builder (jobs/build_zip.py), deterministically. All objects go under a release folder named
 * by the hash of their contents: the DAG's config names that folder, so the DAG on the Airflow VM
 * and the code it submits always come from the same synth, and a code change is a new folder (and
 * so a new Airflow VM spec) rather than new bytes under names a running DAG already uses.
 */
export class JobCode extends Construct {
  /** `s3a://<bucket>/<prefix><release>/`: the pipeline config's `jobs_uri`. */
  public readonly jobsUri: string;
  /** `s3a://` URI of the package archive. */
  public readonly packageUri: string;
  /** Content hash of this release of the code (16 hex digits; the folder name). */
  public readonly release: string;
  /** The archive uploaded as `fraud_jobs.zip` (a local file, content-addressed). */
  public readonly packageFile: string;
  /** Object keys uploaded, in order. */
  public readonly objectKeys: readonly string[];
  /** The uploaded objects (whatever submits jobs with this code depends on them). */
  public readonly objects: readonly StorageObject[];

  constructor(scope: Construct, id: string, props: JobCodeProps) {
    super(scope, id);
    const entrypointsDir = path.join(props.jobsDir, "entrypoints");
    const packageDir = path.join(props.jobsDir, "fraud_jobs");
    if (!fs.existsSync(packageDir)) throw new Error(`job code: package folder ${packageDir} does not exist`);

    const entrypoints = entrypointFiles(props.jobsDir);
    const zip = buildJobPackage(props.jobsDir);
    // the release: names and contents of everything uploaded
    const release = crypto.createHash("sha256");
    for (const f of entrypoints) release.update(`entrypoints/${f}\0`).update(fs.readFileSync(path.join(entrypointsDir, f))).update("\0");
    release.update("fraud_jobs.zip\0").update(zip);
    this.release = release.digest("hex").slice(0, 16);
    const prefix = `${props.keyPrefix ?? JOBS_PREFIX}${this.release}/`;

    const keys: string[] = [];
    const objects: StorageObject[] = [];
    const upload = (cid: string, key: string, file: string) => {
      const asset = new TerraformAsset(this, `Asset-${cid}`, { path: file, type: AssetType.FILE });
      objects.push(new StorageObject(this, `Object-${cid}`, {
        bucket: props.bucketName,
        key,
        source: asset.path,
        // the content hash makes Terraform replace the object whenever the file changes.
        sourceHash: asset.assetHash,
        contentType: key.endsWith(".zip") ? "application/zip" : "text/x-python",
      }));
      keys.push(key);
    };

    for (const f of entrypoints) {
      upload(`entrypoint-${f.replace(/\.py$/, "")}`, `${prefix}entrypoints/${f}`, path.join(entrypointsDir, f));
    }

    // the archive goes to a content-addressed temp file; TerraformAsset copies it into the output.
    const digest = crypto.createHash("sha256").update(zip).digest("hex").slice(0, 16);
    const zipDir = path.join(os.tmpdir(), "yc-mlops-job-code", digest);
    fs.mkdirSync(zipDir, { recursive: true });
    const zipFile = path.join(zipDir, "fraud_jobs.zip");
    if (!fs.existsSync(zipFile)) fs.writeFileSync(zipFile, zip);
    upload("package", `${prefix}fraud_jobs.zip`, zipFile);

    this.packageFile = zipFile;
    this.objectKeys = keys;
    this.objects = objects;
    this.jobsUri = s3aUri(props.bucketName, prefix);
    this.packageUri = s3aUri(props.bucketName, `${prefix}fraud_jobs.zip`);
  }
}

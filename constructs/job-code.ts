import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
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

/** One file of a zip archive. */
export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
}

// a fixed timestamp (1980-01-01 00:00, the DOS epoch) keeps the archive byte-identical for
// identical sources, so an unchanged package is never re-uploaded.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/** Builds a deflated zip archive, entries in the given order, with fixed timestamps. */
export function buildZip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const compressed = zlib.deflateRawSync(e.data, { level: 9 });
    const crc = zlib.crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, compressed);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

/** Python sources under `dir` (recursively, sorted, no caches), relative to `dir`. */
export function pythonSources(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const ent of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) {
        if (ent.name !== "__pycache__" && !ent.name.startsWith(".")) walk(r);
      } else if (ent.isFile() && ent.name.endsWith(".py")) {
        out.push(r);
      }
    }
  };
  walk("");
  return out;
}

/**
 * Uploads the pipeline's job code to the bucket, so `cdktf deploy` ships a code change:
 * every `jobs/entrypoints/*.py` as its own object (the spark-submit main files), and the
 * `fraud_jobs` package as `fraud_jobs.zip` (passed to Spark as a py-file).
 *
 * The zip is built at synth time, deterministically. All objects go under a release folder named
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
  /** Object keys uploaded, in order. */
  public readonly objectKeys: readonly string[];
  /** The uploaded objects (whatever submits jobs with this code depends on them). */
  public readonly objects: readonly StorageObject[];

  constructor(scope: Construct, id: string, props: JobCodeProps) {
    super(scope, id);
    const entrypointsDir = path.join(props.jobsDir, "entrypoints");
    const packageDir = path.join(props.jobsDir, "fraud_jobs");
    if (!fs.existsSync(packageDir)) throw new Error(`job code: package folder ${packageDir} does not exist`);

    const entrypoints = fs.existsSync(entrypointsDir) ? pythonSources(entrypointsDir).filter((f) => !f.includes("/")) : [];
    const zip = buildZip(
      pythonSources(packageDir).map((f) => ({ name: `fraud_jobs/${f}`, data: fs.readFileSync(path.join(packageDir, f)) })),
    );
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

    this.objectKeys = keys;
    this.objects = objects;
    this.jobsUri = s3aUri(props.bucketName, prefix);
    this.packageUri = s3aUri(props.bucketName, `${prefix}fraud_jobs.zip`);
  }
}

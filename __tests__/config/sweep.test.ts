/**
 * A generated sweep over every config field (fast-check): wrong types, out-of-range numbers and
 * hostile strings (shell and YAML metacharacters, line breaks, very long values). Each must be
 * refused with a ConfigError naming the key; through the real synth entry point (main.ts) the
 * process must exit non-zero and write nothing.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import fc from "fast-check";
import { ARTIFACT_STORAGE_RULES } from "../../constructs/artifact-storage";
import { ConfigError, validateConfig } from "../../constructs/config";
import { DATAPROC_RULES } from "../../constructs/dataproc-spec";
import { HOST_INSTANCE_RULES } from "../../constructs/host-instance";
import { MLFLOW_BACKEND_RULES } from "../../constructs/mlflow-backend";
import { PropRule } from "../../constructs/prop-rules";
import { deployableRawConfig, REPO_ROOT } from "./deployable";

type Kind =
  | { kind: "string" }
  | { kind: "int"; min: number; max: number }
  | { kind: "bool" }
  | { kind: "cidrs" };

/** A number field's range, as its construct states it (the values outside it must be refused). */
function int(rule: PropRule | undefined): Kind {
  if (rule?.kind !== "int") throw new Error(`not a number rule: ${JSON.stringify(rule)}`);
  return { kind: "int", min: rule.min, max: rule.max };
}

const VM: Record<string, Kind> = {
  cores: int(HOST_INSTANCE_RULES.cores),
  memoryGb: int(HOST_INSTANCE_RULES.memoryGb),
  coreFraction: int(HOST_INSTANCE_RULES.coreFraction),
  diskSizeGb: int(HOST_INSTANCE_RULES.diskSizeGb),
  diskType: { kind: "string" },
  imageFamily: { kind: "string" },
  platformId: { kind: "string" },
  preemptible: { kind: "bool" },
};

/** Every field of the config file, by dotted key. */
const FIELDS: Record<string, Kind> = {
  cloudId: { kind: "string" },
  folderId: { kind: "string" },
  zone: { kind: "string" },
  namePrefix: { kind: "string" },
  adminCidrs: { kind: "cidrs" },
  allowWorldAdminAccess: { kind: "bool" },
  sshPublicKey: { kind: "string" },
  sshUser: { kind: "string" },
  subnetCidr: { kind: "string" },
  bucketName: { kind: "string" },
  pipelineSchedule: { kind: "string" },
  destroyDeletesData: { kind: "bool" },
  "postgres.version": { kind: "string" },
  "postgres.resourcePreset": { kind: "string" },
  "postgres.diskSizeGb": int(MLFLOW_BACKEND_RULES.diskSizeGb),
  "postgres.diskType": { kind: "string" },
  "postgres.backupWindowStartHour": int(MLFLOW_BACKEND_RULES.backupWindowStartHour),
  "postgres.deletionProtection": { kind: "bool" },
  "postgres.backupRetainPeriodDays": int(MLFLOW_BACKEND_RULES.backupRetainPeriodDays),
  ...Object.fromEntries(Object.entries(VM).flatMap(([k, v]) => [[`mlflowVm.${k}`, v], [`airflowVm.${k}`, v]])),
  "dataproc.lifecycle": { kind: "string" },
  "dataproc.imageVersion": { kind: "string" },
  "dataproc.masterResourcePreset": { kind: "string" },
  "dataproc.masterDiskSizeGb": int(DATAPROC_RULES.masterDiskSizeGb),
  "dataproc.dataResourcePreset": { kind: "string" },
  "dataproc.dataDiskSizeGb": int(DATAPROC_RULES.dataDiskSizeGb),
  "dataproc.dataHostsCount": int(DATAPROC_RULES.dataHostsCount),
  "dataproc.computeMaxHostsCount": int(DATAPROC_RULES.computeMaxHostsCount),
  "dataproc.computeResourcePreset": { kind: "string" },
  "dataproc.computeDiskSizeGb": int(DATAPROC_RULES.computeDiskSizeGb),
  "dataproc.diskType": { kind: "string" },
  "dataproc.uiProxy": { kind: "bool" },
  "dataproc.deletionProtection": { kind: "bool" },
  "storage.versioning": { kind: "bool" },
  "storage.noncurrentVersionExpirationDays": int(ARTIFACT_STORAGE_RULES.noncurrentVersionExpirationDays),
  "storage.kmsEncryption": { kind: "bool" },
  "stateBackend.documentApiEndpoint": { kind: "string" },
  "stateBackend.bucket": { kind: "string" },
  "stateBackend.key": { kind: "string" },
  "stateBackend.lockTable": { kind: "string" },
};

const METACHARACTERS = ["$(reboot)", "`id`", ";", "&&", "|", ">", "'", '"', "\\", "\n", "\r\n", "\t", ": ", "- ", "# ", "{", "}", "[", "]", "*", "&a", "!!str", "%", "@", "\u0000", "\u2028", " "];

/** Strings no field accepts: a metacharacter somewhere, or far too long. */
const hostileString = fc.oneof(
  fc
    .tuple(fc.string({ maxLength: 12 }), fc.constantFrom(...METACHARACTERS), fc.string({ maxLength: 12 }))
    .map(([a, m, b]) => `${a}${m}${b}`),
  fc.string({ minLength: 1000, maxLength: 3000 }),
  fc.constant(""),
);
const notAString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }));
const notANumber = fc.oneof(fc.string({ maxLength: 8 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }), fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }));

function badValue(k: Kind): fc.Arbitrary<unknown> {
  switch (k.kind) {
    case "string":
      return fc.oneof(hostileString, notAString);
    case "int":
      return fc.oneof(
        notANumber,
        fc.integer({ min: Number.MIN_SAFE_INTEGER, max: k.min - 1 }),
        fc.integer({ min: k.max + 1, max: Number.MAX_SAFE_INTEGER }),
      );
    case "bool":
      return fc.oneof(fc.constantFrom("true", "false", 0, 1, "yes", null), fc.array(fc.boolean(), { maxLength: 1 }));
    case "cidrs":
      return fc.oneof(notAString.filter((v) => !Array.isArray(v) || v.length === 0), fc.constant([]), fc.array(fc.oneof(hostileString, notAString), { minLength: 1, maxLength: 3 }));
  }
}

/** The deployable config with one field replaced (sections created as needed). */
function withField(key: string, value: unknown): Record<string, unknown> {
  const raw = deployableRawConfig({ stateBackend: { documentApiEndpoint: "https://docapi.serverless.yandexcloud.net/ru-central1/b1gcloud000000000000/etn0000000000000000" } });
  const parts = key.split(".");
  if (parts.length === 1) return { ...raw, [key]: value };
  const section = { ...((raw[parts[0]] as Record<string, unknown>) ?? {}), [parts[1]]: value };
  return { ...raw, [parts[0]]: section };
}

/** The message names the key: `config <key> ...` (a list element as `<key>[i]`). */
function namesKey(message: string, key: string): boolean {
  return message.startsWith(`config ${key} `) || message.startsWith(`config ${key}[`) || message.startsWith(`config ${key}:`);
}

describe("config sweep (generated)", () => {
  it("has a generator for every key the config accepts", () => {
    // the keys validateConfig knows, read from its own "unknown key" message
    const known = (section: string) => {
      try {
        validateConfig(withField(section ? `${section}.zzz` : "zzz", 1));
      } catch (e) {
        return /known keys: (.*)\)$/.exec((e as Error).message)![1].split(", ");
      }
      throw new Error("no unknown-key error");
    };
    const sections = ["postgres", "mlflowVm", "airflowVm", "dataproc", "storage", "stateBackend"];
    const top = known("").filter((k) => !sections.includes(k));
    const nested = sections.flatMap((s) => known(s).map((k) => `${s}.${k}`));
    expect([...top, ...nested].sort()).toEqual(Object.keys(FIELDS).sort());
  });

  it.each(Object.entries(FIELDS))("refuses every generated bad value of %s with a ConfigError naming it", (key, kind) => {
    fc.assert(
      fc.property(badValue(kind), (value) => {
        let error: unknown;
        try {
          validateConfig(withField(key, value));
        } catch (e) {
          error = e;
        }
        if (!(error instanceof ConfigError)) {
          throw new Error(`${key} = ${JSON.stringify(value)?.slice(0, 200)} was ${error ? `refused with ${String(error)}` : "accepted"}`);
        }
        if (!namesKey(error.message, key)) throw new Error(`the error does not name ${key}: ${error.message.slice(0, 300)}`);
      }),
      { numRuns: 40, seed: 9 },
    );
  });

  it("through main.ts: exits non-zero naming the key, and writes nothing", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-sweep-"));
    try {
      // one generated bad value for a few fields of each kind; each run is a full node start
      const picks = ["sshPublicKey", "adminCidrs", "postgres.diskSizeGb", "dataproc.uiProxy", "mlflowVm.imageFamily"];
      fc.assert(
        fc.property(fc.constantFrom(...picks).chain((k) => fc.tuple(fc.constant(k), badValue(FIELDS[k]))), ([key, value]) => {
          const file = path.join(tmp, "config.json");
          fs.writeFileSync(file, JSON.stringify(withField(key, value)));
          const outdir = path.join(tmp, "out");
          const res = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "main.ts"], {
            cwd: REPO_ROOT,
            env: { ...process.env, CDKTF_OUTDIR: outdir, YC_MLOPS_CONFIG: file },
            encoding: "utf8",
          });
          if (res.status === 0 || !res.stderr.startsWith(`error: config ${key}`) || fs.existsSync(outdir)) {
            throw new Error(`${key}=${JSON.stringify(value)?.slice(0, 100)}: exit ${res.status}, stderr ${res.stderr.slice(0, 300)}`);
          }
        }),
        { numRuns: 3, seed: 9 },
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

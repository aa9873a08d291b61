/**
 * The stack's configuration: where it is read from, what it may contain, and how it is checked.
 *
 * Everything a user can set lives in one JSON file (`config.example.json` is the committed example;
 * point `YC_MLOPS_CONFIG` or the cdktf context key `yc-mlops:config` at your own copy). A few values
 * can also come from the environment the Yandex provider already uses (`YC_CLOUD_ID`, `YC_FOLDER_ID`,
 * `YC_ZONE`), so a deploy needs no edits to the file for those. Credentials (`YC_TOKEN`, service
 * account keys) are never part of this config: the provider reads them from its own environment.
 *
 * Validation runs before any construct is created, so a bad value stops `cdktf synth` with an error
 * naming that value and nothing is written to the output directory.
 */
import * as fs from "fs";
import * as path from "path";
import { airflowScheduleProblem } from "./airflow-schedule";
import { APT_DISTROS, aptMirrorsFor } from "./apt-mirrors";
import { FLEET, VERSIONS_FILE } from "./fleet-versions";
import { RemoteStateConfig, STATE_LOCK_TABLE, STATE_OBJECT_KEY, stateBucketName } from "./state-backend";
import { sshPublicKeyProblem } from "./ssh-key";

/** Availability zones a new resource can be placed in (`ru-central1-c` is being shut down). */
export const ZONES = ["ru-central1-a", "ru-central1-b", "ru-central1-d"] as const;
export type Zone = (typeof ZONES)[number];

/** Marker (any case) of values the example config ships with and a real deploy must replace. */
export const PLACEHOLDER_MARKER = "PLACEHOLDER";

/** Environment variable naming the config file; wins over the cdktf context key. */
export const CONFIG_ENV = "YC_MLOPS_CONFIG";
/** cdktf context key (`cdktf.json` "context" or `--context`) naming the config file. */
export const CONFIG_CONTEXT_KEY = "yc-mlops:config";
/** The committed example, used when nothing else is named. */
export const EXAMPLE_CONFIG_FILE = "config.example.json";

/** Address ranges reserved for documentation (RFC 5737): the example uses them as placeholders. */
const DOCUMENTATION_CIDRS = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"];

/**
 * What happens to the Data Proc cluster between pipeline runs (config `dataproc.lifecycle`, the
 * pipeline config's `cluster_lifecycle`): it runs all the time; the DAG starts it before a run and
 * stops it after; or the stack creates none and each DAG run creates one and deletes it.
 */
export const DATAPROC_LIFECYCLES = ["always-on", "stop-between-runs", "per-run"] as const;
export type DataprocLifecycle = (typeof DATAPROC_LIFECYCLES)[number];

/** Label naming who created a resource: the stack (`cdktf`), or the DAG (a per-run cluster). */
export const MANAGED_BY_LABEL = "managed-by";

/** Labels of every resource the stack creates. */
export function resourceLabels(namePrefix: string): Record<string, string> {
  return { project: namePrefix, [MANAGED_BY_LABEL]: "cdktf" };
}

/** A config value that failed validation; the message names the key and the bad value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface PostgresConfig {
  /** Managed PostgreSQL major version. */
  readonly version: string;
  readonly resourcePreset: string;
  readonly diskSizeGb: number;
  readonly diskType: string;
  /** Hour (UTC, 0-23) the daily backup starts. */
  readonly backupWindowStartHour: number;
  /** Days Managed PostgreSQL keeps its automatic backups (7-60). */
  readonly backupRetainPeriodDays: number;
  /** Refuse to delete the cluster and its databases (default: on, unless `destroyDeletesData`). */
  readonly deletionProtection: boolean;
}

/** The artifact bucket's data protection. */
export interface StorageConfig {
  /** Keep overwritten and deleted objects as noncurrent versions. */
  readonly versioning: boolean;
  /** Days a noncurrent version is kept before it expires (with versioning). */
  readonly noncurrentVersionExpirationDays: number;
  /** Encrypt objects with a KMS key the stack creates. */
  readonly kmsEncryption: boolean;
}

export interface VmConfig {
  readonly cores: number;
  readonly memoryGb: number;
  /** Guaranteed vCPU share in percent (20, 50 or 100). */
  readonly coreFraction: number;
  readonly diskSizeGb: number;
  readonly diskType: string;
  /**
   * Image family in the `standard-images` folder. The default is the release the boot test boots
   * (versions.json `vm`); the VM locks are compiled for its Python.
   */
  readonly imageFamily: string;
  readonly platformId: string;
  /** A preemptible VM: cheaper, stopped by Yandex at least once a day (the services come back on start). */
  readonly preemptible: boolean;
}

export interface DataprocConfig {
  /**
   * What happens to the cluster between pipeline runs: `always-on` (the default) runs it all the
   * time; `stop-between-runs` keeps the stack's cluster and its HDFS, started for a run and stopped
   * after; `per-run` creates a cluster for each DAG run and deletes it after.
   */
  readonly lifecycle: DataprocLifecycle;
  /**
   * Data Proc image version; the default is versions.json `dataproc.imageVersion`, pinned (what the
   * tests run: Python 3.11, Spark 3.5); a prefix such as "2.2" takes the newest 2.2.x. Below 2.2.5
   * the image's Python is 3.8, which mlflow 3 does not support.
   */
  readonly imageVersion: string;
  readonly masterResourcePreset: string;
  readonly masterDiskSizeGb: number;
  readonly dataResourcePreset: string;
  readonly dataDiskSizeGb: number;
  readonly dataHostsCount: number;
  /** 0 = no autoscaling compute subcluster. */
  readonly computeMaxHostsCount: number;
  readonly computeResourcePreset: string;
  readonly computeDiskSizeGb: number;
  readonly diskType: string;
  readonly uiProxy: boolean;
  readonly deletionProtection: boolean;
}

/** The validated configuration handed to `MlopsStack`. */
export interface StackConfig {
  readonly cloudId: string;
  readonly folderId: string;
  readonly zone: Zone;
  /** Prefix of every resource name (lower case, digits, dashes). */
  readonly namePrefix: string;
  /** Who may reach 22 and 443 from the internet. */
  readonly adminCidrs: readonly string[];
  /** Must be true to let `adminCidrs` cover more than a /8 (`MAX_ADMIN_ADDRESSES`), e.g. `0.0.0.0/0`. */
  readonly allowWorldAdminAccess: boolean;
  /** OpenSSH public key installed for the VMs' admin and the Data Proc nodes' login user. */
  readonly sshPublicKey: string;
  /**
   * The VMs' admin login (sudo, key only). The Data Proc nodes' login is fixed by their image
   * (`ubuntu`); they get the same key.
   */
  readonly sshUser: string;
  readonly subnetCidr: string;
  /** Bucket name; globally unique in Object Storage. */
  readonly bucketName: string;
  readonly postgres: PostgresConfig;
  readonly mlflowVm: VmConfig;
  readonly airflowVm: VmConfig;
  readonly dataproc: DataprocConfig;
  readonly storage: StorageConfig;
  /**
   * `cdktf destroy` deletes everything, data included: the bucket with every object version, the
   * PostgreSQL cluster and its databases, the KMS key. Off by default: destroy then keeps them.
   */
  readonly destroyDeletesData: boolean;
  /**
   * Keep the Terraform state in Object Storage, locked in YDB (see constructs/state-backend.ts);
   * undefined = a local state file in terraform-state/ (the default, for a first try).
   */
  readonly stateBackend?: RemoteStateConfig;
  /** Cron expression or preset for the pipeline DAG, as Airflow 3.3.2 accepts it (`airflowScheduleProblem`). */
  readonly pipelineSchedule: string;
  /** Dotted keys whose value is still a placeholder from the example file (empty = deployable). */
  readonly placeholders: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// defaults: everything but identity, access and naming has a sensible default.

const VM_DEFAULTS: VmConfig = {
  cores: 2,
  memoryGb: 4,
  coreFraction: 100,
  diskSizeGb: 30,
  diskType: "network-ssd",
  imageFamily: FLEET.vm.imageFamily,
  platformId: "standard-v3",
  preemptible: false,
};

/**
 * The VMs' admin login by default: the Debian image's own default user (cloud.cfg `default_user`),
 * so cloud-init merges our admin into it and the VM has one admin account, not two.
 */
export const DEFAULT_SSH_USER = "debian";

const DEFAULTS = {
  zone: "ru-central1-a",
  namePrefix: "fraud-mlops",
  allowWorldAdminAccess: false,
  sshUser: DEFAULT_SSH_USER,
  subnetCidr: "10.10.0.0/24",
  pipelineSchedule: "@daily",
  postgres: {
    version: "16",
    resourcePreset: "s3-c2-m8",
    diskSizeGb: 20,
    diskType: "network-ssd",
    backupWindowStartHour: 1,
    // Yandex's own default and minimum
    backupRetainPeriodDays: 7,
    // the default follows destroyDeletesData (see validateConfig)
    deletionProtection: true,
  } as PostgresConfig,
  mlflowVm: VM_DEFAULTS,
  airflowVm: { ...VM_DEFAULTS, memoryGb: 8 } as VmConfig,
  dataproc: {
    lifecycle: "always-on",
    imageVersion: FLEET.dataproc.imageVersion,
    masterResourcePreset: "s3-c2-m8",
    masterDiskSizeGb: 40,
    dataResourcePreset: "s3-c4-m16",
    dataDiskSizeGb: 128,
    dataHostsCount: 1,
    computeMaxHostsCount: 0,
    computeResourcePreset: "s3-c4-m16",
    computeDiskSizeGb: 64,
    diskType: "network-ssd",
    uiProxy: true,
    // off: the cluster holds only what the pipeline rebuilds from the bucket (HDFS working data), and
    // a change that recreates the cluster (image version, services) must not be refused
    deletionProtection: false,
  } as DataprocConfig,
  storage: {
    versioning: true,
    noncurrentVersionExpirationDays: 30,
    kmsEncryption: true,
  } as StorageConfig,
  destroyDeletesData: false,
};

const TOP_KEYS = [
  "//", "cloudId", "folderId", "zone", "namePrefix", "adminCidrs", "allowWorldAdminAccess",
  "sshPublicKey", "sshUser", "subnetCidr", "bucketName", "postgres", "mlflowVm", "airflowVm",
  "dataproc", "storage", "pipelineSchedule", "destroyDeletesData", "stateBackend",
];
const STATE_BACKEND_KEYS = ["bucket", "key", "documentApiEndpoint", "lockTable"];

const SECTIONS: Record<string, readonly string[]> = {
  postgres: Object.keys(DEFAULTS.postgres),
  mlflowVm: Object.keys(VM_DEFAULTS),
  airflowVm: Object.keys(VM_DEFAULTS),
  dataproc: Object.keys(DEFAULTS.dataproc),
  storage: Object.keys(DEFAULTS.storage),
  stateBackend: STATE_BACKEND_KEYS,
};

/** Every key a config file may set, dotted (`postgres.version`); each one changes the stack. */
export function configKeys(): string[] {
  return TOP_KEYS.filter((k) => k !== "//").flatMap((k) => (SECTIONS[k] ? SECTIONS[k].map((s) => `${k}.${s}`) : [k]));
}

/** Keys earlier versions of this config had, and where their job went. */
const REMOVED_KEYS: Record<string, string> = {
  versions: `versions are pinned in ${VERSIONS_FILE} and changed with \`make upgrade MLFLOW=x.y.z\` (README, Versions), which re-locks every environment`,
  "dataproc.pipPackages": "the cluster installs jobs/requirements-cluster.txt at the versions of jobs/requirements.lock (README, Versions)",
};

// ---------------------------------------------------------------------------------------------
// small checkers; each error names the dotted key and shows the value as JSON.

type Json = Record<string, unknown>;

function show(value: unknown): string {
  return JSON.stringify(value);
}

function fail(key: string, value: unknown, why: string): never {
  throw new ConfigError(`config ${key} = ${show(value)}: ${why}`);
}

function rejectUnknownKeys(obj: Json, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    const full = where ? `${where}.${k}` : k;
    if (REMOVED_KEYS[full] !== undefined) throw new ConfigError(`config ${full}: this key was removed: ${REMOVED_KEYS[full]}`);
    if (!allowed.includes(k)) {
      throw new ConfigError(
        `config ${where ? where + "." : ""}${k}: unknown key (known keys: ${allowed.filter((a) => a !== "//").join(", ")})`,
      );
    }
  }
}

function requiredString(obj: Json, key: string, where = ""): string {
  const full = where ? `${where}.${key}` : key;
  const v = obj[key];
  if (v === undefined || v === null || v === "") {
    throw new ConfigError(`config ${full} is required but missing`);
  }
  if (typeof v !== "string") fail(full, v, "must be a string");
  return v;
}

function optString(obj: Json, key: string, dflt: string, where = ""): string {
  const v = obj[key];
  if (v === undefined) return dflt;
  if (typeof v !== "string" || v === "") fail(where ? `${where}.${key}` : key, v, "must be a non-empty string");
  return v;
}

/**
 * A Yandex Cloud name taken as is by the provider (resource preset, disk type, platform, image
 * family): lower-case letters, digits, '.', '-', '_', at most 63 characters.
 */
function optCloudName(obj: Json, key: string, dflt: string, where = ""): string {
  const v = optString(obj, key, dflt, where);
  if (!/^[a-z][a-z0-9._-]{0,62}$/.test(v)) {
    fail(where ? `${where}.${key}` : key, v, "must be a Yandex Cloud name: a-z, 0-9, '.', '_', '-', starting with a letter, at most 63 characters");
  }
  return v;
}

function optBool(obj: Json, key: string, dflt: boolean, where = ""): boolean {
  const v = obj[key];
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") fail(where ? `${where}.${key}` : key, v, "must be true or false");
  return v;
}

function optInt(obj: Json, key: string, dflt: number, min: number, max: number, where = ""): number {
  const v = obj[key];
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(where ? `${where}.${key}` : key, v, `must be a whole number from ${min} to ${max}`);
  }
  return v;
}

function optSection(obj: Json, key: string): Json {
  const v = obj[key];
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(key, v, "must be an object");
  return v as Json;
}

/** Parses `a.b.c.d/n`; returns the address as a 32-bit number and the prefix length. */
export function parseCidr(cidr: string): { address: number; prefix: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  if (m.slice(1, 5).some((o) => o.length > 1 && o.startsWith("0"))) return undefined;
  const address = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  return { address, prefix };
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function formatAddress(a: number): string {
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join(".");
}

function checkCidr(key: string, value: unknown): string {
  if (typeof value !== "string") fail(key, value, "must be a CIDR string like 198.51.100.7/32");
  const parsed = parseCidr(value);
  if (!parsed) fail(key, value, "is not a valid IPv4 CIDR (expected a.b.c.d/n with n from 0 to 32)");
  const network = (parsed.address & maskOf(parsed.prefix)) >>> 0;
  if (network !== parsed.address) {
    fail(key, value, `has host bits set; did you mean ${formatAddress(network)}/${parsed.prefix}?`);
  }
  return value;
}

function inCidr(inner: string, outer: string): boolean {
  const a = parseCidr(inner)!;
  const b = parseCidr(outer)!;
  return a.prefix >= b.prefix && ((a.address & maskOf(b.prefix)) >>> 0) === b.address;
}

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/**
 * The most address space `adminCidrs` may cover, together, without `allowWorldAdminAccess`: one /8
 * (16,777,216 addresses, 1/256 of IPv4). The largest blocks ever allocated to a single organisation
 * are /8s, so no admin network needs more; a list that covers more opens SSH and HTTPS to a large
 * part of the internet, whatever its text (`0.0.0.0/1` + `128.0.0.0/1` is the whole internet).
 */
export const MAX_ADMIN_ADDRESSES = 2 ** 24;

/** How many IPv4 addresses the CIDRs cover together (overlaps counted once). */
export function addressesCovered(cidrs: readonly string[]): number {
  const ranges = cidrs
    .map((c) => parseCidr(c)!)
    .map(({ address, prefix }) => {
      const start = (address & maskOf(prefix)) >>> 0;
      return [start, start + 2 ** (32 - prefix)] as const; // [start, end)
    })
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let reached = 0; // everything below this address is counted
  for (const [start, end] of ranges) {
    if (end > reached) {
      total += end - Math.max(start, reached);
      reached = end;
    }
  }
  return total;
}

function isPlaceholder(value: string): boolean {
  return value.toUpperCase().includes(PLACEHOLDER_MARKER);
}

function readVm(raw: Json, key: string, dflt: VmConfig): VmConfig {
  const s = optSection(raw, key);
  rejectUnknownKeys(s, Object.keys(VM_DEFAULTS), key);
  const coreFraction = optInt(s, "coreFraction", dflt.coreFraction, 5, 100, key);
  if (![5, 20, 50, 100].includes(coreFraction)) fail(`${key}.coreFraction`, coreFraction, "must be 5, 20, 50 or 100");
  const imageFamily = optCloudName(s, "imageFamily", dflt.imageFamily, key);
  if (!aptMirrorsFor(imageFamily)) {
    fail(`${key}.imageFamily`, imageFamily, `must be a ${APT_DISTROS.join(" or ")} family such as debian-12 or ubuntu-2404-lts (the hosts use apt, systemd and cloud-init)`);
  }
  return {
    cores: optInt(s, "cores", dflt.cores, 2, 96, key),
    memoryGb: optInt(s, "memoryGb", dflt.memoryGb, 1, 640, key),
    coreFraction,
    diskSizeGb: optInt(s, "diskSizeGb", dflt.diskSizeGb, 10, 4096, key),
    diskType: optCloudName(s, "diskType", dflt.diskType, key),
    imageFamily,
    platformId: optCloudName(s, "platformId", dflt.platformId, key),
    preemptible: optBool(s, "preemptible", dflt.preemptible, key),
  };
}

/**
 * Checks a raw config object and fills in defaults.
 *
 * @param raw the parsed JSON file
 * @param env environment overrides (`YC_CLOUD_ID`, `YC_FOLDER_ID`, `YC_ZONE`)
 * @throws ConfigError naming the first bad key and its value
 */
export function validateConfig(raw: unknown, env: NodeJS.ProcessEnv = {}): StackConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`config must be a JSON object, got ${show(raw)}`);
  }
  const r = raw as Json;
  rejectUnknownKeys(r, TOP_KEYS, "");
  const placeholders: string[] = [];

  // identity: the environment the provider uses wins over the file.
  const withEnv = { ...r };
  if (env.YC_CLOUD_ID) withEnv.cloudId = env.YC_CLOUD_ID;
  if (env.YC_FOLDER_ID) withEnv.folderId = env.YC_FOLDER_ID;
  if (env.YC_ZONE) withEnv.zone = env.YC_ZONE;
  const cloudId = requiredString(withEnv, "cloudId");
  const folderId = requiredString(withEnv, "folderId");
  for (const [k, v] of [["cloudId", cloudId], ["folderId", folderId]] as const) {
    if (!/^[a-z0-9]{20}$/.test(v)) fail(k, v, "is not a Yandex Cloud id (20 lower-case letters and digits)");
    if (isPlaceholder(v)) placeholders.push(k);
  }

  const zone = optString(withEnv, "zone", DEFAULTS.zone);
  if (!(ZONES as readonly string[]).includes(zone)) {
    fail("zone", zone, `unknown zone; use one of ${ZONES.join(", ")} (ru-central1-c is discontinued)`);
  }

  const namePrefix = optString(r, "namePrefix", DEFAULTS.namePrefix);
  // service account names allow 63 characters; the longest suffix we append is 9 ("-dataproc").
  if (!/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/.test(namePrefix)) {
    fail("namePrefix", namePrefix, "must start with a letter, use a-z, 0-9 and '-', end with a letter or digit, at most 40 characters");
  }

  // access from the internet.
  const allowWorldAdminAccess = optBool(r, "allowWorldAdminAccess", DEFAULTS.allowWorldAdminAccess);
  const cidrsRaw = r.adminCidrs;
  if (cidrsRaw === undefined) throw new ConfigError("config adminCidrs is required but missing (list the CIDRs allowed to reach ports 22 and 443)");
  if (!Array.isArray(cidrsRaw) || cidrsRaw.length === 0) fail("adminCidrs", cidrsRaw, "must be a non-empty list of CIDRs");
  const adminCidrs = cidrsRaw.map((c, i) => checkCidr(`adminCidrs[${i}]`, c));
  adminCidrs.forEach((c, i) => {
    if (c === "0.0.0.0/0" && !allowWorldAdminAccess) {
      fail(`adminCidrs[${i}]`, c, "opens SSH and HTTPS to the whole internet; set allowWorldAdminAccess: true if you really mean it");
    }
    if (DOCUMENTATION_CIDRS.some((d) => inCidr(c, d))) placeholders.push(`adminCidrs[${i}]`);
  });
  // decided by the address space covered, not by the text: any split of the internet is caught too
  const covered = addressesCovered(adminCidrs);
  if (covered > MAX_ADMIN_ADDRESSES && !allowWorldAdminAccess) {
    fail("adminCidrs", adminCidrs,
      `together cover ${covered.toLocaleString("en-US")} addresses (${(covered / 2 ** 32 * 100).toFixed(2)}% of IPv4), ` +
      `more than a /8 (${MAX_ADMIN_ADDRESSES.toLocaleString("en-US")}); that opens SSH and HTTPS to a large part of the internet. ` +
      "List your own networks, or set allowWorldAdminAccess: true if you really mean it");
  }

  const sshPublicKey = requiredString(r, "sshPublicKey").trim();
  if (isPlaceholder(sshPublicKey)) placeholders.push("sshPublicKey");
  const keyProblem = sshPublicKeyProblem(sshPublicKey);
  if (keyProblem) fail("sshPublicKey", sshPublicKey.length > 60 ? sshPublicKey.slice(0, 60) + "..." : sshPublicKey, keyProblem);
  const sshUser = optString(r, "sshUser", DEFAULTS.sshUser);
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(sshUser) || sshUser === "root") {
    fail("sshUser", sshUser, "must be a non-root Linux user name");
  }

  // `?? default` would take an explicit null for "use the default": only a missing key is
  const subnetCidr = checkCidr("subnetCidr", r.subnetCidr === undefined ? DEFAULTS.subnetCidr : r.subnetCidr);
  const subnetPrefix = parseCidr(subnetCidr)!.prefix;
  if (subnetPrefix < 16 || subnetPrefix > 28) fail("subnetCidr", subnetCidr, "a Yandex subnet must be from /16 to /28");
  if (!PRIVATE_RANGES.some((p) => inCidr(subnetCidr, p))) {
    fail("subnetCidr", subnetCidr, `must be inside a private range (${PRIVATE_RANGES.join(", ")})`);
  }

  const bucketName = optString(r, "bucketName", `${namePrefix}-${folderId}`.toLowerCase());
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucketName) || bucketName.includes("..")) {
    fail("bucketName", bucketName, "must be 3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit");
  }
  if (isPlaceholder(bucketName)) placeholders.push("bucketName");

  // the one switch that lets `cdktf destroy` delete data; protection defaults follow it, and an
  // explicit protection that contradicts it is refused rather than silently overridden.
  const destroyDeletesData = optBool(r, "destroyDeletesData", DEFAULTS.destroyDeletesData);
  const protection = (section: Json, where: string, dflt: boolean): boolean => {
    const value = optBool(section, "deletionProtection", destroyDeletesData ? false : dflt, where);
    if (value && destroyDeletesData) {
      fail(`${where}.deletionProtection`, value, "contradicts destroyDeletesData: true (which makes cdktf destroy delete everything); drop one of them");
    }
    return value;
  };

  const pg = optSection(r, "postgres");
  rejectUnknownKeys(pg, Object.keys(DEFAULTS.postgres), "postgres");
  const pgVersion = optString(pg, "version", DEFAULTS.postgres.version, "postgres");
  if (!["15", "16", "17", "18"].includes(pgVersion)) fail("postgres.version", pgVersion, "must be one of 15, 16, 17, 18");
  const postgres: PostgresConfig = {
    version: pgVersion,
    resourcePreset: optCloudName(pg, "resourcePreset", DEFAULTS.postgres.resourcePreset, "postgres"),
    diskSizeGb: optInt(pg, "diskSizeGb", DEFAULTS.postgres.diskSizeGb, 10, 4096, "postgres"),
    diskType: optCloudName(pg, "diskType", DEFAULTS.postgres.diskType, "postgres"),
    backupWindowStartHour: optInt(pg, "backupWindowStartHour", DEFAULTS.postgres.backupWindowStartHour, 0, 23, "postgres"),
    // Managed PostgreSQL keeps automatic backups for 7 to 60 days
    backupRetainPeriodDays: optInt(pg, "backupRetainPeriodDays", DEFAULTS.postgres.backupRetainPeriodDays, 7, 60, "postgres"),
    deletionProtection: protection(pg, "postgres", DEFAULTS.postgres.deletionProtection),
  };

  const dp = optSection(r, "dataproc");
  rejectUnknownKeys(dp, Object.keys(DEFAULTS.dataproc), "dataproc");
  const D = DEFAULTS.dataproc;
  const imageVersion = optString(dp, "imageVersion", D.imageVersion, "dataproc");
  const image = /^2\.(\d+)(?:\.(\d+))?$/.exec(imageVersion);
  if (!image) fail("dataproc.imageVersion", imageVersion, "must be a 2.x image version such as 2.2.9");
  // the jobs need Python >= 3.10 (mlflow 3): 2.0 and 2.1 have Python 3.8; 3.11 is documented from 2.2.5
  const [minor, patch] = [Number(image[1]), image[2] === undefined ? Infinity : Number(image[2])];
  if (minor < 2 || (minor === 2 && patch < 5)) {
    fail("dataproc.imageVersion", imageVersion, "must be 2.2.5 or later (Python 3.11; images 2.0 and 2.1 have Python 3.8, which mlflow 3 does not support)");
  }
  const lifecycle = optString(dp, "lifecycle", D.lifecycle, "dataproc");
  if (!(DATAPROC_LIFECYCLES as readonly string[]).includes(lifecycle)) {
    fail("dataproc.lifecycle", lifecycle, `must be one of ${DATAPROC_LIFECYCLES.join(", ")}`);
  }
  const dataproc: DataprocConfig = {
    lifecycle: lifecycle as DataprocLifecycle,
    imageVersion,
    masterResourcePreset: optCloudName(dp, "masterResourcePreset", D.masterResourcePreset, "dataproc"),
    masterDiskSizeGb: optInt(dp, "masterDiskSizeGb", D.masterDiskSizeGb, 20, 4096, "dataproc"),
    dataResourcePreset: optCloudName(dp, "dataResourcePreset", D.dataResourcePreset, "dataproc"),
    dataDiskSizeGb: optInt(dp, "dataDiskSizeGb", D.dataDiskSizeGb, 20, 8192, "dataproc"),
    dataHostsCount: optInt(dp, "dataHostsCount", D.dataHostsCount, 1, 32, "dataproc"),
    computeMaxHostsCount: optInt(dp, "computeMaxHostsCount", D.computeMaxHostsCount, 0, 100, "dataproc"),
    computeResourcePreset: optCloudName(dp, "computeResourcePreset", D.computeResourcePreset, "dataproc"),
    computeDiskSizeGb: optInt(dp, "computeDiskSizeGb", D.computeDiskSizeGb, 20, 8192, "dataproc"),
    diskType: optCloudName(dp, "diskType", D.diskType, "dataproc"),
    uiProxy: optBool(dp, "uiProxy", D.uiProxy, "dataproc"),
    deletionProtection: protection(dp, "dataproc", D.deletionProtection),
  };
  if (dataproc.lifecycle === "per-run" && dataproc.deletionProtection) {
    fail("dataproc.deletionProtection", true, "a per-run cluster is deleted after every run; protect nothing, or choose lifecycle always-on or stop-between-runs");
  }

  const st = optSection(r, "storage");
  rejectUnknownKeys(st, Object.keys(DEFAULTS.storage), "storage");
  const storage: StorageConfig = {
    versioning: optBool(st, "versioning", DEFAULTS.storage.versioning, "storage"),
    noncurrentVersionExpirationDays: optInt(st, "noncurrentVersionExpirationDays", DEFAULTS.storage.noncurrentVersionExpirationDays, 1, 3650, "storage"),
    kmsEncryption: optBool(st, "kmsEncryption", DEFAULTS.storage.kmsEncryption, "storage"),
  };
  if (st.noncurrentVersionExpirationDays !== undefined && !storage.versioning) {
    fail("storage.noncurrentVersionExpirationDays", st.noncurrentVersionExpirationDays, "has no effect with storage.versioning: false; drop it or turn versioning on");
  }

  let stateBackend: RemoteStateConfig | undefined;
  if (r.stateBackend !== undefined) {
    const sb = optSection(r, "stateBackend");
    rejectUnknownKeys(sb, STATE_BACKEND_KEYS, "stateBackend");
    const endpoint = requiredString(sb, "documentApiEndpoint", "stateBackend");
    // e.g. https://docapi.serverless.yandexcloud.net/ru-central1/b1g.../etn... (output of yc-mlops-state)
    if (!/^https:\/\/docapi\.serverless\.yandexcloud\.net\/[a-z0-9-]+\/[a-z0-9]+\/[a-z0-9]+$/.test(endpoint)) {
      fail("stateBackend.documentApiEndpoint", endpoint, "is not a YDB Document API endpoint (https://docapi.serverless.yandexcloud.net/<region>/<cloud>/<database>; see the state_backend output of yc-mlops-state)");
    }
    const bucket = optString(sb, "bucket", stateBucketName(namePrefix, folderId), "stateBackend");
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes("..")) {
      fail("stateBackend.bucket", bucket, "must be 3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit");
    }
    const key = optString(sb, "key", STATE_OBJECT_KEY, "stateBackend");
    if (!/^[A-Za-z0-9][A-Za-z0-9._\/-]{0,1023}$/.test(key) || key.split("/").includes("..")) {
      fail("stateBackend.key", key, "must be an object key of letters, digits, '.', '_', '-' and '/'");
    }
    const lockTable = optString(sb, "lockTable", STATE_LOCK_TABLE, "stateBackend");
    if (!/^[A-Za-z0-9_.-]{3,255}$/.test(lockTable)) {
      fail("stateBackend.lockTable", lockTable, "must be 3-255 letters, digits, '_', '.' or '-' (a DynamoDB table name)");
    }
    stateBackend = { bucket, key, documentApiEndpoint: endpoint, lockTable };
  }

  const pipelineSchedule = optString(r, "pipelineSchedule", DEFAULTS.pipelineSchedule);
  const scheduleProblem = airflowScheduleProblem(pipelineSchedule);
  if (scheduleProblem) fail("pipelineSchedule", pipelineSchedule, scheduleProblem);

  return {
    cloudId,
    folderId,
    zone: zone as Zone,
    namePrefix,
    adminCidrs,
    allowWorldAdminAccess,
    sshPublicKey,
    sshUser,
    subnetCidr,
    bucketName,
    postgres,
    mlflowVm: readVm(r, "mlflowVm", DEFAULTS.mlflowVm),
    airflowVm: readVm(r, "airflowVm", DEFAULTS.airflowVm),
    dataproc,
    storage,
    destroyDeletesData,
    pipelineSchedule,
    stateBackend,
    placeholders,
  };
}

export interface LoadConfigOptions {
  /** Path named by the cdktf context key `yc-mlops:config`. @default - none */
  readonly contextPath?: string;
  /** Environment to read `YC_MLOPS_CONFIG` and the `YC_*` overrides from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Directory relative paths are resolved against. @default - the repository root */
  readonly baseDir?: string;
}

/**
 * Finds, parses and validates the config file: `$YC_MLOPS_CONFIG`, else the context path, else the
 * committed `config.example.json`.
 *
 * @returns the validated config and the file it came from
 * @throws ConfigError for a missing/unreadable file, bad JSON or any invalid value
 */
export function loadConfig(opts: LoadConfigOptions = {}): { config: StackConfig; file: string } {
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? path.resolve(__dirname, "..");
  const named = env[CONFIG_ENV] || opts.contextPath || EXAMPLE_CONFIG_FILE;
  const file = path.resolve(baseDir, named);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`config file ${show(file)} cannot be read: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${show(file)} is not valid JSON: ${(e as Error).message}`);
  }
  return { config: validateConfig(raw, env), file };
}

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
 * naming that value and nothing is written to the output directory. The rules are the constructs'
 * own (`*_RULES` next to each construct's props), applied here with the config key's name.
 *
 * Defaults: a key the file leaves out stays undefined in `StackConfig`, and the construct it goes to
 * applies its documented `@default` (its exported `*_DEFAULTS`). Only the stack-wide values no
 * construct has as an optional prop are filled in here (`STACK_DEFAULTS`). `configDefaults()` lists
 * every key's default, read from its owner, for the README and the tools.
 */
import * as fs from "fs";
import * as path from "path";
import { AIRFLOW_HOST_DEFAULTS } from "./airflow-host";
import { airflowScheduleProblem } from "./airflow-schedule";
import { APT_DISTROS, aptMirrorsFor } from "./apt-mirrors";
import { ARTIFACT_STORAGE_DEFAULTS, ARTIFACT_STORAGE_RULES, ArtifactStorageProps } from "./artifact-storage";
import { DATAPROC_DEFAULTS, DATAPROC_RULES, DataprocLifecycle, DataprocSpecProps } from "./dataproc-spec";
import { VERSIONS_FILE } from "./fleet-versions";
import { HOST_INSTANCE_DEFAULTS, HOST_INSTANCE_RULES, HostInstanceProps } from "./host-instance";
import { MLFLOW_BACKEND_DEFAULTS, MLFLOW_BACKEND_RULES, MlflowBackendProps } from "./mlflow-backend";
import { NETWORK_DEFAULTS } from "./network";
import { PIPELINE_DEFAULTS } from "./pipeline-config";
import { PropRule, propRuleProblem } from "./prop-rules";
import { adminUserProblem, DEFAULT_ADMIN_USER, sshPublicKeyProblem } from "./ssh-key";
import { RemoteStateConfig, STATE_LOCK_TABLE, STATE_OBJECT_KEY, stateBucketName } from "./state-backend";

export { DATAPROC_LIFECYCLES } from "./dataproc-spec";
export type { DataprocLifecycle } from "./dataproc-spec";

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

/** Label naming who created a resource: the stack (`cdktf`), or the DAG (a per-run cluster). */
export const MANAGED_BY_LABEL = "managed-by";

/**
 * A deletion protection as the stack passes it to its construct: the user's value, else off with
 * `destroyDeletesData`, else undefined (the construct's default).
 */
export function protectionUnlessDestroyDeletesData(cfg: Pick<StackConfig, "destroyDeletesData">, protection: boolean | undefined): boolean | undefined {
  return protection ?? (cfg.destroyDeletesData ? false : undefined);
}

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

/**
 * `postgres.*`: the props of `MlflowBackend` a user may set (`version` is its `postgresVersion`);
 * undefined = the construct's default (`MLFLOW_BACKEND_DEFAULTS`).
 */
export type PostgresConfig = Readonly<Partial<{ version: string } & Pick<MlflowBackendProps,
  "resourcePreset" | "diskSizeGb" | "diskType" | "backupWindowStartHour" | "backupRetainPeriodDays" | "deletionProtection">>>;

/** `storage.*`: the bucket's data protection (`ArtifactStorage`); undefined = `ARTIFACT_STORAGE_DEFAULTS`. */
export type StorageConfig = Readonly<Pick<ArtifactStorageProps, "versioning" | "noncurrentVersionExpirationDays" | "kmsEncryption">>;

/**
 * `mlflowVm.*`, `airflowVm.*`: the VM's size and image (`createHostInstance`); undefined =
 * `HOST_INSTANCE_DEFAULTS` (and `AIRFLOW_HOST_DEFAULTS` for the Airflow VM).
 */
export type VmConfig = Readonly<Pick<HostInstanceProps,
  "cores" | "memoryGb" | "coreFraction" | "diskSizeGb" | "diskType" | "imageFamily" | "platformId" | "preemptible">>;

/**
 * `dataproc.*`: the cluster's settings (`DataprocCluster`, `dataprocClusterSpec`); undefined =
 * `DATAPROC_DEFAULTS`.
 */
export type DataprocConfig = Readonly<{ lifecycle?: DataprocLifecycle } & Pick<DataprocSpecProps,
  "imageVersion" | "masterResourcePreset" | "masterDiskSizeGb" | "dataResourcePreset" | "dataDiskSizeGb" | "dataHostsCount"
  | "computeMaxHostsCount" | "computeResourcePreset" | "computeDiskSizeGb" | "diskType" | "uiProxy" | "deletionProtection">>;

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
   * The VMs' admin login (sudo, key only); undefined = the hosts' `DEFAULT_ADMIN_USER`. The Data
   * Proc nodes' login is fixed by their image (`ubuntu`); they get the same key.
   */
  readonly sshUser?: string;
  /** The subnet; undefined = `NETWORK_DEFAULTS.subnetCidr`. */
  readonly subnetCidr?: string;
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
  /**
   * Cron expression or preset for the pipeline DAG, as Airflow 3.3.2 accepts it
   * (`airflowScheduleProblem`); undefined = `PIPELINE_DEFAULTS.schedule`.
   */
  readonly pipelineSchedule?: string;
  /** Dotted keys whose value is still a placeholder from the example file (empty = deployable). */
  readonly placeholders: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// the keys, each with its rule and where its default lives.

/**
 * The stack-wide values no construct has as an optional prop (every construct is given them), and
 * that other keys are checked against (`bucketName` and `stateBackend.bucket` derive from
 * `namePrefix`; `adminCidrs` from `allowWorldAdminAccess`; the deletion protections from
 * `destroyDeletesData`): the loader fills these in.
 */
export const STACK_DEFAULTS = {
  zone: "ru-central1-a" as Zone,
  namePrefix: "fraud-mlops",
  allowWorldAdminAccess: false,
  destroyDeletesData: false,
} as const;

/** One key of a config section: its construct's rule and default (read from the construct's constants). */
interface SectionKey {
  readonly rule: PropRule;
  readonly default: unknown;
}

function sectionKeys<P extends object>(rules: { readonly [K in keyof P]?: PropRule }, defaults: Partial<Record<keyof P, unknown>>, keys: readonly (keyof P & string)[]): Record<string, SectionKey> {
  return Object.fromEntries(keys.map((k) => [k, { rule: rules[k]!, default: defaults[k] }]));
}

const VM_KEYS = ["cores", "memoryGb", "coreFraction", "diskSizeGb", "diskType", "imageFamily", "platformId", "preemptible"] as const;

/** The sections and their keys (built on first use: the rule modules import this one too). */
let sectionsCache: Record<string, Record<string, SectionKey>> | undefined;
function sections(): Record<string, Record<string, SectionKey>> {
  if (sectionsCache) return sectionsCache;
  const pg = MLFLOW_BACKEND_RULES;
  const pgd = MLFLOW_BACKEND_DEFAULTS;
  sectionsCache = {
    postgres: {
      // the config's `version` is the construct's `postgresVersion`
      version: { rule: pg.postgresVersion!, default: pgd.postgresVersion },
      ...sectionKeys(pg, pgd, ["resourcePreset", "diskSizeGb", "diskType", "backupWindowStartHour", "backupRetainPeriodDays", "deletionProtection"]),
    },
    mlflowVm: sectionKeys(HOST_INSTANCE_RULES, HOST_INSTANCE_DEFAULTS, VM_KEYS),
    airflowVm: sectionKeys(HOST_INSTANCE_RULES, { ...HOST_INSTANCE_DEFAULTS, ...AIRFLOW_HOST_DEFAULTS }, VM_KEYS),
    dataproc: sectionKeys(DATAPROC_RULES, DATAPROC_DEFAULTS, [
      "lifecycle", "imageVersion", "masterResourcePreset", "masterDiskSizeGb", "dataResourcePreset", "dataDiskSizeGb",
      "dataHostsCount", "computeMaxHostsCount", "computeResourcePreset", "computeDiskSizeGb", "diskType", "uiProxy", "deletionProtection",
    ]),
    storage: sectionKeys(ARTIFACT_STORAGE_RULES, ARTIFACT_STORAGE_DEFAULTS, ["versioning", "noncurrentVersionExpirationDays", "kmsEncryption"]),
  };
  return sectionsCache;
}

const TOP_KEYS = [
  "//", "cloudId", "folderId", "zone", "namePrefix", "adminCidrs", "allowWorldAdminAccess",
  "sshPublicKey", "sshUser", "subnetCidr", "bucketName", "postgres", "mlflowVm", "airflowVm",
  "dataproc", "storage", "pipelineSchedule", "destroyDeletesData", "stateBackend",
];
const STATE_BACKEND_KEYS = ["bucket", "key", "documentApiEndpoint", "lockTable"];

function sectionKeyNames(section: string): readonly string[] | undefined {
  return section === "stateBackend" ? STATE_BACKEND_KEYS : sections()[section] && Object.keys(sections()[section]);
}

/** Every key a config file may set, dotted (`postgres.version`); each one changes the stack. */
export function configKeys(): string[] {
  return TOP_KEYS.filter((k) => k !== "//").flatMap((k) => sectionKeyNames(k)?.map((s) => `${k}.${s}`) ?? [k]);
}

/**
 * The default of every optional key (dotted), read from where it is owned: the construct's
 * `*_DEFAULTS` (applied by the construct when the key is left out) or `STACK_DEFAULTS`. Keys without
 * a fixed default are left out: `bucketName` (`<namePrefix>-<folderId>`) and `stateBackend.*`
 * (the bootstrap stack's names, `constructs/state-backend.ts`).
 */
export function configDefaults(): Record<string, unknown> {
  return {
    ...STACK_DEFAULTS,
    sshUser: DEFAULT_ADMIN_USER,
    subnetCidr: NETWORK_DEFAULTS.subnetCidr,
    pipelineSchedule: PIPELINE_DEFAULTS.schedule,
    ...Object.fromEntries(Object.entries(sections()).flatMap(([section, keys]) =>
      Object.entries(keys).map(([k, spec]) => [`${section}.${k}`, spec.default]))),
  };
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

function optString<D extends string | undefined>(obj: Json, key: string, dflt: D, where = ""): string | D {
  const v = obj[key];
  if (v === undefined) return dflt;
  if (typeof v !== "string" || v === "") fail(where ? `${where}.${key}` : key, v, "must be a non-empty string");
  return v;
}

function optBool(obj: Json, key: string, dflt: boolean, where = ""): boolean {
  const v = obj[key];
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") fail(where ? `${where}.${key}` : key, v, "must be true or false");
  return v;
}

/**
 * The keys of one section the file sets, each checked by its construct's rule; keys left out stay
 * undefined (the construct applies its default).
 */
function readSection(raw: Json, section: string): Record<string, unknown> {
  const s = optSection(raw, section);
  const keys = sections()[section];
  rejectUnknownKeys(s, Object.keys(keys), section);
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(keys)) {
    if (s[k] === undefined) continue;
    const problem = propRuleProblem(spec.rule, s[k]);
    if (problem) fail(`${section}.${k}`, s[k], problem);
    out[k] = s[k];
  }
  return out;
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

function readVm(raw: Json, key: string): VmConfig {
  const vm = readSection(raw, key) as VmConfig;
  if (vm.imageFamily !== undefined && !aptMirrorsFor(vm.imageFamily)) {
    fail(`${key}.imageFamily`, vm.imageFamily, `must be a ${APT_DISTROS.join(" or ")} family such as debian-12 or ubuntu-2404-lts (the hosts use apt, systemd and cloud-init)`);
  }
  return vm;
}

/**
 * Checks a raw config object; fills in only `STACK_DEFAULTS` (and the derived `bucketName`,
 * `stateBackend.*` names): every other key left out stays undefined for its construct's default.
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

  const zone = optString(withEnv, "zone", STACK_DEFAULTS.zone);
  if (!(ZONES as readonly string[]).includes(zone)) {
    fail("zone", zone, `unknown zone; use one of ${ZONES.join(", ")} (ru-central1-c is discontinued)`);
  }

  const namePrefix = optString(r, "namePrefix", STACK_DEFAULTS.namePrefix);
  // service account names allow 63 characters; the longest suffix we append is 9 ("-dataproc").
  if (!/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/.test(namePrefix)) {
    fail("namePrefix", namePrefix, "must start with a letter, use a-z, 0-9 and '-', end with a letter or digit, at most 40 characters");
  }

  // access from the internet.
  const allowWorldAdminAccess = optBool(r, "allowWorldAdminAccess", STACK_DEFAULTS.allowWorldAdminAccess);
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
  const sshUser = optString(r, "sshUser", undefined);
  const userProblem = sshUser === undefined ? undefined : adminUserProblem(sshUser);
  if (userProblem) fail("sshUser", sshUser, userProblem);

  // an explicit null is checked (and refused), not taken for "use the default": only a missing key is
  const subnetCidr = r.subnetCidr === undefined ? undefined : checkCidr("subnetCidr", r.subnetCidr);
  if (subnetCidr !== undefined) {
    const subnetPrefix = parseCidr(subnetCidr)!.prefix;
    if (subnetPrefix < 16 || subnetPrefix > 28) fail("subnetCidr", subnetCidr, "a Yandex subnet must be from /16 to /28");
    if (!PRIVATE_RANGES.some((p) => inCidr(subnetCidr, p))) {
      fail("subnetCidr", subnetCidr, `must be inside a private range (${PRIVATE_RANGES.join(", ")})`);
    }
  }

  const bucketName = optString(r, "bucketName", `${namePrefix}-${folderId}`.toLowerCase());
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucketName) || bucketName.includes("..")) {
    fail("bucketName", bucketName, "must be 3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit");
  }
  if (isPlaceholder(bucketName)) placeholders.push("bucketName");

  // the one switch that lets `cdktf destroy` delete data; the stack turns the protections off with
  // it (where the user set none), and an explicit protection that contradicts it is refused rather
  // than silently overridden.
  const destroyDeletesData = optBool(r, "destroyDeletesData", STACK_DEFAULTS.destroyDeletesData);
  const checkProtection = (section: { deletionProtection?: boolean }, where: string): void => {
    if (section.deletionProtection && destroyDeletesData) {
      fail(`${where}.deletionProtection`, true, "contradicts destroyDeletesData: true (which makes cdktf destroy delete everything); drop one of them");
    }
  };

  const postgres = readSection(r, "postgres") as PostgresConfig;
  checkProtection(postgres, "postgres");

  const dataproc = readSection(r, "dataproc") as DataprocConfig;
  checkProtection(dataproc, "dataproc");
  const lifecycle = dataproc.lifecycle ?? DATAPROC_DEFAULTS.lifecycle;
  if (lifecycle === "per-run" && (protectionUnlessDestroyDeletesData({ destroyDeletesData }, dataproc.deletionProtection) ?? DATAPROC_DEFAULTS.deletionProtection)) {
    fail("dataproc.deletionProtection", true, "a per-run cluster is deleted after every run; protect nothing, or choose lifecycle always-on or stop-between-runs");
  }

  const storage = readSection(r, "storage") as StorageConfig;
  if (storage.noncurrentVersionExpirationDays !== undefined && !(storage.versioning ?? ARTIFACT_STORAGE_DEFAULTS.versioning)) {
    fail("storage.noncurrentVersionExpirationDays", storage.noncurrentVersionExpirationDays, "has no effect with storage.versioning: false; drop it or turn versioning on");
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

  const pipelineSchedule = optString(r, "pipelineSchedule", undefined);
  const scheduleProblem = pipelineSchedule === undefined ? undefined : airflowScheduleProblem(pipelineSchedule);
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
    mlflowVm: readVm(r, "mlflowVm"),
    airflowVm: readVm(r, "airflowVm"),
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

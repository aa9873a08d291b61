import "cdktf/lib/testing/adapters/jest";
import { ConfigError, configKeys, validateConfig } from "../../constructs/config";
import { deployableRawConfig, synthStack } from "./fixtures";

// cdktf records a creation stack trace for every token, for its error messages; under jest each is
// source-mapped, which is ~60% of a synth. These synths (one per key, and its base) only compare their output: no traces
// while they run (cdktf calls the module's export at each use, so replacing it is enough).
const stackTraces = require("cdktf/lib/tokens/private/stack-trace") as { captureStackTrace: () => string[] };
const captureStackTrace = stackTraces.captureStackTrace;
beforeAll(() => (stackTraces.captureStackTrace = () => []));
afterAll(() => (stackTraces.captureStackTrace = captureStackTrace));

/**
 * No dead config: every key a user can set changes the synthesized stack. Each case sets one key to
 * another valid value, synthesizes, and compares with the stack of the unchanged config.
 */
const STATE_ENDPOINT = "https://docapi.serverless.yandexcloud.net/ru-central1/b1gcloud000000000000/etn0000000000000000";
const OTHER_VALUE: Record<string, unknown> = {
  cloudId: "b1gcloud111111111111",
  folderId: "b1gfolder11111111111",
  zone: "ru-central1-b",
  namePrefix: "other",
  adminCidrs: ["93.184.217.0/24"],
  sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3n8Xo1bq7m2Qh5sYk0eW4tV9cR6pLzA8dF2gH1jK3L other@example",
  sshUser: "ops",
  subnetCidr: "10.20.0.0/24",
  bucketName: "other-bucket-name",
  pipelineSchedule: "@hourly",
  destroyDeletesData: true,
  "postgres.version": "17",
  "postgres.resourcePreset": "s3-c4-m16",
  "postgres.diskSizeGb": 40,
  "postgres.diskType": "network-hdd",
  "postgres.backupWindowStartHour": 3,
  "postgres.backupRetainPeriodDays": 14,
  "postgres.deletionProtection": false,
  "dataproc.lifecycle": "stop-between-runs",
  "dataproc.imageVersion": "2.2",
  "dataproc.masterResourcePreset": "s3-c4-m16",
  "dataproc.masterDiskSizeGb": 60,
  "dataproc.dataResourcePreset": "s3-c8-m32",
  "dataproc.dataDiskSizeGb": 200,
  "dataproc.dataHostsCount": 2,
  "dataproc.computeMaxHostsCount": 3,
  "dataproc.computeResourcePreset": "s3-c8-m32",
  "dataproc.computeDiskSizeGb": 100,
  "dataproc.diskType": "network-hdd",
  "dataproc.uiProxy": false,
  "dataproc.deletionProtection": true,
  "storage.versioning": false,
  "storage.noncurrentVersionExpirationDays": 60,
  "storage.kmsEncryption": false,
  "stateBackend.documentApiEndpoint": STATE_ENDPOINT,
  "stateBackend.bucket": "other-states",
  "stateBackend.key": "other/terraform.tfstate",
  "stateBackend.lockTable": "other-lock",
  ...Object.fromEntries(["mlflowVm", "airflowVm"].flatMap((vm) => [
    [`${vm}.cores`, 4],
    [`${vm}.memoryGb`, 16],
    [`${vm}.coreFraction`, 50],
    [`${vm}.diskSizeGb`, 50],
    [`${vm}.diskType`, "network-hdd"],
    [`${vm}.imageFamily`, "debian-12-custom"],
    [`${vm}.platformId`, "standard-v2"],
    [`${vm}.preemptible`, true],
  ])),
};
/** Keys that do not set a value but unlock one: tested by what they let through. */
const GATES = ["allowWorldAdminAccess"];

/**
 * The config a key is changed in: the deployable one, plus a remote state for the keys that only
 * exist with one (`stateBackend.bucket` etc. need `stateBackend.documentApiEndpoint`).
 */
function baseFor(key: string): Record<string, unknown> {
  const needsRemoteState = key.startsWith("stateBackend.") && key !== "stateBackend.documentApiEndpoint";
  return needsRemoteState ? deployableRawConfig({ stateBackend: { documentApiEndpoint: STATE_ENDPOINT } }) : deployableRawConfig();
}

/** The key's base config with that one dotted key set. */
function withKey(key: string, value: unknown): Record<string, unknown> {
  const raw = baseFor(key);
  const [section, field] = key.split(".");
  if (field === undefined) return { ...raw, [key]: value };
  return { ...raw, [section]: { ...((raw[section] as Record<string, unknown>) ?? {}), [field]: value } };
}

describe("config keys", () => {
  const bases = new Map<string, string>();
  const baseText = (key: string): string => {
    const raw = JSON.stringify(baseFor(key));
    if (!bases.has(raw)) bases.set(raw, synthStack(validateConfig(JSON.parse(raw))).text);
    return bases.get(raw)!;
  };

  it("has a case for every key", () => {
    expect([...Object.keys(OTHER_VALUE), ...GATES].sort()).toEqual(configKeys().sort());
  });

  it.each(Object.entries(OTHER_VALUE))("%s changes the synthesized stack", (key, value) => {
    const config = validateConfig(withKey(key, value));
    expect(synthStack(config).text).not.toBe(baseText(key));
  });

  it("allowWorldAdminAccess is what lets 0.0.0.0/0 reach SSH and HTTPS", () => {
    const world = { ...deployableRawConfig(), adminCidrs: ["0.0.0.0/0"] };
    expect(() => validateConfig(world)).toThrow(ConfigError);
    // ports any security group opens to the whole internet (the cluster's UI Proxy 443 always is)
    const worldPorts = (raw: Record<string, unknown>) => {
      const { json } = synthStack(validateConfig(raw));
      const ingress = Object.values<any>(json.resource.yandex_vpc_security_group).flatMap((g) => g.ingress ?? []);
      return [...new Set(ingress.filter((r: any) => (r.v4_cidr_blocks ?? []).includes("0.0.0.0/0")).map((r: any) => r.port))].sort();
    };
    expect(worldPorts(deployableRawConfig())).toEqual([443]);
    expect(worldPorts({ ...world, allowWorldAdminAccess: true })).toEqual([22, 443]);
  });
});

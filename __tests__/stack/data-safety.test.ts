/**
 * Nothing lost by accident: the bucket keeps old versions for a while and encrypts with a key the
 * stack owns, the databases refuse deletion, and `cdktf destroy` deletes data only when the one
 * documented setting says so. Each default is a config key; each key changes the synthesized stack.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, validateConfig } from "../../constructs/config";
import { deployableRawConfig, onlyName, onlyResource, ref, REPO_ROOT, resourcesOf, synthStack, TerraformJson } from "./fixtures";

const synth = (overrides: Record<string, unknown> = {}) => synthStack(validateConfig(deployableRawConfig(overrides))).json;
const defaults = synth();

function expectConfigError(raw: Record<string, unknown>, message: string): void {
  expect(() => validateConfig(raw)).toThrow(ConfigError);
  expect(() => validateConfig(raw)).toThrow(message);
}

describe("artifact bucket: versions", () => {
  it("keeps overwritten and deleted objects as versions, expiring them after 30 days by default", () => {
    const bucket = onlyResource(defaults, "yandex_storage_bucket");
    expect(bucket.versioning).toEqual({ enabled: true });
    expect(bucket.lifecycle_rule).toEqual([
      {
        id: "expire-noncurrent-versions",
        enabled: true,
        noncurrent_version_expiration: { days: 30 },
        expiration: { expired_object_delete_marker: true },
      },
    ]);
  });

  it("takes the number of days from storage.noncurrentVersionExpirationDays", () => {
    const bucket = onlyResource(synth({ storage: { noncurrentVersionExpirationDays: 90 } }), "yandex_storage_bucket");
    expect(bucket.lifecycle_rule[0].noncurrent_version_expiration).toEqual({ days: 90 });
  });

  it("turns versioning off with storage.versioning: false (and then has no expiry rule)", () => {
    const bucket = onlyResource(synth({ storage: { versioning: false } }), "yandex_storage_bucket");
    expect(bucket.versioning).toEqual({ enabled: false });
    expect(bucket.lifecycle_rule).toBeUndefined();
  });

  it("fails on an expiry without versioning, and on a bad number of days, naming the key", () => {
    expectConfigError(deployableRawConfig({ storage: { versioning: false, noncurrentVersionExpirationDays: 7 } }),
      "config storage.noncurrentVersionExpirationDays = 7: has no effect with storage.versioning: false");
    expectConfigError(deployableRawConfig({ storage: { noncurrentVersionExpirationDays: 0 } }),
      "config storage.noncurrentVersionExpirationDays = 0: must be a whole number from 1 to 3650");
    expectConfigError(deployableRawConfig({ storage: { retention: 3 } }), "config storage.retention: unknown key");
  });
});

describe("artifact bucket: encryption", () => {
  const keyName = onlyName(defaults, "yandex_kms_symmetric_key");
  const keyRef = ref("yandex_kms_symmetric_key", keyName);

  it("encrypts every object with a KMS key the stack creates, rotated yearly, protected from deletion", () => {
    expect(onlyResource(defaults, "yandex_kms_symmetric_key")).toEqual(
      expect.objectContaining({ name: "fraud-bucket", default_algorithm: "AES_256", rotation_period: "8760h", deletion_protection: true }),
    );
    expect(onlyResource(defaults, "yandex_storage_bucket").server_side_encryption_configuration).toEqual({
      rule: { apply_server_side_encryption_by_default: { kms_master_key_id: keyRef, sse_algorithm: "aws:kms" } },
    });
  });

  it("lets exactly the bucket's readers and writers use the key (the S3 key's account, the Data Proc account)", () => {
    const members = Object.values(resourcesOf(defaults, "yandex_kms_symmetric_key_iam_member"));
    for (const m of members) {
      expect(m.symmetric_key_id).toBe(keyRef);
      expect(m.role).toBe("kms.keys.encrypterDecrypter");
    }
    const writers = [...onlyResource(defaults, "yandex_storage_bucket_iam_binding").members].sort();
    expect(members.map((m) => m.member).sort()).toEqual(writers);
    const accounts = resourcesOf(defaults, "yandex_iam_service_account");
    const names = writers.map((w) => Object.entries(accounts).find(([n]) => w === `serviceAccount:${ref("yandex_iam_service_account", n)}`)![1].name);
    expect(names.sort()).toEqual(["fraud-dataproc", "fraud-s3"]);
  });

  it("makes the MLflow VM and the cluster wait for their key grants (first boot publishes a certificate, the cluster writes logs)", () => {
    const grants = Object.keys(resourcesOf(defaults, "yandex_kms_symmetric_key_iam_member")).map((n) => `yandex_kms_symmetric_key_iam_member.${n}`);
    const mlflow = Object.values(resourcesOf(defaults, "yandex_compute_instance")).find((i) => i.name === "fraud-mlflow")!;
    const cluster = onlyResource(defaults, "yandex_dataproc_cluster");
    const dependsOnGrant = (deps: string[]) => grants.filter((g) => deps.includes(g));
    expect(dependsOnGrant(mlflow.depends_on)).toHaveLength(1);
    expect(dependsOnGrant(cluster.depends_on)).toHaveLength(1);
    expect(dependsOnGrant(mlflow.depends_on)).not.toEqual(dependsOnGrant(cluster.depends_on));
  });

  it("creates no key with storage.kmsEncryption: false", () => {
    const json = synth({ storage: { kmsEncryption: false } });
    expect(resourcesOf(json, "yandex_kms_symmetric_key")).toEqual({});
    expect(resourcesOf(json, "yandex_kms_symmetric_key_iam_member")).toEqual({});
    expect(onlyResource(json, "yandex_storage_bucket").server_side_encryption_configuration).toBeUndefined();
  });
});

describe("databases", () => {
  it("protects the PostgreSQL cluster and each database from deletion, and keeps backups 7 days, by default", () => {
    const cluster = onlyResource(defaults, "yandex_mdb_postgresql_cluster");
    expect(cluster.deletion_protection).toBe(true);
    expect(cluster.config.backup_retain_period_days).toBe(7);
    const dbs = Object.values(resourcesOf(defaults, "yandex_mdb_postgresql_database"));
    expect(dbs.map((d) => d.deletion_protection)).toEqual(["true", "true"]);
  });

  it("takes the retention from postgres.backupRetainPeriodDays (7 to 60) and protection from postgres.deletionProtection", () => {
    const json = synth({ postgres: { backupRetainPeriodDays: 30, deletionProtection: false } });
    const cluster = onlyResource(json, "yandex_mdb_postgresql_cluster");
    expect(cluster.config.backup_retain_period_days).toBe(30);
    expect(cluster.deletion_protection).toBe(false);
    expect(Object.values(resourcesOf(json, "yandex_mdb_postgresql_database")).map((d) => d.deletion_protection)).toEqual(["false", "false"]);
    expectConfigError(deployableRawConfig({ postgres: { backupRetainPeriodDays: 3 } }),
      "config postgres.backupRetainPeriodDays = 3: must be a whole number from 7 to 60");
  });

  it("leaves the Data Proc cluster unprotected by default (it holds only what the pipeline rebuilds), protected on request", () => {
    expect(onlyResource(defaults, "yandex_dataproc_cluster").deletion_protection).toBe(false);
    expect(onlyResource(synth({ dataproc: { deletionProtection: true } }), "yandex_dataproc_cluster").deletion_protection).toBe(true);
  });
});

// ---- teardown: the README's table is what the stack does ------------------------------------------

interface TeardownRow {
  readonly type: string;
  readonly setting: string;
  readonly byDefault: unknown;
  readonly withDestroyDeletesData: unknown;
}

/** The rows of the README's teardown table: | `type` | `setting` | `default` | `with destroyDeletesData` |. */
function readmeTeardownTable(): TeardownRow[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith("Teardown"));
  if (!section) throw new Error("README.md has no '## Teardown' section");
  const rows = [...section.matchAll(/^\| `(yandex_[a-z_]+)` \| `([a-z_]+)` \| `([^`]+)` \| `([^`]+)` \|/gm)];
  return rows.map((m) => ({ type: m[1], setting: m[2], byDefault: JSON.parse(m[3]), withDestroyDeletesData: JSON.parse(m[4]) }));
}

describe("teardown", () => {
  const rows = readmeTeardownTable();
  const deleteAll = synth({ destroyDeletesData: true });

  it("documents the bucket, the key and every database-holding resource", () => {
    expect(rows.map((r) => r.type).sort()).toEqual([
      "yandex_dataproc_cluster",
      "yandex_kms_symmetric_key",
      "yandex_mdb_postgresql_cluster",
      "yandex_mdb_postgresql_database",
      "yandex_storage_bucket",
    ]);
  });

  const valuesOf = (json: TerraformJson, row: TeardownRow) => Object.values(resourcesOf(json, row.type)).map((r) => r[row.setting]);

  it.each(readmeTeardownTable().map((r) => [`${r.type}.${r.setting}`, r] as const))(
    "%s is what the README says, by default and with destroyDeletesData: true",
    (_name, row) => {
      expect(valuesOf(defaults, row).length).toBeGreaterThan(0);
      for (const v of valuesOf(defaults, row)) expect(v).toEqual(row.byDefault);
      for (const v of valuesOf(deleteAll, row)) expect(v).toEqual(row.withDestroyDeletesData);
    },
  );

  it("refuses destroyDeletesData together with an explicit deletion protection, naming both", () => {
    expectConfigError(deployableRawConfig({ destroyDeletesData: true, postgres: { deletionProtection: true } }),
      "config postgres.deletionProtection = true: contradicts destroyDeletesData: true");
    expectConfigError(deployableRawConfig({ destroyDeletesData: true, dataproc: { deletionProtection: true } }),
      "config dataproc.deletionProtection = true: contradicts destroyDeletesData: true");
    expectConfigError(deployableRawConfig({ destroyDeletesData: "yes" }), 'config destroyDeletesData = "yes": must be true or false');
  });
});

import "cdktf/lib/testing/adapters/jest";
import { lockboxSecretsByRef, onlyName, onlyResource, ref, resourcesOf, synthStack } from "./fixtures";

const { json, text, stack } = synthStack();
const secrets = resourcesOf(json, "yandex_lockbox_secret");

describe("Secrets", () => {
  it("lets Yandex generate every password and key (none is written in the configuration)", () => {
    const generated = Object.values(secrets).filter((s: any) => s.password_payload_specification);
    expect(generated.map((s: any) => s.name).sort()).toEqual(
      [
        "fraud-airflow-admin",
        "fraud-airflow-api-secret-key",
        "fraud-airflow-fernet-seed",
        "fraud-airflow-jwt-secret",
        "fraud-mlflow-admin",
        "fraud-mlflow-jobs",
      ],
    );
    for (const v of Object.values(resourcesOf(json, "yandex_lockbox_secret_version"))) {
      expect(v.entries).toBeUndefined();
    }
  });

  it("grants only lockbox.payloadViewer, each on one named secret", () => {
    const members = Object.values(resourcesOf(json, "yandex_lockbox_secret_iam_member"));
    expect(members.length).toBeGreaterThan(0);
    const known = lockboxSecretsByRef(json);
    for (const m of members) {
      expect(m.role).toBe("lockbox.payloadViewer");
      expect(known.has(m.secret_id)).toBe(true);
      expect(m.member).toMatch(/^serviceAccount:\$\{yandex_iam_service_account\.[^.]+\.id\}$/);
    }
    const folderLockbox = Object.values(resourcesOf(json, "yandex_resourcemanager_folder_iam_member")).filter((m: any) =>
      String(m.role).startsWith("lockbox."),
    );
    expect(folderLockbox).toEqual([]);
  });

  it("tells the operator which secret holds which password", () => {
    const out = json.output!.lockbox_secrets.value as Record<string, any>;
    expect(out["fraud-mlflow-admin"]).toEqual(expect.objectContaining({ key: "password", holds: expect.stringContaining("MLflow UI") }));
    expect(out["fraud-s3-key"].key).toBe("access_key_id, secret_access_key");
    expect(out["fraud-pg-mlflow"]).toEqual(expect.objectContaining({ holds: "Managed PostgreSQL password of user 'mlflow'" }));
    // the stack's own secrets and Connection Manager's two
    expect(Object.keys(out)).toHaveLength(Object.keys(secrets).length + 2);
  });
});

describe("ArtifactStorage", () => {
  const bucketName = onlyName(json, "yandex_storage_bucket");

  it("creates a private bucket with no anonymous access", () => {
    const bucket = onlyResource(json, "yandex_storage_bucket");
    expect(bucket.bucket).toBe("fraud-artifacts-test");
    expect(bucket.acl).toBeUndefined();
    expect(bucket.grant).toBeUndefined();
    expect(bucket.policy).toBeUndefined();
    expect(bucket.anonymous_access_flags).toEqual({ read: false, list: false, config_read: false });
  });

  it("writes the S3 static key straight into Lockbox, so state and user-data never hold it", () => {
    const key = onlyResource(json, "yandex_iam_service_account_static_access_key");
    const keySecret = Object.entries(secrets).find(([, s]: [string, any]) => s.name === "fraud-s3-key")!;
    expect(key.output_to_lockbox).toEqual({
      secret_id: ref("yandex_lockbox_secret", keySecret[0]),
      entry_for_access_key: "access_key_id",
      entry_for_secret_key: "secret_access_key",
    });
    // nothing reads the key's attributes (they stay empty with output_to_lockbox anyway).
    expect(text).not.toMatch(/static_access_key\.[^.}]+\.(access_key|secret_key)\}/);
  });

  it("limits the key's owner to this bucket (bucket binding, no folder role)", () => {
    const keyOwner = onlyResource(json, "yandex_iam_service_account_static_access_key").service_account_id;
    const binding = onlyResource(json, "yandex_storage_bucket_iam_binding");
    expect(binding.bucket).toBe(ref("yandex_storage_bucket", bucketName, "bucket"));
    expect(binding.members).toContain(`serviceAccount:${keyOwner}`);
    const folderGrants = Object.values(resourcesOf(json, "yandex_resourcemanager_folder_iam_member")).filter(
      (m: any) => m.member === `serviceAccount:${keyOwner}`,
    );
    expect(folderGrants).toEqual([]);
  });
});

describe("JobCode", () => {
  const objects = Object.values(resourcesOf(json, "yandex_storage_object"));

  const release = stack.jobCode.release;

  it("uploads every entry point and the fraud_jobs package to the bucket, under the release folder", () => {
    expect(release).toMatch(/^[0-9a-f]{16}$/);
    const keys = objects.map((o: any) => o.key);
    expect(keys).toContain(`jobs/${release}/fraud_jobs.zip`);
    expect(keys).toEqual(expect.arrayContaining([`jobs/${release}/entrypoints/run_step.py`]));
    expect(keys.every((k: string) => k.startsWith(`jobs/${release}/`))).toBe(true);
    for (const o of objects) {
      expect(o.bucket).toBe(ref("yandex_storage_bucket", onlyName(json, "yandex_storage_bucket"), "bucket"));
      expect(o.source).toMatch(/^assets\//);
      expect(o.source_hash).toMatch(/^[0-9A-F]{32,}$/i);
    }
  });

  it("publishes the jobs URI the pipeline config needs", () => {
    expect(json.output!.jobs_uri.value).toBe("s3a://${yandex_storage_bucket." + onlyName(json, "yandex_storage_bucket") + `.bucket}/jobs/${release}/`);
  });
});

describe("who reads which secret", () => {
  const accounts = resourcesOf(json, "yandex_iam_service_account");
  const accountRef = (name: string) => {
    const entry = Object.entries(accounts).find(([, a]: [string, any]) => a.name === name);
    if (!entry) throw new Error(`no service account named ${name}`);
    return `serviceAccount:${ref("yandex_iam_service_account", entry[0])}`;
  };
  const secretNameById = lockboxSecretsByRef(json);
  const readableBy = (account: string) =>
    Object.values(resourcesOf(json, "yandex_lockbox_secret_iam_member"))
      .filter((m: any) => m.member === accountRef(account))
      .map((m: any) => secretNameById.get(m.secret_id))
      .sort();

  it("lets the MLflow VM read exactly its DB password, its web passwords and the S3 key", () => {
    expect(readableBy("fraud-mlflow-vm")).toEqual(["fraud-mlflow-admin", "fraud-mlflow-jobs", "fraud-s3-key", "mlflow-pg (Connection Manager)"]);
  });

  it("lets the Airflow VM read exactly its DB password, its UI password and its internal keys", () => {
    expect(readableBy("fraud-airflow-vm")).toEqual([
      "fraud-airflow-admin",
      "fraud-airflow-api-secret-key",
      "fraud-airflow-fernet-seed",
      "fraud-airflow-jwt-secret",
      "airflow-pg (Connection Manager)",
    ].sort());
  });

  it("lets the Data Proc nodes read only the MLflow jobs password", () => {
    expect(readableBy("fraud-dataproc")).toEqual(["fraud-mlflow-jobs"]);
  });

  it("runs each VM as its own service account", () => {
    const vmAccounts = Object.values(resourcesOf(json, "yandex_compute_instance")).map((vm: any) => `serviceAccount:${vm.service_account_id}`).sort();
    expect(vmAccounts).toEqual([accountRef("fraud-airflow-vm"), accountRef("fraud-mlflow-vm")].sort());
  });

  it("boots each VM only after its secret grants, the generated values and its database exist", () => {
    const grants = resourcesOf(json, "yandex_lockbox_secret_iam_member");
    for (const [account, db] of [["fraud-mlflow-vm", "mlflow"], ["fraud-airflow-vm", "airflow"]]) {
      const vm: any = Object.values(resourcesOf(json, "yandex_compute_instance")).find(
        (v: any) => `serviceAccount:${v.service_account_id}` === accountRef(account),
      );
      const needed = Object.keys(grants)
        .filter((n) => grants[n].member === accountRef(account))
        .map((n) => `yandex_lockbox_secret_iam_member.${n}`);
      const dbName = Object.keys(resourcesOf(json, "yandex_mdb_postgresql_database")).find(
        (n) => resourcesOf(json, "yandex_mdb_postgresql_database")[n].name === db,
      );
      expect(vm.depends_on).toEqual(expect.arrayContaining([...needed, `yandex_mdb_postgresql_database.${dbName}`]));
    }
  });
});

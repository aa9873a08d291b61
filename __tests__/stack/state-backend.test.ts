/**
 * Remote state: the backend block the config key `stateBackend` synthesizes, and the bootstrap stack
 * (yc-mlops-state) that creates what it needs.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, validateConfig } from "../../constructs/config";
import { STACK_NAME, STATE_STACK_NAME, synthesize } from "../../main";
import { deployableRawConfig } from "../config/deployable";

const ENDPOINT = "https://docapi.serverless.yandexcloud.net/ru-central1/b1gcloud000000000000/etn0000000000000000";

function synthBoth(raw: Record<string, unknown>): Record<string, any> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-state-"));
  try {
    const file = path.join(tmp, "config.json");
    fs.writeFileSync(file, JSON.stringify(raw));
    synthesize({ outdir: path.join(tmp, "out"), env: { YC_MLOPS_CONFIG: file }, repoRoot: tmp });
    const read = (name: string) => JSON.parse(fs.readFileSync(path.join(tmp, "out", "stacks", name, "cdk.tf.json"), "utf8"));
    return { main: read(STACK_NAME), state: read(STATE_STACK_NAME) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

describe("stateBackend", () => {
  it("keeps the state in Object Storage, locked in YDB, with no credential in the backend block", () => {
    const { main } = synthBoth(deployableRawConfig({ stateBackend: { documentApiEndpoint: ENDPOINT } }));
    expect(main.terraform.backend).toEqual({
      s3: {
        bucket: "fraud-tfstate-b1gfolder00000000000",
        key: "yc-mlops/terraform.tfstate",
        region: "ru-central1",
        endpoints: { s3: "https://storage.yandexcloud.net", dynamodb: ENDPOINT },
        dynamodb_table: "tfstate-lock",
        skip_region_validation: true,
        skip_credentials_validation: true,
        skip_requesting_account_id: true,
        skip_s3_checksum: true,
      },
    });
  });

  it("takes bucket, key and table from the config when given", () => {
    const cfg = validateConfig(
      deployableRawConfig({ stateBackend: { documentApiEndpoint: ENDPOINT, bucket: "my-states", key: "team/ml.tfstate", lockTable: "locks" } }),
    );
    expect(cfg.stateBackend).toEqual({ bucket: "my-states", key: "team/ml.tfstate", documentApiEndpoint: ENDPOINT, lockTable: "locks" });
  });

  it.each([
    [{}, "config stateBackend.documentApiEndpoint is required but missing"],
    [{ documentApiEndpoint: "https://evil.example/x" }, "is not a YDB Document API endpoint"],
    [{ documentApiEndpoint: ENDPOINT, key: "../x" }, 'stateBackend.key = "../x"'],
    [{ documentApiEndpoint: ENDPOINT, accessKey: "AKIA" }, "config stateBackend.accessKey: unknown key"],
  ])("refuses %j naming the key", (sb, message) => {
    expect(() => validateConfig(deployableRawConfig({ stateBackend: sb }))).toThrow(ConfigError);
    expect(() => validateConfig(deployableRawConfig({ stateBackend: sb }))).toThrow(message);
  });

  it("stays local when not configured (a first try needs nothing but the config)", () => {
    const { main } = synthBoth(deployableRawConfig());
    expect(Object.keys(main.terraform.backend)).toEqual(["local"]);
  });
});

describe("the bootstrap stack yc-mlops-state", () => {
  const { state } = synthBoth(deployableRawConfig());
  const only = (type: string) => {
    const all = Object.values<any>(state.resource[type] ?? {});
    expect(all).toHaveLength(1);
    return all[0];
  };

  it("makes a private, versioned bucket named as the main stack's default backend expects", () => {
    const bucket = only("yandex_storage_bucket");
    expect(bucket.bucket).toBe("fraud-tfstate-b1gfolder00000000000");
    expect(bucket.versioning).toEqual({ enabled: true });
    expect(bucket.anonymous_access_flags).toEqual({ read: false, list: false, config_read: false });
  });

  it("encrypts the state with its own protected KMS key that only the state account may use", () => {
    const bucket = only("yandex_storage_bucket");
    const key = only("yandex_kms_symmetric_key");
    expect(key.deletion_protection).toBe(true);
    const [keyId] = Object.keys(state.resource.yandex_kms_symmetric_key);
    expect(bucket.server_side_encryption_configuration.rule.apply_server_side_encryption_by_default).toEqual({
      kms_master_key_id: `\${yandex_kms_symmetric_key.${keyId}.id}`,
      sse_algorithm: "aws:kms",
    });
    const user = only("yandex_kms_symmetric_key_iam_member");
    expect(user.role).toBe("kms.keys.encrypterDecrypter");
    expect(user.member).toMatch(/^serviceAccount:\$\{yandex_iam_service_account\./);
    expect(bucket.acl).toBeUndefined();
  });

  it("gives its service account rights on exactly the bucket and the lock database", () => {
    const account = Object.keys(state.resource.yandex_iam_service_account)[0];
    const member = `serviceAccount:\${yandex_iam_service_account.${account}.id}`;
    expect(only("yandex_storage_bucket_iam_binding")).toEqual(expect.objectContaining({ role: "storage.editor", members: [member] }));
    expect(only("yandex_ydb_database_iam_binding")).toEqual(expect.objectContaining({ role: "ydb.editor", members: [member] }));
    expect(state.resource.yandex_resourcemanager_folder_iam_member).toBeUndefined();
    only("yandex_ydb_database_serverless");
  });

  it("writes the static key straight into Lockbox: never in its state, never an output", () => {
    const key = only("yandex_iam_service_account_static_access_key");
    expect(key.output_to_lockbox).toEqual(
      expect.objectContaining({ entry_for_access_key: "access_key_id", entry_for_secret_key: "secret_access_key" }),
    );
    expect(JSON.stringify(state.output)).not.toMatch(/static_access_key/);
    expect(Object.keys(state.output).sort()).toEqual(["state_backend", "state_key_secret_id"]);
  });

  it("outputs the config block that switches the main stack over", () => {
    expect(state.output.state_backend.value).toEqual(
      expect.objectContaining({ key: "yc-mlops/terraform.tfstate", lockTable: "tfstate-lock", documentApiEndpoint: expect.stringContaining("document_api_endpoint") }),
    );
  });
});

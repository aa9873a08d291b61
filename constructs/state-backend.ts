/**
 * Where the stack's Terraform state lives, and the small stack that creates the remote one.
 *
 * Local state (the default, for a first try) is a file in the repository's `terraform-state/`
 * folder, which .gitignore excludes with every `*.tfstate*` name Terraform writes there.
 *
 * Remote state (recommended for real use) is kept in Object Storage with the S3 backend and locked
 * with a document table in a serverless YDB database through its DynamoDB-compatible Document API,
 * the way Yandex documents it ("Locking Terraform states using Managed Service for YDB",
 * https://yandex.cloud/en/docs/tutorials/infrastructure-management/terraform-state-lock).
 * `StateBackendStack` (cdktf stack `yc-mlops-state`) creates the bucket, the database and a service
 * account whose static key goes straight into Lockbox; scripts/deploy/state-backend.sh creates the lock
 * table and prints the config block that switches the main stack to the remote state.
 */
import { Construct } from "constructs";
import { S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import { IamServiceAccount } from "../.gen/providers/yandex/iam-service-account";
import { IamServiceAccountStaticAccessKey } from "../.gen/providers/yandex/iam-service-account-static-access-key";
import { KmsSymmetricKeyIamMember } from "../.gen/providers/yandex/kms-symmetric-key-iam-member";
import { LockboxSecret } from "../.gen/providers/yandex/lockbox-secret";
import { YandexProvider } from "../.gen/providers/yandex/provider";
import { StorageBucket } from "../.gen/providers/yandex/storage-bucket";
import { StorageBucketIamBinding } from "../.gen/providers/yandex/storage-bucket-iam-binding";
import { YdbDatabaseIamBinding } from "../.gen/providers/yandex/ydb-database-iam-binding";
import { YdbDatabaseServerless } from "../.gen/providers/yandex/ydb-database-serverless";
import { bucketEncryptionKey, KMS_ENCRYPTER_DECRYPTER_ROLE, S3_ENDPOINT, S3_REGION } from "./artifact-storage";

/** Folder of the local state files, relative to the repository root (ignored by git). */
export const LOCAL_STATE_DIR = "terraform-state";
/** Name of the document table holding the state locks. */
export const STATE_LOCK_TABLE = "tfstate-lock";
/** Object key of the main stack's state in the state bucket. */
export const STATE_OBJECT_KEY = "yc-mlops/terraform.tfstate";
/** Entries of the state service account's static key in its Lockbox secret. */
export const STATE_KEY_ENTRIES = { accessKey: "access_key_id", secretKey: "secret_access_key" } as const;

/** The state bucket's default name: one per folder and prefix. */
export function stateBucketName(namePrefix: string, folderId: string): string {
  return `${namePrefix}-tfstate-${folderId}`;
}

/** The remote state of the main stack (config key `stateBackend`). */
export interface RemoteStateConfig {
  /** Bucket holding the state object. */
  readonly bucket: string;
  /** Object key of the state. */
  readonly key: string;
  /** Document API endpoint of the YDB database holding the lock table (an output of `yc-mlops-state`). */
  readonly documentApiEndpoint: string;
  /** The lock table (partition key `LockID`, string). */
  readonly lockTable: string;
}

/**
 * Makes `stack` keep its state in Object Storage, locked in YDB. No credential is written here: the
 * backend reads the state account's static key from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 * (scripts/deploy/state-backend.sh exports them from Lockbox), so neither the synthesized JSON nor
 * .terraform/ ever holds it.
 */
export function useRemoteState(stack: TerraformStack, cfg: RemoteStateConfig): S3Backend {
  return new S3Backend(stack, {
    bucket: cfg.bucket,
    key: cfg.key,
    region: S3_REGION,
    endpoints: { s3: S3_ENDPOINT, dynamodb: cfg.documentApiEndpoint },
    dynamodbTable: cfg.lockTable,
    // Object Storage is not AWS: no account id, region list or STS to check against
    skipRegionValidation: true,
    skipCredentialsValidation: true,
    skipRequestingAccountId: true,
    skipS3Checksum: true,
  });
}

export interface StateBackendStackProps {
  readonly cloudId: string;
  readonly folderId: string;
  readonly zone: string;
  readonly namePrefix: string;
  /**
   * Labels put on every resource.
   *
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/**
 * The bootstrap stack (`cdktf deploy yc-mlops-state`): the state bucket (private, versioned, so an
 * earlier state can be restored, encrypted with its own KMS key: the state names every resource and
 * secret id of the deployment), the serverless YDB database for the lock table, and the service
 * account Terraform uses for both, with rights on exactly these two resources. Its static key is
 * written straight into Lockbox (never in this stack's own state, never printed).
 */
export class StateBackendStack extends TerraformStack {
  public readonly bucket: StorageBucket;
  public readonly database: YdbDatabaseServerless;
  public readonly keySecret: LockboxSecret;

  constructor(scope: Construct, id: string, props: StateBackendStackProps) {
    super(scope, id);
    const labels = props.labels;
    new YandexProvider(this, "yandex", { cloudId: props.cloudId, folderId: props.folderId, zone: props.zone });

    const account = new IamServiceAccount(this, "Account", {
      name: `${props.namePrefix}-tfstate`,
      folderId: props.folderId,
      description: "Terraform: reads and writes the stack's state and its locks",
      labels,
    });
    const member = `serviceAccount:${account.id}`;

    const { key, encryption } = bucketEncryptionKey(this, "BucketKey", {
      name: `${props.namePrefix}-tfstate`,
      folderId: props.folderId,
      description: "encrypts the Terraform state objects",
      // losing this key makes every stored state unreadable
      deletionProtection: true,
      labels,
    });
    new KmsSymmetricKeyIamMember(this, "BucketKeyUser", { symmetricKeyId: key.id, role: KMS_ENCRYPTER_DECRYPTER_ROLE, member });
    this.bucket = new StorageBucket(this, "Bucket", {
      bucket: stateBucketName(props.namePrefix, props.folderId),
      folderId: props.folderId,
      anonymousAccessFlags: { read: false, list: false, configRead: false },
      versioning: { enabled: true },
      serverSideEncryptionConfiguration: encryption,
      tags: labels,
    });
    new StorageBucketIamBinding(this, "BucketWriter", { bucket: this.bucket.bucket, role: "storage.editor", members: [member] });

    this.database = new YdbDatabaseServerless(this, "LockDatabase", {
      name: `${props.namePrefix}-tfstate`,
      folderId: props.folderId,
      description: "Terraform state locks (document table, DynamoDB-compatible API)",
      labels,
    });
    new YdbDatabaseIamBinding(this, "LockWriter", { databaseId: this.database.id, role: "ydb.editor", members: [member] });

    this.keySecret = new LockboxSecret(this, "KeySecret", {
      name: `${props.namePrefix}-tfstate-key`,
      folderId: props.folderId,
      description: "static access key of the Terraform state account (S3 backend and lock table)",
      labels,
    });
    new IamServiceAccountStaticAccessKey(this, "Key", {
      serviceAccountId: account.id,
      description: "Terraform state backend",
      outputToLockbox: {
        secretId: this.keySecret.id,
        entryForAccessKey: STATE_KEY_ENTRIES.accessKey,
        entryForSecretKey: STATE_KEY_ENTRIES.secretKey,
      },
    });

    new TerraformOutput(this, "state_backend", {
      description: "the config block that moves the main stack's state here (config key stateBackend)",
      value: {
        bucket: this.bucket.bucket,
        key: STATE_OBJECT_KEY,
        documentApiEndpoint: this.database.documentApiEndpoint,
        lockTable: STATE_LOCK_TABLE,
      },
    });
    new TerraformOutput(this, "state_key_secret_id", {
      description: `Lockbox secret with the state account's static key (entries ${STATE_KEY_ENTRIES.accessKey}, ${STATE_KEY_ENTRIES.secretKey})`,
      value: this.keySecret.id,
    });
  }
}

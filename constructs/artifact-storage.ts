import { Construct } from "constructs";
import { Lazy, TerraformResource } from "cdktf";
import { IamServiceAccount } from "../.gen/providers/yandex/iam-service-account";
import { IamServiceAccountStaticAccessKey } from "../.gen/providers/yandex/iam-service-account-static-access-key";
import { KmsSymmetricKey } from "../.gen/providers/yandex/kms-symmetric-key";
import { KmsSymmetricKeyIamMember } from "../.gen/providers/yandex/kms-symmetric-key-iam-member";
import { LockboxSecret } from "../.gen/providers/yandex/lockbox-secret";
import { LockboxSecretIamMember } from "../.gen/providers/yandex/lockbox-secret-iam-member";
import { StorageBucket, StorageBucketServerSideEncryptionConfiguration } from "../.gen/providers/yandex/storage-bucket";
import { StorageBucketIamBinding } from "../.gen/providers/yandex/storage-bucket-iam-binding";
import { s3aUri } from "./pipeline-config";
import { checkProps, PropRules } from "./prop-rules";
import { LOCKBOX_PAYLOAD_VIEWER } from "./secrets";

/** Object Storage's S3 endpoint and region (what boto3 / MLflow / Spark's s3a need). */
export const S3_ENDPOINT = "https://storage.yandexcloud.net";
export const S3_REGION = "ru-central1";

/** Bucket role that reads, writes and deletes objects (no ACL or bucket-settings changes). */
export const BUCKET_READ_WRITE_ROLE = "storage.editor";
/** Key role that encrypts and decrypts with the key (what every reader and writer of the bucket needs). */
export const KMS_ENCRYPTER_DECRYPTER_ROLE = "kms.keys.encrypterDecrypter";
/** How often KMS makes a new version of the bucket key (old versions still decrypt what they encrypted). */
export const KMS_KEY_ROTATION_PERIOD = "8760h";

/** A bucket's own KMS key (AES-256, yearly rotation) and the encryption block that points at it. */
export function bucketEncryptionKey(
  scope: Construct,
  id: string,
  p: { name: string; folderId: string; description: string; deletionProtection: boolean; labels?: Record<string, string> },
): { key: KmsSymmetricKey; encryption: StorageBucketServerSideEncryptionConfiguration } {
  const key = new KmsSymmetricKey(scope, id, {
    name: p.name,
    folderId: p.folderId,
    description: p.description,
    defaultAlgorithm: "AES_256",
    rotationPeriod: KMS_KEY_ROTATION_PERIOD,
    deletionProtection: p.deletionProtection,
    labels: p.labels,
  });
  return { key, encryption: { rule: { applyServerSideEncryptionByDefault: { kmsMasterKeyId: key.id, sseAlgorithm: "aws:kms" } } } };
}

export interface ArtifactStorageProps {
  readonly namePrefix: string;
  readonly folderId: string;
  /** Bucket name, globally unique in Object Storage. */
  readonly bucketName: string;
  /**
   * Keep overwritten and deleted objects as noncurrent versions (an overwritten model, report or
   * dataset can be restored).
   *
   * @default ARTIFACT_STORAGE_DEFAULTS.versioning (true)
   */
  readonly versioning?: boolean;
  /**
   * Days a noncurrent version is kept before a lifecycle rule deletes it (with `versioning`).
   *
   * @default ARTIFACT_STORAGE_DEFAULTS.noncurrentVersionExpirationDays (30)
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Encrypt every object with a KMS key this construct creates; every account granted with
   * `grantReadWrite` may use the key, no other.
   *
   * @default ARTIFACT_STORAGE_DEFAULTS.kmsEncryption (true)
   */
  readonly kmsEncryption?: boolean;
  /**
   * Refuse to delete the KMS key (objects encrypted with a deleted key can never be read again).
   *
   * @default ARTIFACT_STORAGE_DEFAULTS.keyDeletionProtection (true)
   */
  readonly keyDeletionProtection?: boolean;
  /**
   * Let `terraform destroy` delete a bucket that still holds objects (every version of them).
   *
   * @default ARTIFACT_STORAGE_DEFAULTS.forceDestroy (false)
   */
  readonly forceDestroy?: boolean;
  /**
   * Labels put on the bucket, the service account and the secret.
   *
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/** The one statement of each optional prop's default. */
export const ARTIFACT_STORAGE_DEFAULTS = {
  versioning: true,
  noncurrentVersionExpirationDays: 30,
  kmsEncryption: true,
  keyDeletionProtection: true,
  forceDestroy: false,
} as const;

/** Limits of the optional props (checked by the config loader with the key's name, and by the construct). */
export const ARTIFACT_STORAGE_RULES: PropRules<ArtifactStorageProps> = {
  versioning: { kind: "bool" },
  noncurrentVersionExpirationDays: { kind: "int", min: 1, max: 3650 },
  kmsEncryption: { kind: "bool" },
  keyDeletionProtection: { kind: "bool" },
  forceDestroy: { kind: "bool" },
};

/**
 * The Object Storage bucket for MLflow artifacts, the pipeline's landing zone and the job code,
 * plus the S3 credentials MLflow needs.
 *
 * S3 clients (MLflow's boto3) need a static access key; it belongs to a service account that can
 * only read and write this bucket, and is written by Yandex straight into a Lockbox secret
 * (`output_to_lockbox`), so neither the Terraform state nor any user-data ever holds it.
 */
export class ArtifactStorage extends Construct {
  /** @attribute */
  public readonly bucketName: string;
  /** Service account that owns the static access key. @attribute */
  public readonly s3ServiceAccountId: string;
  /** Lockbox secret holding the static key (entries `access_key_id`, `secret_access_key`). @attribute */
  public readonly s3KeySecretId: string;
  public readonly s3KeySecretName: string;
  public static readonly ACCESS_KEY_ENTRY = "access_key_id";
  public static readonly SECRET_KEY_ENTRY = "secret_access_key";

  public readonly bucket: StorageBucket;
  /** The bucket's one `storage.editor` binding (a reader/writer's boot should wait for it). */
  public readonly readWriteBinding: StorageBucketIamBinding;
  /** The static key (written into Lockbox by Yandex when this resource is created). */
  public readonly s3Key: IamServiceAccountStaticAccessKey;
  /** The KMS key that encrypts the bucket's objects (absent with `kmsEncryption: false`). */
  public readonly encryptionKey?: KmsSymmetricKey;
  /** What the static key's account needs before MLflow can use the bucket (binding, key grant). */
  public readonly s3UserAccessGrants: readonly TerraformResource[];
  private readonly keyUsers = new Map<string, KmsSymmetricKeyIamMember>();
  private readonly keySecret: LockboxSecret;
  private readonly readWriteMembers: string[] = [];
  private readonly keyReaders = new Map<string, LockboxSecretIamMember>();

  constructor(scope: Construct, id: string, props: ArtifactStorageProps) {
    super(scope, id);
    const labels = props.labels;

    const s3User = new IamServiceAccount(this, "S3User", {
      name: `${props.namePrefix}-s3`,
      folderId: props.folderId,
      description: "owner of the S3 static key MLflow uses for its artifact bucket",
      labels,
    });
    this.s3ServiceAccountId = s3User.id;

    checkProps("artifact storage", props, ARTIFACT_STORAGE_RULES);
    const d = ARTIFACT_STORAGE_DEFAULTS;
    const versioning = props.versioning ?? d.versioning;
    const noncurrentDays = props.noncurrentVersionExpirationDays ?? d.noncurrentVersionExpirationDays;
    const encrypted = (props.kmsEncryption ?? d.kmsEncryption)
      ? bucketEncryptionKey(this, "Key", {
          name: `${props.namePrefix}-bucket`,
          folderId: props.folderId,
          description: `encrypts the objects of bucket ${props.bucketName}`,
          deletionProtection: props.keyDeletionProtection ?? d.keyDeletionProtection,
          labels,
        })
      : undefined;
    this.encryptionKey = encrypted?.key;

    this.bucket = new StorageBucket(this, "Resource", {
      bucket: props.bucketName,
      folderId: props.folderId,
      // no ACL (deprecated in the provider; buckets are private by default): access is the IAM
      // binding below, and anonymous access is switched off explicitly.
      forceDestroy: props.forceDestroy ?? d.forceDestroy,
      versioning: { enabled: versioning },
      // an overwritten or deleted object stays recoverable for noncurrentDays, then goes; delete
      // markers left with no version behind them are removed too.
      lifecycleRule: versioning
        ? [{
            id: "expire-noncurrent-versions",
            enabled: true,
            noncurrentVersionExpiration: { days: noncurrentDays },
            expiration: { expiredObjectDeleteMarker: true },
          }]
        : undefined,
      serverSideEncryptionConfiguration: encrypted?.encryption,
      anonymousAccessFlags: { read: false, list: false, configRead: false },
      tags: labels,
    });
    this.bucketName = this.bucket.bucket;

    // one authoritative binding: exactly the accounts granted below can write the bucket.
    this.readWriteBinding = new StorageBucketIamBinding(this, "ReadWrite", {
      bucket: this.bucket.bucket,
      role: BUCKET_READ_WRITE_ROLE,
      members: Lazy.listValue({ produce: () => [...this.readWriteMembers] }),
    });
    this.s3UserAccessGrants = this.grantReadWrite(s3User.id, "s3");

    this.keySecret = new LockboxSecret(this, "S3KeySecret", {
      name: `${props.namePrefix}-s3-key`,
      folderId: props.folderId,
      description: `S3 static access key of ${props.namePrefix}-s3 for bucket ${props.bucketName}`,
      labels,
    });
    this.s3KeySecretId = this.keySecret.id;
    this.s3KeySecretName = `${props.namePrefix}-s3-key`;

    this.s3Key = new IamServiceAccountStaticAccessKey(this, "S3Key", {
      serviceAccountId: s3User.id,
      description: "MLflow artifact store (boto3); the key lives only in Lockbox",
      outputToLockbox: {
        secretId: this.keySecret.id,
        entryForAccessKey: ArtifactStorage.ACCESS_KEY_ENTRY,
        entryForSecretKey: ArtifactStorage.SECRET_KEY_ENTRY,
      },
    });
  }

  /**
   * Lets a service account read and write the bucket's objects: `storage.editor` on this bucket only,
   * and with encryption the use of its key (objects cannot be read or written without it).
   *
   * @param readerId construct-id suffix of the key grant (one per account)
   * @returns the grants the account's first use of the bucket must wait for
   */
  public grantReadWrite(serviceAccountId: string, readerId: string): TerraformResource[] {
    const member = `serviceAccount:${serviceAccountId}`;
    if (!this.readWriteMembers.includes(member)) this.readWriteMembers.push(member);
    const grants: TerraformResource[] = [this.readWriteBinding];
    if (this.encryptionKey) {
      let keyUser = this.keyUsers.get(readerId);
      if (!keyUser) {
        keyUser = new KmsSymmetricKeyIamMember(this, `KeyUser-${readerId}`, {
          symmetricKeyId: this.encryptionKey.id,
          role: KMS_ENCRYPTER_DECRYPTER_ROLE,
          member,
        });
        this.keyUsers.set(readerId, keyUser);
      }
      grants.push(keyUser);
    }
    return grants;
  }

  /** Lets a service account read the S3 static key from Lockbox. */
  public grantReadS3Key(serviceAccountId: string, readerId: string): LockboxSecretIamMember {
    const existing = this.keyReaders.get(readerId);
    if (existing) return existing;
    const member = new LockboxSecretIamMember(this, `S3KeyReader-${readerId}`, {
      secretId: this.keySecret.id,
      role: LOCKBOX_PAYLOAD_VIEWER,
      member: `serviceAccount:${serviceAccountId}`,
    });
    this.keyReaders.set(readerId, member);
    return member;
  }

  /** `s3a://<bucket>/<key>` (Spark) for a key inside the bucket. */
  public s3aUri(key: string): string {
    return s3aUri(this.bucketName, key);
  }

  /** `s3://<bucket>/<key>` (MLflow, boto3) for a key inside the bucket. */
  public s3Uri(key: string): string {
    return `s3://${this.bucketName}/${key.replace(/^\/+/, "")}`;
  }
}

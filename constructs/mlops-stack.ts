import { Construct } from "constructs";
import { TerraformOutput, TerraformStack } from "cdktf";
import { YandexProvider } from "../.gen/providers/yandex/provider";
import { ArtifactStorage, S3_ENDPOINT, S3_REGION } from "./artifact-storage";
import { StackConfig } from "./config";
import { DataprocCluster } from "./dataproc-cluster";
import { JobCode } from "./job-code";
import { MlflowBackend } from "./mlflow-backend";
import { Network } from "./network";
import { Secrets } from "./secrets";

export interface MlopsStackProps {
  /** The validated configuration (see `loadConfig`). */
  readonly config: StackConfig;
  /** The repository's `jobs/` folder (its code is uploaded to the bucket). */
  readonly jobsDir: string;
  /**
   * Config file the values came from, named in the placeholder refusal message.
   *
   * @default "config.example.json"
   */
  readonly configFile?: string;
}

/**
 * Everything the platform needs, in one folder, behind ONE security group: network, bucket,
 * secrets, Managed PostgreSQL, the MLflow VM, the Airflow VM and the Data Proc cluster.
 *
 * Provider credentials never pass through here: the Yandex provider reads `YC_TOKEN` (or a service
 * account key) from its environment; cloud, folder and zone come from the validated config.
 */
export class MlopsStack extends TerraformStack {
  public readonly network: Network;
  public readonly storage: ArtifactStorage;
  public readonly secrets: Secrets;
  public readonly postgres: MlflowBackend;
  public readonly dataproc: DataprocCluster;
  public readonly jobCode: JobCode;

  constructor(scope: Construct, id: string, props: MlopsStackProps) {
    super(scope, id);
    const cfg = props.config;
    const labels = { project: cfg.namePrefix, "managed-by": "cdktf" };

    new YandexProvider(this, "yandex", {
      cloudId: cfg.cloudId,
      folderId: cfg.folderId,
      zone: cfg.zone,
    });

    this.network = new Network(this, "Network", {
      namePrefix: cfg.namePrefix,
      folderId: cfg.folderId,
      zone: cfg.zone,
      adminCidrs: cfg.adminCidrs,
      subnetCidr: cfg.subnetCidr,
      labels,
    });
    // the example config synthesizes (tests, validate), but Terraform refuses to plan it: the first
    // resource of the graph carries a precondition that is false while placeholders remain.
    if (cfg.placeholders.length > 0) {
      this.network.vpc.lifecycle = {
        precondition: [
          {
            condition: false,
            errorMessage:
              `Refusing to deploy: ${props.configFile ?? "config.example.json"} still has placeholder values ` +
              `(${cfg.placeholders.join(", ")}). Copy config.example.json, fill in real values and set YC_MLOPS_CONFIG to the copy.`,
          },
        ],
      };
    }

    this.secrets = new Secrets(this, "Secrets", { namePrefix: cfg.namePrefix, folderId: cfg.folderId, labels });

    this.storage = new ArtifactStorage(this, "Storage", {
      namePrefix: cfg.namePrefix,
      folderId: cfg.folderId,
      bucketName: cfg.bucketName,
      labels,
    });

    this.postgres = new MlflowBackend(this, "Postgres", {
      namePrefix: cfg.namePrefix,
      folderId: cfg.folderId,
      networkId: this.network.networkId,
      subnetId: this.network.subnetId,
      zone: cfg.zone,
      securityGroupId: this.network.securityGroupId,
      databases: [
        { name: "mlflow", password: this.secrets.postgresMlflowPassword },
        // Airflow's metadata DB lives in the same managed cluster: durable and backed up.
        { name: "airflow", password: this.secrets.postgresAirflowPassword },
      ],
      postgresVersion: cfg.postgres.version,
      resourcePreset: cfg.postgres.resourcePreset,
      diskSizeGb: cfg.postgres.diskSizeGb,
      diskType: cfg.postgres.diskType,
      backupWindowStartHour: cfg.postgres.backupWindowStartHour,
      deletionProtection: cfg.postgres.deletionProtection,
      labels,
    });

    this.dataproc = new DataprocCluster(this, "Dataproc", {
      namePrefix: cfg.namePrefix,
      folderId: cfg.folderId,
      zone: cfg.zone,
      subnetId: this.network.subnetId,
      securityGroupId: this.network.securityGroupId,
      bucketName: this.storage.bucketName,
      sshPublicKeys: [cfg.sshPublicKey],
      imageVersion: cfg.dataproc.imageVersion,
      masterResourcePreset: cfg.dataproc.masterResourcePreset,
      masterDiskSizeGb: cfg.dataproc.masterDiskSizeGb,
      dataResourcePreset: cfg.dataproc.dataResourcePreset,
      dataDiskSizeGb: cfg.dataproc.dataDiskSizeGb,
      dataHostsCount: cfg.dataproc.dataHostsCount,
      computeMaxHostsCount: cfg.dataproc.computeMaxHostsCount,
      computeResourcePreset: cfg.dataproc.computeResourcePreset,
      computeDiskSizeGb: cfg.dataproc.computeDiskSizeGb,
      diskType: cfg.dataproc.diskType,
      uiProxy: cfg.dataproc.uiProxy,
      pipPackages: cfg.dataproc.pipPackages,
      deletionProtection: cfg.dataproc.deletionProtection,
      labels,
    });
    // the cluster reads job code and landing data from the bucket and writes its logs there; the
    // jobs log to MLflow as the `jobs` user, whose password they read from Lockbox.
    this.storage.grantReadWrite(this.dataproc.serviceAccountId);
    this.secrets.mlflowJobPassword.grantRead(this.dataproc.serviceAccountId, "dataproc");

    this.jobCode = new JobCode(this, "JobCode", { bucketName: this.storage.bucketName, jobsDir: props.jobsDir });

    // TODO(hosts): MlflowServer and AirflowHost (constructs/mlflow-server.ts, airflow-host.ts) are
    // wired here once their Props are committed; see addHosts().
    this.addHosts(cfg, labels);

    new TerraformOutput(this, "bucket", { value: this.storage.bucketName, description: "Object Storage bucket (artifacts, landing data, job code)" });
    new TerraformOutput(this, "s3_endpoint", { value: S3_ENDPOINT, description: `S3 endpoint (region ${S3_REGION})` });
    new TerraformOutput(this, "dataproc_cluster_id", { value: this.dataproc.clusterId, description: "Data Proc cluster id" });
    new TerraformOutput(this, "jobs_uri", { value: this.jobCode.jobsUri, description: "where the job code is uploaded" });
    new TerraformOutput(this, "postgres_host", { value: this.postgres.primaryHost, description: `Managed PostgreSQL primary (port ${this.postgres.port})` });
    new TerraformOutput(this, "lockbox_secrets", {
      description: "which Lockbox secret holds which password or key (read with: yc lockbox payload get <secret_id>)",
      value: Object.fromEntries([
        ...this.secrets.all().map((s) => [s.secretName, s.describe()]),
        [
          this.storage.s3KeySecretName,
          { secret_id: this.storage.s3KeySecretId, secret_name: this.storage.s3KeySecretName, key: `${ArtifactStorage.ACCESS_KEY_ENTRY}, ${ArtifactStorage.SECRET_KEY_ENTRY}`, holds: "S3 static key of the bucket" },
        ],
      ]),
    });
  }

  /** Wires the MLflow and Airflow VMs (hosts engineer's constructs). */
  private addHosts(_cfg: StackConfig, _labels: Record<string, string>): void {
    // TODO(hosts): instantiate MlflowServer and AirflowHost here.
  }
}

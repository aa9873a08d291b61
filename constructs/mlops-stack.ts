import { Construct } from "constructs";
import { Fn, Op, TerraformLocal, TerraformOutput, TerraformResource, TerraformStack } from "cdktf";
// the same helper cdktf applies to a resource's `dependsOn` config (renders a bare address).
import { dependable } from "cdktf/lib/tfExpression";
import { IamServiceAccount } from "../.gen/providers/yandex/iam-service-account";
import { YandexProvider } from "../.gen/providers/yandex/provider";
import { ResourcemanagerFolderIamMember } from "../.gen/providers/yandex/resourcemanager-folder-iam-member";
import { AirflowHost } from "./airflow-host";
import { ArtifactStorage, S3_ENDPOINT, S3_REGION } from "./artifact-storage";
import { StackConfig } from "./config";
import { DataprocCluster } from "./dataproc-cluster";
import { clusterPipPackages } from "./fleet-versions";
import { JobCode } from "./job-code";
import { MlflowBackend } from "./mlflow-backend";
import { MlflowServer } from "./mlflow-server";
import { Network } from "./network";
import { MLFLOW_CERT_OBJECT_KEY } from "./host-render";
import { GeneratedSecret, Secrets } from "./secrets";

/**
 * Folder role of the Airflow VM's service account: per the Data Proc access docs it "enables you to
 * create jobs" (DataprocCreatePysparkJobOperator on the stack's cluster); the DAG neither creates
 * clusters nor attaches service accounts, so no editor role.
 */
export const AIRFLOW_DATAPROC_ROLE = "dataproc.user";
/** Basic-auth user the Spark jobs log in to MLflow as. */
export const MLFLOW_JOBS_USER = "jobs";
/** Where the pipeline keeps its data on the cluster (HDFS) and where generate lands it (bucket). */
export const HDFS_DATA_ROOT = "hdfs:///user/fraud";

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

/** Adds explicit dependencies Terraform cannot infer (nothing references these resources' attributes). */
function bootAfter(resource: TerraformResource, needs: readonly TerraformResource[]): void {
  resource.dependsOn = [...(resource.dependsOn ?? []), ...needs.map((n) => dependable(n))];
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
  public readonly mlflow: MlflowServer;
  public readonly airflow: AirflowHost;

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
    // the example config synthesizes (tests, `terraform validate`), but Terraform refuses to plan it:
    // a precondition on the network fails while placeholders remain, so `cdktf deploy` stops at
    // plan, before anything is created. (A literal `false` is rejected by validate, hence the local.)
    const placeholders = new TerraformLocal(this, "config_placeholders", [...cfg.placeholders]);
    this.network.vpc.lifecycle = {
      precondition: [
        {
          // `< 1` rather than `== 0`: cdktf's operator rendering drops a literal 0 operand.
          condition: Op.lt(Fn.lengthOf(placeholders.asList), 1),
          errorMessage:
            `Refusing to deploy: ${props.configFile ?? "config.example.json"} still has placeholder values ` +
            `(${cfg.placeholders.join(", ") || "none"}). Copy config.example.json, fill in real values and set YC_MLOPS_CONFIG to the copy.`,
        },
      ],
    };

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
      pipPackages: clusterPipPackages(props.jobsDir),
      deletionProtection: cfg.dataproc.deletionProtection,
      labels,
    });
    // the cluster reads job code and landing data from the bucket and writes its logs there; the
    // jobs log to MLflow as the `jobs` user, whose password they read from Lockbox.
    this.storage.grantReadWrite(this.dataproc.serviceAccountId);
    this.secrets.mlflowJobPassword.grantRead(this.dataproc.serviceAccountId, "dataproc");

    this.jobCode = new JobCode(this, "JobCode", { bucketName: this.storage.bucketName, jobsDir: props.jobsDir });

    const entry = (s: GeneratedSecret) => ({ secretId: s.secretId, key: s.key });
    const common = (name: string, vm: StackConfig["mlflowVm"], serviceAccountId: string) => ({
      name,
      folderId: cfg.folderId,
      zone: cfg.zone,
      subnetId: this.network.subnetId,
      securityGroupId: this.network.securityGroupId,
      serviceAccountId,
      imageFamily: vm.imageFamily,
      platformId: vm.platformId,
      cores: vm.cores,
      memoryGb: vm.memoryGb,
      coreFraction: vm.coreFraction,
      diskSizeGb: vm.diskSizeGb,
      diskType: vm.diskType,
      preemptible: vm.preemptible,
      labels,
      adminUser: cfg.sshUser,
      sshPublicKey: cfg.sshPublicKey,
      pgHost: this.postgres.primaryHost,
      pgPort: this.postgres.port,
    });

    // MLflow VM: reads its database password, the S3 key and the basic-auth passwords.
    const mlflowSa = this.vmServiceAccount("MlflowVmAccount", `${cfg.namePrefix}-mlflow-vm`, "MLflow VM: reads its Lockbox secrets", cfg.folderId, labels);
    const mlflowSecrets = [this.secrets.postgresMlflowPassword, this.secrets.mlflowAdminPassword, this.secrets.mlflowJobPassword];
    const mlflowBootNeeds: TerraformResource[] = [
      ...mlflowSecrets.flatMap((s) => [s.grantRead(mlflowSa.id, "mlflow-vm"), s.version]),
      this.storage.grantReadS3Key(mlflowSa.id, "mlflow-vm"),
      this.storage.s3Key,
      this.storage.readWriteBinding,
      this.postgres.databases.get("mlflow")!,
    ];
    this.mlflow = new MlflowServer(this, "Mlflow", {
      ...common(`${cfg.namePrefix}-mlflow`, cfg.mlflowVm, mlflowSa.id),
      pgDatabase: "mlflow",
      pgUser: "mlflow",
      pgPassword: entry(this.secrets.postgresMlflowPassword),
      webPassword: entry(this.secrets.mlflowAdminPassword),
      additionalWebUsers: [{ name: MLFLOW_JOBS_USER, password: entry(this.secrets.mlflowJobPassword) }],
      bucket: this.storage.bucketName,
      s3AccessKeyId: { secretId: this.storage.s3KeySecretId, key: ArtifactStorage.ACCESS_KEY_ENTRY },
      s3SecretKey: { secretId: this.storage.s3KeySecretId, key: ArtifactStorage.SECRET_KEY_ENTRY },
    });

    // Airflow VM: reads its database password, the UI password and its internal keys; submits
    // Data Proc jobs with its own service account (no key file anywhere).
    const airflowSa = this.vmServiceAccount("AirflowVmAccount", `${cfg.namePrefix}-airflow-vm`, "Airflow VM: submits Data Proc jobs, reads its Lockbox secrets", cfg.folderId, labels);
    const s = this.secrets;
    const airflowSecrets = [s.postgresAirflowPassword, s.airflowAdminPassword, s.airflowFernetSeed, s.airflowJwtSecret, s.airflowApiSecretKey];
    const airflowDataprocUser = new ResourcemanagerFolderIamMember(this, "AirflowDataprocUser", {
      folderId: cfg.folderId,
      role: AIRFLOW_DATAPROC_ROLE,
      member: `serviceAccount:${airflowSa.id}`,
    });
    this.airflow = new AirflowHost(this, "Airflow", {
      ...common(`${cfg.namePrefix}-airflow`, cfg.airflowVm, airflowSa.id),
      pgDatabase: "airflow",
      pgUser: "airflow",
      pgPassword: entry(s.postgresAirflowPassword),
      webPassword: entry(s.airflowAdminPassword),
      fernetSeed: entry(s.airflowFernetSeed),
      jwtSecret: entry(s.airflowJwtSecret),
      apiSecretKey: entry(s.airflowApiSecretKey),
      pipelineConfig: {
        backend: "dataproc",
        schedule: cfg.pipelineSchedule,
        landing_root: this.storage.s3aUri("landing"),
        data_root: HDFS_DATA_ROOT,
        mlflow_tracking_uri: this.mlflow.internalTrackingUri,
        // the jobs log in as `jobs` (password read from Lockbox on the driver by the cluster's
        // service account) and verify the VM's self-signed certificate it publishes to the bucket
        mlflow_username: MLFLOW_JOBS_USER,
        mlflow_password_secret_id: this.secrets.mlflowJobPassword.secretId,
        mlflow_ca_uri: this.storage.s3aUri(MLFLOW_CERT_OBJECT_KEY),
        jobs_uri: this.jobCode.jobsUri,
        dataproc_cluster_id: this.dataproc.clusterId,
      },
    });
    const airflowBootNeeds: TerraformResource[] = [
      ...airflowSecrets.flatMap((secret) => [secret.grantRead(airflowSa.id, "airflow-vm"), secret.version]),
      this.postgres.databases.get("airflow")!,
      airflowDataprocUser,
    ];
    // a VM reads its secrets and opens its database at first boot, and first boot happens once:
    // it must not start before its grants, the generated values and its database exist.
    bootAfter(this.mlflow.instance, mlflowBootNeeds);
    bootAfter(this.airflow.instance, airflowBootNeeds);
    // the cluster writes its logs to the bucket from the start.
    bootAfter(this.dataproc.cluster, [this.storage.readWriteBinding]);

    new TerraformOutput(this, "mlflow_url", { value: `https://${this.mlflow.publicIp}`, description: `MLflow UI (basic auth user 'admin', password in Lockbox secret ${this.secrets.mlflowAdminPassword.secretName})` });
    new TerraformOutput(this, "airflow_url", { value: `https://${this.airflow.publicIp}`, description: `Airflow UI (user 'admin', password in Lockbox secret ${this.secrets.airflowAdminPassword.secretName})` });
    new TerraformOutput(this, "mlflow_internal_tracking_uri", { value: this.mlflow.internalTrackingUri, description: `tracking URI for the Spark jobs (user '${MLFLOW_JOBS_USER}', password in Lockbox secret ${this.secrets.mlflowJobPassword.secretName})` });
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

  private vmServiceAccount(id: string, name: string, description: string, folderId: string, labels: Record<string, string>): IamServiceAccount {
    return new IamServiceAccount(this, id, { name, folderId, description, labels });
  }
}

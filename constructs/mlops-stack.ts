import { Construct } from "constructs";
import { Fn, LocalBackend, Op, TerraformLocal, TerraformOutput, TerraformResource, TerraformStack } from "cdktf";
// the same helper cdktf applies to a resource's `dependsOn` config (renders a bare address).
import { dependable } from "cdktf/lib/tfExpression";
import { IamServiceAccount } from "../.gen/providers/yandex/iam-service-account";
import { YandexProvider } from "../.gen/providers/yandex/provider";
import { AirflowHost } from "./airflow-host";
import { aptMirrorsFor } from "./apt-mirrors";
import { ArtifactStorage, S3_ENDPOINT, S3_REGION } from "./artifact-storage";
import { protectionUnlessDestroyDeletesData, resourceLabels, StackConfig } from "./config";
import { DataprocAccess } from "./dataproc-access";
import { DATAPROC_DEFAULTS, DataprocCluster } from "./dataproc-cluster";
import { dataprocSettings } from "./dataproc-spec";
import { HOST_INSTANCE_DEFAULTS } from "./host-instance";
import { DEFAULT_WEB_USER, MLFLOW_CERT_OBJECT_KEY, TLS_CERT_PATH } from "../cloud-init/host-render";
import { JobCode } from "./job-code";
import { MlflowBackend } from "./mlflow-backend";
import { MlflowServer } from "./mlflow-server";
import { Network } from "./network";
import { airflowPipelineConfig, MLFLOW_JOBS_USER } from "./pipeline-config";
import { GeneratedSecret, Secrets } from "./secrets";
import { DEFAULT_ADMIN_USER } from "./ssh-key";
import { useRemoteState } from "./state-backend";

export { HDFS_DATA_ROOT, MLFLOW_JOBS_USER } from "./pipeline-config";

export interface MlopsStackProps {
  /** The validated configuration (see `loadConfig`). */
  readonly config: StackConfig;
  /** The repository's `jobs/` folder (its code is uploaded to the bucket). */
  readonly jobsDir: string;
  /**
   * Local state file (absolute path), used when the config names no remote `stateBackend`.
   *
   * @default - cdktf's default local backend
   */
  readonly localStateFile?: string;
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
 * Everything the platform needs, in one folder: network, bucket, secrets, Managed PostgreSQL, the
 * MLflow VM, the Airflow VM and the Data Proc cluster. The VMs and PostgreSQL share one security
 * group; the cluster, whose code may be anyone's, has its own (see `Network`).
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
  public readonly dataprocAccess: DataprocAccess;
  public readonly jobCode: JobCode;
  public readonly mlflow: MlflowServer;
  public readonly airflow: AirflowHost;

  constructor(scope: Construct, id: string, props: MlopsStackProps) {
    super(scope, id);
    const cfg = props.config;
    const labels = resourceLabels(cfg.namePrefix);
    // keys the config leaves out are undefined here: each construct applies its own default.

    new YandexProvider(this, "yandex", {
      cloudId: cfg.cloudId,
      folderId: cfg.folderId,
      zone: cfg.zone,
    });
    if (cfg.stateBackend) useRemoteState(this, cfg.stateBackend);
    else if (props.localStateFile) new LocalBackend(this, { path: props.localStateFile });

    this.network = new Network(this, "Network", {
      namePrefix: cfg.namePrefix,
      folderId: cfg.folderId,
      zone: cfg.zone,
      adminCidrs: cfg.adminCidrs,
      // the network is made before the cluster, so it reads the cluster's default itself
      dataprocUiProxy: cfg.dataproc.uiProxy ?? DATAPROC_DEFAULTS.uiProxy,
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
      versioning: cfg.storage.versioning,
      noncurrentVersionExpirationDays: cfg.storage.noncurrentVersionExpirationDays,
      kmsEncryption: cfg.storage.kmsEncryption,
      // with destroyDeletesData, destroy empties and deletes the bucket and may delete the key
      forceDestroy: cfg.destroyDeletesData,
      keyDeletionProtection: !cfg.destroyDeletesData,
      labels,
    });

    this.postgres = new MlflowBackend(this, "Postgres", {
      namePrefix: cfg.namePrefix,
      folderId: cfg.folderId,
      networkId: this.network.networkId,
      subnetId: this.network.subnetId,
      zone: cfg.zone,
      securityGroupIds: this.network.postgresSecurityGroupIds,
      // Airflow's metadata DB lives in the same managed cluster: durable and backed up.
      databases: [{ name: "mlflow" }, { name: "airflow" }],
      postgresVersion: cfg.postgres.version,
      resourcePreset: cfg.postgres.resourcePreset,
      diskSizeGb: cfg.postgres.diskSizeGb,
      diskType: cfg.postgres.diskType,
      backupWindowStartHour: cfg.postgres.backupWindowStartHour,
      backupRetainPeriodDays: cfg.postgres.backupRetainPeriodDays,
      deletionProtection: protectionUnlessDestroyDeletesData(cfg, cfg.postgres.deletionProtection),
      labels,
    });

    this.dataproc = new DataprocCluster(this, "Dataproc", {
      ...dataprocSettings(cfg, props.jobsDir),
      lifecycle: cfg.dataproc.lifecycle,
      subnetId: this.network.subnetId,
      securityGroupId: this.network.dataprocSecurityGroupId,
      bucketName: this.storage.bucketName,
    });
    // the cluster reads job code and landing data from the bucket and writes its logs there; the
    // jobs log to MLflow as the `jobs` user, whose password they read from Lockbox.
    const dataprocBucketGrants = this.storage.grantReadWrite(this.dataproc.serviceAccountId, "dataproc");
    const dataprocReadsJobPassword = this.secrets.mlflowJobPassword.grantRead(this.dataproc.serviceAccountId, "dataproc");

    this.jobCode = new JobCode(this, "JobCode", { bucketName: this.storage.bucketName, jobsDir: props.jobsDir });

    const entry = (s: GeneratedSecret) => ({ secretId: s.secretId, key: s.key });
    const common = (name: string, vm: StackConfig["mlflowVm"], serviceAccountId: string, securityGroupIds: readonly string[]) => ({
      name,
      folderId: cfg.folderId,
      zone: cfg.zone,
      subnetId: this.network.subnetId,
      securityGroupIds,
      serviceAccountId,
      imageFamily: vm.imageFamily,
      // the config accepts only families with known HTTPS mirrors
      aptMirrors: aptMirrorsFor(vm.imageFamily ?? HOST_INSTANCE_DEFAULTS.imageFamily)!,
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
    const mlflowSecrets = [this.secrets.mlflowAdminPassword, this.secrets.mlflowJobPassword];
    const mlflowPgPassword = this.postgres.passwords.get("mlflow")!;
    const mlflowBootNeeds: TerraformResource[] = [
      ...mlflowSecrets.flatMap((s) => [s.grantRead(mlflowSa.id, "mlflow-vm"), s.version]),
      mlflowPgPassword.grantRead(mlflowSa.id, "mlflow-vm"),
      this.storage.grantReadS3Key(mlflowSa.id, "mlflow-vm"),
      this.storage.s3Key,
      ...this.storage.s3UserAccessGrants,
      this.postgres.databases.get("mlflow")!,
    ];
    this.mlflow = new MlflowServer(this, "Mlflow", {
      ...common(`${cfg.namePrefix}-mlflow`, cfg.mlflowVm, mlflowSa.id, this.network.mlflowSecurityGroupIds),
      pgDatabase: "mlflow",
      pgUser: "mlflow",
      pgPassword: { secretId: mlflowPgPassword.secretId, key: mlflowPgPassword.key },
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
    const airflowSecrets = [s.airflowAdminPassword, s.airflowFernetSeed, s.airflowJwtSecret, s.airflowApiSecretKey];
    const airflowPgPassword = this.postgres.passwords.get("airflow")!;
    // what the DAG does to the cluster (submit jobs; start/stop it; create/delete one per run), each
    // role on the narrowest resource (the cluster itself where there is one)
    this.dataprocAccess = new DataprocAccess(this, "AirflowDataproc", {
      lifecycle: this.dataproc.lifecycle,
      folderId: cfg.folderId,
      serviceAccountId: airflowSa.id,
      clusterId: this.dataproc.clusterId,
      clusterServiceAccountId: this.dataproc.serviceAccountId,
    });
    this.airflow = new AirflowHost(this, "Airflow", {
      ...common(`${cfg.namePrefix}-airflow`, cfg.airflowVm, airflowSa.id, this.network.airflowSecurityGroupIds),
      pgDatabase: "airflow",
      pgUser: "airflow",
      pgPassword: { secretId: airflowPgPassword.secretId, key: airflowPgPassword.key },
      webPassword: entry(s.airflowAdminPassword),
      fernetSeed: entry(s.airflowFernetSeed),
      jwtSecret: entry(s.airflowJwtSecret),
      apiSecretKey: entry(s.airflowApiSecretKey),
      pipelineConfig: airflowPipelineConfig({
        schedule: cfg.pipelineSchedule,
        bucket: this.storage.bucketName,
        mlflowTrackingUri: this.mlflow.internalTrackingUri,
        mlflowJobPasswordSecretId: this.secrets.mlflowJobPassword.secretId,
        jobsUri: this.jobCode.jobsUri,
        dataproc: this.dataproc.lifecycle === "per-run"
          ? { lifecycle: "per-run", cluster: this.dataproc.spec }
          : { lifecycle: this.dataproc.lifecycle, clusterId: this.dataproc.clusterId! },
      }),
    });
    const airflowBootNeeds: TerraformResource[] = [
      ...airflowSecrets.flatMap((secret) => [secret.grantRead(airflowSa.id, "airflow-vm"), secret.version]),
      airflowPgPassword.grantRead(airflowSa.id, "airflow-vm"),
      this.postgres.databases.get("airflow")!,
      ...this.dataprocAccess.grants,
      // per-run: the first scheduled run creates a cluster, whose account must already hold its
      // roles (Data Proc refuses to create a cluster otherwise), reach the bucket and read the
      // jobs' MLflow password
      ...(this.dataproc.cluster ? [] : [...this.dataproc.grants, ...dataprocBucketGrants, dataprocReadsJobPassword]),
    ];
    // a VM reads its secrets and opens its database at first boot, and first boot happens once:
    // it must not start before its grants, the generated values and its database exist.
    bootAfter(this.mlflow.instance, mlflowBootNeeds);
    // the Airflow VM also depends on the job code its DAG names: its first run finds the code in place,
    // and when a deploy replaces the code (a new release folder), Terraform deletes the old objects
    // only after the VM whose DAG used them is gone.
    bootAfter(this.airflow.instance, [...airflowBootNeeds, ...this.jobCode.objects]);
    // the cluster writes its logs to the bucket from the start.
    if (this.dataproc.cluster) bootAfter(this.dataproc.cluster, dataprocBucketGrants);

    new TerraformOutput(this, "mlflow_url", { value: `https://${this.mlflow.publicIp}`, description: `MLflow UI (basic auth user 'admin', password in Lockbox secret ${this.secrets.mlflowAdminPassword.secretName})` });
    new TerraformOutput(this, "airflow_url", { value: `https://${this.airflow.publicIp}`, description: `Airflow UI (user 'admin', password in Lockbox secret ${this.secrets.airflowAdminPassword.secretName})` });
    new TerraformOutput(this, "mlflow_internal_tracking_uri", { value: this.mlflow.internalTrackingUri, description: `tracking URI for the Spark jobs (user '${MLFLOW_JOBS_USER}', password in Lockbox secret ${this.secrets.mlflowJobPassword.secretName})` });
    new TerraformOutput(this, "bucket", { value: this.storage.bucketName, description: "Object Storage bucket (artifacts, landing data, job code)" });
    new TerraformOutput(this, "s3_endpoint", { value: S3_ENDPOINT, description: `S3 endpoint (region ${S3_REGION})` });
    if (this.dataproc.clusterId) {
      new TerraformOutput(this, "dataproc_cluster_id", {
        value: this.dataproc.clusterId,
        description: `Data Proc cluster id (${this.dataproc.lifecycle})`,
      });
    }
    new TerraformOutput(this, "jobs_uri", { value: this.jobCode.jobsUri, description: "where the job code is uploaded" });
    new TerraformOutput(this, "postgres_host", { value: this.postgres.primaryHost, description: `Managed PostgreSQL primary (port ${this.postgres.port})` });
    // everything `make check-deploy` (scripts/deploy/check_deploy.py) needs, in one place: the program
    // talks only to these addresses (and Lockbox / Object Storage for the password and certificate)
    new TerraformOutput(this, "check_deploy", {
      description: "what scripts/deploy/check_deploy.py reads: each web endpoint, its basic-auth user, the Lockbox entry of its password, where its TLS certificate can be fetched",
      value: {
        mlflow: {
          url: `https://${this.mlflow.publicIp}`,
          user: DEFAULT_WEB_USER,
          password_secret_id: this.secrets.mlflowAdminPassword.secretId,
          password_key: this.secrets.mlflowAdminPassword.key,
          // the MLflow VM publishes its self-signed certificate to the bucket at first boot
          certificate_bucket: this.storage.bucketName,
          certificate_key: MLFLOW_CERT_OBJECT_KEY,
          storage_endpoint: S3_ENDPOINT,
        },
        airflow: {
          url: `https://${this.airflow.publicIp}`,
          user: DEFAULT_WEB_USER,
          password_secret_id: this.secrets.airflowAdminPassword.secretId,
          password_key: this.secrets.airflowAdminPassword.key,
          // the Airflow VM publishes nothing: its certificate is read over SSH from the VM itself
          ssh_user: cfg.sshUser ?? DEFAULT_ADMIN_USER,
          certificate_path: TLS_CERT_PATH,
        },
      },
    });
    new TerraformOutput(this, "lockbox_secrets", {
      description: "which Lockbox secret holds which password or key (read with: yc lockbox payload get <secret_id>)",
      value: Object.fromEntries([
        ...this.secrets.all().map((s) => [s.secretName, s.describe()]),
        [
          this.storage.s3KeySecretName,
          { secret_id: this.storage.s3KeySecretId, secret_name: this.storage.s3KeySecretName, key: `${ArtifactStorage.ACCESS_KEY_ENTRY}, ${ArtifactStorage.SECRET_KEY_ENTRY}`, holds: "S3 static key of the bucket" },
        ],
        ...[...this.postgres.passwords].map(([db, pw]) => [
          `${cfg.namePrefix}-pg-${db}`,
          { secret_id: pw.secretId, secret_name: "(made by Connection Manager)", key: pw.key, holds: `Managed PostgreSQL password of user '${db}'` },
        ]),
      ]),
    });
  }

  private vmServiceAccount(id: string, name: string, description: string, folderId: string, labels: Record<string, string>): IamServiceAccount {
    return new IamServiceAccount(this, id, { name, folderId, description, labels });
  }
}

/**
 * The pipeline config the stack writes on the Airflow VM (`/etc/yc-mlops/pipeline.json`, the keys of
 * PipelineConfig in jobs/fraud_jobs/pipeline_spec.py), as a pure function of the deployed endpoints.
 * The stack calls it with Terraform references; scripts/test/airflow-pipeline-config.ts calls it with the
 * addresses of the test stand-ins, so the DAG test on the `dataproc` backend runs the config a deploy
 * writes. No provider binding is imported here (the script runs without .gen/).
 */
import { MANAGED_BY_LABEL } from "./config";
import { DataprocClusterSpec } from "./dataproc-spec";
import { MLFLOW_CERT_OBJECT_KEY, MLFLOW_JOBS_USER } from "../cloud-init/host-render";
import { PIPELINE_CONFIG_SCHEMA_JSON, PipelineConfigJson } from "./pipeline-contract";

/** Where the pipeline keeps its data on the cluster (HDFS, the cluster's default file system). */
export const HDFS_DATA_ROOT = "hdfs:///user/fraud";
/**
 * Key prefix of the durable data in the bucket when each run has its own cluster (per-run): its
 * HDFS dies with it, so features and predictions live here and only the landed days' copy
 * (save_to_hdfs) is on HDFS.
 */
export const LAKE_PREFIX = "lake";
/** Key prefix of the landing zone in the bucket (generate writes there). */
export const LANDING_PREFIX = "landing";
/** Key prefix of the job code in the bucket (JobCode uploads there). */
export const JOBS_PREFIX = "jobs/";
/** Basic-auth user the Spark jobs log in to MLflow as (its rights: units/nginx/mlflow-jobs-access.json). */
export { MLFLOW_JOBS_USER };

/** `s3a://<bucket>/<key>` (Spark) for a key inside the bucket. */
export function s3aUri(bucket: string, key: string): string {
  return `s3a://${bucket}/${key.replace(/^\/+/, "")}`;
}

/** The optional inputs' defaults: PipelineConfig's own, as its schema states them. */
export const PIPELINE_DEFAULTS = {
  // once a day, catchup off (the seed ran every 5 minutes)
  schedule: PIPELINE_CONFIG_SCHEMA_JSON.properties.schedule.default,
} as const;

export interface AirflowPipelineInputs {
  /**
   * The DAG's schedule (config `pipelineSchedule`; checked there with `airflowScheduleProblem`).
   * @default PIPELINE_DEFAULTS.schedule ("@daily")
   */
  readonly schedule?: string;
  /** The bucket: landing zone, job code, the MLflow VM's published certificate. */
  readonly bucket: string;
  /** MLflow as the cluster reaches it (nginx on the MLflow VM's private address, TLS + basic auth). */
  readonly mlflowTrackingUri: string;
  /** Lockbox secret holding the `jobs` user's MLflow password (read by the job's driver). */
  readonly mlflowJobPasswordSecretId: string;
  /** Where JobCode uploaded the job code (`s3a://<bucket>/<JOBS_PREFIX>` by default). */
  readonly jobsUri: string;
  /**
   * The cluster the jobs run on: the stack's (always-on: it runs all the time; stop-between-runs:
   * the DAG starts and stops it), or the spec of the cluster each run creates and deletes (per-run).
   */
  readonly dataproc:
    | { readonly lifecycle: "always-on" | "stop-between-runs"; readonly clusterId: string }
    | { readonly lifecycle: "per-run"; readonly cluster: DataprocClusterSpec };
}

/** The `dataproc_cluster` object of the pipeline config (pipeline_spec.ClusterSpec) for a spec. */
export function perRunClusterConfig(c: DataprocClusterSpec): PipelineConfigJson {
  const sub = (role: string) => c.subclusters.find((s) => s.role === role);
  const hosts = (s: NonNullable<ReturnType<typeof sub>>) => ({
    resource_preset: s.resourcePreset, disk_size_gb: s.diskSizeGb, disk_type: s.diskType,
  });
  const master = sub("MASTERNODE")!;
  const data = sub("DATANODE")!;
  const compute = sub("COMPUTENODE");
  const a = c.autoscaling;
  return {
    name_prefix: c.runNamePrefix,
    folder_id: c.folderId,
    zone: c.zone,
    subnet_id: c.subnetId,
    security_group_ids: [...c.securityGroupIds],
    service_account_id: c.serviceAccountId,
    bucket: c.bucket,
    image_version: c.imageVersion,
    services: [...c.services],
    properties: { ...c.properties },
    ssh_public_keys: [...c.sshPublicKeys],
    ui_proxy: c.uiProxy,
    // the DAG creates these clusters, not Terraform
    labels: { ...c.labels, [MANAGED_BY_LABEL]: "airflow" },
    master: hosts(master),
    data: { ...hosts(data), hosts_count: data.hostsCount },
    ...(compute && a
      ? {
          compute: { ...hosts(compute), hosts_count: compute.hostsCount, max_hosts_count: compute.maxHostsCount },
          autoscaling: {
            measurement_duration_seconds: a.measurementDurationSeconds,
            warmup_duration_seconds: a.warmupDurationSeconds,
            stabilization_duration_seconds: a.stabilizationDurationSeconds,
            cpu_utilization_target: a.cpuUtilizationTarget,
            decommission_timeout_seconds: a.decommissionTimeoutSeconds,
          },
        }
      : {}),
  };
}

/** The Airflow VM's pipeline config: the `dataproc` backend, with the cluster of its lifecycle. */
export function airflowPipelineConfig(i: AirflowPipelineInputs): PipelineConfigJson {
  const d = i.dataproc;
  const cluster =
    d.lifecycle === "per-run"
      ? {
          // durable data in the bucket; save_to_hdfs still copies the landed days into HDFS
          data_root: s3aUri(i.bucket, LAKE_PREFIX),
          raw_root: HDFS_DATA_ROOT,
          cluster_lifecycle: d.lifecycle,
          dataproc_cluster: perRunClusterConfig(d.cluster),
        }
      : { data_root: HDFS_DATA_ROOT, cluster_lifecycle: d.lifecycle, dataproc_cluster_id: d.clusterId };
  const { data_root, ...clusterKeys } = cluster;
  return {
    backend: "dataproc",
    schedule: i.schedule ?? PIPELINE_DEFAULTS.schedule,
    landing_root: s3aUri(i.bucket, LANDING_PREFIX),
    data_root,
    mlflow_tracking_uri: i.mlflowTrackingUri,
    // the jobs log in as `jobs` (password read from Lockbox on the driver by the cluster's service
    // account) and verify the VM's self-signed certificate it publishes to the bucket
    mlflow_username: MLFLOW_JOBS_USER,
    mlflow_password_secret_id: i.mlflowJobPasswordSecretId,
    mlflow_ca_uri: s3aUri(i.bucket, MLFLOW_CERT_OBJECT_KEY),
    jobs_uri: i.jobsUri,
    ...clusterKeys,
  };
}

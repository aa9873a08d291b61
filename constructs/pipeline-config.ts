/**
 * The pipeline config the stack writes on the Airflow VM (`/etc/yc-mlops/pipeline.json`, the keys of
 * PipelineConfig in jobs/fraud_jobs/pipeline_spec.py), as a pure function of the deployed endpoints.
 * The stack calls it with Terraform references; scripts/airflow-pipeline-config.ts calls it with the
 * addresses of the test stand-ins, so the DAG test on the `dataproc` backend runs the config a deploy
 * writes. No provider binding is imported here (the script runs without .gen/).
 */
import { MLFLOW_CERT_OBJECT_KEY, MLFLOW_JOBS_USER } from "./host-render";

/** Where the pipeline keeps its data on the cluster (HDFS, the cluster's default file system). */
export const HDFS_DATA_ROOT = "hdfs:///user/fraud";
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

export interface AirflowPipelineInputs {
  /** The DAG's schedule (config `pipelineSchedule`). */
  readonly schedule: string;
  /** The bucket: landing zone, job code, the MLflow VM's published certificate. */
  readonly bucket: string;
  /** MLflow as the cluster reaches it (nginx on the MLflow VM's private address, TLS + basic auth). */
  readonly mlflowTrackingUri: string;
  /** Lockbox secret holding the `jobs` user's MLflow password (read by the job's driver). */
  readonly mlflowJobPasswordSecretId: string;
  /** Where JobCode uploaded the job code (`s3a://<bucket>/<JOBS_PREFIX>` by default). */
  readonly jobsUri: string;
  /** The Data Proc cluster the jobs run on. */
  readonly dataprocClusterId: string;
}

/** The Airflow VM's pipeline config: the `dataproc` backend on the stack's cluster. */
export function airflowPipelineConfig(i: AirflowPipelineInputs): Record<string, unknown> {
  return {
    backend: "dataproc",
    schedule: i.schedule,
    landing_root: s3aUri(i.bucket, LANDING_PREFIX),
    data_root: HDFS_DATA_ROOT,
    mlflow_tracking_uri: i.mlflowTrackingUri,
    // the jobs log in as `jobs` (password read from Lockbox on the driver by the cluster's service
    // account) and verify the VM's self-signed certificate it publishes to the bucket
    mlflow_username: MLFLOW_JOBS_USER,
    mlflow_password_secret_id: i.mlflowJobPasswordSecretId,
    mlflow_ca_uri: s3aUri(i.bucket, MLFLOW_CERT_OBJECT_KEY),
    jobs_uri: i.jobsUri,
    dataproc_cluster_id: i.dataprocClusterId,
  };
}

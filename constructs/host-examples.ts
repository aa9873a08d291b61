/**
 * Example parameters of the two VMs: the inputs of the snapshot tests, of
 * scripts/render-user-data.ts and so of the boot test. Every id is a made-up PLACEHOLDER; the boot
 * test's Lockbox stand-in serves these secret ids (see `lockboxRefs`). The admin is the config's
 * default, so the boot test boots what a default deploy gets.
 */
import * as fs from "fs";
import * as path from "path";
import { DEFAULT_SSH_USER } from "./config";
import { AirflowHostParams, LockboxEntryRef, MlflowHostParams } from "./host-render";

const REPO_ROOT = path.resolve(__dirname, "..");

/** Reads the DAG files (jobs/dags/*.py) and the step contract the Airflow VM gets. */
export function readDagSources(repoRoot: string = REPO_ROOT): { dagFiles: Record<string, string>; pipelineSpec: string } {
  const dagsDir = path.join(repoRoot, "jobs", "dags");
  const specFile = path.join(repoRoot, "jobs", "fraud_jobs", "pipeline_spec.py");
  if (!fs.existsSync(specFile)) throw new Error(`pipeline contract not found: ${specFile}`);
  const names = fs.existsSync(dagsDir) ? fs.readdirSync(dagsDir).filter((n) => n.endsWith(".py")).sort() : [];
  if (names.length === 0) throw new Error(`no DAG file (*.py) in ${dagsDir}`);
  const dagFiles = Object.fromEntries(names.map((n) => [n, fs.readFileSync(path.join(dagsDir, n), "utf8")]));
  return { dagFiles, pipelineSpec: fs.readFileSync(specFile, "utf8") };
}

const ref = (secretId: string, key = "password"): LockboxEntryRef => ({ secretId, key });

export const EXAMPLE_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPLACEHOLDERPLACEHOLDERPLACEHOLDERPLACEHOLD example@placeholder";
export const EXAMPLE_PG_HOST = "c-placeholder-pg-cluster.rw.mdb.yandexcloud.net";

export const EXAMPLE_MLFLOW: MlflowHostParams = {
  hostname: "mlops-mlflow",
  adminUser: DEFAULT_SSH_USER,
  sshPublicKey: EXAMPLE_SSH_KEY,
  pgHost: EXAMPLE_PG_HOST,
  pgDatabase: "mlflow",
  pgUser: "mlflow",
  pgPassword: ref("e6qplaceholderpgmlflow"),
  webPassword: ref("e6qplaceholdermlflowadmin"),
  additionalWebUsers: [{ name: "jobs", password: ref("e6qplaceholdermlflowjobs") }],
  bucket: "placeholder-mlops-bucket",
  s3AccessKeyId: ref("e6qplaceholders3key", "access_key_id"),
  s3SecretKey: ref("e6qplaceholders3key", "secret_access_key"),
};

export function exampleAirflow(repoRoot: string = REPO_ROOT): AirflowHostParams {
  return {
    hostname: "mlops-airflow",
    adminUser: DEFAULT_SSH_USER,
    sshPublicKey: EXAMPLE_SSH_KEY,
    pgHost: EXAMPLE_PG_HOST,
    pgDatabase: "airflow",
    pgUser: "airflow",
    pgPassword: ref("e6qplaceholderpgairflow"),
    webPassword: ref("e6qplaceholderairflowadmin"),
    fernetSeed: ref("e6qplaceholderfernet"),
    jwtSecret: ref("e6qplaceholderjwt"),
    apiSecretKey: ref("e6qplaceholderapikey"),
    folderId: "b1gplaceholderfolder",
    pipelineConfig: {
      backend: "dataproc",
      schedule: "@daily",
      landing_root: "s3a://placeholder-mlops-bucket/landing",
      data_root: "hdfs:///user/fraud",
      mlflow_tracking_uri: "https://mlops-mlflow.ru-central1.internal",
      jobs_uri: "s3a://placeholder-mlops-bucket/jobs/",
      dataproc_cluster_id: "c9qplaceholdercluster",
      yandex_connection_id: "yandexcloud_default",
    },
    ...readDagSources(repoRoot),
  };
}

/**
 * Example parameters of the two VMs: the inputs of the snapshot tests, of
 * scripts/render-user-data.ts and so of the boot test. Every id is a made-up PLACEHOLDER; the boot
 * test's Lockbox stand-in serves these secret ids (see `lockboxRefs`). The admin is the config's
 * default, so the boot test boots what a default deploy gets.
 */
import * as fs from "fs";
import * as path from "path";
import { aptMirrorsFor } from "./apt-mirrors";
import { FLEET } from "./fleet-versions";
import { AirflowHostParams, LockboxEntryRef, MlflowHostParams } from "../cloud-init/host-render";
import { airflowPipelineConfig, JOBS_PREFIX, s3aUri } from "./pipeline-config";
import { DEFAULT_ADMIN_USER } from "./ssh-key";

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

export const EXAMPLE_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPLACEHOLDERPLACEHOLDERPLACEHOLDERPLACEHOLD0 example@placeholder";
export const EXAMPLE_PG_HOST = "c-placeholder-pg-cluster.rw.mdb.yandexcloud.net";
/** The boot test boots the examples on the default release's root, so they use its mirrors. */
export const EXAMPLE_APT_MIRRORS = aptMirrorsFor(FLEET.vm.imageFamily)!;

export const EXAMPLE_MLFLOW: MlflowHostParams = {
  hostname: "mlops-mlflow",
  adminUser: DEFAULT_ADMIN_USER,
  sshPublicKey: EXAMPLE_SSH_KEY,
  aptMirrors: EXAMPLE_APT_MIRRORS,
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
    adminUser: DEFAULT_ADMIN_USER,
    sshPublicKey: EXAMPLE_SSH_KEY,
    aptMirrors: EXAMPLE_APT_MIRRORS,
    pgHost: EXAMPLE_PG_HOST,
    pgDatabase: "airflow",
    pgUser: "airflow",
    pgPassword: ref("e6qplaceholderpgairflow"),
    webPassword: ref("e6qplaceholderairflowadmin"),
    fernetSeed: ref("e6qplaceholderfernet"),
    jwtSecret: ref("e6qplaceholderjwt"),
    apiSecretKey: ref("e6qplaceholderapikey"),
    folderId: "b1gplaceholderfolder",
    // what the stack writes, for placeholder endpoints
    pipelineConfig: airflowPipelineConfig({
      bucket: EXAMPLE_MLFLOW.bucket,
      mlflowTrackingUri: "https://mlops-mlflow.ru-central1.internal",
      mlflowJobPasswordSecretId: "e6qplaceholdermlflowjobs",
      jobsUri: s3aUri(EXAMPLE_MLFLOW.bucket, JOBS_PREFIX),
      dataproc: { lifecycle: "always-on", clusterId: "c9qplaceholdercluster" },
    }),
    ...readDagSources(repoRoot),
  };
}

/**
 * The same two VMs after a day-two change of their spec (the boot test delivers it the way a deploy
 * does: a new VM from this user-data replaces the old one, against the same database, bucket and
 * Lockbox): a changed schedule, a web user added and one removed, a changed unit setting.
 */
export const EXAMPLE_DAY_TWO = {
  mlflow: (): MlflowHostParams => ({
    ...EXAMPLE_MLFLOW,
    // `jobs` removed, `analyst` added
    additionalWebUsers: [{ name: "analyst", password: ref("e6qplaceholdermlflowanalyst") }],
    workers: 2,
  }),
  airflow: (repoRoot: string = REPO_ROOT): AirflowHostParams => {
    const v1 = exampleAirflow(repoRoot);
    return {
      ...v1,
      additionalWebUsers: [{ name: "viewer", password: ref("e6qplaceholderairflowviewer") }],
      pipelineConfig: { ...v1.pipelineConfig, schedule: "30 4 * * *" },
      apiWorkers: 2,
    };
  },
};

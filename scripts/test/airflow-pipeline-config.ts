/**
 * Prints the pipeline config (/etc/yc-mlops/pipeline.json) the stack writes on the Airflow VM, for
 * given endpoints: the same function (constructs/pipeline-config.ts) and the same host rendering
 * (renderAirflowHost) as `cdktf synth`, with the config file's values (loadConfig: $YC_MLOPS_CONFIG,
 * else config.example.json; its `dataproc.lifecycle` decides the cluster part) and, in place of the
 * Terraform references, the values given here. The DAG tests on the `dataproc` backend run this file
 * against the Yandex Cloud API stand-in.
 * Usage: npx ts-node scripts/test/airflow-pipeline-config.ts --bucket B --mlflow-uri U
 *          --mlflow-password-secret SECRET_ID
 *          [--cluster-id CLUSTER_ID]                                  (always-on, stop-between-runs)
 *          [--subnet-id ID --security-group-id ID --dataproc-service-account-id ID]   (per-run)
 */
import * as path from "path";
import { loadConfig } from "../../constructs/config";
import { DATAPROC_DEFAULTS, dataprocClusterSpec, dataprocSettings } from "../../constructs/dataproc-spec";
import { exampleAirflow } from "../../__tests__/fixtures/host-examples";
import { CONF_DIR, renderAirflowHost } from "../../cloud-init/host-render";
import { airflowPipelineConfig, JOBS_PREFIX, s3aUri } from "../../constructs/pipeline-config";

const COMMON = ["--bucket", "--mlflow-uri", "--mlflow-password-secret"];
const STACK_CLUSTER = ["--cluster-id"];
const PER_RUN = ["--subnet-id", "--security-group-id", "--dataproc-service-account-id"];

function parseArgs(argv: string[], required: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!required.includes(argv[i]) || argv[i + 1] === undefined) {
      throw new Error(`bad argument ${JSON.stringify(argv[i])}; usage: ${required.map((f) => `${f} VALUE`).join(" ")}`);
    }
    out[argv[i]] = argv[i + 1];
  }
  const missing = required.filter((f) => !out[f]);
  if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}`);
  return out;
}

if (require.main === module) {
  try {
    const { config } = loadConfig();
    const lifecycle = config.dataproc.lifecycle ?? DATAPROC_DEFAULTS.lifecycle;
    const args = parseArgs(process.argv.slice(2), [...COMMON, ...(lifecycle === "per-run" ? PER_RUN : STACK_CLUSTER)]);
    const pipelineConfig = airflowPipelineConfig({
      schedule: config.pipelineSchedule,
      bucket: args["--bucket"],
      mlflowTrackingUri: args["--mlflow-uri"],
      mlflowJobPasswordSecretId: args["--mlflow-password-secret"],
      jobsUri: s3aUri(args["--bucket"], JOBS_PREFIX),
      dataproc: lifecycle === "per-run"
        ? {
            lifecycle,
            cluster: dataprocClusterSpec({
              ...dataprocSettings(config, path.join(__dirname, "..", "..", "jobs")),
              subnetId: args["--subnet-id"],
              securityGroupId: args["--security-group-id"],
              serviceAccountId: args["--dataproc-service-account-id"],
              bucketName: args["--bucket"],
            }),
          }
        : { lifecycle, clusterId: args["--cluster-id"] },
    });
    const host = renderAirflowHost({ ...exampleAirflow(), pipelineConfig });
    const file = host.spec.files.find((f) => f.path === `${CONF_DIR}/pipeline.json`);
    if (!file) throw new Error(`the rendered Airflow host writes no ${CONF_DIR}/pipeline.json`);
    process.stdout.write(file.content);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(2);
  }
}

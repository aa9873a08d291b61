/**
 * Prints the pipeline config (/etc/yc-mlops/pipeline.json) the stack writes on the Airflow VM, for
 * given endpoints: the same function (constructs/pipeline-config.ts) and the same host rendering
 * (renderAirflowHost) as `cdktf synth`, with the config file's values (loadConfig: $YC_MLOPS_CONFIG,
 * else config.example.json) and, in place of the Terraform references, the values given here. The
 * DAG test on the `dataproc` backend runs this file against the Yandex Cloud API stand-in.
 * Usage: npx ts-node scripts/airflow-pipeline-config.ts --bucket B --mlflow-uri U
 *          --mlflow-password-secret SECRET_ID --cluster-id CLUSTER_ID
 */
import { loadConfig } from "../constructs/config";
import { exampleAirflow } from "../constructs/host-examples";
import { CONF_DIR, renderAirflowHost } from "../constructs/host-render";
import { airflowPipelineConfig, JOBS_PREFIX, s3aUri } from "../constructs/pipeline-config";

const FLAGS = ["--bucket", "--mlflow-uri", "--mlflow-password-secret", "--cluster-id"] as const;

function parseArgs(argv: string[]): Record<(typeof FLAGS)[number], string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!(FLAGS as readonly string[]).includes(argv[i]) || argv[i + 1] === undefined) {
      throw new Error(`bad argument ${JSON.stringify(argv[i])}; usage: ${FLAGS.map((f) => `${f} VALUE`).join(" ")}`);
    }
    out[argv[i]] = argv[i + 1];
  }
  const missing = FLAGS.filter((f) => !out[f]);
  if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}`);
  return out as Record<(typeof FLAGS)[number], string>;
}

if (require.main === module) {
  try {
    const args = parseArgs(process.argv.slice(2));
    const { config } = loadConfig();
    const pipelineConfig = airflowPipelineConfig({
      schedule: config.pipelineSchedule,
      bucket: args["--bucket"],
      mlflowTrackingUri: args["--mlflow-uri"],
      mlflowJobPasswordSecretId: args["--mlflow-password-secret"],
      jobsUri: s3aUri(args["--bucket"], JOBS_PREFIX),
      dataprocClusterId: args["--cluster-id"],
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

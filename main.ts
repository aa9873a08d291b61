/**
 * The cdktf app: config -> MlopsStack -> Terraform JSON in cdktf.out/.
 *
 * The config is read and validated BEFORE the cdktf App exists, because creating the App already
 * creates the output folder: a bad config must leave nothing behind.
 */
import * as path from "path";
import { App, CONTEXT_ENV } from "cdktf";
import { CONFIG_CONTEXT_KEY, ConfigError, loadConfig } from "./constructs/config";
import { MlopsStack } from "./constructs/mlops-stack";

/** Name of the one stack (`cdktf deploy yc-mlops`). */
export const STACK_NAME = "yc-mlops";

export interface SynthOptions {
  /** Output folder. @default - $CDKTF_OUTDIR or "cdktf.out" (what the cdktf CLI sets) */
  readonly outdir?: string;
  /** Environment (config path and YC_* overrides). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** Reads the cdktf context the CLI hands over (cdktf.json "context" and --context). */
function cliContext(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const text = env[CONTEXT_ENV];
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`${CONTEXT_ENV} is not valid JSON`);
  }
}

/** Validates the config, then builds and synthesizes the app. Throws ConfigError before writing anything. */
export function synthesize(opts: SynthOptions = {}): App {
  const env = opts.env ?? process.env;
  const context = cliContext(env);
  const contextPath = context[CONFIG_CONTEXT_KEY];
  if (contextPath !== undefined && typeof contextPath !== "string") {
    throw new ConfigError(`context ${CONFIG_CONTEXT_KEY} = ${JSON.stringify(contextPath)}: must be a file path`);
  }
  const { config, file } = loadConfig({ contextPath, env, baseDir: __dirname });

  const app = new App({ outdir: opts.outdir });
  new MlopsStack(app, STACK_NAME, {
    config,
    configFile: path.relative(__dirname, file),
    jobsDir: path.join(__dirname, "jobs"),
  });
  app.synth();
  return app;
}

if (require.main === module) {
  try {
    synthesize();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`error: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
}

/**
 * The cdktf app: config -> MlopsStack -> Terraform JSON in cdktf.out/.
 *
 * The config is read and validated BEFORE the cdktf App exists, because creating the App already
 * creates the output folder: a bad config must leave nothing behind.
 */
import * as fs from "fs";
import * as path from "path";
import { App, CONTEXT_ENV, LocalBackend } from "cdktf";
import { CONFIG_CONTEXT_KEY, ConfigError, loadConfig } from "./constructs/config";
import { MlopsStack } from "./constructs/mlops-stack";
import { LOCAL_STATE_DIR, StateBackendStack } from "./constructs/state-backend";

/** Name of the platform's stack (`cdktf deploy yc-mlops`). */
export const STACK_NAME = "yc-mlops";
/** Name of the bootstrap stack of the remote state (`cdktf deploy yc-mlops-state`). */
export const STATE_STACK_NAME = "yc-mlops-state";

/** The local state file of a stack: in the git-ignored terraform-state/ folder of the repository. */
export function localStateFile(stackName: string, repoRoot: string = __dirname): string {
  return path.join(repoRoot, LOCAL_STATE_DIR, `${stackName}.tfstate`);
}

/**
 * Refuses to synthesize while a state file sits where cdktf used to put it (terraform.<stack>.tfstate
 * in the repository root, which .gitignore did not cover): Terraform would start from an empty state
 * in the new place and try to create everything again.
 */
function checkNoStrayState(repoRoot: string): void {
  for (const stack of [STACK_NAME, STATE_STACK_NAME]) {
    const old = path.join(repoRoot, `terraform.${stack}.tfstate`);
    if (fs.existsSync(old) && !fs.existsSync(localStateFile(stack, repoRoot))) {
      throw new ConfigError(
        `found Terraform state at ${JSON.stringify(old)}, where git could pick it up; move it (and its .backup) into ` +
          `${LOCAL_STATE_DIR}/ first: mkdir -p ${LOCAL_STATE_DIR} && mv ${path.basename(old)}* ${LOCAL_STATE_DIR}/`,
      );
    }
  }
}

export interface SynthOptions {
  /** Output folder. @default - $CDKTF_OUTDIR or "cdktf.out" (what the cdktf CLI sets) */
  readonly outdir?: string;
  /** Environment (config path and YC_* overrides). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Repository root: where the local state folder is. @default the folder of this file */
  readonly repoRoot?: string;
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
  const repoRoot = opts.repoRoot ?? __dirname;
  checkNoStrayState(repoRoot);

  const app = new App({ outdir: opts.outdir });
  new MlopsStack(app, STACK_NAME, {
    config,
    configFile: path.relative(__dirname, file),
    jobsDir: path.join(__dirname, "jobs"),
    localStateFile: localStateFile(STACK_NAME, repoRoot),
  });
  const state = new StateBackendStack(app, STATE_STACK_NAME, {
    cloudId: config.cloudId,
    folderId: config.folderId,
    zone: config.zone,
    namePrefix: config.namePrefix,
    labels: { project: config.namePrefix, "managed-by": "cdktf" },
  });
  // the bootstrap stack's own state stays local: it holds no secret (the key is in Lockbox)
  new LocalBackend(state, { path: localStateFile(STATE_STACK_NAME, repoRoot) });
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

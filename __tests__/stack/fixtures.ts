/**
 * Shared set-up of the stack tests: a deployable (placeholder-free) config and a synth helper.
 */
import * as path from "path";
import { Testing } from "cdktf";
import { StackConfig, validateConfig } from "../../constructs/config";
import { MlopsStack } from "../../constructs/mlops-stack";
import { deployableRawConfig, REPO_ROOT } from "../config/deployable";

export { REPO_ROOT, deployableRawConfig };
export const JOBS_DIR = path.join(REPO_ROOT, "jobs");

export function deployableConfig(overrides: Record<string, unknown> = {}): StackConfig {
  return validateConfig(deployableRawConfig(overrides));
}

export interface Synthesized {
  /** The Terraform JSON as the string cdktf's Testing.synth returns (for matchers and snapshots). */
  readonly text: string;
  readonly json: TerraformJson;
  readonly stack: MlopsStack;
}

export interface TerraformJson {
  resource: Record<string, Record<string, Record<string, any>>>;
  data?: Record<string, Record<string, Record<string, any>>>;
  output?: Record<string, { value: unknown }>;
  locals?: Record<string, unknown>;
  provider?: Record<string, unknown>;
  terraform?: Record<string, unknown>;
}

export function synthStack(config: StackConfig = deployableConfig(), jobsDir: string = JOBS_DIR): Synthesized {
  const app = Testing.app();
  const stack = new MlopsStack(app, "test", { config, jobsDir, configFile: "test-config.json" });
  const text = Testing.synth(stack);
  return { text, json: JSON.parse(text) as TerraformJson, stack };
}

/** All resources of one Terraform type, by their logical name. */
export function resourcesOf(json: TerraformJson, type: string): Record<string, any> {
  return json.resource[type] ?? {};
}

/** The one resource of a type (fails the test if there is not exactly one). */
export function onlyResource(json: TerraformJson, type: string): any {
  const all = Object.values(resourcesOf(json, type));
  if (all.length !== 1) throw new Error(`expected exactly one ${type}, found ${all.length}`);
  return all[0];
}

/** The Terraform reference `${type.name.attr}` of the resource with logical name `name`. */
export function ref(type: string, name: string, attr = "id"): string {
  return `\${${type}.${name}.${attr}}`;
}

/**
 * Every Lockbox secret the stack reads, by the Terraform reference of its id: the secrets the stack
 * creates (by name) and the ones Connection Manager makes for the PostgreSQL users
 * (`<user>-pg (Connection Manager)`, found through their connection data sources).
 */
export function lockboxSecretsByRef(json: TerraformJson): Map<string, string> {
  const out = new Map<string, string>();
  for (const [logical, s] of Object.entries(resourcesOf(json, "yandex_lockbox_secret"))) {
    out.set(ref("yandex_lockbox_secret", logical), s.name);
  }
  const users = resourcesOf(json, "yandex_mdb_postgresql_user");
  for (const [logical, c] of Object.entries(json.data?.yandex_connectionmanager_connection ?? {})) {
    const user = /^\$\{yandex_mdb_postgresql_user\.([^.]+)\.user_connection_manager\[0\]\.connection_id\}$/.exec(c.connection_id);
    if (!user) throw new Error(`connection ${logical} is not a PostgreSQL user's: ${c.connection_id}`);
    out.set(`\${data.yandex_connectionmanager_connection.${logical}.lockbox_secret.id}`, `${users[user[1]].name}-pg (Connection Manager)`);
  }
  return out;
}

/** Logical name of the only resource of a type. */
export function onlyName(json: TerraformJson, type: string): string {
  const names = Object.keys(resourcesOf(json, type));
  if (names.length !== 1) throw new Error(`expected exactly one ${type}, found ${names.length}`);
  return names[0];
}

/**
 * A VM's user-data as Terraform sees it: the instance's metadata names a local (one copy of the
 * text, which the spec hash reads too); this returns that local's value.
 */
export function userDataOf(json: { locals?: Record<string, unknown> }, instance: { metadata: Record<string, string> }): string {
  const m = /^\$\{local\.([A-Za-z0-9_-]+)\}$/.exec(instance.metadata["user-data"]);
  if (!m) throw new Error(`user-data is not a reference to a local: ${instance.metadata["user-data"].slice(0, 80)}`);
  const value = json.locals?.[m[1]];
  if (typeof value !== "string") throw new Error(`local ${m[1]} is not a string`);
  return value;
}

import * as fs from "fs";
import * as path from "path";
import { AIRFLOW_HOST_DEFAULTS } from "../../constructs/airflow-host";
import { ARTIFACT_STORAGE_DEFAULTS, ARTIFACT_STORAGE_RULES } from "../../constructs/artifact-storage";
import { DATAPROC_DEFAULTS, DATAPROC_RULES } from "../../constructs/dataproc-spec";
import { configDefaults, configKeys, STACK_DEFAULTS, validateConfig } from "../../constructs/config";
import { HOST_INSTANCE_DEFAULTS, HOST_INSTANCE_RULES } from "../../constructs/host-instance";
import { MLFLOW_BACKEND_DEFAULTS, MLFLOW_BACKEND_RULES } from "../../constructs/mlflow-backend";
import { NETWORK_DEFAULTS } from "../../constructs/network";
import { PIPELINE_DEFAULTS } from "../../constructs/pipeline-config";
import { PropRule, propRuleProblem } from "../../constructs/prop-rules";
import { DEFAULT_ADMIN_USER } from "../../constructs/ssh-key";
import { deployableRawConfig, REPO_ROOT, synthStack } from "./fixtures";

/**
 * Defaults are stated once: each construct's `*_DEFAULTS` (what its documented `@default` names and
 * what it applies when a prop is left out), plus the few stack-wide values the config loader owns
 * (`STACK_DEFAULTS`). The loader passes on only what a file sets.
 */

/** Only what has no default: identity, access, the key. */
const MINIMAL = (() => {
  const { cloudId, folderId, adminCidrs, sshPublicKey } = deployableRawConfig();
  return { cloudId, folderId, adminCidrs, sshPublicKey };
})();

/** Keys whose default is derived from other values rather than fixed. */
const DERIVED = ["bucketName", "stateBackend.documentApiEndpoint", "stateBackend.bucket", "stateBackend.key", "stateBackend.lockTable"];
/** Keys that gate a check rather than set a value, and have no construct prop. */
const STACK_KEYS = Object.keys(STACK_DEFAULTS);

function withKey(raw: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const [section, field] = key.split(".");
  if (field === undefined) return { ...raw, [key]: value };
  return { ...raw, [section]: { ...((raw[section] as Record<string, unknown>) ?? {}), [field]: value } };
}

function valueAt(cfg: object, key: string): unknown {
  return key.split(".").reduce<any>((o, k) => o?.[k], cfg);
}

describe("defaults", () => {
  const defaults = configDefaults();

  it("every key has one default, except the required ones and those derived from other keys", () => {
    const required = Object.keys(MINIMAL);
    expect(Object.keys(defaults).sort()).toEqual(configKeys().filter((k) => !DERIVED.includes(k) && !required.includes(k)).sort());
  });

  it("the loader fills in only the stack-wide values; every other key it leaves to its construct", () => {
    const cfg = validateConfig(MINIMAL);
    for (const key of Object.keys(defaults)) {
      expect([key, valueAt(cfg, key)]).toEqual([key, STACK_KEYS.includes(key) ? defaults[key] : undefined]);
    }
  });

  it("each key's default is read from the construct that applies it", () => {
    const owners: Record<string, unknown> = {
      sshUser: DEFAULT_ADMIN_USER,
      subnetCidr: NETWORK_DEFAULTS.subnetCidr,
      pipelineSchedule: PIPELINE_DEFAULTS.schedule,
      "postgres.version": MLFLOW_BACKEND_DEFAULTS.postgresVersion,
      "airflowVm.memoryGb": AIRFLOW_HOST_DEFAULTS.memoryGb,
    };
    for (const [key, value] of Object.entries(defaults)) {
      const [section, field] = key.split(".");
      const owner = owners[key] !== undefined ? owners[key]
        : field === undefined ? (STACK_DEFAULTS as Record<string, unknown>)[key]
        : ({
            postgres: MLFLOW_BACKEND_DEFAULTS, mlflowVm: HOST_INSTANCE_DEFAULTS, airflowVm: HOST_INSTANCE_DEFAULTS,
            dataproc: DATAPROC_DEFAULTS, storage: ARTIFACT_STORAGE_DEFAULTS,
          } as Record<string, Record<string, unknown>>)[section][field];
      expect([key, value]).toEqual([key, owner]);
    }
  });

  it("every default passes its own construct's rule", () => {
    const checks: [Record<string, unknown>, Record<string, PropRule | undefined>][] = [
      [HOST_INSTANCE_DEFAULTS, HOST_INSTANCE_RULES],
      [AIRFLOW_HOST_DEFAULTS, HOST_INSTANCE_RULES],
      [MLFLOW_BACKEND_DEFAULTS, MLFLOW_BACKEND_RULES],
      [DATAPROC_DEFAULTS, DATAPROC_RULES],
      [ARTIFACT_STORAGE_DEFAULTS, ARTIFACT_STORAGE_RULES],
    ];
    for (const [values, rules] of checks) {
      for (const [key, value] of Object.entries(values)) {
        expect([key, rules[key] && propRuleProblem(rules[key]!, value)]).toEqual([key, undefined]);
      }
    }
  });

  it("setting every key to its stated default synthesizes the same stack as leaving them all out", () => {
    // a construct applying another value than the default it exports (or the loader filling in one
    // of its own) makes the two stacks differ
    const explicit = Object.entries(defaults).reduce((raw, [key, value]) => withKey(raw, key, value), MINIMAL as Record<string, unknown>);
    const implicit = synthStack(validateConfig(MINIMAL)).text;
    expect(synthStack(validateConfig(explicit)).text).toBe(implicit);
  });

  it("each `@default NAME.key (value)` in the constructs' docs shows the value NAME holds", () => {
    const named: Record<string, Record<string, unknown>> = {
      HOST_INSTANCE_DEFAULTS, AIRFLOW_HOST_DEFAULTS, MLFLOW_BACKEND_DEFAULTS, DATAPROC_DEFAULTS, ARTIFACT_STORAGE_DEFAULTS,
      NETWORK_DEFAULTS, PIPELINE_DEFAULTS,
    };
    const dir = path.join(REPO_ROOT, "constructs");
    let seen = 0;
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      for (const m of fs.readFileSync(path.join(dir, file), "utf8").matchAll(/@default ([A-Z_]+)\.(\w+) \((.*)\)$/gm)) {
        const [, name, key, shown] = m;
        expect([file, name, key, name in named && key in named[name]]).toEqual([file, name, key, true]);
        // the value as the doc shows it (a JSON literal first), or where it is read from (versions.json)
        const literal = /^("[^"]*"|-?\d+|true|false)(?:[,;].*)?$/.exec(shown);
        if (literal) expect([file, key, JSON.parse(literal[1])]).toEqual([file, key, named[name][key]]);
        else expect([file, key, shown]).toEqual([file, key, expect.stringMatching(/^versions\.json `[\w.]+`$/)]);
        seen++;
      }
    }
    expect(seen).toBeGreaterThan(30);
  });

  it("the README's configuration table shows each key's default as its owner states it", () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const table = /## Configuration\n[\s\S]*?\n(\| key \|[\s\S]*?)\n\n/.exec(readme)![1];
    const rows = new Map(table.split("\n").slice(2).map((row) => {
      const [, keyCell, meaning] = row.split("|").map((c) => c.trim());
      return [keyCell, meaning] as const;
    }));
    const shown = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
    for (const [key, value] of Object.entries(defaults)) {
      const [section, field] = key.split(".");
      // a top-level key has its own row; a section's keys are listed in its `section.*` row as
      // `field` (..., default `value`)
      const row = field === undefined ? rows.get(`\`${key}\``) : rows.get(`\`${section}.*\``);
      expect([key, row !== undefined]).toEqual([key, true]);
      const pattern = field === undefined ? /default `([^`]*)`/ : new RegExp(`\`${field}\` \\((?:(?!\`\\w+\` \\().)*?default \`([^\`]*)\``);
      expect([key, pattern.exec(row!)?.[1]]).toEqual([key, shown(value)]);
    }
  });
});

/**
 * The pipeline config is one contract with one definition: jobs/pipeline-config.schema.json,
 * generated from PipelineConfig (jobs/pipeline_schema.py; the jobs test fails if the committed file
 * is stale). TypeScript checks every config it writes against it, and what the schema refuses the
 * jobs' loader refuses too.
 */
import * as fs from "fs";
import * as path from "path";
import { exampleAirflow } from "../fixtures/host-examples";
import { renderAirflowHost } from "../../cloud-init/host-render";
import { schemaProblems } from "../../constructs/json-schema";
import { PIPELINE_DEFAULTS } from "../../constructs/pipeline-config";
import { PIPELINE_CONFIG_SCHEMA, pipelineConfigProblems } from "../../constructs/pipeline-contract";
import { loadInPython } from "./python-config";

const REPO = path.resolve(__dirname, "..", "..");
const example = exampleAirflow().pipelineConfig;
// a per-run config as the stack writes it (placeholder ids), to reach the cluster spec's keys
const perRun = {
  ...example,
  dataproc_cluster_id: undefined,
  cluster_lifecycle: "per-run",
  data_root: "s3a://bucket/lake",
  raw_root: "hdfs:///user/fraud",
  dataproc_cluster: {
    name_prefix: "fraud-run", folder_id: "b1gfolder", zone: "ru-central1-a", subnet_id: "e9bsubnet",
    security_group_ids: ["enpgroup"], service_account_id: "ajesa", bucket: "bucket", image_version: "2.2",
    services: ["HDFS", "YARN", "SPARK"], properties: {}, ssh_public_keys: ["ssh-ed25519 AAAA x"], ui_proxy: true,
    labels: { "managed-by": "airflow" },
    master: { resource_preset: "s3-c2-m8", disk_size_gb: 40, disk_type: "network-ssd" },
    data: { resource_preset: "s3-c4-m16", disk_size_gb: 128, disk_type: "network-ssd", hosts_count: 1 },
  },
};
delete (perRun as Record<string, unknown>).dataproc_cluster_id;

/** The config with one key path set (undefined: removed). */
function withKey(config: Record<string, any>, keyPath: string, value: unknown): Record<string, any> {
  const out = JSON.parse(JSON.stringify(config));
  const keys = keyPath.split(".");
  let at = out;
  for (const k of keys.slice(0, -1)) at = at[k];
  if (value === undefined) delete at[keys[keys.length - 1]];
  else at[keys[keys.length - 1]] = value;
  return out;
}

// each: a change, and the words the TypeScript problem must contain (the key path and the value)
const BAD: [string, unknown, RegExp][] = [
  ["clusterid", "x", /pipeline config: unknown key "clusterid"/],
  ["constructor", "x", /pipeline config: unknown key "constructor"/],
  ["backend", "spark", /pipeline config\.backend: "spark" is not one of "dataproc", "ssh", "local"/],
  ["customers", "many", /pipeline config\.customers: expected integer, got "many"/],
  ["retries", -1, /pipeline config\.retries: -1 is below the minimum 0/],
  ["task_timeout_minutes", 0, /pipeline config\.task_timeout_minutes: 0 is below the minimum 1/],
  ["customers", 0, /pipeline config\.customers: 0 is below the minimum 1/],
  ["n_boot", 2000000, /pipeline config\.n_boot: 2000000 is above the maximum 1000000/],
  ["radius", 0, /pipeline config\.radius: 0 must be above 0/],
  ["alpha", 0.5, /pipeline config\.alpha: 0.5 must be below 0.5/],
  ["lr_grid", { reg_param: [] }, /pipeline config\.lr_grid\.reg_param: expected at least 1 item/],
  ["rf_grid", { depth: [3] }, /pipeline config\.rf_grid: unknown key "depth"/],
  ["env", { PATH: 1 }, /pipeline config\.env\.PATH: expected string, got 1/],
];
const BAD_PER_RUN: [string, unknown, RegExp][] = [
  ["dataproc_cluster.master.hosts_count", 2, /pipeline config\.dataproc_cluster\.master: unknown key "hosts_count"/],
  ["dataproc_cluster.data.hosts_count", undefined, /pipeline config\.dataproc_cluster\.data: missing key "hosts_count"/],
  ["dataproc_cluster.ui_proxy", "yes", /pipeline config\.dataproc_cluster\.ui_proxy: expected boolean, got "yes"/],
  ["dataproc_cluster.zones", ["a"], /pipeline config\.dataproc_cluster: unknown key "zones"/],
];

describe("the pipeline config contract (jobs/pipeline-config.schema.json)", () => {
  it("is the file the jobs generate, and the stack's configs match it", () => {
    const committed = JSON.parse(fs.readFileSync(path.join(REPO, "jobs", "pipeline-config.schema.json"), "utf8"));
    expect(PIPELINE_CONFIG_SCHEMA).toEqual(committed);
    expect(pipelineConfigProblems(example)).toEqual([]);
    expect(pipelineConfigProblems(perRun)).toEqual([]);
    expect(loadInPython([example, perRun]).map((r) => r.ok)).toEqual([true, true]);
  });

  const cases = [...BAD, ...BAD_PER_RUN].map(([keyPath, value, message]) => ({
    keyPath, value, message, config: withKey(keyPath.startsWith("dataproc_cluster.") ? perRun : example, keyPath, value),
  }));
  let python: ReturnType<typeof loadInPython>;
  beforeAll(() => {
    python = loadInPython(cases.map((c) => c.config)); // one interpreter for the whole table
  });

  it.each(cases.map((c, i) => [c.keyPath, c.value, i] as const))("refuses %s = %j by name, and so does PipelineConfig", (keyPath, _value, i) => {
    expect(pipelineConfigProblems(cases[i].config).join("\n")).toMatch(cases[i].message);
    expect(python[i].ok).toBe(false);
    expect(python[i].error).toContain(keyPath.split(".").pop());
  });

  it("fails the Airflow VM's render (synth) on a key the jobs do not know, naming it", () => {
    expect(() => renderAirflowHost({ ...exampleAirflow(), pipelineConfig: { ...example, clusterid: "x" } })).toThrow(
      /pipeline config does not match the jobs' schema.*pipeline config: unknown key \\"clusterid\\"/,
    );
  });

  it("takes the schedule's default from PipelineConfig, through the schema", () => {
    const [loaded] = loadInPython([{}]);
    expect(PIPELINE_DEFAULTS.schedule).toBe(loaded.schedule);
    expect((PIPELINE_CONFIG_SCHEMA.properties!.schedule as { default?: unknown }).default).toBe(loaded.schedule);
  });

  it("refuses a schema keyword its checker does not implement, rather than skipping the rule", () => {
    expect(() => schemaProblems({ pattern: "^a" } as never, "b", "x")).toThrow(/keyword "pattern" .* outside the supported subset/);
  });
});

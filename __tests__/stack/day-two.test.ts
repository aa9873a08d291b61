/**
 * Day two: a second `cdktf deploy` reaches the running hosts. cloud-init applies user-data once per
 * instance and the provider updates a running VM's metadata in place, so each VM is replaced when
 * its rendered user-data changes: a `terraform_data` holds Terraform's SHA-256 of it, and the
 * instance has `replace_triggered_by` on that resource.
 *
 * The wiring is checked on the synthesized stack, and its effect with a real Terraform: the VMs'
 * user-data, spec hashes and lifecycles are copied onto Terraform's built-in `terraform_data` (the
 * instance's stand-in), applied, and a second config planned against that state, offline.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { HOST_INSTANCE_DEFAULTS, internalFqdn } from "../../constructs/host-instance";
import { StackConfig } from "../../constructs/config";
import { deployableConfig, JOBS_DIR, onlyName, ref, resourcesOf, synthStack, TerraformJson, userDataOf } from "./fixtures";

const TERRAFORM = process.env.TERRAFORM_BIN || "terraform";

const { json, stack } = synthStack();
const instances = resourcesOf(json, "yandex_compute_instance");
const logicalName = (vmName: string) => Object.entries(instances).find(([, i]) => i.name === vmName)![0];
/** The terraform_data a VM's replace_triggered_by names. */
const specOf = (vm: any): string => /^terraform_data\.([^.}]+)$/.exec(vm.lifecycle.replace_triggered_by[0])![1];

describe("each VM follows its rendered spec", () => {
  it.each(["fraud-mlflow", "fraud-airflow"])("%s: a terraform_data hashes the user-data the VM boots from, and replaces the VM when it changes", (vmName) => {
    const vm = instances[logicalName(vmName)];
    const local = /^\$\{local\.(.+)\}$/.exec(vm.metadata["user-data"])![1];
    expect(userDataOf(json, vm)).toMatch(/^#cloud-config\n/);
    const specName = specOf(vm);
    // a bare address: Terraform's JSON syntax rejects "${...}" here
    expect(vm.lifecycle.replace_triggered_by).toEqual([`terraform_data.${specName}`]);
    // Terraform's hash of the same local, so resolved references (a recreated cluster's id) count too
    expect(resourcesOf(json, "terraform_data")[specName].input).toEqual({
      user_data_sha256: `\${sha256(local.${local})}`,
      image: `family ${(vmName === "fraud-mlflow" ? deployableConfig().mlflowVm : deployableConfig().airflowVm).imageFamily ?? HOST_INSTANCE_DEFAULTS.imageFamily}`,
    });
    // a newer image in the family still does not replace it
    expect(vm.lifecycle.ignore_changes).toEqual(["boot_disk[0].initialize_params[0].image_id"]);
  });

  it("keeps each VM's public address across replacements: reserved, not ephemeral", () => {
    const addresses = resourcesOf(json, "yandex_vpc_address");
    expect(Object.values(addresses).map((a) => a.name).sort()).toEqual(["fraud-airflow-public", "fraud-mlflow-public"]);
    for (const vmName of ["fraud-mlflow", "fraud-airflow"]) {
      const [addressName] = Object.entries(addresses).find(([, a]) => a.name === `${vmName}-public`)!;
      expect(addresses[addressName].external_ipv4_address).toEqual({ zone_id: "ru-central1-a" });
      expect(instances[logicalName(vmName)].network_interface[0]).toEqual(
        expect.objectContaining({ nat: true, nat_ip_address: ref("yandex_vpc_address", addressName, "external_ipv4_address[0].address") }),
      );
    }
  });

  it("points the jobs at MLflow's internal DNS name, which a replaced MLflow VM keeps (and its certificate names)", () => {
    const fqdn = internalFqdn("fraud-mlflow", "ru-central1-a");
    expect(fqdn).toBe("fraud-mlflow.ru-central1.internal");
    expect(instances[logicalName("fraud-mlflow")].hostname).toBe("fraud-mlflow");
    expect(userDataOf(json, instances[logicalName("fraud-airflow")])).toContain(`"mlflow_tracking_uri": "https://${fqdn}"`);
    expect(userDataOf(json, instances[logicalName("fraud-mlflow")])).toContain(`EXTRA_HOST_NAMES='${fqdn}'`);
    // no address of the MLflow VM in the Airflow VM's spec: replacing MLflow leaves Airflow alone
    expect(userDataOf(json, instances[logicalName("fraud-airflow")])).not.toContain(`yandex_compute_instance.${logicalName("fraud-mlflow")}`);
  });

  it("refuses a zone whose region it cannot tell", () => {
    expect(() => internalFqdn("x", "ru")).toThrow(/cannot tell the region of zone "ru"/);
  });
});

describe("the DAG and the job code it calls are one release", () => {
  it("names the job code's release folder in the Airflow VM's pipeline config", () => {
    expect(userDataOf(json, instances[logicalName("fraud-airflow")])).toContain(
      `"jobs_uri": "s3a://\${yandex_storage_bucket.${onlyName(json, "yandex_storage_bucket")}.bucket}/jobs/${stack.jobCode.release}/"`,
    );
  });

  it("makes the Airflow VM depend on every object of its release (old code is deleted only after the VM that used it)", () => {
    const airflow = instances[logicalName("fraud-airflow")];
    const objects = Object.keys(resourcesOf(json, "yandex_storage_object")).map((n) => `yandex_storage_object.${n}`);
    expect(objects.length).toBe(stack.jobCode.objectKeys.length);
    expect(airflow.depends_on).toEqual(expect.arrayContaining(objects));
  });
});

// ---- a real Terraform plans a second deploy ------------------------------------------------------

/** The hosts' part of a synthesized stack on `terraform_data` only: the user-data locals (their
 * references to other resources replaced by fixed text, as if already created), the spec hashes
 * as synthesized, and per instance a stand-in with the instance's `replace_triggered_by`. */
function hostsOnTerraformData(stackJson: TerraformJson): object {
  const locals: Record<string, string> = {};
  const resources: Record<string, object> = {};
  for (const [name, vm] of Object.entries(resourcesOf(stackJson, "yandex_compute_instance"))) {
    const local = /^\$\{local\.(.+)\}$/.exec(vm.metadata["user-data"])![1];
    // `$${` is an escaped literal; every other `${...}` is a reference to another resource
    locals[local] = userDataOf(stackJson, vm).replace(/(?<!\$)\$\{([^}]*)\}/g, "ref($1)");
    const specName = specOf(vm);
    resources[specName] = { input: resourcesOf(stackJson, "terraform_data")[specName].input };
    resources[name] = { input: { name: vm.name }, lifecycle: { replace_triggered_by: vm.lifecycle.replace_triggered_by } };
  }
  return { locals, resource: { terraform_data: resources } };
}

function terraform(dir: string, ...args: string[]): string {
  const env = { ...process.env, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1", TF_CLI_CONFIG_FILE: "/dev/null" };
  const r = spawnSync(TERRAFORM, args, { cwd: dir, env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`terraform ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Applies `first`, then plans `second` against that state; returns each VM stand-in's actions. */
function secondDeploy(first: TerraformJson, second: TerraformJson): Record<string, string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-daytwo-"));
  try {
    const write = (j: TerraformJson) => fs.writeFileSync(path.join(dir, "main.tf.json"), JSON.stringify(hostsOnTerraformData(j)));
    write(first);
    terraform(dir, "init", "-no-color");
    terraform(dir, "apply", "-auto-approve", "-no-color", "-lock=false");
    write(second);
    terraform(dir, "plan", "-no-color", "-lock=false", "-out=second.plan");
    const plan = JSON.parse(terraform(dir, "show", "-json", "second.plan"));
    const vmNames = Object.fromEntries(Object.entries(resourcesOf(first, "yandex_compute_instance")).map(([n, vm]) => [n, vm.name]));
    const actions: Record<string, string[]> = {};
    for (const rc of plan.resource_changes ?? []) {
      if (rc.name in vmNames) actions[vmNames[rc.name]] = rc.change.actions;
    }
    return actions;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("a second deploy, planned by a real Terraform", () => {
  const synth = (cfg: StackConfig, jobsDir?: string) => synthStack(cfg, jobsDir).json;
  // the first deploy of every case: the stack synthesized at the top of this file
  const first = json;

  it("replaces nothing when the config is unchanged (the rendering is deterministic)", () => {
    expect(secondDeploy(first, synth(deployableConfig()))).toEqual({
      "fraud-mlflow": ["no-op"],
      "fraud-airflow": ["no-op"],
    });
  });

  it("replaces the MLflow VM, and only it, when its image family changes", () => {
    const changed = deployableConfig({ mlflowVm: { imageFamily: "ubuntu-2204-lts" } });
    expect(secondDeploy(first, synth(changed))).toEqual({
      "fraud-mlflow": ["delete", "create"],
      "fraud-airflow": ["no-op"],
    });
  });

  it("replaces the Airflow VM, and only it, when the schedule changes", () => {
    const changed = deployableConfig({ pipelineSchedule: "30 4 * * *" });
    expect(secondDeploy(first, synth(changed))).toEqual({
      "fraud-mlflow": ["no-op"],
      "fraud-airflow": ["delete", "create"],
    });
  });

  it("replaces the Airflow VM when only the job code changes (its DAG then names the new release)", () => {
    const jobsCopy = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-jobs-"));
    try {
      for (const sub of ["entrypoints", "fraud_jobs"]) fs.cpSync(path.join(JOBS_DIR, sub), path.join(jobsCopy, sub), { recursive: true });
      // what the cluster installs, and the archive's builder, are read from the jobs folder too (not changed here)
      for (const file of ["requirements.lock", "requirements-cluster.txt", "build_zip.py"]) fs.copyFileSync(path.join(JOBS_DIR, file), path.join(jobsCopy, file));
      fs.appendFileSync(path.join(jobsCopy, "fraud_jobs", "common.py"), "\n# a code change\n");
      expect(secondDeploy(first, synth(deployableConfig(), jobsCopy))).toEqual({
        "fraud-mlflow": ["no-op"],
        "fraud-airflow": ["delete", "create"],
      });
    } finally {
      fs.rmSync(jobsCopy, { recursive: true, force: true });
    }
  });
});

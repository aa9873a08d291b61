/**
 * The placeholder refusal, evaluated by a real Terraform: the network's precondition and the local
 * it reads are copied onto Terraform's built-in `terraform_data` resource, so `terraform plan` runs
 * offline with no provider and no cloud, exactly as it would evaluate them in a deploy.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { synthesize } from "../../main";
import { deployableRawConfig } from "../config/deployable";

// scripts/test/test-stack.sh sets TERRAFORM_BIN (scripts/toolchain/terraform-bin.sh); otherwise the one on PATH.
const TERRAFORM = process.env.TERRAFORM_BIN || "terraform";

function planRefusalCheck(dir: string, env: NodeJS.ProcessEnv): { status: number | null; output: string } {
  const outdir = path.join(dir, "out");
  synthesize({ outdir, env });
  const stack = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "yc-mlops", "cdk.tf.json"), "utf8"));
  const vpc: any = Object.values(stack.resource.yandex_vpc_network)[0];
  const tfDir = path.join(dir, "tf");
  fs.mkdirSync(tfDir);
  fs.writeFileSync(
    path.join(tfDir, "main.tf.json"),
    JSON.stringify({
      // only the local the precondition reads (the VMs' user-data locals name other resources)
      locals: { config_placeholders: stack.locals.config_placeholders },
      resource: { terraform_data: { refusal_check: { input: "x", lifecycle: vpc.lifecycle } } },
    }),
  );
  const tfEnv = { ...process.env, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1", TF_CLI_CONFIG_FILE: "/dev/null" };
  const init = spawnSync(TERRAFORM, ["init", "-input=false", "-no-color"], { cwd: tfDir, env: tfEnv, encoding: "utf8" });
  if (init.status !== 0) throw new Error(`terraform init failed: ${init.stdout}${init.stderr}`);
  const plan = spawnSync(TERRAFORM, ["plan", "-input=false", "-no-color", "-lock=false"], { cwd: tfDir, env: tfEnv, encoding: "utf8" });
  return { status: plan.status, output: `${plan.stdout}${plan.stderr}` };
}

describe("deploy refusal", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-refusal-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("stops terraform plan of the example config, naming every placeholder", () => {
    const { status, output } = planRefusalCheck(dir, {});
    expect(status).not.toBe(0);
    expect(output).toContain("Refusing to deploy: config.example.json still has placeholder values");
    expect(output).toContain("(cloudId, folderId, adminCidrs[0], sshPublicKey, bucketName)");
  });

  it("lets terraform plan a filled-in config", () => {
    const file = path.join(dir, "config.json");
    fs.writeFileSync(file, JSON.stringify(deployableRawConfig()));
    const { status, output } = planRefusalCheck(dir, { YC_MLOPS_CONFIG: file });
    expect(output).not.toContain("Refusing to deploy");
    expect(status).toBe(0);
  });
});

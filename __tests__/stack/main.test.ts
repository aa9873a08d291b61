import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { localStateFile, STACK_NAME, STATE_STACK_NAME, synthesize } from "../../main";
import { deployableRawConfig, REPO_ROOT } from "../config/deployable";

/** Files under `dir` (recursively), or null when the folder does not even exist. */
function filesUnder(dir: string): string[] | null {
  if (!fs.existsSync(dir)) return null;
  return fs.readdirSync(dir, { recursive: true }).map(String);
}

describe("main (the cdktf app)", () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-main-"));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function writeConfig(raw: unknown): string {
    const file = path.join(tmp, "config.json");
    fs.writeFileSync(file, JSON.stringify(raw));
    return file;
  }

  it("synthesizes the committed example config with no set-up", () => {
    const outdir = path.join(tmp, "out");
    synthesize({ outdir, env: {} });
    const stackJson = path.join(outdir, "stacks", "yc-mlops", "cdk.tf.json");
    expect(JSON.parse(fs.readFileSync(stackJson, "utf8")).resource.yandex_dataproc_cluster).toBeDefined();
  });

  it.each([
    ["an invalid CIDR", { adminCidrs: ["10.1.2.3/33"] }, 'adminCidrs[0] = "10.1.2.3/33"'],
    ["0.0.0.0/0 without opt-in", { adminCidrs: ["0.0.0.0/0"] }, "allowWorldAdminAccess"],
    ["an unknown zone", { zone: "ru-central1-c" }, 'zone = "ru-central1-c"'],
    ["a missing ssh key", { sshPublicKey: undefined }, "config sshPublicKey is required but missing"],
    // the prefix says RSA, the key inside is Ed25519: cloud-init would install it, sshd refuse it
    [
      "a mislabelled ssh key",
      { sshPublicKey: "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGv1cW9mBx1G2mXf5kS3nq0y1hD7uR3pLq8sTz4w6YtE ops@example" },
      'says ssh-rsa but its base64 part is a "ssh-ed25519" key',
    ],
    ["the internet split in two", { adminCidrs: ["0.0.0.0/1", "128.0.0.0/1"] }, "together cover 4,294,967,296 addresses"],
    ["a cron expression with 4 fields", { pipelineSchedule: "*/5 * * *" }, 'config pipelineSchedule = "*/5 * * *"'],
  ])("fails on %s and writes nothing", (_case, overrides, message) => {
    const outdir = path.join(tmp, "out");
    const env = { YC_MLOPS_CONFIG: writeConfig(deployableRawConfig(overrides)) };
    expect(() => synthesize({ outdir, env, repoRoot: tmp })).toThrow(message);
    expect(filesUnder(outdir)).toBeNull();
  });

  it("synthesizes a security-key (sk-ssh-ed25519) login, which the host renderer used to reject after creating cdktf.out", () => {
    const outdir = path.join(tmp, "out");
    const sk = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHAAAABHNzaDo= yubikey";
    synthesize({ outdir, env: { YC_MLOPS_CONFIG: writeConfig(deployableRawConfig({ sshPublicKey: sk })) }, repoRoot: tmp });
    const stack = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", STACK_NAME, "cdk.tf.json"), "utf8"));
    expect(stack.resource.yandex_dataproc_cluster).toBeDefined();
  });

  it("keeps the local state in terraform-state/, where git ignores every name Terraform writes", () => {
    const outdir = path.join(tmp, "out");
    synthesize({ outdir, env: {} });
    for (const name of [STACK_NAME, STATE_STACK_NAME]) {
      const stack = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", name, "cdk.tf.json"), "utf8"));
      expect(stack.terraform.backend).toEqual({ local: { path: localStateFile(name) } });
    }
    const state = path.relative(REPO_ROOT, localStateFile(STACK_NAME));
    expect(state).toBe("terraform-state/yc-mlops.tfstate");
    // the state, its backups, its lock, and Terraform's default names anywhere in the repo
    const names = [
      state,
      `${state}.backup`,
      `${state}.1764850000.backup`,
      "terraform-state/.yc-mlops.tfstate.lock.info",
      "terraform.yc-mlops.tfstate",
      "terraform.yc-mlops.tfstate.backup",
      "terraform.tfstate",
      "cdktf.out/stacks/yc-mlops/terraform.tfstate",
      "terraform.tfstate.d/dev/terraform.tfstate",
    ];
    const res = spawnSync("git", ["check-ignore", "--no-index", ...names], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(res.stdout.trim().split("\n").sort()).toEqual([...names].sort());
  });

  it("refuses to synthesize while a state file is still where cdktf used to put it (the repo root)", () => {
    fs.writeFileSync(path.join(tmp, "terraform.yc-mlops.tfstate"), "{}");
    const outdir = path.join(tmp, "out");
    expect(() => synthesize({ outdir, env: {}, repoRoot: tmp })).toThrow(/move it .* into terraform-state\//);
    expect(filesUnder(outdir)).toBeNull();
    fs.mkdirSync(path.join(tmp, "terraform-state"));
    fs.renameSync(path.join(tmp, "terraform.yc-mlops.tfstate"), path.join(tmp, "terraform-state", "yc-mlops.tfstate"));
    synthesize({ outdir, env: {}, repoRoot: tmp });
    expect(filesUnder(outdir)).not.toBeNull();
  });

  it("exits non-zero from the command line with the message and no output folder", () => {
    const outdir = path.join(tmp, "out");
    const res = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "main.ts"], {
      cwd: REPO_ROOT,
      env: { ...process.env, CDKTF_OUTDIR: outdir, YC_MLOPS_CONFIG: writeConfig(deployableRawConfig({ zone: "ru-central1-c" })) },
      encoding: "utf8",
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('error: config zone = "ru-central1-c": unknown zone');
    expect(filesUnder(outdir)).toBeNull();
  });
});

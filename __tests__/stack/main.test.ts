import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { synthesize } from "../../main";
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
  ])("fails on %s and writes nothing", (_case, overrides, message) => {
    const outdir = path.join(tmp, "out");
    const env = { YC_MLOPS_CONFIG: writeConfig(deployableRawConfig(overrides)) };
    expect(() => synthesize({ outdir, env })).toThrow(message);
    expect(filesUnder(outdir)).toBeNull();
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

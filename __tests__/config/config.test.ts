import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { addressesCovered, ConfigError, loadConfig, MAX_ADMIN_ADDRESSES, STACK_DEFAULTS, validateConfig } from "../../constructs/config";
import { deployableRawConfig, REPO_ROOT } from "./deployable";

function expectConfigError(raw: unknown, message: string | RegExp, env: NodeJS.ProcessEnv = {}): void {
  expect(() => validateConfig(raw, env)).toThrow(ConfigError);
  expect(() => validateConfig(raw, env)).toThrow(message);
}

describe("config validation", () => {
  it("accepts the committed example and lists every placeholder it still carries", () => {
    const { config, file } = loadConfig({ env: {}, baseDir: REPO_ROOT });
    expect(path.basename(file)).toBe("config.example.json");
    expect(config.placeholders).toEqual(
      expect.arrayContaining(["cloudId", "folderId", "adminCidrs[0]", "sshPublicKey", "bucketName"]),
    );
  });

  it("finds no placeholder in a filled-in config", () => {
    expect(validateConfig(deployableRawConfig()).placeholders).toEqual([]);
  });

  it("passes on only what the file sets (the constructs apply their defaults), filling in the stack-wide values", () => {
    const cfg = validateConfig(deployableRawConfig({ dataproc: undefined, zone: undefined, namePrefix: undefined }));
    for (const section of [cfg.postgres, cfg.mlflowVm, cfg.airflowVm, cfg.dataproc, cfg.storage]) expect(section).toEqual({});
    expect([cfg.sshUser, cfg.subnetCidr, cfg.pipelineSchedule, cfg.stateBackend]).toEqual([undefined, undefined, undefined, undefined]);
    const { zone, namePrefix, allowWorldAdminAccess, destroyDeletesData } = cfg;
    expect({ zone, namePrefix, allowWorldAdminAccess, destroyDeletesData }).toEqual(STACK_DEFAULTS);
    // a key the file sets is passed on as set
    expect(validateConfig(deployableRawConfig({ mlflowVm: { diskSizeGb: 31 } })).mlflowVm).toEqual({ diskSizeGb: 31 });
  });

  it("fails on a CIDR that is not an address range and names it", () => {
    expectConfigError(deployableRawConfig({ adminCidrs: ["93.184.216.0/24", "10.0.0.300/32"] }), 'adminCidrs[1] = "10.0.0.300/32"');
    expectConfigError(deployableRawConfig({ adminCidrs: ["my-office"] }), /adminCidrs\[0\] = "my-office": is not a valid IPv4 CIDR/);
  });

  it("fails on a CIDR with host bits set and suggests the network address", () => {
    expectConfigError(deployableRawConfig({ adminCidrs: ["93.184.216.34/24"] }), /did you mean 93\.184\.216\.0\/24/);
  });

  it("fails when 0.0.0.0/0 is an admin CIDR without the explicit opt-in", () => {
    expectConfigError(deployableRawConfig({ adminCidrs: ["0.0.0.0/0"] }), /adminCidrs\[0\] = "0\.0\.0\.0\/0".*allowWorldAdminAccess/);
  });

  it("allows 0.0.0.0/0 when allowWorldAdminAccess is true", () => {
    const cfg = validateConfig(deployableRawConfig({ adminCidrs: ["0.0.0.0/0"], allowWorldAdminAccess: true }));
    expect(cfg.adminCidrs).toEqual(["0.0.0.0/0"]);
  });

  it.each([
    [["0.0.0.0/1", "128.0.0.0/1"], "4,294,967,296"],
    [["0.0.0.0/1"], "2,147,483,648"],
    [["93.0.0.0/8", "94.0.0.0/8"], "33,554,432"],
    [["64.0.0.0/2", "93.184.216.0/24"], "1,073,741,824"],
  ])("refuses %j without allowWorldAdminAccess: decided by the address space covered, not by the text", (cidrs, count) => {
    expectConfigError(deployableRawConfig({ adminCidrs: cidrs }), `config adminCidrs = ${JSON.stringify(cidrs)}: together cover ${count} addresses`);
    expect(validateConfig(deployableRawConfig({ adminCidrs: cidrs, allowWorldAdminAccess: true })).adminCidrs).toEqual(cidrs);
  });

  it("counts overlapping ranges once: a /8 and ranges inside it stay within the limit", () => {
    const cidrs = ["93.0.0.0/8", "93.184.0.0/16", "93.184.216.7/32"];
    expect(addressesCovered(cidrs)).toBe(MAX_ADMIN_ADDRESSES);
    expect(validateConfig(deployableRawConfig({ adminCidrs: cidrs })).adminCidrs).toEqual(cidrs);
    expect(addressesCovered(["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/8"])).toBe(2 ** 32);
  });

  it("fails on the discontinued zone ru-central1-c and on made-up zones", () => {
    expectConfigError(deployableRawConfig({ zone: "ru-central1-c" }), /zone = "ru-central1-c": unknown zone.*ru-central1-a, ru-central1-b, ru-central1-d/);
    expectConfigError(deployableRawConfig({ zone: "us-east-1" }), 'zone = "us-east-1"');
  });

  it("fails when a required value is missing", () => {
    for (const key of ["folderId", "cloudId", "sshPublicKey", "adminCidrs"]) {
      expectConfigError(deployableRawConfig({ [key]: undefined }), `config ${key} is required but missing`);
    }
  });

  it("fails on something that is not a public key (e.g. a private key pasted by mistake)", () => {
    expectConfigError(deployableRawConfig({ sshPublicKey: "-----BEGIN OPENSSH PRIVATE KEY-----" }), /sshPublicKey = .*looks like a PRIVATE key/);
  });

  it("fails on an unknown key instead of silently ignoring a typo", () => {
    expectConfigError(deployableRawConfig({ adminCidr: ["93.184.216.0/24"] }), "config adminCidr: unknown key");
    expectConfigError(deployableRawConfig({ dataproc: { dataHosts: 2 } }), "config dataproc.dataHosts: unknown key");
  });

  it("fails on a subnet outside the private ranges or too large", () => {
    expectConfigError(deployableRawConfig({ subnetCidr: "8.8.8.0/24" }), 'subnetCidr = "8.8.8.0/24"');
    expectConfigError(deployableRawConfig({ subnetCidr: "10.0.0.0/8" }), /subnetCidr = "10\.0\.0\.0\/8": a Yandex subnet must be from \/16 to \/28/);
  });

  it("names where the job of a removed key went (versions: make upgrade; pip packages: the jobs' lock)", () => {
    expectConfigError(deployableRawConfig({ versions: { mlflow: "3.18.0" } }), /config versions: this key was removed: .*make upgrade MLFLOW=/);
    expectConfigError(deployableRawConfig({ dataproc: { pipPackages: ["mlflow-skinny==3.17.2"] } }),
      /config dataproc.pipPackages: this key was removed: .*jobs\/requirements-cluster.txt/);
  });

  it("fails on a Data Proc image whose Python cannot run the jobs (before 2.2.5), takes 2.2.5+ and the 2.2 prefix", () => {
    expectConfigError(deployableRawConfig({ dataproc: { imageVersion: "2.1" } }), /dataproc\.imageVersion = "2\.1": must be 2\.2\.5 or later/);
    expectConfigError(deployableRawConfig({ dataproc: { imageVersion: "2.2.4" } }), 'dataproc.imageVersion = "2.2.4"');
    expectConfigError(deployableRawConfig({ dataproc: { imageVersion: "latest" } }), 'dataproc.imageVersion = "latest"');
    for (const v of ["2.2.5", "2.2.9", "2.2", "2.3"]) {
      expect(validateConfig(deployableRawConfig({ dataproc: { imageVersion: v } })).dataproc.imageVersion).toBe(v);
    }
  });

  it("takes cloud, folder and zone from the provider's environment variables", () => {
    const cfg = validateConfig(deployableRawConfig(), {
      YC_CLOUD_ID: "b1genvcloud000000000",
      YC_FOLDER_ID: "b1genvfolder00000000",
      YC_ZONE: "ru-central1-d",
    });
    expect([cfg.cloudId, cfg.folderId, cfg.zone]).toEqual(["b1genvcloud000000000", "b1genvfolder00000000", "ru-central1-d"]);
  });

  it("fails on a bad folder id from the environment and names it", () => {
    expectConfigError(deployableRawConfig(), 'folderId = "not-a-folder"', { YC_FOLDER_ID: "not-a-folder" });
  });
});

describe("config file loading", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-config-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads the file named by YC_MLOPS_CONFIG", () => {
    const file = path.join(dir, "mine.json");
    fs.writeFileSync(file, JSON.stringify(deployableRawConfig({ namePrefix: "from-env-file" })));
    expect(loadConfig({ env: { YC_MLOPS_CONFIG: file } }).config.namePrefix).toBe("from-env-file");
  });

  it("fails on a missing file and on broken JSON, naming the file", () => {
    const missing = path.join(dir, "nope.json");
    expect(() => loadConfig({ env: { YC_MLOPS_CONFIG: missing } })).toThrow(`config file "${missing}" cannot be read`);
    const broken = path.join(dir, "broken.json");
    fs.writeFileSync(broken, "{ not json");
    expect(() => loadConfig({ env: { YC_MLOPS_CONFIG: broken } })).toThrow(`config file "${broken}" is not valid JSON`);
  });
});

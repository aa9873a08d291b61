import * as fs from "fs";
import * as path from "path";
import { EXAMPLE_MLFLOW } from "../../constructs/host-examples";
import { renderMlflowHost } from "../../constructs/host-render";
import { run, tempDir } from "./tools";

/**
 * The boot script's helpers, run for real in bash: its functions are sourced (everything before
 * `main`), CONF/SECRETS point at a temp dir, nothing touches the network or the machine.
 */
const host = renderMlflowHost(EXAMPLE_MLFLOW);
const boot = host.spec.files.find((f) => f.path === "/usr/local/sbin/yc-mlops-boot")!.content;
const hostEnv = host.spec.files.find((f) => f.path === "/etc/yc-mlops/host.env")!.content;

function bash(snippet: string, setup: (dir: string) => void = () => undefined) {
  const dir = tempDir("boot");
  fs.writeFileSync(path.join(dir, "functions.sh"), boot.slice(0, boot.indexOf("\nmain() {")));
  fs.mkdirSync(path.join(dir, "conf"));
  fs.mkdirSync(path.join(dir, "secrets"), { mode: 0o700 });
  setup(dir);
  const script = `source ${dir}/functions.sh\ntrap - EXIT\nCONF=${dir}/conf\nSECRETS=${dir}/secrets\n${snippet}\n`;
  return { ...run("bash", ["-c", script]), dir };
}

describe("boot script", () => {
  it("uses the override file's endpoints, logs them (index credentials masked), and never a secret", () => {
    const r = bash("load_settings", (dir) => {
      fs.writeFileSync(path.join(dir, "conf/host.env"), hostEnv);
      fs.writeFileSync(
        path.join(dir, "conf/endpoints.env"),
        [
          "YC_METADATA_URL=http://127.0.0.1:18080",
          "YC_LOCKBOX_PAYLOAD_URL=http://127.0.0.1:18081",
          "YC_STORAGE_ENDPOINT=http://127.0.0.1:18082",
          "YC_PG_HOST=127.0.0.1",
          "YC_PG_PORT=15432",
          "YC_PG_SSLMODE=disable",
          "PIP_INDEX_URL=https://user:s3cr3t@pypi.example/simple",
        ].join("\n") + "\n",
      );
    });
    expect(r.status).toBe(0);
    expect(r.output).toContain("endpoint YC_METADATA_URL=http://127.0.0.1:18080");
    expect(r.output).toContain("endpoint YC_PG_HOST=127.0.0.1");
    expect(r.output).toContain("endpoint YC_PG_SSLMODE=disable");
    expect(r.output).toContain("endpoint PIP_INDEX_URL=https://***@pypi.example/simple");
    expect(r.output).not.toContain("s3cr3t");
    expect(r.output).not.toContain("169.254.169.254");
  });

  it("without an override uses the cloud defaults", () => {
    const r = bash("load_settings", (dir) => fs.writeFileSync(path.join(dir, "conf/host.env"), hostEnv));
    expect(r.output).toContain("endpoint YC_METADATA_URL=http://169.254.169.254");
    expect(r.output).toContain("endpoint YC_PG_PORT=6432");
  });

  it("refuses an sslmode libpq does not know, naming it", () => {
    const r = bash("load_settings", (dir) => {
      fs.writeFileSync(path.join(dir, "conf/host.env"), hostEnv);
      fs.writeFileSync(path.join(dir, "conf/endpoints.env"), "YC_PG_SSLMODE=sometimes\n");
    });
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("YC_PG_SSLMODE=sometimes is not a libpq sslmode");
  });

  it("percent-encodes a database password and refuses env values systemd would reinterpret", () => {
    const r = bash(
      'env_line URL "postgresql://u:$(secret_urlencoded e6q:password)@h:6432/db"\nenv_line BAD "a b"',
      (dir) => {
        fs.mkdirSync(path.join(dir, "secrets/e6q"));
        fs.writeFileSync(path.join(dir, "secrets/e6q/password"), "p@ss/w:rd%x y");
      },
    );
    expect(r.output).toContain("URL=postgresql://u:p%40ss%2Fw%3Ard%25x%20y@h:6432/db");
    expect(r.output).toContain("the value for BAD is empty or has characters not allowed");
    expect(r.output).not.toContain("a b");
    expect(r.status).not.toBe(0);
  });

  it("writes env files atomically with the given group and mode", () => {
    const r = bash("printf 'A=1\\n' | write_private \"$CONF/x.env\" root 0640");
    expect(r.status).toBe(0);
    const st = fs.statSync(path.join(r.dir, "conf/x.env"));
    expect(st.mode & 0o777).toBe(0o640);
    expect(fs.readFileSync(path.join(r.dir, "conf/x.env"), "utf8")).toBe("A=1\n");
    expect(fs.readdirSync(path.join(r.dir, "conf"))).toEqual(["x.env"]);
  });

  it("names a missing Lockbox entry", () => {
    const r = bash("secret_path e6qnothere:password");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("Lockbox secret e6qnothere has no entry 'password'");
  });
});

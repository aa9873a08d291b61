import * as fs from "fs";
import * as path from "path";
import { FLEET } from "../../constructs/fleet-versions";
import { EXAMPLE_MLFLOW } from "../fixtures/host-examples";
import { renderAirflowHost, renderMlflowHost } from "../../cloud-init/host-render";
import { exampleAirflow } from "../fixtures/host-examples";
import { run, tempDir } from "./tools";

/**
 * The boot script's helpers, run for real in bash: its functions are sourced (everything before
 * `main`), CONF/SECRETS point at a temp dir, nothing touches the network or the machine.
 */
const host = renderMlflowHost(EXAMPLE_MLFLOW);
const boot = host.spec.files.find((f) => f.path === "/usr/local/sbin/yc-mlops-boot")!.content;
const hostEnv = host.spec.files.find((f) => f.path === "/etc/yc-mlops/host.env")!.content;

const airflowBoot = renderAirflowHost(exampleAirflow()).spec.files.find((f) => f.path === "/usr/local/sbin/yc-mlops-boot")!.content;

function bash(snippet: string, setup: (dir: string) => void = () => undefined, script = boot) {
  const dir = tempDir("boot");
  fs.writeFileSync(path.join(dir, "functions.sh"), script.slice(0, script.indexOf("\nmain() {")));
  fs.mkdirSync(path.join(dir, "conf"));
  fs.mkdirSync(path.join(dir, "secrets"), { mode: 0o700 });
  setup(dir);
  const text = `source ${dir}/functions.sh\ntrap - EXIT\nCONF=${dir}/conf\nSECRETS=${dir}/secrets\n${snippet}\n`;
  return { ...run("bash", ["-c", text]), dir };
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

  it("stops before making a venv on an image whose python3 is not the locks' Python, naming both", () => {
    const r = bash('PATH="$CONF/bin:$PATH" install_venv "$CONF/venv" "$CONF/service.lock"', (dir) => {
      fs.mkdirSync(path.join(dir, "conf/bin"));
      fs.writeFileSync(path.join(dir, "conf/bin/python3"), "#!/bin/sh\necho 3.12\n", { mode: 0o755 });
      fs.writeFileSync(path.join(dir, "conf/service.lock"), "mlflow==1.0 --hash=sha256:00\n");
    });
    expect(r.status).not.toBe(0);
    expect(r.output).toContain(`python3 here is 3.12, but ${r.dir}/conf/service.lock is compiled for CPython ${FLEET.python}`);
    expect(fs.existsSync(path.join(r.dir, "conf/venv"))).toBe(false);
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

  it("derives Airflow's fernet key (url-safe base64 of 32 bytes) and a 128-hex-digit JWT key", () => {
    const r = bash(
      "fernet_key e6qf:password; jwt_key e6qj:password",
      (dir) => {
        for (const id of ["e6qf", "e6qj"]) {
          fs.mkdirSync(path.join(dir, `secrets/${id}`));
          fs.writeFileSync(path.join(dir, `secrets/${id}/password`), `seed-${id}-${Math.random()}`);
        }
      },
      airflowBoot,
    );
    expect(r.status).toBe(0);
    const [fernet, jwt] = r.output.trim().split("\n");
    expect(Buffer.from(fernet, "base64url")).toHaveLength(32);
    expect(fernet).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(jwt).toMatch(/^[0-9a-f]{128}$/);
  });

  it("gives Airflow the Yandex connection with only the folder (no key), and the endpoints of the override", () => {
    const conn = (text: string) => {
      const line = text.split("\n").find((l) => l.startsWith("AIRFLOW_CONN_YANDEXCLOUD_DEFAULT="))!;
      return JSON.parse(line.slice(line.indexOf("=") + 1).replace(/^'|'$/g, ""));
    };
    const airflowEnv = renderAirflowHost(exampleAirflow()).spec.files.find((f) => f.path === "/etc/yc-mlops/host.env")!.content;
    const cloud = bash("load_settings >/dev/null; yandex_connection; metadata_addr", (dir) => {
      fs.writeFileSync(path.join(dir, "conf/host.env"), airflowEnv);
    }, airflowBoot);
    expect(conn(cloud.output)).toEqual({ conn_type: "yandexcloud", extra: { folder_id: "b1gplaceholderfolder" } });
    expect(cloud.output.trim().split("\n").pop()).toBe("169.254.169.254");

    const standIn = bash("load_settings; yandex_connection; metadata_addr", (dir) => {
      fs.writeFileSync(path.join(dir, "conf/host.env"), airflowEnv);
      fs.writeFileSync(path.join(dir, "conf/endpoints.env"), "YC_METADATA_URL=http://127.0.0.1:18080\nYC_API_ENDPOINT=127.0.0.1:18443\n");
    }, airflowBoot);
    expect(standIn.output).toContain("endpoint YC_API_ENDPOINT=127.0.0.1:18443");
    expect(conn(standIn.output)).toEqual({
      conn_type: "yandexcloud",
      extra: { folder_id: "b1gplaceholderfolder", endpoint: "127.0.0.1:18443" },
    });
    expect(standIn.output.trim().split("\n").pop()).toBe("127.0.0.1:18080");
  });
});

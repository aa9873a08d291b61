import * as fs from "fs";
import * as path from "path";
import { HostFile } from "../../cloud-init/host-spec";
import { renderCloudConfig } from "../../cloud-init/render";
import { escapeTerraformTemplate } from "../../cloud-init/terraform-escape";
import { FLEET, lockPins } from "../../constructs/fleet-versions";
import { EXAMPLE_MLFLOW, exampleAirflow } from "../fixtures/host-examples";
import {
  BOOT_PROGRAM,
  ENDPOINTS_OVERRIDE,
  HTPASSWD_PATH,
  NGINX_DROPIN_STAGED,
  NGINX_SITE_STAGED,
  RenderedHost,
  TLS_CERT_PATH,
  TLS_KEY_PATH,
  renderAirflowHost,
  renderMlflowHost,
} from "../../cloud-init/host-render";
import { findSecrets } from "./secret-scan";
import { requireTool, run, standInCert, tempDir } from "./tools";

const REPO = path.resolve(__dirname, "..", "..");
const mlflow = renderMlflowHost(EXAMPLE_MLFLOW);
const airflow = renderAirflowHost(exampleAirflow());
const HOSTS: RenderedHost[] = [mlflow, airflow];

const file = (host: RenderedHost, p: string): string => {
  const f = host.spec.files.find((x) => x.path === p);
  if (!f) throw new Error(`${host.name} writes no ${p}`);
  return f.content;
};
const unitFiles = (host: RenderedHost): HostFile[] =>
  host.spec.files.filter((f) => f.path.startsWith("/etc/systemd/system/") && f.path.endsWith(".service"));
// what the snapshots cover: everything but the big lock files, the DAG sources and the first-boot
// program (each has its own assertions: the program is the repository's file, boot-script.test.ts)
const configFiles = (host: RenderedHost): Record<string, string> =>
  Object.fromEntries(
    host.spec.files
      .filter((f) => !f.path.endsWith(".lock") && !f.path.startsWith("/opt/airflow/dags/") && f.path !== BOOT_PROGRAM)
      .map((f) => [f.path, f.content]),
  );
// the user-data with each lock and the first-boot program replaced by its name: `make upgrade`
// changes the locks, not the hosts' shape (each lock has its own assertions below: it is the
// committed file, at the fleet's pins), and the program is tested in pytest
const userDataWithoutLocks = (host: RenderedHost): string =>
  renderCloudConfig({
    ...host.spec,
    files: host.spec.files.map((f) => {
      if (f.path.endsWith(".lock")) return { ...f, content: `<units/requirements/${path.basename(f.path)}>\n` };
      return f.path === BOOT_PROGRAM ? { ...f, content: "<units/first-boot/first_boot.py>\n" } : f;
    }),
  });
const directive = (unit: string, key: string): string[] =>
  unit.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

describe.each(HOSTS.map((h) => [h.name, h] as const))("%s VM user-data", (_name, host) => {
  it("matches the snapshot (user-data and every unit, nginx site, env file and boot script)", () => {
    expect(renderCloudConfig(host.spec)).toBe(host.userData);
    expect(userDataWithoutLocks(host)).toMatchSnapshot("user-data");
    expect(configFiles(host)).toMatchSnapshot("files");
  });

  it("is valid #cloud-config for Debian's cloud-init", () => {
    const dir = tempDir("schema");
    const f = path.join(dir, "user-data");
    fs.writeFileSync(f, host.userData);
    const r = run("cloud-init", ["schema", "--config-file", f]);
    expect(r.output).toContain("Valid cloud-config");
    expect(r.status).toBe(0);
  });

  it("holds no secret-looking value", () => {
    expect(findSecrets(host.userData)).toEqual([]);
  });

  it("never carries the endpoint override (the boot test writes it into the root filesystem)", () => {
    expect(host.spec.files.map((f) => f.path)).not.toContain(ENDPOINTS_OVERRIDE);
    expect(host.userData).not.toMatch(/127\.0\.0\.1:\d+\/(computeMetadata|lockbox)/);
    expect(host.userData).toContain("YC_METADATA_URL='http://169.254.169.254'");
  });

  it("reads the endpoint override before any network call and logs the endpoints it uses", () => {
    const program = file(host, BOOT_PROGRAM);
    const boot = program.slice(program.indexOf("def boot("));
    expect(boot.split("\n")[2].trim()).toBe("values = load_settings(conf_dir)");
    expect(program).toContain('override = conf_dir / "endpoints.env"');
    expect(program).toContain('log(f"endpoint {name}={values[name]}")');
  });

  it("runs every service as its own user with Restart=, EnvironmentFile= and journald logging", () => {
    const units = unitFiles(host);
    expect(units.length).toBeGreaterThan(0);
    for (const u of units) {
      const [user] = directive(u.content, "User");
      expect([u.path, user]).toEqual([u.path, host.name]);
      expect(directive(u.content, "Restart")[0]).toMatch(/^(on-failure|always)$/);
      expect(directive(u.content, "RestartSec")).toHaveLength(1);
      expect(directive(u.content, "EnvironmentFile")).toEqual([`/etc/yc-mlops/${host.name}.env`]);
      expect(directive(u.content, "StandardOutput")).toEqual(["journal"]);
    }
  });

  it("puts nginx with TLS and basic auth in front, proxying to loopback, with no plain-HTTP listener", () => {
    const site = file(host, NGINX_SITE_STAGED);
    expect(site).toMatch(/^\s*listen 443 ssl/m);
    expect(site).not.toMatch(/^\s*listen (80|\[::\]:80)\b/m);
    expect(site).toMatch(/^\s*auth_basic_user_file \/etc\/nginx\/yc-mlops\.htpasswd;/m);
    expect(site).toMatch(/^\s*proxy_pass http:\/\/127\.0\.0\.1:(5000|8080);/m);
  });

  it("builds htpasswd on the VM from Lockbox through stdin", () => {
    expect(file(host, BOOT_PROGRAM)).toContain('run("htpasswd", "-i", "-B", *create, str(built), name, stdin=password');
    expect(host.spec.files.map((f) => f.path)).not.toContain(HTPASSWD_PATH);
  });
});

describe("MLflow VM", () => {
  const unit = file(mlflow, "/etc/systemd/system/mlflow-server.service");

  it("keeps MLflow on loopback, proxies artifacts to the bucket, and sets allowed hosts", () => {
    const [exec] = directive(unit, "ExecStart");
    expect(exec).toMatch(/ --host 127\.0\.0\.1 --port 5000 /);
    expect(exec).toContain("--serve-artifacts --artifacts-destination ${MLFLOW_ARTIFACTS_DESTINATION}");
    expect(exec).toContain("--allowed-hosts ${MLFLOW_ALLOWED_HOSTS}");
    expect(exec).not.toContain("postgresql://");
    expect(file(mlflow, "/etc/yc-mlops/mlflow.base.env")).toContain(
      "MLFLOW_ARTIFACTS_DESTINATION=s3://placeholder-mlops-bucket/mlflow",
    );
  });

  it("installs the committed MLflow lock (the fleet's mlflow, hash-pinned)", () => {
    const lock = file(mlflow, "/usr/local/lib/yc-mlops/mlflow-server.lock");
    expect(lock).toBe(fs.readFileSync(path.join(REPO, "units/requirements/mlflow-server.lock"), "utf8"));
    expect(lockPins(lock).get("mlflow")).toBe(FLEET.pins.mlflow);
    expect(lock).toMatch(/^psycopg2-binary==/m);
    expect(lock).toMatch(/^boto3==/m);
  });

  it("uses PostgreSQL on 6432 with verify-full by default", () => {
    const env = file(mlflow, "/etc/yc-mlops/host.env");
    expect(env).toContain("YC_PG_PORT='6432'");
    expect(env).toContain("YC_PG_SSLMODE='verify-full'");
  });
});

describe("Airflow VM", () => {
  it("runs the four Airflow 3 processes (api-server, no webserver) after a once-only db migrate", () => {
    expect(airflow.units).toEqual([
      "airflow-db-migrate.service",
      "airflow-api-server.service",
      "airflow-scheduler.service",
      "airflow-dag-processor.service",
      "airflow-triggerer.service",
    ]);
    expect(airflow.userData).not.toContain("airflow webserver");
    const migrate = file(airflow, "/etc/systemd/system/airflow-db-migrate.service");
    expect(directive(migrate, "ExecStart")).toEqual(["/opt/airflow/venv/bin/airflow db migrate"]);
    expect(directive(migrate, "ConditionPathExists")).toEqual(["!/var/lib/airflow/.db-migrated"]);
    for (const u of ["scheduler", "dag-processor", "triggerer", "api-server"]) {
      const text = file(airflow, `/etc/systemd/system/airflow-${u}.service`);
      expect(directive(text, "After").join(" ")).toContain("airflow-db-migrate.service");
    }
  });

  it("starts the scheduler only once the api-server (its tasks' execution API) answers", () => {
    const scheduler = file(airflow, "/etc/systemd/system/airflow-scheduler.service");
    expect(directive(scheduler, "ExecStartPre")).toEqual([
      "/usr/local/lib/yc-mlops/wait-for-url http://127.0.0.1:8080/api/v2/monitor/health 600",
    ]);
    expect(directive(scheduler, "After").join(" ")).toContain("airflow-api-server.service");
  });

  it("runs no log server (it would listen on every address) and gets a killed scheduler back fast", () => {
    for (const c of ["scheduler", "triggerer"]) {
      const [exec] = directive(file(airflow, `/etc/systemd/system/airflow-${c}.service`), "ExecStart");
      expect(exec).toMatch(/ --skip-serve-logs$/);
    }
    const scheduler = file(airflow, "/etc/systemd/system/airflow-scheduler.service");
    expect(directive(scheduler, "TimeoutStopSec")).toEqual(["10s"]);
    expect(directive(scheduler, "RestartSec")).toEqual(["2s"]);
  });

  it("keeps the api-server on loopback", () => {
    const [exec] = directive(file(airflow, "/etc/systemd/system/airflow-api-server.service"), "ExecStart");
    expect(exec).toMatch(/airflow api-server --host 127\.0\.0\.1 --port 8080\b/);
    expect(file(airflow, "/etc/yc-mlops/airflow.base.env")).toContain("AIRFLOW__API__HOST=127.0.0.1");
  });

  it("gets the DAG, the step contract, its config and the Yandex connection without a key", () => {
    const dagsDir = path.join(REPO, "jobs/dags");
    for (const name of fs.readdirSync(dagsDir).filter((n) => n.endsWith(".py"))) {
      expect(file(airflow, `/opt/airflow/dags/${name}`)).toBe(fs.readFileSync(path.join(dagsDir, name), "utf8"));
    }
    expect(file(airflow, "/opt/airflow/dags/pipeline_spec.py")).toBe(
      fs.readFileSync(path.join(REPO, "jobs/fraud_jobs/pipeline_spec.py"), "utf8"),
    );
    const config = JSON.parse(file(airflow, "/etc/yc-mlops/pipeline.json"));
    expect(config.dataproc_cluster_id).toBe("c9qplaceholdercluster");
    expect(config.mlflow_tracking_uri).toMatch(/^https:\/\//);
    const env = file(airflow, "/etc/yc-mlops/airflow.base.env");
    expect(env).toContain("FRAUD_PIPELINE_CONFIG=/etc/yc-mlops/pipeline.json");
    expect(env).toContain("AIRFLOW__CORE__LOAD_EXAMPLES=False");
    expect(env).toContain("AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:8080/execution/");
    // the connection itself is built at boot (see boot-script.test.ts); its folder comes from here
    expect(file(airflow, "/etc/yc-mlops/host.env")).toContain("YANDEX_FOLDER_ID='b1gplaceholderfolder'");
  });

  it("installs exactly the Airflow pins the DAG tests run, PostgreSQL drivers included", () => {
    const lock = file(airflow, "/usr/local/lib/yc-mlops/airflow-host.lock");
    expect(lock).toBe(fs.readFileSync(path.join(REPO, "units/requirements/airflow-host.lock"), "utf8"));
    const dagLock = lockPins(fs.readFileSync(path.join(REPO, "jobs/requirements-airflow.lock"), "utf8"));
    expect(Object.fromEntries(lockPins(lock))).toEqual(Object.fromEntries(dagLock));
    expect(lockPins(lock).has("psycopg2-binary")).toBe(true);
    expect(lockPins(lock).has("asyncpg")).toBe(true);
  });
});

describe("systemd units", () => {
  const dir = tempDir("systemd");
  // systemd-analyze needs a root with the distribution's units (for sysinit.target etc.) and the
  // ExecStart binaries. The venvs exist only on the VM, so the root gets executable stubs at the
  // same paths; the unit files themselves are verified unchanged.
  const root = path.join(dir, "root");
  requireTool("systemd-analyze"); // a clear install hint instead of a missing-folder error below
  fs.cpSync("/usr/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true });
  for (const bin of ["/opt/mlflow/venv/bin/mlflow", "/opt/airflow/venv/bin/airflow", "/usr/local/lib/yc-mlops/wait-for-url"]) {
    fs.mkdirSync(path.join(root, path.dirname(bin)), { recursive: true });
    fs.writeFileSync(path.join(root, bin), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  }
  for (const bin of ["/usr/bin/touch", "/usr/sbin/nginx"]) {
    fs.mkdirSync(path.join(root, path.dirname(bin)), { recursive: true });
    fs.copyFileSync(bin, path.join(root, bin));
    fs.chmodSync(path.join(root, bin), 0o755);
  }
  const units = HOSTS.flatMap((h) => unitFiles(h));
  for (const u of units) {
    fs.mkdirSync(path.join(root, path.dirname(u.path)), { recursive: true });
    fs.writeFileSync(path.join(root, u.path), u.content);
  }
  fs.mkdirSync(path.join(root, "etc/systemd/system/nginx.service.d"), { recursive: true });
  fs.writeFileSync(path.join(root, "etc/systemd/system/nginx.service.d/yc-mlops-hardening.conf"), file(mlflow, NGINX_DROPIN_STAGED));
  const names = units.map((u) => path.basename(u.path));

  it.each(names)("%s passes systemd-analyze verify with no warning", (name) => {
    const r = run("systemd-analyze", ["verify", `--root=${root}`, name]);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });

  it("systemd-analyze verify reports a broken unit (so the check above can fail)", () => {
    const bad = path.join(root, "etc/systemd/system/broken-example.service");
    fs.writeFileSync(bad, file(mlflow, "/etc/systemd/system/mlflow-server.service").replace("Restart=on-failure", "Restart=sometimes"));
    expect(run("systemd-analyze", ["verify", `--root=${root}`, "broken-example.service"]).output).toMatch(/restart specifier/);
    fs.rmSync(bad);
  });

  it.each([...names, "nginx.service"])("%s has a systemd-analyze security exposure of 5.0 or less", (name) => {
    if (name === "nginx.service" && !fs.existsSync(path.join(root, "usr/lib/systemd/system/nginx.service"))) {
      throw new Error("nginx.service not found: install nginx-light (apt-get install nginx-light)");
    }
    const r = run("systemd-analyze", ["security", "--offline=true", `--root=${root}`, "--no-pager", name]);
    const m = r.output.match(/Overall exposure level for \S+: (\d+\.\d+)/);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(5.0);
  });
});

describe("nginx sites", () => {
  it.each(HOSTS.map((h) => [h.name, h] as const))("the %s site passes nginx -t with stand-in cert and htpasswd", (_n, host) => {
    const dir = tempDir("nginx");
    const { cert, key } = standInCert(dir);
    const htpasswd = path.join(dir, "htpasswd");
    // a throwaway password made here; it never leaves the temp dir
    run("htpasswd", ["-i", "-B", "-c", htpasswd, "stand-in-user"], { input: `${Math.random().toString(36)}\n` });
    // the site verbatim, except the three file paths that exist only on the VM
    const site = file(host, NGINX_SITE_STAGED)
      .split(TLS_CERT_PATH).join(cert)
      .split(TLS_KEY_PATH).join(key)
      .split(HTPASSWD_PATH).join(htpasswd);
    fs.writeFileSync(path.join(dir, "site.conf"), site);
    fs.writeFileSync(
      path.join(dir, "nginx.conf"),
      `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${dir}/site.conf;\n}\n`,
    );
    const r = run("nginx", ["-t", "-p", dir, "-e", `${dir}/error.log`, "-c", path.join(dir, "nginx.conf")]);
    expect(r.output).toMatch(/test is successful/);
    expect(r.status).toBe(0);
  });
});

describe("secret scan", () => {
  it("flags planted secrets (so the user-data checks above can fail)", () => {
    const planted = [
      "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY1",
      "-----BEGIN PRIVATE KEY-----",
      "url: postgresql://mlflow:hunter2hunter2@db:6432/mlflow",
      "password: correct-horse-battery",
      "token t1.9euelZqPlaceholderTokenValue0123456789abcdef",
    ];
    for (const line of planted) expect([line, findSecrets(line).length > 0]).toEqual([line, true]);
  });
});

describe("cloud-init schema check", () => {
  it("rejects a malformed cloud-config (so the schema checks above can fail)", () => {
    const dir = tempDir("schema-bad");
    const f = path.join(dir, "user-data");
    fs.writeFileSync(f, "#cloud-config\npackages: 5\nwrite_files: nope\n");
    expect(run("cloud-init", ["schema", "--config-file", f]).status).not.toBe(0);
  });
});

describe("host parameters", () => {
  it.each([
    [{ hostname: "Bad_Host" }, /bad hostname "Bad_Host"/],
    [{ pgSslMode: "sometimes" }, /bad PostgreSQL sslmode "sometimes"/],
    [{ bucket: "it's" }, /bad value for bucket: "it's"/],
    [{ tlsCertificate: { secretId: "e6qcert", key: "crt" } }, /tlsCertificate and tlsPrivateKey go together/],
    [{ webPassword: { secretId: "e6q x", key: "password" } }, /Lockbox secret id of webPassword is invalid: "e6q x"/],
    [{ sshPublicKey: "not a key" }, /SSH public key has key type "not"; accepted types: ssh-ed25519, .*: "not a key"/],
  ])("MLflow: %j is refused with a message naming it", (override, message) => {
    expect(() => renderMlflowHost({ ...EXAMPLE_MLFLOW, ...override })).toThrow(message);
  });

  it("Airflow: a folder id that would break the connection JSON is refused by name", () => {
    expect(() => renderAirflowHost({ ...exampleAirflow(), folderId: 'b1g"x' })).toThrow(/bad folder id "b1g\\"x"/);
  });

  it("Airflow: an unknown pipeline config key is refused by name", () => {
    const p = exampleAirflow();
    expect(() => renderAirflowHost({ ...p, pipelineConfig: { ...p.pipelineConfig, clusterid: "x" } })).toThrow(
      /pipeline config: unknown key \\"clusterid\\"/,
    );
  });

  it("a value cannot break out of its line in a unit", () => {
    expect(() => renderMlflowHost({ ...EXAMPLE_MLFLOW, workers: "2\nExecStartPre=/bin/sh" as unknown as number })).toThrow();
  });
});

describe("Terraform escaping of user-data", () => {
  it("escapes shell and unit ${...} but keeps cdktf tokens", () => {
    const text = 'echo "${HOME}" %{if} ${TfToken[TOKEN.12]} $${x}';
    expect(escapeTerraformTemplate(text)).toBe('echo "$${HOME}" %%{if} ${TfToken[TOKEN.12]} $$${x}');
  });

  it("leaves no bare ${ in the rendered user-data after escaping", () => {
    for (const h of HOSTS) expect(escapeTerraformTemplate(h.userData)).not.toMatch(/(^|[^$])\$\{(?!TfToken)/);
  });
});

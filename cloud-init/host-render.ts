/**
 * Pure rendering of the two VMs (no cdktf here): parameters -> a typed HostSpec -> user-data.
 * The constructs (constructs/mlflow-server.ts, airflow-host.ts) call these with their props; tests and
 * scripts/test/render-user-data.ts call them with example values.
 */
import { HostFile, HostSpec } from "./host-spec";
import { AptMirrors } from "../constructs/apt-mirrors";
import { renderCloudConfig } from "./render";
import { FLEET } from "../constructs/fleet-versions";
import { readLockboxClient, readUnitsFile, renderTemplate } from "./host-templates";
import { PipelineConfigJson, pipelineConfigProblems } from "../constructs/pipeline-contract";
import { adminUserProblem, DEFAULT_ADMIN_USER, sshPublicKeyProblem } from "../constructs/ssh-key";

/** One entry of a Lockbox secret: the VM reads it at boot with its service account. */
export interface LockboxEntryRef {
  /** Lockbox secret id. */
  readonly secretId: string;
  /** Entry key inside the secret's payload. */
  readonly key: string;
}

/** A basic-auth user of nginx; its password stays in Lockbox until the VM builds htpasswd. */
export interface WebUser {
  readonly name: string;
  readonly password: LockboxEntryRef;
}

/** What both VMs need. */
export interface CommonHostParams {
  /** Host name of the VM. */
  readonly hostname: string;
  /**
   * Admin login created with the SSH key (sudo, key only).
   * @default DEFAULT_ADMIN_USER ("debian", the Debian image's own default user)
   */
  readonly adminUser?: string;
  /** OpenSSH public key of the admin. */
  readonly sshPublicKey: string;
  /** HTTPS package mirrors of the VM's distribution (`aptMirrorsFor(imageFamily)`). */
  readonly aptMirrors: AptMirrors;
  /** FQDN of the Managed PostgreSQL cluster (e.g. c-<id>.rw.mdb.yandexcloud.net). */
  readonly pgHost: string;
  /** Managed PostgreSQL port (the MlflowBackend's `port`: Yandex's Odyssey pooler). */
  readonly pgPort: number;
  /**
   * libpq sslmode for the database.
   * @default "verify-full" (the CA is downloaded at boot)
   */
  readonly pgSslMode?: string;
  readonly pgDatabase: string;
  readonly pgUser: string;
  /** Lockbox entry with that user's password. */
  readonly pgPassword: LockboxEntryRef;
  /**
   * Basic-auth user of the nginx in front.
   * @default "admin"
   */
  readonly webUser?: string;
  /** Lockbox entry with the basic-auth password (htpasswd is built on the VM). */
  readonly webPassword: LockboxEntryRef;
  /**
   * More basic-auth users (e.g. the `jobs` user the Spark jobs log in to MLflow as).
   * @default []
   */
  readonly additionalWebUsers?: readonly WebUser[];
  /**
   * A real TLS certificate (PEM, full chain) in Lockbox.
   * @default none: a self-signed certificate is made at first boot
   */
  readonly tlsCertificate?: LockboxEntryRef;
  /**
   * Its private key (PEM); required with `tlsCertificate`.
   * @default none
   */
  readonly tlsPrivateKey?: LockboxEntryRef;
  /**
   * DNS names users reach the VM by, besides its addresses (added to the certificate and, for
   * MLflow, to --allowed-hosts).
   * @default []
   */
  readonly extraHostNames?: readonly string[];
}

export interface MlflowHostParams extends CommonHostParams {
  /** Bucket for artifacts; the server proxies them (--serve-artifacts). */
  readonly bucket: string;
  /**
   * Key prefix of the artifacts in the bucket.
   * @default "mlflow"
   */
  readonly artifactsPrefix?: string;
  /** Lockbox entry with the static access key id for Object Storage. */
  readonly s3AccessKeyId: LockboxEntryRef;
  /** Lockbox entry with the static secret key for Object Storage. */
  readonly s3SecretKey: LockboxEntryRef;
  /**
   * MLflow server (uvicorn) worker processes. One async worker runs MLflow's handlers in a thread
   * pool; each extra worker costs a full copy of MLflow in memory.
   * @default 1
   */
  readonly workers?: number;
}

export interface AirflowHostParams extends CommonHostParams {
  /** Folder id for the Yandex connection (credentials: the VM's service account). */
  readonly folderId: string;
  /** Lockbox entry of the fernet seed; the VM turns it into [core] fernet_key (urlsafe base64 of its SHA-256). */
  readonly fernetSeed: LockboxEntryRef;
  /** Lockbox entry from which the VM derives [api_auth] jwt_secret (hex SHA-512: HS512 wants 64+ bytes). */
  readonly jwtSecret: LockboxEntryRef;
  /** Lockbox entry of [api] secret_key. */
  readonly apiSecretKey: LockboxEntryRef;
  /** The pipeline config (checked against jobs/pipeline-config.schema.json, PipelineConfig's schema). */
  readonly pipelineConfig: PipelineConfigJson;
  /** DAG files for the dags folder: file name -> content (jobs/dags/*.py). */
  readonly dagFiles: Readonly<Record<string, string>>;
  /** Content of jobs/fraud_jobs/pipeline_spec.py (placed next to the DAG). */
  readonly pipelineSpec: string;
  /**
   * Start new DAGs paused.
   * @default false: the DAG runs on its schedule without a manual step
   */
  readonly startPaused?: boolean;
  /**
   * api-server worker processes.
   * @default 1
   */
  readonly apiWorkers?: number;
}

/** One rendered VM: its user-data and every file it writes (for snapshots and static checks). */
export interface RenderedHost {
  readonly name: string;
  readonly spec: HostSpec;
  readonly userData: string;
  /** Our systemd units (names), in start order. */
  readonly units: readonly string[];
}

// Paths on the VMs (exported for the static checks and the boot test).
export const CONF_DIR = "/etc/yc-mlops";
export const LIB_DIR = "/usr/local/lib/yc-mlops";
/** The first-boot program (units/first-boot/first_boot.py), run once by cloud-init: `python3 BOOT_PROGRAM <host>`. */
export const BOOT_PROGRAM = `${LIB_DIR}/first_boot.py`;
/** The layout the first-boot program reads (BootSettings as JSON). */
export const BOOT_SETTINGS = `${CONF_DIR}/boot.json`;
export const ENDPOINTS_OVERRIDE = `${CONF_DIR}/endpoints.env`;
export const TLS_CERT_PATH = `${CONF_DIR}/tls/server.crt`;
export const TLS_KEY_PATH = `${CONF_DIR}/tls/server.key`;
export const HTPASSWD_PATH = "/etc/nginx/yc-mlops.htpasswd";
export const NGINX_SITE_STAGED = `${CONF_DIR}/stage/nginx-site.conf`;
export const NGINX_DROPIN_STAGED = `${CONF_DIR}/stage/nginx-hardening.conf`;
export const MLFLOW_PORT = 5000;
/** Where the MLflow VM publishes its TLS certificate in the bucket, for clients to verify it. */
export const MLFLOW_CERT_OBJECT_KEY = "tls/mlflow-server.crt";
/** The basic-auth user of each host's nginx unless a host names another (`webUser`). */
export const DEFAULT_WEB_USER = "admin";
export const AIRFLOW_PORT = 8080;

/** Yandex Cloud API endpoint of the SDK the Airflow provider uses. */
export const DEFAULT_YC_API_ENDPOINT = "api.cloud.yandex.net:443";

export const DEFAULT_ENDPOINTS = {
  YC_METADATA_URL: "http://169.254.169.254",
  YC_LOCKBOX_PAYLOAD_URL: "https://payload.lockbox.api.cloud.yandex.net",
  YC_STORAGE_ENDPOINT: "https://storage.yandexcloud.net",
} as const;

// Debian package names; `sudo` for the admin's sudo rule (a minimal image may not have it)
const PACKAGES = ["python3-venv", "nginx", "apache2-utils", "openssl", "curl", "ca-certificates", "sudo"];
const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

function fail(host: string, what: string, value: unknown): never {
  throw new Error(`${host}: ${what} ${JSON.stringify(value)}`);
}

/** What the first-boot program reads from BOOT_SETTINGS: where things are on this VM. */
export interface BootSettings {
  /** Which VM this is; the program's argument must name the same. */
  readonly host: "mlflow" | "airflow";
  readonly confDir: string;
  readonly libDir: string;
  /** tmpfs folder the Lockbox payloads are staged in while the program runs. */
  readonly secretsDir: string;
  readonly htpasswd: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly nginxSiteStaged: string;
  readonly nginxDropinStaged: string;
  /** The service's venv, rebuilt when the lock's sha256 changes. */
  readonly venv: string;
  readonly lock: string;
  /** The CPython minor the locks are compiled for (versions.json). */
  readonly lockPython: string;
  /** The service settings without secrets, and the env file the program writes from them. */
  readonly baseEnv: string;
  readonly envFile: string;
  /** The service user (the env file's group). */
  readonly user: string;
  /** Units enabled and started, in order. */
  readonly units: readonly string[];
  /** MLflow only: the bucket key the VM publishes its TLS certificate as. */
  readonly certKey?: string;
}

/** Values land in single-quoted shell assignments: no quote, backslash or line break. */
function shellSafe(host: string, key: string, value: string): string {
  if (value === "" || /['\\\r\n\0]/.test(value)) fail(host, `bad value for ${key}:`, value);
  return value;
}

/** A value Terraform fills in at apply time (a cdktf token, e.g. a Connection Manager secret's key). */
const UNRESOLVED = /^\$\{TfToken\[TOKEN\.\d+\]\}$/;

function refText(host: string, what: string, ref: LockboxEntryRef | undefined): string {
  if (ref === undefined) return "";
  // ids (and Connection Manager's entry keys) may be unresolved cdktf tokens at synth time
  if (!/^[A-Za-z0-9_.-]+$/.test(ref.key) && !UNRESOLVED.test(ref.key)) {
    fail(host, `Lockbox entry key of ${what} is not [A-Za-z0-9_.-]:`, ref.key);
  }
  if (ref.secretId === "" || /[:'\s\\]/.test(ref.secretId)) fail(host, `Lockbox secret id of ${what} is invalid:`, ref.secretId);
  return `${ref.secretId}:${ref.key}`;
}

function checkCommon(p: CommonHostParams): void {
  const h = p.hostname;
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(h)) fail("host", "bad hostname", h);
  const userProblem = p.adminUser === undefined ? undefined : adminUserProblem(p.adminUser);
  if (userProblem) fail(h, `admin user ${userProblem}:`, p.adminUser);
  const keyProblem = sshPublicKeyProblem(p.sshPublicKey);
  if (keyProblem) fail(h, `SSH public key ${keyProblem}:`, p.sshPublicKey.slice(0, 40));
  const port = p.pgPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(h, "bad PostgreSQL port", port);
  if (!SSL_MODES.includes(p.pgSslMode ?? "verify-full")) fail(h, "bad PostgreSQL sslmode", p.pgSslMode);
  if (!/^[a-z_][a-z0-9_]*$/.test(p.pgDatabase)) fail(h, "bad database name", p.pgDatabase);
  if (!/^[a-z_][a-z0-9_]*$/.test(p.pgUser)) fail(h, "bad database user", p.pgUser);
  const webUsers = [p.webUser ?? DEFAULT_WEB_USER, ...(p.additionalWebUsers ?? []).map((u) => u.name)];
  for (const u of webUsers) if (!/^[A-Za-z0-9_.-]+$/.test(u)) fail(h, "bad web user", u);
  if (new Set(webUsers).size !== webUsers.length) fail(h, "web user names repeat:", webUsers);
  if ((p.tlsCertificate === undefined) !== (p.tlsPrivateKey === undefined)) {
    fail(h, "tlsCertificate and tlsPrivateKey go together; got only", p.tlsCertificate ? "tlsCertificate" : "tlsPrivateKey");
  }
  for (const n of p.extraHostNames ?? []) {
    if (!/^[A-Za-z0-9.-]+$/.test(n)) fail(h, "bad extra host name", n);
  }
}

/** host.env: the deploy values the first-boot program reads (never a secret, only secret ids). */
function hostEnv(p: CommonHostParams, hostLabel: string, extra: [string, string][]): string {
  const entries: [string, string][] = [
    ["YC_METADATA_URL", DEFAULT_ENDPOINTS.YC_METADATA_URL],
    ["YC_LOCKBOX_PAYLOAD_URL", DEFAULT_ENDPOINTS.YC_LOCKBOX_PAYLOAD_URL],
    ["YC_STORAGE_ENDPOINT", DEFAULT_ENDPOINTS.YC_STORAGE_ENDPOINT],
    ["YC_PG_HOST", p.pgHost],
    ["YC_PG_PORT", String(p.pgPort)],
    ["YC_PG_SSLMODE", p.pgSslMode ?? "verify-full"],
    ["PG_DATABASE", p.pgDatabase],
    ["PG_USER", p.pgUser],
    ["LOCKBOX_PG_PASSWORD", refText(p.hostname, "pgPassword", p.pgPassword)],
    // basic-auth users: space-separated NAME=SECRET_ID:KEY
    ["WEB_USERS", [
      `${p.webUser ?? DEFAULT_WEB_USER}=${refText(p.hostname, "webPassword", p.webPassword)}`,
      ...(p.additionalWebUsers ?? []).map((u) => `${u.name}=${refText(p.hostname, `password of ${u.name}`, u.password)}`),
    ].join(" ")],
    ...extra,
  ];
  if (p.tlsCertificate) {
    entries.push(["LOCKBOX_TLS_CERT", refText(p.hostname, "tlsCertificate", p.tlsCertificate)]);
    entries.push(["LOCKBOX_TLS_KEY", refText(p.hostname, "tlsPrivateKey", p.tlsPrivateKey)]);
  }
  if ((p.extraHostNames ?? []).length > 0) entries.push(["EXTRA_HOST_NAMES", (p.extraHostNames ?? []).join(",")]);
  for (const [k, v] of entries) shellSafe(p.hostname, k, v);
  return renderTemplate("env/host.env.ejs", { hostLabel, entries });
}

type HostLayout = Pick<BootSettings, "host" | "venv" | "lock" | "baseEnv" | "envFile" | "user" | "units" | "certKey">;

/** BOOT_SETTINGS: the host's layout plus the paths and versions both VMs share. */
function bootSettings({ host, ...layout }: HostLayout): HostFile {
  const settings: BootSettings = {
    host,
    confDir: CONF_DIR,
    libDir: LIB_DIR,
    secretsDir: "/run/yc-mlops/secrets",
    htpasswd: HTPASSWD_PATH,
    tlsCert: TLS_CERT_PATH,
    tlsKey: TLS_KEY_PATH,
    nginxSiteStaged: NGINX_SITE_STAGED,
    nginxDropinStaged: NGINX_DROPIN_STAGED,
    lockPython: FLEET.python,
    ...layout,
  };
  return { path: BOOT_SETTINGS, content: JSON.stringify(settings, null, 2) + "\n" };
}

/** Rules of a basic-auth user whose requests nginx limits (units/nginx/mlflow-jobs-access.json). */
export interface RestrictedWebUser {
  readonly user: string;
  /** Regexes over "METHOD RAW-URI" that are refused even if an allow rule matches. */
  readonly refuse: readonly { readonly rule: string; readonly why: string }[];
  /** Regexes over "METHOD RAW-URI" the user may send. */
  readonly allow: readonly { readonly rule: string; readonly why: string }[];
}

/** The MLflow `jobs` user's rights: the one place they are written down. */
export const MLFLOW_JOBS_ACCESS: RestrictedWebUser = JSON.parse(readUnitsFile("nginx/mlflow-jobs-access.json"));
/** Basic-auth user the Spark jobs log in to MLflow as. */
export const MLFLOW_JOBS_USER = MLFLOW_JOBS_ACCESS.user;

function checkRestricted(r: RestrictedWebUser): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(r.user)) throw new Error(`nginx access rules: bad user ${JSON.stringify(r.user)}`);
  for (const { rule, why } of [...r.refuse, ...r.allow]) {
    // the rule goes inside a double-quoted nginx string: "^METHOD regex", no quote, no other space
    if (!/^\^(\[A-Z\]\+|[A-Z]+) \S+$/.test(rule) || rule.includes('"')) {
      throw new Error(`nginx access rules: rule ${JSON.stringify(rule)} must be "^METHOD <regex>" with no quote or other space`);
    }
    if (/[\n\r]/.test(why)) throw new Error(`nginx access rules: the reason of ${JSON.stringify(rule)} is not one line`);
  }
}

function nginxSite(name: string, title: string, port: number, maxBodySize: string, restricted?: RestrictedWebUser): string {
  if (restricted) checkRestricted(restricted);
  return renderTemplate("nginx/site.conf.ejs", {
    name,
    title,
    upstream: `127.0.0.1:${port}`,
    tlsCert: TLS_CERT_PATH,
    tlsKey: TLS_KEY_PATH,
    htpasswd: HTPASSWD_PATH,
    maxBodySize,
    restricted,
  });
}

/** Files both VMs get: the first-boot program, the Lockbox reader (and the client it imports) and the staged nginx hardening drop-in. */
function commonFiles(): HostFile[] {
  return [
    { path: BOOT_PROGRAM, content: readUnitsFile("first-boot/first_boot.py"), permissions: "0750" },
    { path: `${LIB_DIR}/ycm-lockbox`, content: readUnitsFile("first-boot/ycm-lockbox.py"), permissions: "0755" },
    { path: `${LIB_DIR}/lockbox_client.py`, content: readLockboxClient() },
    { path: `${LIB_DIR}/wait-for-url`, content: readUnitsFile("first-boot/wait-for-url.sh"), permissions: "0755" },
    { path: NGINX_DROPIN_STAGED, content: renderTemplate("systemd/nginx-hardening.conf.ejs", {}) },
  ];
}

function spec(p: CommonHostParams, host: BootSettings["host"], systemUser: { name: string; home: string; gecos: string }, files: HostFile[]): HostSpec {
  return {
    hostname: p.hostname,
    packages: PACKAGES,
    aptMirrors: p.aptMirrors,
    systemUsers: [systemUser],
    admins: [{ name: p.adminUser ?? DEFAULT_ADMIN_USER, sshAuthorizedKeys: [p.sshPublicKey] }],
    files,
    // cloud-init runs this once per instance; the services are enabled, so a reboot brings them back
    commands: [["python3", BOOT_PROGRAM, host]],
  };
}

/** Service env file content (no secrets; the first-boot program appends those). */
function serviceEnv(title: string, envFile: string, group: string, entries: [string, string][]): string {
  return renderTemplate("env/service.env.ejs", { title, envFile, group, entries });
}

export function renderMlflowHost(p: MlflowHostParams): RenderedHost {
  checkCommon(p);
  const h = p.hostname;
  const prefix = p.artifactsPrefix ?? "mlflow";
  if (!/^[A-Za-z0-9._/-]+$/.test(prefix) || prefix.startsWith("/")) fail(h, "bad artifactsPrefix", prefix);
  const workers = p.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 32) fail(h, "bad MLflow workers count", workers);
  shellSafe(h, "bucket", p.bucket);

  const user = "mlflow";
  const venv = "/opt/mlflow/venv";
  const envFile = `${CONF_DIR}/mlflow.env`;
  const baseEnv = `${CONF_DIR}/mlflow.base.env`;
  const lock = `${LIB_DIR}/mlflow-server.lock`;
  const units = ["mlflow-server.service"];
  const files: HostFile[] = [
    { path: `${CONF_DIR}/host.env`, content: hostEnv(p, "MLflow VM", [
      ["LOCKBOX_S3_ACCESS_KEY_ID", refText(h, "s3AccessKeyId", p.s3AccessKeyId)],
      ["LOCKBOX_S3_SECRET_KEY", refText(h, "s3SecretKey", p.s3SecretKey)],
    ]) },
    { path: baseEnv, content: serviceEnv("MLflow server", envFile, user, [
      ["MLFLOW_ARTIFACTS_DESTINATION", `s3://${p.bucket}/${prefix}`],
      // MLflow 3's server-side job runner (GenAI judges, trace rollups) starts ~8 huey consumers
      // of ~250 MB each; this pipeline uses none of it, and a 4 GB VM cannot spare the memory.
      ["MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false"],
      ["AWS_DEFAULT_REGION", "ru-central1"],
      ["PGSSLROOTCERT", `${CONF_DIR}/pg-root.crt`],
    ]) },
    { path: lock, content: readUnitsFile("requirements/mlflow-server.lock") },
    { path: "/etc/systemd/system/mlflow-server.service", content: renderTemplate("systemd/mlflow-server.service.ejs", {
      user, envFile, venv, port: MLFLOW_PORT, workers,
    }) },
    { path: NGINX_SITE_STAGED, content: nginxSite("mlflow", "MLflow", MLFLOW_PORT, "2g", MLFLOW_JOBS_ACCESS) },
    ...commonFiles(),
    bootSettings({
      host: "mlflow", venv, lock, baseEnv, envFile, user, units,
      certKey: MLFLOW_CERT_OBJECT_KEY,
    }),
  ];
  const s = spec(p, "mlflow", { name: user, home: "/var/lib/mlflow", gecos: "MLflow tracking server" }, files);
  return { name: "mlflow", spec: s, userData: renderCloudConfig(s), units };
}

export function renderAirflowHost(p: AirflowHostParams): RenderedHost {
  checkCommon(p);
  const h = p.hostname;
  // letters, digits, "-", "_", "." (real ids are [a-z0-9]; the example config has a marked placeholder)
  if (!/^[A-Za-z0-9_.-]+$/.test(p.folderId) && !p.folderId.startsWith("${TfToken[")) fail(h, "bad folder id", p.folderId);
  const workers = p.apiWorkers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 32) fail(h, "bad api-server workers count", workers);
  const problems = pipelineConfigProblems(p.pipelineConfig);
  if (problems.length > 0) fail(h, "the pipeline config does not match the jobs' schema (jobs/pipeline-config.schema.json):", problems);
  const dagNames = Object.keys(p.dagFiles);
  if (dagNames.length === 0) fail(h, "no DAG files given (expected jobs/dags/*.py), got", dagNames);
  for (const n of dagNames) {
    if (!/^[A-Za-z0-9_]+\.py$/.test(n) || n === "pipeline_spec.py") fail(h, "bad DAG file name", n);
  }

  const user = "airflow";
  const venv = "/opt/airflow/venv";
  const dagsDir = "/opt/airflow/dags";
  const envFile = `${CONF_DIR}/airflow.env`;
  const baseEnv = `${CONF_DIR}/airflow.base.env`;
  const lock = `${LIB_DIR}/airflow-host.lock`;
  const pipelineConfigPath = `${CONF_DIR}/pipeline.json`;
  // --skip-serve-logs: the log server binds every address (its host is hard-coded); with one VM
  // and LocalExecutor the api-server reads task logs from the local folder, so it is not needed.
  const components: { component: string; description: string; args: string; waitFor?: string; restartSec: string; stopTimeout: string; killMode?: string }[] = [
    { component: "api-server", description: "Airflow API server and UI (loopback only, behind nginx)",
      args: `api-server --host 127.0.0.1 --port ${AIRFLOW_PORT} --workers ${workers} --proxy-headers`,
      restartSec: "5s", stopTimeout: "60s" },
    // LocalExecutor's workers ignore SIGTERM once the scheduler is gone. KillMode=mixed: SIGTERM
    // goes to the scheduler alone (it winds its workers down on a normal stop), SIGKILL to whatever
    // is left after it; a killed scheduler's orphans are SIGKILLed at once instead of waiting out
    // the stop timeout, so it is back in about RestartSec
    { component: "scheduler", description: "Airflow scheduler", args: "scheduler --skip-serve-logs",
      waitFor: `http://127.0.0.1:${AIRFLOW_PORT}/api/v2/monitor/health`, restartSec: "2s", stopTimeout: "10s",
      killMode: "mixed" },
    { component: "dag-processor", description: "Airflow DAG processor", args: "dag-processor",
      restartSec: "5s", stopTimeout: "60s" },
    { component: "triggerer", description: "Airflow triggerer", args: "triggerer --skip-serve-logs",
      restartSec: "5s", stopTimeout: "60s" },
  ];
  const units = components.map((c) => `airflow-${c.component}.service`);
  const files: HostFile[] = [
    { path: `${CONF_DIR}/host.env`, content: hostEnv(p, "Airflow VM", [
      // the Data Proc API (the override may point it at a stand-in) and the connection's folder
      ["YC_API_ENDPOINT", DEFAULT_YC_API_ENDPOINT],
      ["DEFAULT_YC_API_ENDPOINT", DEFAULT_YC_API_ENDPOINT],
      ["YANDEX_FOLDER_ID", p.folderId],
      ["LOCKBOX_FERNET_SEED", refText(h, "fernetSeed", p.fernetSeed)],
      ["LOCKBOX_JWT_SECRET", refText(h, "jwtSecret", p.jwtSecret)],
      ["LOCKBOX_API_SECRET_KEY", refText(h, "apiSecretKey", p.apiSecretKey)],
    ]) },
    { path: baseEnv, content: serviceEnv("Airflow", envFile, user, [
      ["AIRFLOW_HOME", "/var/lib/airflow"],
      ["AIRFLOW__CORE__DAGS_FOLDER", dagsDir],
      ["AIRFLOW__CORE__LOAD_EXAMPLES", "False"],
      ["AIRFLOW__CORE__EXECUTOR", "LocalExecutor"],
      // LocalExecutor starts this many worker processes; the tasks only submit Data Proc jobs
      ["AIRFLOW__CORE__PARALLELISM", "4"],
      ["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", p.startPaused ? "True" : "False"],
      ["AIRFLOW__CORE__EXECUTION_API_SERVER_URL", `http://127.0.0.1:${AIRFLOW_PORT}/execution/`],
      // nginx's basic auth is the ONLY gate: whoever has the admin password (a reader of the
      // <prefix>-airflow-admin Lockbox secret) is an Airflow admin; the api-server listens on
      // loopback only. The simple auth manager's own login would print its generated password
      // to the journal, so it is not used.
      ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True"],
      ["AIRFLOW__API__HOST", "127.0.0.1"],
      ["AIRFLOW__API__PORT", String(AIRFLOW_PORT)],
      ["AIRFLOW__LOGGING__COLORED_CONSOLE_LOG", "False"],
      ["PGSSLROOTCERT", `${CONF_DIR}/pg-root.crt`],
      ["FRAUD_PIPELINE_CONFIG", pipelineConfigPath],
    ]) },
    { path: pipelineConfigPath, content: JSON.stringify(p.pipelineConfig, null, 2) + "\n" },
    { path: lock, content: readUnitsFile("requirements/airflow-host.lock") },
    { path: "/etc/systemd/system/airflow-db-migrate.service", content: renderTemplate("systemd/airflow-db-migrate.service.ejs", {
      user, envFile, venv,
    }) },
    ...components.map((c) => ({
      path: `/etc/systemd/system/airflow-${c.component}.service`,
      content: renderTemplate("systemd/airflow.service.ejs", { ...c, user, envFile, venv }),
    })),
    { path: NGINX_SITE_STAGED, content: nginxSite("airflow", "Airflow", AIRFLOW_PORT, "16m") },
    ...commonFiles(),
    ...dagNames.sort().map((n) => ({ path: `${dagsDir}/${n}`, content: p.dagFiles[n] })),
    { path: `${dagsDir}/pipeline_spec.py`, content: p.pipelineSpec },
    // the contract is loaded by the DAG by path; the dag-processor need not parse it as a DAG file
    { path: `${dagsDir}/.airflowignore`, content: "pipeline_spec\\.py\n" },
    bootSettings({
      host: "airflow", venv, lock, baseEnv, envFile, user, units,
    }),
  ];
  const s = spec(p, "airflow", { name: user, home: "/var/lib/airflow", gecos: "Apache Airflow" }, files);
  return { name: "airflow", spec: s, userData: renderCloudConfig(s), units: ["airflow-db-migrate.service", ...units] };
}

import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { promisify } from "util";
import { EXAMPLE_MLFLOW } from "../fixtures/host-examples";
import { LIB_DIR, renderMlflowHost } from "../../cloud-init/host-render";
import { UNITS_DIR } from "../../cloud-init/host-templates";
import { tempDir } from "./tools";

const run = promisify(execFile);
const READER = path.join(UNITS_DIR, "first-boot/ycm-lockbox.py");

/**
 * Stand-in for the metadata service's token endpoint and the Lockbox payload API (same paths,
 * headers and JSON as Yandex Cloud), on loopback. Values are made per test run.
 */
function standIn(secrets: Record<string, Record<string, string>>) {
  const token = `stand-in-token-${process.pid}-${Date.now()}`;
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === "/computeMetadata/v1/instance/service-accounts/default/token") {
      if (req.headers["metadata-flavor"] !== "Google") return void res.writeHead(403).end();
      return void res.end(JSON.stringify({ access_token: token, expires_in: 3600, token_type: "Bearer" }));
    }
    const m = req.url?.match(/^\/lockbox\/v1\/secrets\/([^/]+)\/payload$/);
    if (m && req.headers.authorization === `Bearer ${token}` && secrets[m[1]]) {
      const entries = Object.entries(secrets[m[1]]).map(([key, textValue]) => ({ key, textValue }));
      return void res.end(JSON.stringify({ versionId: "v1", entries }));
    }
    res.writeHead(m && req.headers.authorization === `Bearer ${token}` ? 404 : 401).end("{}");
  });
  return { server, seen };
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("the VMs' Lockbox reader (units/first-boot/ycm-lockbox.py)", () => {
  const values = {
    e6qpg: { password: `pg-${Math.random().toString(36).slice(2)}` },
    e6qs3: { access_key_id: `id-${Math.random().toString(36).slice(2)}`, secret_access_key: `sk-${Math.random().toString(36).slice(2)}` },
  };
  const { server, seen } = standIn(values);
  let url = "";
  beforeAll(async () => {
    url = await listen(server);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("writes each entry to a 0600 file and prints entry keys, never values", async () => {
    const out = tempDir("lockbox");
    const env = { ...process.env, YC_METADATA_URL: url, YC_LOCKBOX_PAYLOAD_URL: url };
    const { stdout, stderr } = await run("python3", [READER, out, "e6qpg", "e6qs3"], { env });
    for (const [id, entries] of Object.entries(values)) {
      for (const [key, value] of Object.entries(entries)) {
        const f = path.join(out, id, key);
        expect(fs.readFileSync(f, "utf8")).toBe(value);
        expect(fs.statSync(f).mode & 0o777).toBe(0o600);
        expect(stdout + stderr).not.toContain(value);
      }
    }
    expect(stdout).toContain("secret e6qs3: entries access_key_id, secret_access_key");
    expect(seen).toContain("GET /computeMetadata/v1/instance/service-accounts/default/token");
    expect(seen).toContain("GET /lockbox/v1/secrets/e6qpg/payload");
  });

  it("runs as the VM gets it: the reader and the shared Lockbox client side by side, nothing else", async () => {
    const lib = tempDir("lockbox-lib");
    const files = renderMlflowHost(EXAMPLE_MLFLOW).spec.files.filter((f) => f.path.startsWith(`${LIB_DIR}/`));
    for (const f of files) fs.writeFileSync(path.join(lib, path.basename(f.path)), f.content);
    expect(fs.readFileSync(path.join(lib, "lockbox_client.py"), "utf8")).toBe(
      fs.readFileSync(path.join(UNITS_DIR, "..", "jobs", "fraud_jobs", "lockbox_client.py"), "utf8"),
    );
    const out = tempDir("lockbox-vm");
    const env = { ...process.env, YC_METADATA_URL: url, YC_LOCKBOX_PAYLOAD_URL: url };
    const { stdout } = await run("python3", [path.join(lib, "ycm-lockbox"), out, "e6qpg"], { env, cwd: lib });
    expect(stdout).toContain("secret e6qpg: entries password");
    expect(fs.readFileSync(path.join(out, "e6qpg", "password"), "utf8")).toBe(values.e6qpg.password);
  });

  it("fails, naming the secret, when a secret does not exist", async () => {
    const out = tempDir("lockbox-missing");
    const env = { ...process.env, YC_METADATA_URL: url, YC_LOCKBOX_PAYLOAD_URL: url };
    await expect(run("python3", [READER, out, "e6qnosuchsecret"], { env })).rejects.toMatchObject({
      stderr: expect.stringContaining("Lockbox secret e6qnosuchsecret: HTTP 404"),
    });
  });
});

describe("wait-for-url (the Airflow scheduler's start condition)", () => {
  const WAIT = path.join(UNITS_DIR, "first-boot/wait-for-url.sh");

  it("returns once the URL answers", async () => {
    const server = http.createServer((_req, res) => res.end("ok"));
    const url = await listen(server);
    try {
      await expect(run("sh", [WAIT, `${url}/health`, "20"])).resolves.toBeDefined();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("fails, naming the URL, when nothing answers in time", async () => {
    const server = http.createServer();
    const url = await listen(server);
    await new Promise<void>((resolve) => server.close(() => resolve())); // a port nobody listens on
    await expect(run("sh", [WAIT, `${url}/health`, "3"])).rejects.toMatchObject({
      stderr: expect.stringContaining(`${url}/health did not answer within 3 s`),
    });
  });
});

/** Helpers for the host tests: external tools (fail with an install hint if missing), temp dirs. */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const INSTALL_HINT: Record<string, string> = {
  "cloud-init": "apt-get install cloud-init",
  "systemd-analyze": "apt-get install systemd",
  nginx: "apt-get install nginx-light",
  htpasswd: "apt-get install apache2-utils",
  openssl: "apt-get install openssl",
};

/** Absolute path of a tool; throws (the test fails, never skips) if it is not installed. */
export function requireTool(name: string): string {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} is not installed; install it with: ${INSTALL_HINT[name] ?? name} (scripts/test/test-stack.sh does)`);
}

export interface RunResult {
  status: number;
  output: string;
}

/** Runs a tool, returns its exit status and combined stdout+stderr. */
export function run(tool: string, args: string[], opts: { cwd?: string; input?: string } = {}): RunResult {
  const r = spawnSync(requireTool(tool), args, { cwd: opts.cwd, input: opts.input, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

const created: string[] = [];
// temp dirs (stand-in certs, throwaway htpasswd, test roots) go when the test file is done
afterAll(() => {
  for (const d of created.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `hosts-${prefix}-`));
  created.push(d);
  return d;
}

/** A self-signed stand-in certificate and key (for nginx -t). */
export function standInCert(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, "stand-in.crt");
  const key = path.join(dir, "stand-in.key");
  execFileSync(requireTool("openssl"), [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=stand-in",
    "-keyout", key, "-out", cert,
  ], { stdio: "pipe" });
  return { cert, key };
}

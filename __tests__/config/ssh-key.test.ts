/**
 * The one SSH key check (constructs/ssh-key.ts), against real keys made by ssh-keygen and against
 * OpenSSH's own parser (`ssh-keygen -l`), which reads a key line the way sshd reads authorized_keys.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, validateConfig } from "../../constructs/config";
import { renderMlflowHost } from "../../cloud-init/host-render";
import { EXAMPLE_MLFLOW } from "../fixtures/host-examples";
import { SSH_KEY_TYPES, sshPublicKeyProblem } from "../../constructs/ssh-key";
import { deployableRawConfig } from "./deployable";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "yc-mlops-ssh-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh public key line from ssh-keygen. */
function keygen(type: string, bits?: number): string {
  const file = path.join(tmp, `${type}-${bits ?? 0}-${Math.random().toString(36).slice(2)}`);
  const args = ["-q", "-t", type, "-N", "", "-C", "ops@example", "-f", file, ...(bits ? ["-b", String(bits)] : [])];
  const res = spawnSync("ssh-keygen", args, { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`ssh-keygen ${args.join(" ")}: ${res.stderr}`);
  return fs.readFileSync(`${file}.pub`, "utf8").trim();
}

/** Whether OpenSSH itself parses the key line (`ssh-keygen -l -f`). */
function opensshAccepts(line: string): boolean {
  const file = path.join(tmp, `probe-${Math.random().toString(36).slice(2)}.pub`);
  fs.writeFileSync(file, line + "\n");
  return spawnSync("ssh-keygen", ["-l", "-f", file], { encoding: "utf8" }).status === 0;
}

/** An SSH wire-format string field. */
function field(b: Buffer | string): Buffer {
  const body = typeof b === "string" ? Buffer.from(b, "latin1") : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** A FIDO (security key) Ed25519 public key line, which ssh-keygen cannot make without a device. */
function skEd25519(): string {
  const blob = Buffer.concat([field("sk-ssh-ed25519@openssh.com"), field(Buffer.alloc(32, 7)), field("ssh:")]);
  return `sk-ssh-ed25519@openssh.com ${blob.toString("base64")} yubikey`;
}

const good = {
  ed25519: keygen("ed25519"),
  rsa3072: keygen("rsa", 3072),
  ecdsa256: keygen("ecdsa", 256),
  ecdsa384: keygen("ecdsa", 384),
  ecdsa521: keygen("ecdsa", 521),
};

describe("sshPublicKeyProblem", () => {
  it.each(Object.entries(good))("accepts a real %s key from ssh-keygen", (_name, key) => {
    expect(sshPublicKeyProblem(key)).toBeUndefined();
    expect(opensshAccepts(key)).toBe(true);
  });

  it("accepts a security-key (sk-ssh-ed25519@openssh.com) key, as sshd does, and OpenSSH parses it", () => {
    expect(sshPublicKeyProblem(skEd25519())).toBeUndefined();
    expect(opensshAccepts(skEd25519())).toBe(true);
  });

  it("refuses a key whose type prefix does not match the type inside its base64 (would lock the user out)", () => {
    const body = good.ed25519.split(" ")[1];
    const lying = `ssh-rsa ${body} ops@example`;
    expect(sshPublicKeyProblem(lying)).toMatch(/says ssh-rsa but its base64 part is a "ssh-ed25519" key/);
    expect(opensshAccepts(lying)).toBe(false);
  });

  it("refuses a truncated, padded or garbled key that OpenSSH also refuses", () => {
    const [type, body] = good.ed25519.split(" ");
    for (const broken of [`${type} ${body.slice(0, -4)}`, `${type} ${body}AAAA`, `${type} ${body.slice(0, 20)}*${body.slice(21)}`]) {
      expect(sshPublicKeyProblem(broken)).toBeDefined();
      expect(opensshAccepts(broken)).toBe(false);
    }
  });

  it("refuses RSA keys under 2048 bits and DSA keys, naming why", () => {
    expect(sshPublicKeyProblem(keygen("rsa", 1024))).toMatch(/RSA modulus has 1024 bits; at least 2048/);
    expect(sshPublicKeyProblem(`ssh-dss ${good.ed25519.split(" ")[1]}`)).toMatch(/DSA key/);
  });

  it("refuses a private key, multi-line text and unknown types", () => {
    expect(sshPublicKeyProblem("-----BEGIN OPENSSH PRIVATE KEY-----")).toMatch(/PRIVATE key/);
    expect(sshPublicKeyProblem(`${good.ed25519}\n${good.rsa3072}`)).toMatch(/one line/);
    expect(sshPublicKeyProblem(`ssh-foo ${good.ed25519.split(" ")[1]}`)).toMatch(/key type "ssh-foo"; accepted types: ssh-ed25519/);
  });

  it("agrees with OpenSSH's parser on a sweep of damaged keys of every accepted type", () => {
    const keys = [...Object.values(good), skEd25519()];
    let checked = 0;
    for (const key of keys) {
      const [type, body] = key.split(" ");
      const mutations = [
        ...SSH_KEY_TYPES.filter((t) => t !== type).map((t) => `${t} ${body}`), // wrong prefix
        `${type} ${body.slice(0, body.length - 8)}`, // cut
        `${type} ${Buffer.concat([Buffer.from(body, "base64"), Buffer.from([0, 0, 0, 0])]).toString("base64")}`, // extra bytes
      ];
      for (const m of mutations) {
        expect({ key: m, ours: sshPublicKeyProblem(m) === undefined }).toEqual({ key: m, ours: opensshAccepts(m) });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });
});

describe("one check for config and hosts", () => {
  it("the config and the host renderer accept the same security-key key (the renderer used to throw)", () => {
    const key = skEd25519();
    expect(validateConfig(deployableRawConfig({ sshPublicKey: key })).sshPublicKey).toBe(key);
    expect(() => renderMlflowHost({ ...EXAMPLE_MLFLOW, sshPublicKey: key })).not.toThrow();
  });

  it("the config refuses a mislabelled key with a ConfigError naming sshPublicKey", () => {
    const lying = `ssh-rsa ${good.ed25519.split(" ")[1]} ops@example`;
    expect(() => validateConfig(deployableRawConfig({ sshPublicKey: lying }))).toThrow(ConfigError);
    expect(() => validateConfig(deployableRawConfig({ sshPublicKey: lying }))).toThrow(/config sshPublicKey = "ssh-rsa AAAA/);
  });
});

/**
 * The one check of an OpenSSH public key and of the admin login it is installed for, used by the
 * config (at synth, before anything is written) and by the host renderer (for direct callers such as
 * scripts/test/render-user-data.ts).
 *
 * A key line is `TYPE BASE64 [comment]`. The base64 blob is decoded and parsed in the SSH wire
 * format (RFC 4253 6.6, RFC 5656 3.1, OpenSSH PROTOCOL.u2f): its own type string must equal TYPE and
 * the fields of that type must be complete, with nothing left over. A key whose prefix says
 * `ssh-rsa` but whose blob is an Ed25519 key, or a truncated copy, would be installed by cloud-init
 * and then refused by sshd: the user would be locked out of every VM.
 */

/**
 * The VMs' admin login by default: the Debian image's own default user (cloud.cfg `default_user`),
 * so cloud-init merges our admin into it and the VM has one admin account, not two.
 */
export const DEFAULT_ADMIN_USER = "debian";

/** What is wrong with an admin login name (config `sshUser`, the hosts' `adminUser`), or undefined. */
export function adminUserProblem(name: string): string | undefined {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(name) || name === "root") return "must be a non-root Linux user name";
  return undefined;
}

/**
 * Key types the hosts accept: the public key algorithms OpenSSH's sshd accepts by default since 8.2
 * (Debian 12 ships 9.2, Ubuntu 24.04 9.6; the Data Proc images' Ubuntu 20.04 ships 8.2). `ssh-rsa`
 * keys are used with SHA-2 signatures (rsa-sha2-256/512). `ssh-dss` is refused: OpenSSH disabled DSA
 * in 7.0 and removed it in 9.8.
 */
export const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

/**
 * Smallest RSA modulus accepted. sshd itself refuses below 1024 bits (RequiredRSASize, OpenSSH 9.1);
 * we refuse below 2048, the size NIST SP 800-131A has required since 2014.
 */
export const MIN_RSA_BITS = 2048;

/** Uncompressed EC point sizes (0x04 || X || Y) of the NIST curves. */
const EC_POINT_BYTES: Record<string, number> = { nistp256: 65, nistp384: 97, nistp521: 133 };

/** Reads SSH wire-format fields from a decoded key blob; every read is bounds-checked. */
class WireReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  /** A uint32-length-prefixed byte string, or undefined if it runs past the end. */
  bytes(): Buffer | undefined {
    if (this.offset + 4 > this.buf.length) return undefined;
    const len = this.buf.readUInt32BE(this.offset);
    if (this.offset + 4 + len > this.buf.length) return undefined;
    const out = this.buf.subarray(this.offset + 4, this.offset + 4 + len);
    this.offset += 4 + len;
    return out;
  }

  text(): string | undefined {
    const b = this.bytes();
    return b === undefined ? undefined : b.toString("latin1");
  }

  get done(): boolean {
    return this.offset === this.buf.length;
  }
}

/** Bit length of a positive SSH mpint (big-endian, possibly with a leading zero byte). */
function mpintBits(b: Buffer): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]));
}

/** Checks the fields after the type string; returns what is wrong, or undefined. */
function checkFields(type: SshKeyType, r: WireReader): string | undefined {
  switch (type) {
    case "ssh-ed25519":
    case "sk-ssh-ed25519@openssh.com": {
      const pk = r.bytes();
      if (pk === undefined || pk.length !== 32) return "its Ed25519 public key is not 32 bytes";
      if (type.startsWith("sk-") && r.text() === undefined) return "it lacks the security key's application string";
      return undefined;
    }
    case "ssh-rsa": {
      const e = r.bytes();
      const n = r.bytes();
      if (e === undefined || n === undefined || mpintBits(e) === 0) return "its RSA exponent or modulus is missing";
      const bits = mpintBits(n);
      if (bits < MIN_RSA_BITS) return `its RSA modulus has ${bits} bits; at least ${MIN_RSA_BITS} are required`;
      return undefined;
    }
    default: {
      // ecdsa-sha2-<curve> and sk-ecdsa-sha2-nistp256@openssh.com
      const wantCurve = /nistp\d+/.exec(type)![0];
      const curve = r.text();
      if (curve !== wantCurve) return `its curve is ${JSON.stringify(curve)}, not ${wantCurve}`;
      const q = r.bytes();
      if (q === undefined || q.length !== EC_POINT_BYTES[wantCurve] || q[0] !== 4) return `its ${wantCurve} point is malformed`;
      if (type.startsWith("sk-") && r.text() === undefined) return "it lacks the security key's application string";
      return undefined;
    }
  }
}

/**
 * What is wrong with an OpenSSH public key line, or undefined if the hosts will accept it.
 *
 * @param line one `authorized_keys` line without options: `TYPE BASE64 [comment]`
 */
export function sshPublicKeyProblem(line: string): string | undefined {
  if (/-----BEGIN|PRIVATE KEY/.test(line)) return "looks like a PRIVATE key; put the public key (the .pub file) here and keep the private key to yourself";
  if (/[\r\n\0]/.test(line)) return "must be one line (it contains a line break or NUL)";
  const m = /^(\S+)[ \t]+([A-Za-z0-9+/]+={0,2})(?:[ \t]+([^\r\n\0]*))?$/.exec(line);
  if (!m) return "is not an OpenSSH public key (expected 'TYPE BASE64 [comment]', e.g. 'ssh-ed25519 AAAA... you@host')";
  const prefix = m[1];
  if (prefix === "ssh-dss") return "is a DSA key, which OpenSSH no longer accepts; use ssh-ed25519";
  if (!(SSH_KEY_TYPES as readonly string[]).includes(prefix)) {
    return `has key type ${JSON.stringify(prefix)}; accepted types: ${SSH_KEY_TYPES.join(", ")}`;
  }
  const blob = Buffer.from(m[2], "base64");
  // Node's decoder skips what it cannot read; a canonical re-encoding proves every character counted
  if (blob.toString("base64") !== m[2]) return "has a base64 part that is not valid base64 (a character is missing or extra)";
  const r = new WireReader(blob);
  const embedded = r.text();
  if (embedded === undefined) return "has a base64 part that is not an SSH key";
  if (embedded !== prefix) {
    return `says ${prefix} but its base64 part is a ${JSON.stringify(embedded)} key; copy the whole line of the .pub file unchanged`;
  }
  const fieldProblem = checkFields(prefix as SshKeyType, r);
  if (fieldProblem) return `is a damaged ${prefix} key: ${fieldProblem}`;
  if (!r.done) return `is a damaged ${prefix} key: unexpected bytes after the key`;
  return undefined;
}

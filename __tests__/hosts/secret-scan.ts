/**
 * Finds secret-looking values in text: private keys, cloud keys and tokens, password hashes,
 * `password = <literal>` assignments, and long random-looking strings. The lock files' pinned
 * package hashes (`--hash=sha256:...`) are public and skipped.
 */
const PATTERNS: [string, RegExp][] = [
  ["private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["AWS-style access key", /\bAKIA[0-9A-Z]{16}\b/],
  ["Yandex static access key / API key", /\bYC[A-Za-z0-9-][A-Za-z0-9_-]{20,}\b/],
  ["Yandex IAM token", /\bt1\.[A-Za-z0-9_-]{20,}/],
  ["Yandex OAuth token", /\by[0-3]_[A-Za-z0-9_-]{30,}/],
  ["bcrypt/crypt hash", /\$(2[aby]|5|6|apr1)\$[./A-Za-z0-9$]{20,}/],
  ["URL with credentials", /[a-z+]+:\/\/[^\s/:@'"]+:[^\s/@'"]+@/i],
];

const ASSIGNMENT = /(password|passwd|secret|token|fernet_key|secret_key|jwt_secret)["']?\s*[:=]\s*["']?([^\s"'$,(){}]+)(\(?)/gi;
// a value that names where a secret is (Lockbox SECRET_ID:KEY), not the secret
const LOCKBOX_REF = /^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$/;

/** Shannon entropy in bits per character. */
function entropy(word: string): number {
  const counts = new Map<string, number>();
  for (const c of word) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / word.length) * Math.log2(n / word.length);
  return bits;
}

/** Long, mixed-case, with digits and high entropy: a generated key, not a word or a path. */
function looksRandom(word: string): boolean {
  // a URL path has several slashes; a base64 key of this length rarely has more than one or two
  if ((word.match(/\//g) ?? []).length >= 3) return false;
  return word.length >= 32 && /[A-Z]/.test(word) && /[a-z]/.test(word) && /[0-9]/.test(word) && entropy(word) >= 4.3;
}

export interface Finding {
  readonly line: number;
  readonly kind: string;
}

export function findSecrets(text: string): Finding[] {
  const found: Finding[] = [];
  text.split("\n").forEach((raw, i) => {
    if (/^\s*--hash=sha256:[0-9a-f]{64}/.test(raw)) return;
    // OpenSSH public keys are not secret
    const line = raw.replace(/(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/g, "");
    for (const [kind, re] of PATTERNS) if (re.test(line)) found.push({ line: i + 1, kind });
    for (const m of line.matchAll(ASSIGNMENT)) {
      const value = m[2];
      // not a Lockbox ref, a constant name, a path or a function call
      const isCall = m[3] === "(";
      if (value.length >= 8 && !LOCKBOX_REF.test(value) && !/^[A-Z_]+$/.test(value) && !value.startsWith("/") && !isCall) {
        found.push({ line: i + 1, kind: `${m[1]} assigned a literal` });
      }
    }
    for (const word of line.split(/[^A-Za-z0-9+/=_-]+/)) {
      if (looksRandom(word)) found.push({ line: i + 1, kind: "long random-looking string" });
    }
  });
  return found;
}

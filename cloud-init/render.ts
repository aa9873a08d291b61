import { Document } from "yaml";
import { HostFile, HostSpec } from "./host-spec";

const MODE = /^0[0-7]{3}$/;
const NAME = /^[a-z_][a-z0-9_-]*$/;

/** Throws if the spec has a value cloud-init would reject or misread; names the bad value. */
export function validateHostSpec(spec: HostSpec): void {
  const seen = new Set<string>();
  for (const f of spec.files) {
    if (!f.path.startsWith("/") || f.path.includes("/../")) {
      throw new Error(`host ${spec.hostname}: file path ${JSON.stringify(f.path)} must be absolute`);
    }
    if (seen.has(f.path)) throw new Error(`host ${spec.hostname}: file ${f.path} is written twice`);
    seen.add(f.path);
    if (f.permissions !== undefined && !MODE.test(f.permissions)) {
      throw new Error(`host ${spec.hostname}: file ${f.path} has bad permissions ${JSON.stringify(f.permissions)}`);
    }
  }
  for (const u of [...spec.systemUsers, ...spec.admins]) {
    if (!NAME.test(u.name)) throw new Error(`host ${spec.hostname}: bad user name ${JSON.stringify(u.name)}`);
  }
  for (const c of spec.commands) {
    if (c.length === 0) throw new Error(`host ${spec.hostname}: empty command`);
  }
  for (const uri of [spec.aptMirrors.primary, spec.aptMirrors.security]) {
    // HTTPS only: the security group has no egress on port 80 to the internet
    if (!/^https:\/\/[A-Za-z0-9.-]+(\/[A-Za-z0-9._/-]*)?$/.test(uri)) {
      throw new Error(`host ${spec.hostname}: apt mirror ${JSON.stringify(uri)} must be an https:// URL`);
    }
  }
}

function writeFile(f: HostFile): Record<string, unknown> {
  return { path: f.path, permissions: f.permissions ?? "0644", owner: "root:root", content: f.content };
}

/** Serializes a HostSpec to `#cloud-config` user-data with the `yaml` library. */
export function renderCloudConfig(spec: HostSpec): string {
  validateHostSpec(spec);
  const config = {
    hostname: spec.hostname,
    // the image's default user keeps working (Yandex's ssh-keys metadata goes to it)
    users: [
      "default",
      ...spec.admins.map((a) => ({
        name: a.name,
        groups: ["sudo"],
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: [...a.sshAuthorizedKeys],
      })),
      ...spec.systemUsers.map((u) => ({
        name: u.name,
        system: true,
        homedir: u.home,
        no_create_home: true,
        shell: "/usr/sbin/nologin",
        gecos: u.gecos,
        lock_passwd: true,
      })),
    ],
    ssh_pwauth: false,
    // rewritten before package_update: the images' own sources use plain HTTP. Debian's cloud-init
    // package sets `apt: preserve_sources_list: true` in its cloud.cfg, which user-data merges with
    // (not replaces), so the mirrors would be ignored there without this (Ubuntu's default is false)
    apt: {
      preserve_sources_list: false,
      primary: [{ arches: ["default"], uri: spec.aptMirrors.primary }],
      security: [{ arches: ["default"], uri: spec.aptMirrors.security }],
    },
    package_update: true,
    packages: [...spec.packages],
    write_files: spec.files.map(writeFile),
    runcmd: spec.commands.map((c) => [...c]),
  };
  const doc = new Document(config);
  // multi-line file contents as literal blocks, so the user-data stays readable
  const text = doc.toString({ lineWidth: 0, blockQuote: "literal" });
  return `#cloud-config\n${text}`;
}

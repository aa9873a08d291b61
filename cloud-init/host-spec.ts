/**
 * A typed description of one VM's first boot. Constructs fill it; `renderCloudConfig` turns it into
 * `#cloud-config` YAML. Nothing here knows about MLflow or Airflow.
 */

/** A file written by cloud-init's `write_files` (before users exist, so always root-owned). */
export interface HostFile {
  /** Absolute path on the VM. */
  readonly path: string;
  /** File content (text). */
  readonly content: string;
  /**
   * Octal mode as a string.
   * @default "0644"
   */
  readonly permissions?: string;
}

/** A system account for a service (no login shell, no password). */
export interface SystemUser {
  readonly name: string;
  /** Home directory; not created (services get their state dirs from systemd). */
  readonly home: string;
  /** Free text shown in /etc/passwd. */
  readonly gecos: string;
}

/** An administrator who may SSH in with a key and use sudo. */
export interface AdminUser {
  readonly name: string;
  /** OpenSSH public keys ("ssh-ed25519 AAAA... comment"). */
  readonly sshAuthorizedKeys: readonly string[];
}

export interface HostSpec {
  /** Host name set at boot. */
  readonly hostname: string;
  /** Debian/Ubuntu package names installed before `commands` run. */
  readonly packages: readonly string[];
  /** HTTPS mirrors apt is pointed at before the packages are installed (cloud-init `apt:`). */
  readonly aptMirrors: { readonly primary: string; readonly security: string };
  readonly systemUsers: readonly SystemUser[];
  readonly admins: readonly AdminUser[];
  /** Files written at the start of the first boot (units, scripts, configs: never secrets). */
  readonly files: readonly HostFile[];
  /**
   * Commands run once, at the end of the first boot, in order (argv form, no shell).
   * cloud-init runs them once per instance, so they are not repeated on reboot.
   */
  readonly commands: readonly (readonly string[])[];
}

/**
 * The package mirrors the VMs' apt uses, over HTTPS.
 *
 * Yandex's images point apt at plain-HTTP mirrors; cloud-init's `apt:` module rewrites the sources
 * at first boot (before it installs packages), so the security group needs no egress on port 80
 * to the internet at all (apt >= 1.5 speaks HTTPS itself; Debian 12 and Ubuntu 24.04 ship 2.6/2.7).
 */
export interface AptMirrors {
  /** The distribution's main archive (`primary` in cloud-init's apt module). */
  readonly primary: string;
  /** Its security updates (`security`). */
  readonly security: string;
}

/**
 * HTTPS mirrors by distribution (the image family's prefix in `standard-images`): Debian's own CDN,
 * and Yandex's in-cloud mirror for Ubuntu (archive.ubuntu.com is HTTP only).
 */
const MIRRORS: Readonly<Record<string, AptMirrors>> = {
  debian: { primary: "https://deb.debian.org/debian", security: "https://deb.debian.org/debian-security" },
  ubuntu: { primary: "https://mirror.yandex.ru/ubuntu", security: "https://mirror.yandex.ru/ubuntu" },
};

/** Distributions the VMs can run: the hosts are apt + systemd + cloud-init Debian-family systems. */
export const APT_DISTROS = Object.keys(MIRRORS);

/** The HTTPS mirrors for a `standard-images` family such as `debian-12` or `ubuntu-2404-lts`, or undefined. */
export function aptMirrorsFor(imageFamily: string): AptMirrors | undefined {
  const distro = /^([a-z]+)-/.exec(imageFamily)?.[1];
  return distro === undefined ? undefined : MIRRORS[distro];
}

#!/usr/bin/env bash
# Builds (once) the root filesystem of the VMs' Debian release (versions.json `vm.debianSuite`, the
# suite of the default image family) that the boot test boots, and prints its path.
# Cached in $MLOPS_CACHE/rootfs/<suite>-<hash of suite + package list + this script>; tests never
# write into it (each boot gets an overlay on top), so one build serves every run.
source "$(dirname "$0")/../scripts/lib.sh"
HERE="$REPO_ROOT/boot"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE="$(fleet_version vm.debianSuite)"
[[ "$SUITE" =~ ^[a-z]+$ ]] || die "versions.json vm.debianSuite = '$SUITE' is not a Debian suite name"

pkgs="$(grep -v '^\s*#' "$HERE/rootfs-packages.txt" | grep -v '^\s*$' | tr '\n' ',' | sed 's/,$//')"
key="$( { echo "$SUITE"; cat "$HERE/rootfs-packages.txt" "$HERE/build-rootfs.sh"; } | sha256sum | cut -c1-12)"
root="$MLOPS_CACHE/rootfs/$SUITE-$key"
if [ -f "$root.complete" ]; then printf '%s\n' "$root"; exit 0; fi

apt_install debootstrap
archives="$MLOPS_CACHE/apt-archives"   # downloaded .debs, kept between builds
mkdir -p "$archives" "$MLOPS_CACHE/rootfs"
tmp="$root.partial"
rm -rf "$tmp"
log "debootstrap $SUITE into $tmp (first run only; a few minutes)"
# debootstrap's --include does not resolve virtual dependencies (python3-cryptography needs
# python3-cffi-backend-api-*), so it lays only a minimal base; apt installs the list inside.
debootstrap --variant=minbase --cache-dir="$archives" --include=ca-certificates "$SUITE" "$tmp" "$MIRROR" >&2
cat > "$tmp/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
SRC

# The chroot steps below need /proc and /dev; mount them in a private namespace so nothing outlives
# this script even if it dies half-way.
unshare --mount --propagation private bash -euo pipefail -c '
  r="$1"
  mount -t proc proc "$r/proc"; mount --rbind /dev "$r/dev"; mount -t sysfs sys "$r/sys"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  printf "#!/bin/sh\nexit 101\n" > "$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C
  mount --bind "$3" "$r/var/cache/apt/archives"
  chroot "$r" apt-get update -qq
  chroot "$r" apt-get install -y -qq --no-install-recommends $2 >/dev/null
  chroot "$r" apt-get -f install -y -qq
  rm -f "$r/usr/sbin/policy-rc.d"
' _ "$tmp" "${pkgs//,/ }" "$archives" >&2

# Lines a real image would have: a locale (cloud-init locale module), a hostname, a machine-id
# generated at first boot, and no serial/tty gettys (they block multi-user.target -> cloud-final).
sed -i 's/^# *en_US.UTF-8/en_US.UTF-8/' "$tmp/etc/locale.gen"
chroot "$tmp" locale-gen >/dev/null
: > "$tmp/etc/machine-id"
rm -f "$tmp/var/lib/dbus/machine-id"
for u in serial-getty@ttyS0.service getty@tty1.service dev-ttyS0.device \
         systemd-logind.service e2scrub_reap.service systemd-timesyncd.service; do
  ln -sf /dev/null "$tmp/etc/systemd/system/$u"
done
cat > "$tmp/etc/cloud/cloud.cfg.d/90-boot-test.cfg" <<'CFG'
# boot test: the seed is a NoCloud folder in the root; no other datasource is probed.
datasource_list: [ NoCloud, None ]
CFG
rm -rf "$tmp/var/lib/cloud/instance" "$tmp/var/lib/cloud/instances"
mv "$tmp" "$root"
touch "$root.complete"
log "root filesystem ready: $root"
printf '%s\n' "$root"

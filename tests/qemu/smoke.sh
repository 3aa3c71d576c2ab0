#!/usr/bin/env bash
# Smoke test of the QEMU harness: boots Debian's arm64 kernel under qemu-system-aarch64 -M virt
# with an initramfs holding busybox-static (arm64) and our static aarch64 init binary, and checks
# that /init ran as PID 1, that the init binary runs there, and that the guest powered off.
#
# Usage: tests/qemu/smoke.sh [--keep]
#   --keep   keep the work directory (root tree, initramfs, console log) and print its path
# Environment:
#   NANOLIN_INIT_BIN  the static aarch64 init binary to copy in as /sbin/nanolin-init
#                     (default: built with `cargo build --release --target
#                     aarch64-unknown-linux-musl -p nanolin-init --features binary`)
#   NANOLIN_CACHE / NANOLIN_QEMU_CACHE  see fetch.sh
#   NANOLIN_BOOT_TIMEOUT  seconds before the boot counts as hung (default 180)
# Also prints (to stderr) whether the kernel needs modules for the storage the board tests
# will use: virtio-blk, squashfs, overlay, ext4 (built in, or which .ko files).
# Exit: 0 ok, 1 check failed, 2 usage error, 3 system failure.
set -euo pipefail
QEMU_PROG=smoke.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/../.." && pwd)

keep=0
case "${1:-}" in
  "") ;;
  --keep) keep=1 ;;
  *) usage_error "smoke.sh [--keep]" ;;
esac
[ $# -le 1 ] || usage_error "smoke.sh [--keep]"

fetched=$(bash "$here/fetch.sh") || exit $?
eval "$fetched"

# The init binary: built here unless given.
init_bin=${NANOLIN_INIT_BIN:-}
if [ -z "$init_bin" ]; then
  command -v cargo >/dev/null 2>&1 || sys_error "cargo is needed to build the init binary (or set NANOLIN_INIT_BIN)"
  say "cargo build --release --target aarch64-unknown-linux-musl -p nanolin-init --features binary"
  (cd "$repo" && cargo build --quiet --release --target aarch64-unknown-linux-musl \
    -p nanolin-init --features binary) >&2 || sys_error "building the aarch64 init binary failed"
  init_bin=$repo/target/aarch64-unknown-linux-musl/release/init
fi
[ -f "$init_bin" ] || sys_error "no init binary at $init_bin"

work=$(mktemp -d "${TMPDIR:-/tmp}/nanolin-smoke.XXXXXX")
if [ "$keep" -eq 1 ]; then
  trap 'say "work directory kept: $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
root=$work/root

busybox_rootfs "$root" "$BUSYBOX"
install -m 0755 "$init_bin" "$root/sbin/nanolin-init"
cat >"$root/init" <<'EOF'
#!/bin/sh
# Smoke-test PID 1: report, run the real init binary's --version, power off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "NANOLIN-SMOKE: pid=$$ kernel=$(uname -r) machine=$(uname -m) uptime=$(cut -d' ' -f1 /proc/uptime)s"
echo "NANOLIN-SMOKE: modules-loaded=$(wc -l </proc/modules) block-filesystems-built-in=[$(grep -v nodev /proc/filesystems | tr -d '\t' | tr '\n' ' ')]"
/sbin/nanolin-init --version
echo "NANOLIN-SMOKE: nanolin-init-status=$?"
poweroff -f
EOF
chmod 0755 "$root/init"

bash "$here/initramfs.sh" "$work/initramfs.cpio.gz" "$root"

bash "$here/boot.sh" --kernel "$KERNEL" --initrd "$work/initramfs.cpio.gz" \
  --timeout "${NANOLIN_BOOT_TIMEOUT:-180}" --log "$work/console.log" \
  --expect '^NANOLIN-SMOKE: pid=1 kernel=[^ ]+ machine=aarch64 ' \
  --expect '^nanolin-init 0\.1\.0$' \
  --expect '^NANOLIN-SMOKE: nanolin-init-status=0$' || exit $?
grep -a '^NANOLIN-SMOKE' "$work/console.log" | tr -d '\r' | sed 's/^/  /' >&2

# What later boots will need from the kernel for their storage.
say "kernel $KERNEL_RELEASE: storage features (y = built in; m = module: .ko files under \$MODULES, load order)"
for feature in "virtio-mmio:VIRTIO_MMIO:virtio_mmio" "virtio-pci:VIRTIO_PCI:virtio_pci" \
  "virtio-blk:VIRTIO_BLK:virtio_blk" "squashfs:SQUASHFS:squashfs" \
  "overlay:OVERLAY_FS:overlay" "ext4:EXT4_FS:ext4" \
  "crc32c (ext4 softdep):CRYPTO_CRC32C:crc32c_generic" "loop:BLK_DEV_LOOP:loop"; do
  IFS=: read -r name sym mod <<<"$feature"
  val=$(sed -n "s/^CONFIG_${sym}=//p" "$KERNEL_CONFIG")
  case "$val" in
    y) say "  $name: built in (CONFIG_$sym=y)" ;;
    m)
      # The module and what modules.dep says it needs, in load order.
      deps=$(awk -v m="/$mod.ko" 'index($1, m ":") { sub(/:$/, "", $1); for (i = NF; i > 1; i--) printf "%s ", $i; print $1; exit }' \
        "$MODULES/modules.dep")
      say "  $name: module (CONFIG_$sym=m): ${deps:-?}"
      ;;
    *) say "  $name: not available (CONFIG_$sym=${val:-unset})" ;;
  esac
done
say "PASS"

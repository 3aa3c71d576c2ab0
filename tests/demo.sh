#!/usr/bin/env bash
# `./nanolin demo`: the main job as far as it exists today, step by step.
#
# Today Nanolin signs what a build host ships and verifies it the way a board will: a demo key
# is generated, the board's init binary is built for the default board (qemu-aarch64-virt,
# aarch64), signed, and checked by signify, by minisign, by `nanolin verify`, and by the
# board's own agent running under aarch64 emulation. Then a tampered copy is refused.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=tests/peers.sh
source tests/peers.sh

nanolin=$root/target/fast/nanolin
out=$root/out/demo
say() { printf '\n== %s\n' "$*"; }

ensure_peers
ensure_targets

# The default board's description: name, target triple, emulator for its binaries.
# shellcheck source=boards/qemu-aarch64-virt.conf
source boards/qemu-aarch64-virt.conf

say "building the board's programs for $name ($target, static)"
cargo build --quiet --release --target "$target" -p nanolin-init --features binary
cargo build --quiet --release --target "$target" -p nanolin-agent
board=$root/target/$target/release
rm -rf "$out"
mkdir -p "$out"
cp "$board/init" "$board/nanolin-agent" "$out/"
ls -l "$out/init" "$out/nanolin-agent" | awk '{ printf "   %-40s %8d bytes\n", $NF, $5 }'

say "generating a demo signing key (no passphrase: a demo, not a release key)"
"$nanolin" key generate -n -c "nanolin demo" -p "$out/demo.pub" -s "$out/demo.sec"
cat "$out/demo.pub"

say "signing the board's programs"
"$nanolin" sign -s "$out/demo.sec" "$out/init" "$out/nanolin-agent"
cat "$out/init.sig"

say "verifying with nanolin on this host"
"$nanolin" verify -p "$out/demo.pub" "$out/init" "$out/nanolin-agent"

say "verifying with OpenBSD's signify and with minisign (same files, no conversion)"
signify-openbsd -V -p "$out/demo.pub" -m "$out/init" -x "$out/init.sig"
minisign -V -p "$out/demo.pub" -m "$out/init" -x "$out/init.sig"

say "verifying on the board side: the aarch64 agent under qemu-aarch64, 64 KiB buffer"
"$qemu_user" "$out/nanolin-agent" verify -p "$out/demo.pub" "$out/init"

say "tampering with one byte of init: every verifier must refuse it"
cp "$out/init" "$out/init.tampered"
printf '\x00' | dd of="$out/init.tampered" bs=1 seek=1000 conv=notrunc status=none
cp "$out/init.sig" "$out/init.tampered.sig"
refused=0
"$nanolin" verify -p "$out/demo.pub" "$out/init.tampered" || refused=$((refused + 1))
"$qemu_user" "$out/nanolin-agent" verify -p "$out/demo.pub" "$out/init.tampered" || refused=$((refused + 1))
signify-openbsd -V -p "$out/demo.pub" -m "$out/init.tampered" -x "$out/init.tampered.sig" || refused=$((refused + 1))
if [ "$refused" -ne 3 ]; then
  echo "demo: a tampered file was accepted" >&2
  exit 1
fi

say "an A/B update on a board made of files: the aarch64 agent under qemu-aarch64"
board_dir=$out/board
mkdir -p "$board_dir"
head -c $((6 * 1024 * 1024)) /dev/urandom > "$board_dir/rootfs-r1.img"
truncate -s 8M "$board_dir/slot_a" "$board_dir/slot_b"
dd if="$board_dir/rootfs-r1.img" of="$board_dir/slot_a" conv=notrunc status=none
truncate -s 32K "$board_dir/env"
printf '%s 0x0 0x4000\n%s 0x4000 0x4000\n' "$board_dir/env" "$board_dir/env" > "$board_dir/fw_env.config"
cat > "$board_dir/agent.conf" <<CONF
compatible=$name
slot_a=$board_dir/slot_a
slot_b=$board_dir/slot_b
booted=A
bootstate=uboot
uboot_env="$board_dir/env 0x0 0x4000"
uboot_env_redundant="$board_dir/env 0x4000 0x4000"
keys=$out/demo.pub
state_dir=$board_dir/state
CONF
# Release 2 changes a few places of release 1.
cp "$board_dir/rootfs-r1.img" "$board_dir/rootfs-r2.img"
for at in 100000 2000000 5000000; do
  printf 'release 2 was here' | dd of="$board_dir/rootfs-r2.img" bs=1 seek=$at conv=notrunc status=none
done
"$nanolin" bundle create -b "$name" --version r26.11-G22000002 --expires 30d \
  -i "$board_dir/rootfs-r2.img" -s "$out/demo.sec" -o "$out/prime-r26.11-G22000002.nlb"
"$nanolin" bundle info -p "$out/demo.pub" "$out/prime-r26.11-G22000002.nlb"
"$qemu_user" "$out/nanolin-agent" -c "$board_dir/agent.conf" install "$out/prime-r26.11-G22000002.nlb"
"$qemu_user" "$out/nanolin-agent" -c "$board_dir/agent.conf" status
echo "   U-Boot's fw_printenv reads what the agent wrote:"
fw_printenv -c "$board_dir/fw_env.config" BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT | sed 's/^/   /'
cmp -n "$(stat -c %s "$board_dir/rootfs-r2.img")" "$board_dir/rootfs-r2.img" "$board_dir/slot_b"
echo "   slot B holds release 2, byte for byte"

say "done"
cat <<MSG
What happened: a demo key was generated in out/demo/; the board's init ($(stat -c %s "$out/init") bytes,
static aarch64) and update agent were built, signed by nanolin, verified by nanolin, signify,
minisign and the board's own agent under emulation; a copy with one changed byte was refused
by all three verifiers that were shown it. A signed update bundle was made and installed by
the board's agent into slot B of a board made of files, with the U-Boot environment (read back
by fw_printenv) now booting B first.
Not yet in the demo (coming with the release and end-to-end issues): booting a release in
QEMU and updating it over the air from a server.
MSG

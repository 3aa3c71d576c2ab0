#!/usr/bin/env bash
# Packs a directory tree into a gzip-compressed newc cpio archive for use as a Linux initramfs.
#
# Usage: tests/qemu/initramfs.sh OUT.cpio.gz ROOTDIR
#
# Every entry is owned by 0:0 (whatever owns the files on the host), entries are in byte-wise
# sorted path order (so parents precede children), inode/device numbers are normalised
# (cpio --reproducible) and gzip stores no name or time: the same tree with the same mtimes
# gives the same bytes. Symlinks are stored as symlinks; device nodes as device nodes.
# Uses Debian's cpio (installed when missing and root).
# Exit: 0 ok, 2 usage error, 3 system failure.
set -euo pipefail
QEMU_PROG=initramfs.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 2 ] || usage_error "initramfs.sh OUT.cpio.gz ROOTDIR"
out=$1
root=$2
[ -d "$root" ] || usage_error "ROOTDIR $root is not a directory"
[ -e "$root/init" ] || say "warning: $root has no /init; the kernel will not find one to run"

need_cmd cpio cpio
need_cmd gzip gzip

outdir=$(dirname "$out")
[ -d "$outdir" ] || sys_error "no directory $outdir for $out"
tmp=$(mktemp "$outdir/.initramfs.XXXXXX")
trap 'rm -f "$tmp"' EXIT

if ! (cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
  cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) |
  gzip -9 -n >"$tmp"; then
  sys_error "packing $root failed"
fi
mv "$tmp" "$out"
trap - EXIT
say "$out: $(find "$root" -mindepth 1 | wc -l) entries, $(stat -c %s "$out") bytes"

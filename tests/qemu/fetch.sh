#!/usr/bin/env bash
# Fetches what the QEMU boot tests need and prints where it is.
#
# Usage: tests/qemu/fetch.sh            (no arguments)
#        eval "$(tests/qemu/fetch.sh)"  sets KERNEL, KERNEL_CONFIG, KERNEL_RELEASE, MODULES,
#                                       BUSYBOX, QEMU_SYSTEM_AARCH64, VERSIONS
#
# - makes sure qemu-system-aarch64 exists (installs Debian's qemu-system-arm when root);
# - makes sure dpkg knows the arm64 architecture (adds it when root; nothing arm64 is ever
#   installed system-wide: packages are only downloaded and unpacked into the cache);
# - downloads the current Debian arm64 kernel (the package linux-image-arm64 depends on, or
#   $NANOLIN_KERNEL_PKG) and busybox-static:arm64 with `apt-get download`, which checks them
#   against the signed archive index, and unpacks each with dpkg-deb -x;
# - runs depmod on the unpacked modules (the package leaves that to its postinst);
# - writes versions.txt next to them (package, version, sha256 of each .deb) and prints it to
#   stderr.
# Cache: ${NANOLIN_QEMU_CACHE:-${NANOLIN_CACHE:-$HOME/.cache/nanolin}/qemu}. Repeated runs reuse
# it; if the archive cannot be asked (no root, no package lists), the last fetched set is used.
# Only the KEY=value lines go to stdout; everything else goes to stderr.
# Exit: 0 ok, 2 usage error, 3 system failure.
set -euo pipefail
QEMU_PROG=fetch.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 0 ] || usage_error "fetch.sh takes no arguments"

need_cmd qemu-system-aarch64 qemu-system-arm
need_cmd dpkg-deb dpkg
need_cmd sha256sum coreutils
need_cmd flock util-linux
PATH=$PATH:/usr/sbin:/sbin
need_cmd depmod kmod

mkdir -p "$QEMU_CACHE/debs" || sys_error "cannot create $QEMU_CACHE"
# One fetch at a time per cache (a read-only cache can still be used, unlocked).
if { exec 9>>"$QEMU_CACHE/.lock"; } 2>/dev/null; then
  flock 9
fi

manifest=$QEMU_CACHE/versions.txt
updated=0

# candidate PKG:arm64 -> the version apt would download, or nothing.
candidate() {
  apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2; exit }'
}

# lookup -> "KERNEL_PKG KERNEL_VERSION BUSYBOX_VERSION" from one apt-cache call (each call
# costs a second or two): the kernel is what the candidate linux-image-arm64 depends on, at
# the version it pins, unless $NANOLIN_KERNEL_PKG names another.
lookup() {
  local kp kv b
  read -r kp kv b < <(apt-cache show --no-all-versions linux-image-arm64:arm64 busybox-static:arm64 \
    2>/dev/null | awk '
      /^Package: / { p = $2 }
      p == "linux-image-arm64" && /^Depends: / {
        if (match($0, /linux-image-[^ ,]+ \(= [^)]+\)/)) {
          dep = substr($0, RSTART, RLENGTH); gsub(/[()=]/, "", dep); split(dep, d, " +")
          k = d[1] " " d[2]
        }
      }
      p == "busybox-static" && /^Version: / { b = $2 }
      END { print (k == "" ? "- -" : k), (b == "" ? "-" : b) }') || true
  if [ -n "${NANOLIN_KERNEL_PKG:-}" ]; then
    kp=${NANOLIN_KERNEL_PKG%:arm64}
    kv=$(candidate "$kp:arm64")
  fi
  echo "${kp:--} ${kv:--} ${b:--}"
}

apt_update() {
  [ "$updated" -eq 0 ] || return 1
  is_root || return 1
  say "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2 || sys_error "apt-get update failed"
  updated=1
}

# resolve: sets kpkg kver bver from the archive, or returns 1 when it cannot be asked.
resolve() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    is_root || return 1
    say "dpkg --add-architecture arm64 (for downloads only)"
    dpkg --add-architecture arm64 || sys_error "dpkg --add-architecture arm64 failed"
    apt_update || true
  fi
  while :; do
    read -r kpkg kver bver < <(lookup)
    if [ "${kpkg:--}" != - ] && [ "${kver:--}" != - ] && [ "${bver:--}" != - ]; then
      return 0
    fi
    apt_update || return 1
  done
}

# deb_file PKG VERSION -> the file name apt-get download gives it.
deb_file() { printf '%s_%s_arm64.deb' "$1" "${2//:/%3a}"; }

# fetch_deb PKG VERSION -> downloads into the cache unless already there; prints the path.
fetch_deb() {
  local pkg=$1 ver=$2 f tmp
  f=$QEMU_CACHE/debs/$(deb_file "$pkg" "$ver")
  if [ ! -s "$f" ]; then
    say "downloading $pkg:arm64 $ver"
    tmp=$(mktemp -d "$QEMU_CACHE/debs/.dl.XXXXXX")
    if ! (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg:arm64=$ver" \
      </dev/null >&2); then
      rm -rf "$tmp"
      sys_error "apt-get download $pkg:arm64=$ver failed"
    fi
    [ -s "$tmp/$(basename "$f")" ] || { rm -rf "$tmp"; sys_error "download of $pkg gave no $(basename "$f")"; }
    mv "$tmp/$(basename "$f")" "$f"
    rm -rf "$tmp"
  fi
  echo "$f"
}

# unpack DEB -> unpacks into the cache (once, atomically); prints the directory.
unpack() {
  local deb=$1 dir tmp
  dir=$QEMU_CACHE/$(basename "$deb" .deb)
  if [ ! -d "$dir" ]; then
    say "unpacking $(basename "$deb")"
    tmp=$(mktemp -d "$QEMU_CACHE/.x.XXXXXX")
    dpkg-deb -x "$deb" "$tmp" || { rm -rf "$tmp"; sys_error "dpkg-deb -x $deb failed"; }
    # A kernel package ships no modules.dep (its postinst makes it): make it here, so that
    # tests can find a module's dependencies.
    for mods in "$tmp"/lib/modules/*/; do
      [ -d "$mods" ] || continue
      depmod -b "$tmp" "$(basename "$mods")" ||
        { rm -rf "$tmp"; sys_error "depmod for $(basename "$mods") failed"; }
    done
    mv "$tmp" "$dir"
  fi
  echo "$dir"
}

field() { awk -F= -v k="$1" '$1 == k { sub(/^[^=]*=/, ""); print; exit }' "$manifest"; }

if resolve; then
  kdeb=$(fetch_deb "$kpkg" "$kver")
  bdeb=$(fetch_deb busybox-static "$bver")
  kdir=$(unpack "$kdeb")
  bdir=$(unpack "$bdeb")
  text=$(
    echo "# Debian arm64 packages unpacked for the QEMU tests (written by tests/qemu/fetch.sh)"
    echo "kernel_package=$kpkg"
    echo "kernel_version=$(dpkg-deb -f "$kdeb" Version)"
    echo "kernel_deb=$(basename "$kdeb")"
    echo "kernel_sha256=$(sha256sum "$kdeb" | cut -d' ' -f1)"
    echo "busybox_package=busybox-static"
    echo "busybox_version=$(dpkg-deb -f "$bdeb" Version)"
    echo "busybox_deb=$(basename "$bdeb")"
    echo "busybox_sha256=$(sha256sum "$bdeb" | cut -d' ' -f1)"
    echo "kernel_dir=$(basename "$kdir")"
    echo "busybox_dir=$(basename "$bdir")"
  )
  if [ "$text" != "$(cat "$manifest" 2>/dev/null)" ]; then
    tmpm=$(mktemp "$QEMU_CACHE/.versions.XXXXXX") && printf '%s\n' "$text" >"$tmpm" &&
      mv "$tmpm" "$manifest" || sys_error "cannot write $manifest"
  fi
  # Keep the cache bounded: drop kernels and busyboxes that are no longer current (not when
  # a kernel was chosen by hand: the default one is likely wanted again).
  [ -n "${NANOLIN_KERNEL_PKG:-}" ] ||
  for old in "$QEMU_CACHE"/linux-image-*_arm64 "$QEMU_CACHE"/busybox-static_*_arm64 \
    "$QEMU_CACHE"/debs/*.deb; do
    [ -e "$old" ] || continue
    case "$old" in "$kdir" | "$bdir" | "$kdeb" | "$bdeb") continue ;; esac
    say "removing stale $(basename "$old")"
    rm -rf "$old" || say "warning: cannot remove $old"
  done
elif [ -n "${NANOLIN_KERNEL_PKG:-}" ]; then
  sys_error "cannot find $NANOLIN_KERNEL_PKG:arm64 and busybox-static:arm64 in the Debian archive"
elif [ -s "$manifest" ]; then
  say "cannot resolve the packages in the Debian archive (not root, or no package lists): using the cached set"
  kdir=$QEMU_CACHE/$(field kernel_dir)
  bdir=$QEMU_CACHE/$(field busybox_dir)
else
  sys_error "cannot resolve the arm64 kernel/busybox packages: run as root (or once: sudo dpkg --add-architecture arm64 && sudo apt-get update)"
fi

kernel=$(find "$kdir/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)
[ -n "$kernel" ] && [ -s "$kernel" ] || sys_error "no boot/vmlinuz-* in $kdir"
release=${kernel##*/vmlinuz-}
config=$kdir/boot/config-$release
modules=$kdir/lib/modules/$release
busybox=$bdir/bin/busybox
[ -s "$busybox" ] || sys_error "no bin/busybox in $bdir"
[ -d "$modules" ] || sys_error "no lib/modules/$release in $kdir"
[ -s "$modules/modules.dep" ] || depmod -b "$kdir" "$release" || sys_error "depmod for $release failed"

sed 's/^/  /' "$manifest" >&2
printf 'KERNEL=%q\n' "$kernel"
printf 'KERNEL_CONFIG=%q\n' "$config"
printf 'KERNEL_RELEASE=%q\n' "$release"
printf 'MODULES=%q\n' "$modules"
printf 'BUSYBOX=%q\n' "$busybox"
printf 'QEMU_SYSTEM_AARCH64=%q\n' "$(command -v qemu-system-aarch64)"
printf 'VERSIONS=%q\n' "$manifest"

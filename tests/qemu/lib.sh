# Shared helpers for the tests/qemu/*.sh scripts. Sourced, never run.
#
# Exit codes used by every script here:
#   0 success, 1 a check failed, 2 usage error, 3 system failure (missing tool, download, I/O).

QEMU_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QEMU_CACHE=${NANOLIN_QEMU_CACHE:-${NANOLIN_CACHE:-$HOME/.cache/nanolin}/qemu}
: "${QEMU_PROG:=$(basename "$0")}"

say() { printf '%s: %s\n' "$QEMU_PROG" "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
usage_error() { say "usage error: $*"; exit 2; }
sys_error() { say "error: $*"; exit 3; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_install PKG... : installs Debian packages quietly when root; otherwise exits 3 with the
# command to run.
apt_install() {
  if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
    sys_error "needs Debian package(s) $*; run: sudo apt-get install -y --no-install-recommends $*"
  fi
  say "installing $* (apt-get)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    </dev/null >/dev/null 2>"${TMPDIR:-/tmp}/nanolin-apt.$$.err"; then
    # The package lists may be missing or stale on a fresh machine: update once and retry.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2 ||
      sys_error "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
      </dev/null >/dev/null 2>"${TMPDIR:-/tmp}/nanolin-apt.$$.err" || {
      cat "${TMPDIR:-/tmp}/nanolin-apt.$$.err" >&2
      rm -f "${TMPDIR:-/tmp}/nanolin-apt.$$.err"
      sys_error "apt-get install $* failed"
    }
  fi
  rm -f "${TMPDIR:-/tmp}/nanolin-apt.$$.err"
}

# need_cmd COMMAND PACKAGE : makes sure COMMAND exists, installing PACKAGE if it does not.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || sys_error "$1 still missing after installing $2"
}

# now_s : wall clock in seconds with millisecond precision.
now_s() { date +%s.%3N; }
# elapsed START END : END-START formatted with one decimal.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# busybox_rootfs DIR BUSYBOX : lays out a minimal root tree in DIR: the arm64 busybox as
# /bin/busybox, a symlink for each of its applets (listed by running it under
# qemu-aarch64-static; a short fixed list when that is missing), and the usual mount points.
busybox_rootfs() {
  local dir=$1 bb=$2 applets a
  mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root}
  chmod 1777 "$dir/tmp"
  install -m 0755 "$bb" "$dir/bin/busybox"
  if command -v qemu-aarch64-static >/dev/null 2>&1 &&
    applets=$(qemu-aarch64-static "$bb" --list-full 2>/dev/null) && [ -n "$applets" ]; then
    :
  else
    say "qemu-aarch64-static unavailable: linking a fixed list of busybox applets"
    applets="bin/sh bin/ash bin/cat bin/echo bin/ls bin/mkdir bin/mount bin/umount bin/uname
      bin/sleep bin/dmesg bin/grep bin/sed bin/ln bin/rm bin/mknod bin/chmod bin/cp bin/mv
      sbin/poweroff sbin/reboot sbin/halt sbin/insmod sbin/modprobe sbin/switch_root
      usr/bin/env usr/bin/wc usr/bin/head usr/bin/tail usr/bin/tr usr/bin/awk usr/bin/test
      usr/bin/[ usr/bin/find usr/bin/xargs usr/bin/cut"
  fi
  while read -r a; do
    case "$a" in */busybox | linuxrc | "") continue ;; esac
    mkdir -p "$dir/$(dirname "$a")"
    [ -e "$dir/$a" ] || [ -L "$dir/$a" ] || ln -s /bin/busybox "$dir/$a"
  done < <(tr -s ' \t' '\n' <<<"$applets")
  [ -L "$dir/bin/sh" ] || [ -e "$dir/bin/sh" ] || ln -s /bin/busybox "$dir/bin/sh"
}

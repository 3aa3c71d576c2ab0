#!/usr/bin/env bash
# Boots an arm64 kernel + initramfs under qemu-system-aarch64 -M virt (software emulation, no
# terminal needed) and checks the serial console.
#
# Usage: tests/qemu/boot.sh --kernel K --initrd I [options] [-- extra qemu arguments]
#   --kernel FILE      arm64 kernel Image (e.g. KERNEL from fetch.sh)
#   --initrd FILE      initramfs (e.g. from initramfs.sh)
#   --append "ARGS"    added to the kernel command line "console=ttyAMA0 panic=-1 quiet"
#   --timeout SECONDS  kill QEMU after this long (default 180); a timeout is a failure
#   --log FILE         where the console goes (default: a temporary file, kept on failure)
#   --expect REGEX     an extended regex (grep -E) that must appear on a console line;
#                      repeatable; lines are matched with their trailing CR removed
#   --cpu NAME         QEMU CPU model (default cortex-a57)
#   --smp N            virtual CPUs (default 2, one TCG thread each)
#   --memory SIZE      guest memory (default 512M)
#   --show-log         print the whole console to stderr afterwards, even on success
#
# Passes (exit 0) only if QEMU exited by itself with status 0 because the guest powered off
# (not a timeout, not a kernel panic, not a reboot) and every --expect matched.
# The console is written to the log through a QEMU file chardev (stdin is /dev/null, no monitor, no
# display), so it behaves the same with or without a terminal. On failure the last console
# lines are printed to stderr. The boot's wall time is always printed to stderr.
# Exit: 0 ok, 1 check failed (timeout, panic, reboot, missing expectation), 2 usage error,
#       3 system failure (QEMU could not start or failed).
set -euo pipefail
QEMU_PROG=boot.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kernel='' initrd='' append='' timeout=180 log='' cpu=cortex-a57 smp=2 memory=512M show_log=0
expects=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel | --initrd | --append | --timeout | --log | --expect | --cpu | --smp | --memory)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case "$1" in
        --kernel) kernel=$2 ;;
        --initrd) initrd=$2 ;;
        --append) append="$append $2" ;;
        --timeout) timeout=$2 ;;
        --log) log=$2 ;;
        --expect) expects+=("$2") ;;
        --cpu) cpu=$2 ;;
        --smp) smp=$2 ;;
        --memory) memory=$2 ;;
      esac
      shift 2
      ;;
    --show-log) show_log=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) usage_error "unknown argument $1 (try --help)" ;;
  esac
done
[ -n "$kernel" ] || usage_error "--kernel is required"
[ -n "$initrd" ] || usage_error "--initrd is required"
[ -f "$kernel" ] || usage_error "no kernel file $kernel"
[ -f "$initrd" ] || usage_error "no initrd file $initrd"
[[ "$timeout" =~ ^[0-9]+$ ]] && [ "$timeout" -gt 0 ] || usage_error "--timeout needs a positive whole number of seconds"
[[ "$smp" =~ ^[0-9]+$ ]] || usage_error "--smp needs a number"
for re in "${expects[@]}"; do
  # grep exits 2 on a malformed regex
  rc=0; grep -Eq -- "$re" /dev/null 2>/dev/null || rc=$?
  [ "$rc" -le 1 ] || usage_error "bad --expect regex: $re"
done

need_cmd qemu-system-aarch64 qemu-system-arm
need_cmd timeout coreutils

keep_log=1
if [ -z "$log" ]; then
  log=$(mktemp "${TMPDIR:-/tmp}/nanolin-boot.XXXXXX.log")
  keep_log=0
fi
: >"$log" || sys_error "cannot write $log"
errlog=$(mktemp "${TMPDIR:-/tmp}/nanolin-qemu-stderr.XXXXXX")
clean=$(mktemp "${TMPDIR:-/tmp}/nanolin-console.XXXXXX")
trap 'rm -f "$errlog" "$clean"' EXIT

cmdline="console=ttyAMA0 panic=-1 quiet${append}"
qemu=(qemu-system-aarch64
  -M virt -cpu "$cpu" -smp "$smp" -m "$memory"
  -accel tcg,thread=multi
  -nodefaults -no-user-config -display none -monitor none -no-reboot
  -chardev "file,id=console,path=${log//,/,,}" -serial chardev:console
  -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
  "${extra[@]}")

show_tail() {
  if [ ! -s "$log" ]; then
    say "--- the console stayed empty ($log) ---"
  elif grep -aq 'Kernel panic - not syncing' "$clean"; then
    say "--- console up to the panic ($log) ---"
    grep -a -m1 -B 30 -A 3 'Kernel panic - not syncing' "$clean" | sed 's/^/  | /' >&2
  else
    say "--- last console lines ($log) ---"
    tail -n 40 "$clean" | sed 's/^/  | /' >&2
  fi
  if [ -s "$errlog" ]; then
    say "--- qemu stderr ---"
    sed 's/^/  ! /' "$errlog" >&2
  fi
  if [ "$keep_log" -eq 0 ]; then
    say "(console log kept at $log)"
  fi
}

start=$(now_s)
rc=0
# timeout kills QEMU with TERM, then KILL 5 s later; its own status is 124 (or 137) then.
timeout -k 5 "$timeout" "${qemu[@]}" </dev/null >"$errlog" 2>&1 || rc=$?
end=$(now_s)
secs=$(elapsed "$start" "$end")
tr -d '\r' <"$log" >"$clean"

case "$rc" in
  0) ;;
  124 | 137)
    say "FAIL: no power-off within ${timeout} s (QEMU killed after $secs s)"
    show_tail
    exit 1
    ;;
  *)
    say "error: qemu-system-aarch64 exited with status $rc after $secs s"
    say "command:$(printf ' %q' "${qemu[@]}")"
    show_tail
    exit 3
    ;;
esac

# QEMU exits by itself on a power-off, but with -no-reboot also on a reboot, and so after a
# panic (panic=-1 reboots at once): tell those apart from the console.
if grep -aq 'Kernel panic - not syncing' "$clean"; then
  say "FAIL: kernel panic after $secs s: $(grep -a -m1 'Kernel panic - not syncing' "$clean")"
  show_tail
  exit 1
fi
if grep -aq 'reboot: Restarting system' "$clean"; then
  say "FAIL: the guest rebooted instead of powering off ($secs s)"
  show_tail
  exit 1
fi

missing=0
for re in "${expects[@]}"; do
  if ! grep -aEq -- "$re" "$clean"; then
    say "FAIL: console never showed /$re/"
    missing=$((missing + 1))
  fi
done
if [ "$missing" -gt 0 ]; then
  show_tail
  exit 1
fi

if [ "$show_log" -eq 1 ]; then
  sed 's/^/  | /' "$clean" >&2
fi
say "ok: guest powered off after $secs s wall time (${#expects[@]} expectation(s) met; cpu $cpu, smp $smp)"
[ "$keep_log" -eq 1 ] || rm -f "$log"

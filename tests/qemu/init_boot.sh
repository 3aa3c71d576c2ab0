#!/usr/bin/env bash
# Boot test of init as the real PID 1: Debian's arm64 kernel under qemu-system-aarch64 -M virt
# with an initramfs holding our static aarch64 `init` as /sbin/init (and /init -> /sbin/init,
# which the kernel runs), busybox-static (arm64) with its applet links, /etc/hostname and a set
# of services in /etc/nanolin/services/ that exercise the supervisor for real:
#
#   mount-data    oneshot (inline `sh -c`): creates /run/data/marker
#   late          longrun, ready=fd:3: says so only after 1 s; prints a line when stopped
#   app           longrun, needs="mount-data late", user=nobody, directory=/run/data, export
#                 GREETING=...: prints its start time, whether the marker exists, uid, cwd, env
#   crasher       longrun, restart=on-failure, exits 1 at once, never ready: restarted with
#                 backoff until init gives it up as crash-looping
#   broken        oneshot that exits 3; needs-broken needs it and must be reported not started
#   ghost         a program that does not exist; needs-ghost needs it (likewise)
#   health        oneshot, needs="mount-data late app", after= the crasher and the failures:
#                 prints /proc/uptime (= all services up), the mounts, /proc/modules, the
#                 watchdog device and its sysfs identity/state, `init ctl status`,
#                 `initctl start needs-broken` (refused), then `init ctl poweroff`
#
# It also holds kernel modules listed in /etc/nanolin/modules (i6300esb, libchacha before
# chacha_generic, squashfs; loaded by init), QEMU gets -device i6300esb and the kernel
# command line nanolin.watchdog=/dev/watchdog (init opens and pets it) and nanolin.bogus=1
# (must be reported as unknown and ignored).
#
# The console is then checked: no "unable to" from the early mounts (nor any other unexpected
# "init: unable to"), each early file system mounted, hostname set, services in a valid order
# (app after the marker and after late signalled, by console position and by guest uptime),
# the crasher restarted at least twice with growing delays, the blocked services reported,
# the `init ctl status` lines present and right, services stopped in reverse dependency
# order, the modules live with no load errors, the watchdog opened and active, and a clean
# power-off ("reboot: Power down", QEMU exits by itself) in time.
# Prints the guest time from kernel start to all-services-up and the wall time from QEMU
# start to power-off.
#
# Usage: tests/qemu/init_boot.sh [--out DIR] [--keep] [--show-log]
#   --out DIR    where the console log, initramfs and summary go (default: out/qemu in the
#                repository, or $NANOLIN_QEMU_OUT)
#   --keep       also keep the root tree (DIR/init_boot.root)
#   --show-log   print the whole console afterwards, even on success
# Environment:
#   NANOLIN_INIT_BIN      the static aarch64 init binary (default: built with `cargo build
#                         --release --target aarch64-unknown-linux-musl -p nanolin-init
#                         --features binary`)
#   NANOLIN_QEMU_OUT      output directory (see --out)
#   NANOLIN_BOOT_TIMEOUT  seconds before the boot counts as hung (default 180)
#   NANOLIN_CACHE / NANOLIN_QEMU_CACHE  see fetch.sh
# Exit: 0 ok, 1 check failed, 2 usage error, 3 system failure.
set -euo pipefail
QEMU_PROG=init_boot.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/../.." && pwd)

out=${NANOLIN_QEMU_OUT:-$repo/out/qemu}
keep=0
show_log=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || usage_error "--out needs a directory"; out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --show-log) show_log=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) usage_error "unknown argument $1 (try --help)" ;;
  esac
done
timeout=${NANOLIN_BOOT_TIMEOUT:-180}
[[ "$timeout" =~ ^[0-9]+$ ]] && [ "$timeout" -gt 0 ] ||
  usage_error "NANOLIN_BOOT_TIMEOUT must be a positive whole number of seconds"

mkdir -p "$out" || sys_error "cannot create $out"
out=$(cd "$out" && pwd)
log=$out/init_boot.console.log
initrd=$out/init_boot.initramfs.cpio.gz
summary=$out/init_boot.summary.txt
root=$out/init_boot.root
rm -f "$log" "$summary"

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
if command -v file >/dev/null 2>&1; then
  file -b "$init_bin" | grep -q 'ARM aarch64' ||
    sys_error "$init_bin is not an aarch64 binary: $(file -b "$init_bin")"
fi

# ---------------------------------------------------------------------------------------------
# The root tree.
rm -rf "$root"
if [ "$keep" -eq 0 ]; then
  trap 'rm -rf "$root"' EXIT
fi
busybox_rootfs "$root" "$BUSYBOX"
# busybox_rootfs links busybox's own init applet as /sbin/init: ours replaces it.
rm -f "$root/sbin/init" "$root/init" "$root/linuxrc"
install -m 0755 "$init_bin" "$root/sbin/init"
ln -s sbin/init "$root/init"                # the kernel runs /init from an initramfs
ln -s init "$root/sbin/initctl"             # init called as initctl is the client
echo nanolin-qemu >"$root/etc/hostname"
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
  >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'tty:x:5:' 'nogroup:x:65534:' >"$root/etc/group"

# Kernel modules for init to load (finit_module, in the order listed): the i6300esb watchdog
# driver (no dependencies) by a path relative to /lib/modules/$(uname -r), a module with a
# dependency listed after it (libchacha before chacha_generic: the other order fails with
# "Unknown symbol"), squashfs by an absolute path, and i6300esb again (EEXIST: not an error).
mod_paths=(kernel/drivers/watchdog/i6300esb.ko kernel/lib/crypto/libchacha.ko
  kernel/crypto/chacha_generic.ko kernel/fs/squashfs/squashfs.ko)
mod_names='i6300esb libchacha chacha_generic squashfs'
for m in "${mod_paths[@]}"; do
  [ -f "$MODULES/$m" ] || sys_error "no $m in $MODULES"
  install -D -m 0644 "$MODULES/$m" "$root/lib/modules/$KERNEL_RELEASE/$m"
done
mkdir -p "$root/etc/nanolin"
cat >"$root/etc/nanolin/modules" <<EOF
# Loaded by init at boot, in this order (written by tests/qemu/init_boot.sh).
kernel/drivers/watchdog/i6300esb.ko
kernel/lib/crypto/libchacha.ko
  kernel/crypto/chacha_generic.ko

/lib/modules/$KERNEL_RELEASE/kernel/fs/squashfs/squashfs.ko
kernel/drivers/watchdog/i6300esb.ko
EOF

svc=$root/etc/nanolin/services
bin=$root/usr/libexec/nanolin-test
mkdir -p "$svc" "$bin"

# Written inline on purpose: the outer '…' keeps $ literal for the service file, the inner "…"
# is split by init into one argument for sh.
cat >"$svc/mount-data" <<'EOF'
# A oneshot that others need: the data "mount".
kind=oneshot
run='/bin/sh -c "mkdir -p /run/data && read up idle </proc/uptime && echo $up >/run/data/marker && echo MOUNT-DATA: marker written uptime=$up"'
EOF

cat >"$svc/late" <<'EOF'
# Ready late: only after a second, through the notification descriptor.
run=/usr/libexec/nanolin-test/late
ready=fd:3
restart=always
EOF
cat >"$bin/late" <<'EOF'
#!/bin/sh
up() { read u _ </proc/uptime; echo "$u"; }
trap 'echo "LATE: stopping uptime=$(up)"; exit 0' TERM
echo "LATE: started uptime=$(up)"
sleep 1
echo "LATE: signalling ready uptime=$(up)"
echo ready >&3
exec 3>&-
while :; do sleep 1; done
EOF

cat >"$svc/app" <<'EOF'
# Needs both; runs as nobody in the directory mount-data creates.
run=/usr/libexec/nanolin-test/app
needs="mount-data late"
user=nobody
directory=/run/data
export GREETING="hello from init"
EOF
cat >"$bin/app" <<'EOF'
#!/bin/sh
up() { read u _ </proc/uptime; echo "$u"; }
now=$(up)
if [ -f /run/data/marker ]; then marker="present:$(cat /run/data/marker)"; else marker=MISSING; fi
echo "APP: started uptime=$now marker=$marker uid=$(id -u) cwd=$(pwd) greeting=[$GREETING]"
trap 'echo "APP: stopping uptime=$(up)"; exit 0' TERM
while :; do sleep 1; done
EOF

cat >"$svc/crasher" <<'EOF'
# Crashes at once, every time; never ready, so what waits for it waits until init gives up.
run='/bin/sh -c "read up idle </proc/uptime; echo CRASHER: start uptime=$up; exit 1"'
restart=on-failure
ready=fd:3
EOF

cat >"$svc/broken" <<'EOF'
kind=oneshot
run='/bin/sh -c "echo BROKEN: failing on purpose; exit 3"'
EOF
cat >"$svc/needs-broken" <<'EOF'
run="/usr/libexec/nanolin-test/must-not-run needs-broken"
needs=broken
EOF
cat >"$svc/ghost" <<'EOF'
run=/no/such/program
EOF
cat >"$svc/needs-ghost" <<'EOF'
run="/usr/libexec/nanolin-test/must-not-run needs-ghost"
needs=ghost
EOF
cat >"$bin/must-not-run" <<'EOF'
#!/bin/sh
echo "MUST-NOT-RUN: $1 was started"
exec sleep 100000
EOF

cat >"$svc/health" <<'EOF'
# Once everything is up (and the failures settled): report, then power off.
kind=oneshot
run=/usr/libexec/nanolin-test/health
needs="mount-data late app"
after="crasher broken needs-broken ghost needs-ghost"
EOF
cat >"$bin/health" <<'EOF'
#!/bin/sh
up() { read u _ </proc/uptime; echo "$u"; }
echo "HEALTH: all services up uptime=$(up) hostname=$(hostname) pid1=$(cat /proc/1/comm)"
echo "HEALTH: mounts $(awk '{ printf "%s:%s ", $2, $3 }' /proc/mounts)"
echo "HEALTH: modules $(awk '{ printf "%s:%s ", $1, $5 }' /proc/modules)"
ls -l /dev/watchdog* 2>&1 | sed 's/^/HEALTH-WATCHDOG: /'
for f in identity state; do
  echo "HEALTH-WATCHDOG: $f=$(cat /sys/class/watchdog/watchdog0/$f 2>&1)"
done
echo "HEALTH: init ctl status begin"
/sbin/init ctl status
echo "HEALTH: init ctl status end rc=$?"
initctl start needs-broken
echo "HEALTH: initctl start needs-broken rc=$?"
{ /sbin/init ctl log crasher; echo "rc=$?"; } | sed 's/^/HEALTH-LOG: /'
echo "HEALTH: init ctl poweroff uptime=$(up)"
/sbin/init ctl poweroff
echo "HEALTH: init ctl poweroff rc=$?"
EOF
chmod 0755 "$bin"/*

bash "$here/initramfs.sh" "$initrd" "$root" || exit $?

# ---------------------------------------------------------------------------------------------
# The boot.
say "booting (timeout $timeout s); console: $log"
start=$(now_s)
boot_rc=0
bash "$here/boot.sh" --kernel "$KERNEL" --initrd "$initrd" --timeout "$timeout" --log "$log" \
  --append 'nanolin.watchdog=/dev/watchdog nanolin.bogus=1' \
  --expect '(^|\] )reboot: Power down$' -- -device i6300esb || boot_rc=$?
end=$(now_s)
wall=$(elapsed "$start" "$end")
[ -f "$log" ] || sys_error "no console log at $log"
clean=$(mktemp "${TMPDIR:-/tmp}/nanolin-init-boot.XXXXXX")
if [ "$keep" -eq 0 ]; then
  trap 'rm -rf "$root" "$clean" "$clean.raw"' EXIT
else
  trap 'rm -f "$clean" "$clean.raw"' EXIT
fi
raw=$clean.raw
tr -d '\r' <"$log" >"$raw"
# init may relay each service's output as "NAME: line" (it keeps it for `init ctl log`): the
# checks read the lines without that prefix; the prefixes are checked once, below.
services='mount-data|late|app|crasher|broken|needs-broken|ghost|needs-ghost|health'
sed -E "s/^($services): //" "$raw" >"$clean"

# ---------------------------------------------------------------------------------------------
# The checks. Each failure is listed; the console tail is shown once at the end.
failures=0
check_fail() { say "FAIL: $*"; failures=$((failures + 1)); }
ok() { say "ok: $*"; }

# line_of REGEX -> number of the first console line matching it (nothing when none).
line_of() { { grep -anE -m1 -- "$1" "$clean" || true; } | cut -d: -f1; }
# field_of REGEX KEY -> the value of KEY=… on the first line matching REGEX.
field_of() { { grep -aE -m1 -- "$1" "$clean" || true; } | sed -nE "s/.*[ ]$2=([^ ]*).*/\\1/p"; }
# before A B WHAT: line A exists, line B exists, A comes first.
before() {
  local a b
  a=$(line_of "$1")
  b=$(line_of "$2")
  if [ -z "$a" ]; then check_fail "$3: never saw /$1/"
  elif [ -z "$b" ]; then check_fail "$3: never saw /$2/"
  elif [ "$a" -lt "$b" ]; then ok "$3 (console lines $a < $b)"
  else check_fail "$3: /$1/ on line $a is not before /$2/ on line $b"
  fi
}
# not_less X Y -> true when X >= Y (decimals).
not_less() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x + 0 >= y + 0) }'; }

# 1. Early boot.
if grep -aE '^init: unable to mount' "$clean" >/dev/null; then
  check_fail "early mounts reported errors: $(grep -aE '^init: unable to mount' "$clean" | tr '\n' ';')"
else
  ok "no 'unable to mount' from the early boot"
fi
# Every "init: unable to" must be the expected one (ghost's missing program).
unexpected=$(grep -aE '^init: unable to' "$clean" |
  grep -avE '^init: unable to start ghost: unable to execute its program: ENOENT$' || true)
if [ -n "$unexpected" ]; then
  check_fail "unexpected init errors: $(tr '\n' ';' <<<"$unexpected")"
else
  ok "no unexpected 'init: unable to' lines"
fi
# The test's own service files must all be accepted.
if grep -aE '^init: /etc/nanolin/services/' "$clean" >/dev/null; then
  check_fail "init refused service files: $(grep -aE '^init: /etc/nanolin/services/' "$clean" | tr '\n' ';')"
else
  ok "all 10 service files accepted"
fi
mounts=$(grep -a -m1 '^HEALTH: mounts ' "$clean" || true)
for m in /proc:proc /sys:sysfs /dev:devtmpfs /dev/pts:devpts /run:tmpfs /sys/fs/cgroup:cgroup2; do
  if [[ " $mounts " == *" $m "* ]]; then :; else check_fail "early mount $m missing from /proc/mounts ($mounts)"; fi
done
[[ "$mounts" == HEALTH:* ]] && ok "early mounts present: /proc /sys /dev /dev/pts /run /sys/fs/cgroup"
if grep -aqE '^HEALTH: all services up .* hostname=nanolin-qemu pid1=init$' "$clean"; then
  ok "hostname set from /etc/hostname; PID 1 is init"
else
  check_fail "hostname/PID 1 line wrong or missing: $(grep -a -m1 '^HEALTH: all services up' "$clean" || echo none)"
fi
# Modules: none refused, each live in /proc/modules; the watchdog opened (by init: it is the
# only opener) and its device there.
if grep -aE '^init: unable to (load|open) module' "$clean" >/dev/null; then
  check_fail "module loading failed: $(grep -aE '^init: unable to (load|open) module' "$clean" | tr '\n' ';')"
else
  ok "no 'unable to load/open module' lines"
fi
proc_modules=$(grep -a -m1 '^HEALTH: modules ' "$clean" || true)
missing=''
for m in $mod_names; do
  [[ " $proc_modules " == *" $m:Live "* ]] || missing+=" $m"
done
if [ -z "$proc_modules" ]; then
  check_fail "health printed no /proc/modules line"
elif [ -n "$missing" ]; then
  check_fail "modules not live in /proc/modules:$missing ($proc_modules)"
else
  ok "modules loaded from /etc/nanolin/modules and live: $mod_names"
fi
if grep -aE '^init: unable to open the watchdog' "$clean" >/dev/null; then
  check_fail "$(grep -a -m1 '^init: unable to open the watchdog' "$clean")"
else
  ok "no 'unable to open the watchdog' line"
fi
if grep -aqE '^HEALTH-WATCHDOG: c.* /dev/watchdog$' "$clean" &&
  grep -aqxF 'HEALTH-WATCHDOG: identity=i6300ESB timer' "$clean" &&
  grep -aqxF 'HEALTH-WATCHDOG: state=active' "$clean"; then
  ok "/dev/watchdog is the i6300ESB timer and is active (held open by init)"
else
  check_fail "watchdog device/state wrong: $(grep -a '^HEALTH-WATCHDOG: ' "$clean" | tr '\n' ';')"
fi
if grep -aqxF 'init: unknown option nanolin.bogus=1 ignored' "$clean"; then
  ok "unknown nanolin.bogus=1 on the kernel command line reported and ignored"
else
  check_fail "no 'init: unknown option nanolin.bogus=1 ignored' ($(grep -a -m1 '^init: unknown option' "$clean" || echo none))"
fi
if grep -aq 'MUST-NOT-RUN' "$clean"; then
  check_fail "a service with a failed dependency ran: $(grep -a -m1 'MUST-NOT-RUN' "$clean")"
fi

# Service output: on the console either all bare or all as "NAME: line", with the right NAME.
prefixed=0 bare=0 wrong=''
for pair in mount-data:MOUNT-DATA late:LATE app:APP crasher:CRASHER broken:BROKEN health:HEALTH; do
  name=${pair%%:*} tag=${pair#*:}
  while IFS= read -r line; do
    case "$line" in
      "$tag: "*) bare=$((bare + 1)) ;;
      "$name: $tag: "*) prefixed=$((prefixed + 1)) ;;
      *) wrong+="$line;" ;;
    esac
  done < <(grep -aE "(^|: )$tag: " "$raw" | grep -avE "^health: HEALTH-LOG: " || true)
done
if [ -n "$wrong" ]; then
  check_fail "service output with a wrong prefix: $wrong"
elif [ "$prefixed" -gt 0 ] && [ "$bare" -gt 0 ]; then
  check_fail "service output partly prefixed ($prefixed lines) and partly bare ($bare lines)"
elif [ "$prefixed" -gt 0 ]; then
  ok "service output relayed by init as 'NAME: line' ($prefixed lines, each with its own name)"
else
  ok "service output written straight to the console ($bare lines, no prefix)"
fi

# 2. Order: app after the marker and after late signalled readiness.
before '^MOUNT-DATA: marker written' '^APP: started' "app started after mount-data finished"
before '^LATE: signalling ready' '^APP: started' "app started after late signalled ready"
late_start=$(field_of '^LATE: started' uptime)
late_ready=$(field_of '^LATE: signalling ready' uptime)
app_start=$(field_of '^APP: started' uptime)
marker_time=$(sed -nE 's/^APP: started .* marker=present:([0-9.]+) .*/\1/p' "$clean" | head -n 1)
data_time=$(field_of '^MOUNT-DATA: marker written' uptime)
if [ -n "$data_time" ] && [ "$marker_time" = "$data_time" ] && not_less "$app_start" "$data_time"; then
  ok "app (at ${app_start} s) read the marker mount-data wrote at ${data_time} s"
else
  check_fail "app started at ${app_start:-?} s, marker ${marker_time:-missing}, mount-data wrote it at ${data_time:-?} s"
fi
if [ -n "$late_ready" ] && [ -n "$app_start" ] && not_less "$app_start" "$late_ready" &&
  not_less "$app_start" "$(awk -v s="${late_start:-0}" 'BEGIN { print s + 1 }')"; then
  ok "app started at ${app_start} s, late started at ${late_start} s and signalled at ${late_ready} s"
else
  check_fail "guest times out of order: late started ${late_start:-?}, signalled ${late_ready:-?}, app started ${app_start:-?}"
fi
if grep -aqE '^APP: started .* marker=present:[0-9.]+ uid=65534 cwd=/run/data greeting=\[hello from init\]$' "$clean"; then
  ok "app saw the marker, ran as nobody in /run/data with its exported variable"
else
  check_fail "app's line is wrong: $(grep -a -m1 '^APP: started' "$clean" || echo none)"
fi

# 3. The crasher: restarted at least twice, with growing delays, then given up.
starts=$(grep -ac '^CRASHER: start' "$clean" || true)
mapfile -t delays < <(sed -nE 's/^init: crasher ended \(exit status 1\); restarting in ([0-9]+) ms$/\1/p' "$clean")
mapfile -t crash_times < <(sed -nE 's/^CRASHER: start uptime=([0-9.]+)$/\1/p' "$clean")
if [ "$starts" -ge 3 ] && [ "${#delays[@]}" -ge 2 ]; then
  ok "crasher started $starts times; restart delays ${delays[*]} ms"
else
  check_fail "crasher started $starts time(s) with ${#delays[@]} restart(s) announced (want >= 3 and >= 2)"
fi
for ((i = 1; i < ${#delays[@]}; i++)); do
  [ "${delays[i]}" -gt "${delays[i - 1]}" ] ||
    check_fail "crasher's restart delays do not grow: ${delays[*]}"
done
# Each restart came no sooner than its announced delay (uptime has 10 ms steps).
for ((i = 1; i < ${#crash_times[@]} && i <= ${#delays[@]}; i++)); do
  gap=$(awk -v a="${crash_times[i - 1]}" -v b="${crash_times[i]}" 'BEGIN { printf "%.2f", b - a }')
  want=$(awk -v d="${delays[i - 1]}" 'BEGIN { printf "%.2f", d / 1000 - 0.01 }')
  not_less "$gap" "$want" || check_fail "crasher restart $i came after $gap s, before its ${delays[i - 1]} ms delay"
done
if grep -aqE '^init: crasher ended \(exit status 1\) and keeps crashing; not restarting it' "$clean"; then
  ok "crasher given up as crash-looping"
else
  check_fail "init never gave the crasher up (no 'keeps crashing' line)"
fi

# 4. Failed dependencies reported.
for pair in broken:needs-broken ghost:needs-ghost; do
  dep=${pair%%:*} svcname=${pair#*:}
  if grep -aqxF "init: $svcname not started: it needs $dep, which cannot start" "$clean"; then
    ok "$svcname reported not started (needs $dep)"
  else
    check_fail "no report that $svcname was not started because of $dep"
  fi
done
grep -aqxF 'init: broken failed (exit status 3)' "$clean" && ok "broken reported failed (exit status 3)" ||
  check_fail "no 'init: broken failed (exit status 3)'"
grep -aqxF 'init: unable to start ghost: unable to execute its program: ENOENT' "$clean" &&
  ok "ghost reported: cannot execute its program (ENOENT)" ||
  check_fail "no report that ghost's program cannot be executed"

# 5. init ctl status, as health printed it.
status=$(sed -n '/^HEALTH: init ctl status begin$/,/^HEALTH: init ctl status end/p' "$clean")
if [ -z "$status" ]; then
  check_fail "no init ctl status output from health"
else
  status_expect=(
    '^mount-data +done(; last exit: exit status 0)?$'
    '^late +up \(pid [0-9]+, [0-9]+ s\)$'
    '^app +up \(pid [0-9]+, [0-9]+ s\)$'
    '^crasher +failed: crashed [0-9]+ times in a row, last exit status 1$'
    '^broken +failed: exit status 3$'
    '^needs-broken +not started: needs broken, which cannot start$'
    '^ghost +failed: cannot start: ENOENT$'
    '^needs-ghost +not started: needs ghost, which cannot start$'
    '^health +starting \(pid [0-9]+, [0-9]+ ms\)$'
    '^HEALTH: init ctl status end rc=0$'
  )
  bad=0
  for re in "${status_expect[@]}"; do
    grep -aqE -- "$re" <<<"$status" || { check_fail "init ctl status lacks /$re/"; bad=1; }
  done
  [ "$bad" -eq 1 ] || ok "init ctl status listed all 9 services in the expected states (rc 0)"
fi
if grep -aqxF 'HEALTH: initctl start needs-broken rc=1' "$clean"; then
  ok "initctl start of a blocked service refused (rc 1)"
else
  check_fail "initctl start needs-broken: want rc=1, got $(grep -a -m1 '^HEALTH: initctl start' "$clean" || echo nothing)"
fi

# init ctl log (when this init has it): the crasher's kept lines are the ones it printed.
log_rc=$(sed -nE 's/^HEALTH-LOG: rc=([0-9]+)$/\1/p' "$clean" | head -n 1)
if [ "${log_rc:-}" = 2 ]; then
  say "skipped: init ctl log (this init answers it with a usage error)"
elif [ "${log_rc:-}" = 0 ]; then
  kept=$(sed -nE 's/^HEALTH-LOG: (CRASHER: start uptime=[0-9.]+)$/\1/p' "$clean")
  shown=$(grep -aE '^CRASHER: start uptime=[0-9.]+$' "$clean" || true)
  if [ -n "$kept" ] && [ "$kept" = "$shown" ]; then
    ok "init ctl log crasher gave its $(wc -l <<<"$kept") lines, as shown on the console"
  else
    check_fail "init ctl log crasher gave [$(tr '\n' ';' <<<"$kept")], the console showed [$(tr '\n' ';' <<<"$shown")]"
  fi
else
  check_fail "init ctl log crasher: rc ${log_rc:-missing}"
fi

# 6. Shutdown: requested, in reverse dependency order, power-off.
grep -aqxF 'init: stopping every service to power off' "$clean" && ok "init began the power-off" ||
  check_fail "no 'init: stopping every service to power off'"
before '^init: stopping every service to power off' '^APP: stopping' "app stopped after the power-off began"
before '^APP: stopping' '^LATE: stopping' "app (which needs late) stopped before late"
before '^LATE: stopping' '(^|\] )reboot: Power down$' "power-off after the last service stopped"
if [ "$boot_rc" -eq 0 ]; then
  ok "QEMU exited by itself after 'reboot: Power down'"
fi

# ---------------------------------------------------------------------------------------------
# Timings and result.
t_init=$(field_of '^MOUNT-DATA: marker written' uptime)
t_up=$(field_of '^HEALTH: all services up' uptime)
t_off=$(field_of '^HEALTH: init ctl poweroff' uptime)
t_last=$(field_of '^LATE: stopping' uptime)
# The kernel's own time stamp on its last words (printk times are on in Debian's kernel).
t_down=$(sed -nE 's/^\[ *([0-9]+\.[0-9]+)\] reboot: Power down$/\1/p' "$clean" | head -n 1)
{
  echo "kernel: $KERNEL_RELEASE ($(basename "$KERNEL"))"
  echo "init: $init_bin ($(stat -c %s "$init_bin") bytes)"
  echo "guest uptime at first service (mount-data): ${t_init:-?} s"
  echo "guest uptime at all services up (health):   ${t_up:-?} s"
  echo "guest uptime at poweroff request:           ${t_off:-?} s"
  echo "guest uptime at last service stopped:       ${t_last:-?} s"
  echo "guest uptime at 'reboot: Power down':       ${t_down:-?} s"
  echo "wall time, QEMU start to power-off:         $wall s (boot.sh status $boot_rc)"
  echo "console log: $log"
} >"$summary"
sed 's/^/  /' "$summary" >&2

if [ "$show_log" -eq 1 ]; then
  sed 's/^/  | /' "$clean" >&2
fi
if [ "$boot_rc" -ne 0 ]; then
  # boot.sh has shown the console tail already.
  say "FAIL: the boot itself failed (boot.sh status $boot_rc); $failures further check(s) failed"
  [ "$boot_rc" -eq 3 ] && exit 3
  exit 1
fi
if [ "$failures" -gt 0 ]; then
  say "--- last console lines ($log) ---"
  tail -n 40 "$clean" | sed 's/^/  | /' >&2
  say "FAIL: $failures check(s) failed"
  exit 1
fi
say "PASS: all services up ${t_up:-?} s after kernel start (guest uptime); boot to power-off $wall s wall time"

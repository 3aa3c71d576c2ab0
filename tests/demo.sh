#!/usr/bin/env bash
# `./nanolin demo`: the product end to end, the way a team uses it.
#
# A demo key; a repository served by nginx on 127.0.0.1 (the board reaches it as 10.0.2.2
# through QEMU's user network); release 1 of the `prime` distro for the default board
# (qemu-aarch64-virt) built, signed and published; its disk image booted in QEMU. Then release
# 2, with a visible change, is published: the agent on the board finds it, installs it into
# slot B, reboots into it and commits it once its health check passes. Everything lands in
# out/demo/: the key, the repository, both releases, and the console log.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=tests/peers.sh
source tests/peers.sh

nanolin=$root/target/fast/nanolin
out=$root/out/demo
board=qemu-aarch64-virt
# How long the board may take to reach a step (TCG emulation on a busy host is slow).
step_timeout=${NANOLIN_DEMO_TIMEOUT:-300}
started=$(date +%s)
say() { printf '\n== [%3ds] %s\n' "$(($(date +%s) - started))" "$*"; }

ensure_peers
ensure_targets

qemu_pid=
nginx_pid=
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
}
trap cleanup EXIT

# A free port on 127.0.0.1: 8080, the one `distros/prime.rcp` names, unless it is taken.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=8080
while ! port_free "$port"; do
  port=$((port + 1))
done

# Waits until the console log shows `text` (a fixed string); fails with the log's end.
console=$out/console.log
wait_for() {
  local text=$1 what=$2 deadline=$(($(date +%s) + step_timeout))
  until grep -qF -- "$text" "$console" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$qemu_pid" 2>/dev/null; then
      echo "demo: the board did not get to: $what (waited ${step_timeout}s). Its console's last lines:" >&2
      tail -n 30 "$console" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "   board: $(grep -F -- "$text" "$console" | tail -n 1 | tr -d '\r')"
}

rm -rf "$out"
mkdir -p "$out"

say "generating a demo signing key (no passphrase: a demo, not a release key)"
"$nanolin" key generate -n -c "nanolin demo" -p "$out/demo.pub" -s "$out/demo.sec"

say "a repository in out/demo/repo, served by nginx on 127.0.0.1:$port"
"$nanolin" repo init "$out/repo" -s "$out/demo.sec"
mkdir -p "$out/nginx/tmp"
cat > "$out/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log $out/nginx/access.log;
    client_body_temp_path $out/nginx/tmp/body;
    proxy_temp_path $out/nginx/tmp/proxy;
    fastcgi_temp_path $out/nginx/tmp/fastcgi;
    uwsgi_temp_path $out/nginx/tmp/uwsgi;
    scgi_temp_path $out/nginx/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    server {
        listen 127.0.0.1:$port;
        root $out/repo;
    }
}
CONF
/usr/sbin/nginx -e "$out/nginx/error.log" -p "$out/nginx" -c "$out/nginx/nginx.conf" &
nginx_pid=$!

# The demo's copy of the distro: prime as it is, polling the demo's port. Release 2 adds one
# service to its overlay.
mkdir -p "$out/distros"
cp -r distros/prime "$out/distros/prime"
sed -e "s|^recipes=.*|recipes=../../../recipes|" \
  -e "s|^repository=.*|repository=http://10.0.2.2:$port|" distros/prime.rcp > "$out/distros/prime.rcp"

# Builds and publishes the distro as it is now; sets $image (its disk image) and $release.
release_build() {
  "$nanolin" release build "$out/distros/prime.rcp" --board "$board" --boards "$root/boards" \
    -s "$out/demo.sec" -o "$out/releases" --publish "$out/repo" --expires 30d
  image=$(ls -t "$out"/releases/prime-"$board"-r*.disk.img | head -n 1)
  release=$(basename "$image" .disk.img)
  release=${release#prime-"$board"-}
}

# Prints `what` and the time since `start` (milliseconds since 1970).
took() {
  local ms=$(($(date +%s%3N) - $2))
  printf '   %s: %d.%03d s\n' "$1" $((ms / 1000)) $((ms % 1000))
}

say "release 1: build prime for $board, sign it, publish it"
release_build
release1=$release

say "booting release 1 in QEMU (console: out/demo/console.log)"
boot_started=$(date +%s%3N)
"$nanolin" release run "$image" --log "$console" &
qemu_pid=$!
wait_for "stage1: slot A" "stage1 picking slot A"
wait_for "hello from a Nanolin package" "the hello service"
wait_for "slot A committed" "the health check of slot A"
took "power-on to committed" "$boot_started"

say "release 2: the same distro with a visible change (a new service), published"
cat > "$out/distros/prime/etc/nanolin/services/news" <<'SERVICE'
# New in release 2: shows the update arrived.
run="/bin/sh -c 'echo release 2 arrived over the air'"
kind=oneshot
SERVICE
sleep 1 # release versions count seconds: release 2 must be newer
release_build
release2=$release
published=$(date +%s%3N)

say "the board's agent polls the repository, installs $release2 into slot B and reboots"
wait_for "installed $release2 into slot B" "installing release 2"
wait_for "stage1: slot B" "rebooting into slot B"
wait_for "news: release 2 arrived over the air" "release 2's new service"
wait_for "slot B committed" "the health check of slot B"
took "published to committed" "$published"

say "nanolin-agent status, as the board printed it after the commit"
sleep 2
awk '/slot B committed/ { found = 1 } found && /board:|booted:|boot order:|slot [AB]:|last:/' "$console" |
  tr -d '\r' | sed 's/^.*\] //' | tail -n 6 | sed 's/^/   /'

kill "$qemu_pid" 2>/dev/null || true
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=

say "done in $(($(date +%s) - started)) s"
cat <<MSG
What happened: a demo key and a repository (out/demo/repo) were made and served by nginx on
127.0.0.1:$port. Release $release1 of prime for $board was built, signed, published and its disk
image booted in QEMU: stage1 picked slot A, init started the services, and the health check
committed slot A. Release $release2 (one new service) was published; the board's agent found it
on its channel, checked its signature, wrote it into slot B, rebooted into it, and committed
it once the services marked health=required were up.
Before: slot A $release1. After: slot B $release2, slot A kept as the fallback.
Files: out/demo/releases (both releases), out/demo/console.log (every boot's console).
Boot it again: ./nanolin release run $image
MSG

#!/usr/bin/env bash
# Install benchmark: writing one 1 GiB image into an A/B slot, and a 1 % delta update, with
# nanolin-agent against RAUC, SWUpdate and casync, plus the one-pass limit, in one run.
#
#   bash tests/bench/install.sh
#
# Measures (median of BENCH_RUNS runs, default 5; the tools take turns within each round):
#   1. the one-pass limit: tests/bench/install/onepass reads the image, SHA-256s it and
#      writes it with O_DIRECT through 4 MiB aligned buffers, then fsyncs: the least work
#      any installer that checks a hash must do;
#   2. `nanolin-agent install BUNDLE.nlb` (skipped, with a message, while the agent has no
#      `install` command or `nanolin` no `bundle create`);
#   3. `rauc install` of a plain, signed bundle (rauc service on a private D-Bus session bus,
#      `bootloader=noop`; RAUC fsyncs the slot);
#   4. `swupdate -i` of a signed .swu (raw handler, sha256 checked, installed from the stream),
#      and the `sync` after it, reported apart;
#   5. the delta: release 2 is the image with 1 % of it changed in 100 runs at scattered
#      (seeded, so repeatable) offsets. `casync extract --seed=release-1` and
#      `nanolin-agent install http://…/release2.nlb` (slot A holds release 1) each fetch from
#      the same nginx on 127.0.0.1; bytes fetched are the `$bytes_sent` nginx logged.
# Slots are preallocated files on the work directory's file system. Wall time covers the
# whole command; peak RSS is /usr/bin/time's %M, and for RAUC the service's VmHWM (the
# process that does the work; the client's is printed too). Before each timed run: `sync`,
# page cache dropped (when /proc/sys/vm/drop_caches is writable), then the tool's input
# read back into the cache so the figures measure the install and not the disk the input
# happens to sit on (BENCH_COLD=1 leaves the input cold).
#
# Environment:
#   BENCH_RUNS=N          rounds, the median is reported (default 5; 1 for a quick check)
#   BENCH_INSTALL_MIB=N   image size in MiB (default 1024)
#   BENCH_COLD=1          do not read the input back into the cache after dropping it
#   KEEP=1                keep the work directory (images, bundles, logs)
#   NANOLIN=PATH NANOLIN_AGENT=PATH   use these binaries instead of building them
#   TMPDIR                the work directory is $TMPDIR/nanolin-bench-install (default /tmp);
#                         it needs about 10 × the image size, on a disk file system
#
# Needs root (RAUC mounts its bundle through a loop device, caches are dropped); installs
# rauc, swupdate, casync, nginx, dbus, openssl, squashfs-tools, cpio and time with apt-get
# when missing. A benchmark, not a test: it never fails on timings, only when a tool fails
# or a slot does not hold the image afterwards.
set -Eeuo pipefail
export LC_ALL=C

for arg in "$@"; do
    case $arg in
        -h | --help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

RUNS=${BENCH_RUNS:-5}
SIZE_MIB=${BENCH_INSTALL_MIB:-1024}
COLD=${BENCH_COLD:-0}
KEEP=${KEEP:-0}
CHANGES=100          # changed runs in release 2, together 1 % of the image
SEED=20261122        # where they go: a fixed seed, the same offsets on every machine
BOARD=bench-board
V1=r26.11-G22000000
V2=r26.11-G22000001

die() { echo "install.sh: error: $*" >&2; exit 1; }
trap 'echo "install.sh: error: line $LINENO: a command failed (exit $?)" >&2' ERR
note() { echo "# $*"; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, got '$RUNS'"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "BENCH_INSTALL_MIB must be a positive integer, got '$SIZE_MIB'"
[[ $(id -u) -eq 0 ]] || die "needs root (rauc mounts its bundle on a loop device); run: sudo bash $0"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/tests/bench/install
SIZE=$((SIZE_MIB * 1024 * 1024))

# --- peer tools -----------------------------------------------------------------------
# shellcheck source=tests/peers.sh
source "$root/tests/peers.sh"
# shellcheck disable=SC2034   # read by ensure_peers
NANOLIN_PEERS=(
    "rauc:rauc"
    "swupdate:swupdate"
    "casync:casync"
    "nginx:nginx"
    "dbus-daemon:dbus"
    "openssl:openssl"
    "mksquashfs:squashfs-tools"
    "cpio:cpio"
    "unshare:util-linux"
    "/usr/bin/time:time"
)
ensure_peers
TIME_BIN=/usr/bin/time

debver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
rauc_version=$(rauc --version 2>/dev/null | awk '{ print $2 }')
swupdate_version=$(debver swupdate)   # `swupdate --version` prints an empty version on Debian
swupdate_version=${swupdate_version%%+*}
casync_version=$(debver casync)
nginx_version=$(nginx -v 2>&1 | sed 's|.*/||')

# --- binaries -------------------------------------------------------------------------
target_dir=${CARGO_TARGET_DIR:-$root/target}
[[ $target_dir = /* ]] || target_dir=$root/$target_dir
note "building the one-pass limit (tests/bench/install/onepass, cargo --release)"
cargo build --quiet --release --manifest-path "$here/onepass/Cargo.toml" \
    --target-dir "$target_dir/bench-onepass" || die "cargo build of onepass failed"
onepass=$target_dir/bench-onepass/release/onepass

if [[ -n ${NANOLIN:-} && -n ${NANOLIN_AGENT:-} ]]; then
    nanolin=$NANOLIN
    agent=$NANOLIN_AGENT
else
    # The agent as a board runs it: static musl, the release profile.
    note "building nanolin (cargo --profile fast) and the board's nanolin-agent (x86_64 musl, release)"
    (cd "$root" && cargo build --quiet --profile fast -p nanolin-host &&
        cargo build --quiet --release --target x86_64-unknown-linux-musl -p nanolin-agent) \
        || die "cargo build failed"
    nanolin=${NANOLIN:-$target_dir/fast/nanolin}
    agent=${NANOLIN_AGENT:-$target_dir/x86_64-unknown-linux-musl/release/nanolin-agent}
fi
[[ -x $nanolin ]] || die "not executable: $nanolin"
[[ -x $agent ]] || die "not executable: $agent"

# ours is measured once the agent installs bundles; until then its rows say why not.
agent_help=$("$agent" --help 2>&1 || true)
if "$nanolin" bundle create --help >/dev/null 2>&1 && grep -qw install <<<"$agent_help"; then
    HAVE_OURS=1
else
    HAVE_OURS=0
fi

# --- work directory -------------------------------------------------------------------
work=${TMPDIR:-/tmp}/nanolin-bench-install
if [[ -e $work ]]; then
    [[ -f $work/.nanolin-bench-install ]] || die "$work exists and is not this benchmark's: move it away"
    rm -rf -- "$work"
fi
mkdir -p "$work"
touch "$work/.nanolin-bench-install"
work=$(cd "$work" && pwd -P)

pids=()   # background services this script started, stopped in reverse order
cleanup() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    if [[ $KEEP = 1 ]]; then
        echo "# kept $work"
    else
        rm -rf -- "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fstype=$(stat -f -c %T "$work")
case $fstype in
    tmpfs | ramfs | overlayfs | fuseblk | fuse) die "$work is on $fstype: set TMPDIR to a directory on a disk file system (ext4, xfs, btrfs)" ;;
esac
need_kib=$(( SIZE_MIB * 1024 * 10 + 256 * 1024 ))
avail_kib=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
if [[ -n $avail_kib ]] && (( avail_kib < need_kib )); then
    die "not enough space in $work: need $((need_kib / 1024)) MiB, have $((avail_kib / 1024)) MiB"
fi

if [[ -w /proc/sys/vm/drop_caches ]] && (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
    DROP=1
else
    DROP=0
fi

# settle FILE...: the state every timed run starts from (see the header).
settle() {
    sync
    if (( DROP )); then echo 3 >/proc/sys/vm/drop_caches; fi
    if [[ $COLD != 1 ]]; then
        local f
        for f in "$@"; do
            if [[ -d $f ]]; then
                find "$f" -type f -exec cat -- {} + >/dev/null
            else
                cat -- "$f" >/dev/null
            fi
        done
    fi
}

mkdir -p "$work/m" "$work/log"
# timed LABEL CMD...: runs CMD, appends "seconds peak-RSS-KiB" to $work/m/LABEL. A failure is
# fatal and shows the tool's output.
timed() {
    local label=$1; shift
    local log=$work/log/$label.log tm=$work/log/$label.rss t0 t1 rc=0
    t0=$EPOCHREALTIME
    "$TIME_BIN" -f %M -o "$tm" -- "$@" >"$log" 2>&1 || rc=$?
    t1=$EPOCHREALTIME
    if (( rc != 0 )); then
        echo "FAILED ($label, exit $rc): $*" >&2
        tail -n 40 "$log" | sed 's/^/  /' >&2
        exit 1
    fi
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $(tail -n 1 "$tm")" >>"$work/m/$label"
}
# record LABEL SECONDS KIB: a measurement taken some other way.
record() { echo "$2 $3" >>"$work/m/$1"; }
last_secs() { tail -n 1 "$work/m/$1" | cut -d' ' -f1; }

# same FILE1 FILE2 WHAT: the slot must hold the image after an install.
same() { cmp -s -- "$1" "$2" || die "$3: $(basename "$2") does not hold $(basename "$1") afterwards"; }

# zero FILE: fill a slot with zeros in place (no new allocation: every tool overwrites).
zero() { dd if=/dev/zero of="$1" bs=1M count="$SIZE_MIB" conv=notrunc,fsync status=none; }

echo "# nanolin install benchmark: $SIZE_MIB MiB image, median of $RUNS runs"
echo "# host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
echo "# work: $work ($fstype)"

# --- images ---------------------------------------------------------------------------
# Pseudo-random (AES-128-CTR keystream: incompressible, no repeated blocks, the same bytes
# on every run), so neither compression nor deduplication can help any tool.
stream() {   # openssl dies of SIGPIPE when head has enough: not a failure
    { openssl enc -aes-128-ctr -nosalt -K "$1" -iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null || true; } | head -c "$2"
}
note "writing release 1 ($SIZE_MIB MiB) and release 2 (1 % changed in $CHANGES runs)"
img1=$work/image1
img2=$work/image2
stream 000102030405060708090a0b0c0d0e0f "$SIZE" >"$img1"
[[ $(stat -c %s "$img1") -eq $SIZE ]] || die "short image"
cp -- "$img1" "$img2"
run_len=$(( SIZE / 100 / CHANGES ))          # 107374 bytes for 1 GiB
stripe=$(( SIZE / CHANGES ))
stream f0e1d2c3b4a5968778695a4b3c2d1e0f $(( run_len * CHANGES )) >"$work/changes"
x=$SEED
for ((i = 0; i < CHANGES; i++)); do
    x=$(( (x * 1103515245 + 12345) & 0x7fffffff ))   # one run at a random offset in each stripe
    off=$(( i * stripe + x % (stripe - run_len) ))
    dd if="$work/changes" of="$img2" bs=64K iflag=skip_bytes,count_bytes oflag=seek_bytes \
        skip=$((i * run_len)) seek="$off" count="$run_len" conv=notrunc status=none
done
rm -f -- "$work/changes"
changed=$(( run_len * CHANGES ))
sha1=$(openssl dgst -sha256 -r "$img1" | cut -d' ' -f1)

# Slots: A is the booted one, B receives. For full installs A holds zeros, so nothing in it
# can stand in for the download; for the delta A holds release 1.
slot_a=$work/slot-a
slot_b=$work/slot-b
delta_a=$work/delta-slot-a
truncate -s "$SIZE" "$slot_a"
zero "$slot_b"
cp -- "$img1" "$delta_a"

# --- keys -----------------------------------------------------------------------------
# RAUC and SWUpdate both sign with CMS: one self-signed CA, one signing certificate.
pki=$work/pki
mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 3650 \
    -subj "/CN=nanolin bench CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1 || die "openssl: CA"
openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/signer.key" -out "$pki/signer.csr" \
    -subj "/CN=nanolin bench signer" >/dev/null 2>&1 || die "openssl: signing request"
printf '%s\n' basicConstraints=CA:FALSE keyUsage=critical,digitalSignature \
    extendedKeyUsage=emailProtection,codeSigning subjectKeyIdentifier=hash \
    authorityKeyIdentifier=keyid >"$pki/signer.ext"
openssl x509 -req -in "$pki/signer.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/signer.ext" -out "$pki/signer.pem" >/dev/null 2>&1 || die "openssl: certificate"

# --- nginx: the update server of the delta --------------------------------------------
srv=$work/srv
ngx=$work/nginx
mkdir -p "$srv" "$ngx/logs" "$ngx/tmp"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start_nginx() {
    local try port i
    for ((try = 0; try < 10; try++)); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        port_free "$port" || continue
        cat >"$ngx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
user root root;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log warn;
events { worker_connections 256; }
http {
    log_format sent '\$msec \$request_time \$status \$bytes_sent \$request_uri \$http_range';
    access_log $ngx/logs/access.log sent;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;
    sendfile on;
    keepalive_requests 100000;
    types { }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        root $srv;
        location / { }
    }
}
EOF
        nginx -c "$ngx/nginx.conf" -p "$ngx" -e "$ngx/logs/error.log" &
        local pid=$!
        for ((i = 0; i < 50; i++)); do
            if ! kill -0 "$pid" 2>/dev/null; then break; fi
            if ! port_free "$port"; then
                pids+=("$pid")
                PORT=$port
                return 0
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    tail -n 5 "$ngx/logs/error.log" >&2 || true
    die "nginx did not start on 127.0.0.1"
}
start_nginx
URL=http://127.0.0.1:$PORT
note "nginx $nginx_version serving $srv on $URL"
# served LABEL: the bytes nginx sent since the last call (from its access log).
served() {
    sleep 0.2   # nginx logs a request once it is done, which may be just after the client is
    local b
    b=$(awk '{ s += $4 } END { print s + 0 }' "$ngx/logs/access.log")
    cat "$ngx/logs/access.log" >>"$work/log/$1.access.log"
    : >"$ngx/logs/access.log"
    echo "$b" >>"$work/m/$1.bytes"
}

# --- RAUC -----------------------------------------------------------------------------
rdir=$work/rauc
mkdir -p "$rdir/content" "$rdir/mnt" "$rdir/data"
ln -- "$img1" "$rdir/content/rootfs.img"
cat >"$rdir/content/manifest.raucm" <<EOF
[update]
compatible=$BOARD
version=$V1

[bundle]
format=plain

[image.rootfs]
filename=rootfs.img
EOF
note "rauc $rauc_version: plain bundle (squashfs, uncompressed: the image does not compress)"
rauc bundle --cert="$pki/signer.pem" --key="$pki/signer.key" --keyring="$pki/ca.pem" \
    --mksquashfs-args="-noI -noD -noF -noX" "$rdir/content" "$rdir/bench.raucb" \
    >"$work/log/rauc-bundle.log" 2>&1 || { cat "$work/log/rauc-bundle.log" >&2; die "rauc bundle failed"; }
rm -f -- "$rdir/content/rootfs.img"
cat >"$rdir/system.conf" <<EOF
[system]
compatible=$BOARD
bootloader=noop
bundle-formats=plain
data-directory=$rdir/data

[keyring]
path=$pki/ca.pem

[slot.rootfs.0]
device=$slot_a
type=raw
bootname=A

[slot.rootfs.1]
device=$slot_b
type=raw
bootname=B
EOF
# RAUC finds the booted slot in /proc/cmdline (rauc.slot=A): the service gets its own mount
# namespace in which a file saying so is bind-mounted over /proc/cmdline.
echo "rauc.slot=A" >"$rdir/cmdline"
# A private session bus: rauc (service and client) uses it when DBUS_STARTER_BUS_TYPE=session.
dbus-daemon --session --nofork --address="unix:path=$rdir/bus" >"$work/log/dbus.log" 2>&1 &
pids+=("$!")
for ((i = 0; i < 50; i++)); do [[ -S $rdir/bus ]] && break; sleep 0.1; done
[[ -S $rdir/bus ]] || die "dbus-daemon did not start"
export DBUS_SESSION_BUS_ADDRESS=unix:path=$rdir/bus DBUS_STARTER_BUS_TYPE=session
# shellcheck disable=SC2016   # $1.. are the inner shell's
unshare --mount --propagation private -- sh -c \
    'mount --bind "$1" /proc/cmdline && exec rauc service --conf="$2" --mount="$3"' \
    sh "$rdir/cmdline" "$rdir/system.conf" "$rdir/mnt" >"$work/log/rauc-service.log" 2>&1 &
rauc_pid=$!
pids+=("$rauc_pid")
for ((i = 0; i < 100; i++)); do
    rauc status >/dev/null 2>&1 && break
    kill -0 "$rauc_pid" 2>/dev/null || { cat "$work/log/rauc-service.log" >&2; die "rauc service exited"; }
    sleep 0.1
done
rauc status 2>/dev/null | grep -q 'Booted from: rootfs.0 (A)' \
    || { rauc status >&2 || true; die "rauc service does not see slot A as booted"; }

# anon_poll PID OUT: samples PID's anonymous resident memory every 50 ms, keeps the largest
# in OUT (KiB). RAUC's peak RSS is mostly the bundle's pages, mapped to check its signature:
# this tells its own memory apart.
anon_poll() {
    local max=0 k v _
    while [[ -e /proc/$1/status ]]; do
        while read -r k v _; do
            if [[ $k == RssAnon: ]] && (( v > max )); then max=$v; echo "$max" >"$2"; fi
        done <"/proc/$1/status"
        sleep 0.05
    done
}
rauc_run() {
    settle "$rdir/bench.raucb"
    echo 5 >"/proc/$rauc_pid/clear_refs"   # resets the service's peak RSS (VmHWM)
    anon_poll "$rauc_pid" "$work/log/rauc.anon" &
    local poller=$!
    timed rauc rauc install "$rdir/bench.raucb"
    kill "$poller" 2>/dev/null || true
    wait "$poller" 2>/dev/null || true
    record rauc-anon 0 "$(cat "$work/log/rauc.anon" 2>/dev/null || echo -)"
    local hwm
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$rauc_pid/status")
    # timed recorded the client's peak; the figure is the service's, the client's goes apart.
    local line; line=$(tail -n 1 "$work/m/rauc")
    sed -i '$d' "$work/m/rauc"
    record rauc "${line% *}" "$hwm"
    record rauc-client "${line% *}" "${line##* }"
}

# --- SWUpdate -------------------------------------------------------------------------
sdir=$work/swupdate
mkdir -p "$sdir/cpio" "$sdir/tmp"
ln -- "$img1" "$sdir/cpio/rootfs.img"
cat >"$sdir/cpio/sw-description" <<EOF
software =
{
	version = "2.0.0";
	hardware-compatibility = [ "1.0" ];
	images: (
	{
		filename = "rootfs.img";
		device = "$slot_b";
		type = "raw";
		sha256 = "$sha1";
		installed-directly = true;
	}
	);
}
EOF
# Debian's SWUpdate is built for signed images (CMS): it refuses to start without -k.
openssl cms -sign -in "$sdir/cpio/sw-description" -out "$sdir/cpio/sw-description.sig" \
    -signer "$pki/signer.pem" -inkey "$pki/signer.key" -outform DER -nosmimecap -binary \
    || die "openssl cms: signing sw-description"
(cd "$sdir/cpio" && printf '%s\n' sw-description sw-description.sig rootfs.img \
    | cpio -o -H crc --quiet >"$sdir/bench.swu") || die "cpio failed"
rm -f -- "$sdir/cpio/rootfs.img"
note "swupdate $swupdate_version: signed .swu, raw handler, installed-directly"

swupdate_run() {
    settle "$sdir/bench.swu"
    # -H: the board and revision sw-description's hardware-compatibility is checked against
    # (else read from /etc/hwrevision). TMPDIR: where SWUpdate puts its sockets.
    timed swupdate env TMPDIR="$sdir/tmp" swupdate -H "$BOARD:1.0" -k "$pki/ca.pem" -i "$sdir/bench.swu"
    timed swupdate-sync sync
}

# --- the one-pass limit ---------------------------------------------------------------
onepass_run() {
    settle "$img1"
    timed onepass "$onepass" "$img1" "$slot_b"
    [[ $(cut -d' ' -f3 "$work/log/onepass.log") == "$sha1" ]] || die "onepass: wrong SHA-256"
}

# ---- ours ----------------------------------------------------------------------------
# Interface (the agent is being written; these are the commands it is meant to take):
#   nanolin key generate -n -c bench -p KEY.pub -s KEY.sec
#   nanolin bundle create --board BOARD --version VERSION --image IMAGE -s KEY.sec -o BUNDLE.nlb
#   nanolin-agent -c AGENT.conf install BUNDLE.nlb|URL
# AGENT.conf (key=value, shell syntax):
#   compatible=BOARD  slot_a=PATH  slot_b=PATH  booted=A  bootstate=native
#   bootstate_path=PATH  keys=KEY.pub  state_dir=DIR
# Every run starts from a fresh state_dir and a zeroed 4 KiB boot state file (no valid record
# yet: a board never set up), so each is a first install.
odir=$work/ours
mkdir -p "$odir"
ours_setup() {
    "$nanolin" key generate -n -c bench -p "$odir/bench.pub" -s "$odir/bench.sec" \
        >"$work/log/ours-key.log" 2>&1 || { cat "$work/log/ours-key.log" >&2; die "nanolin key generate failed"; }
    "$nanolin" bundle create --board "$BOARD" --version "$V1" --image "$img1" \
        -s "$odir/bench.sec" -o "$odir/release1.nlb" >"$work/log/ours-bundle.log" 2>&1 \
        || { cat "$work/log/ours-bundle.log" >&2; die "nanolin bundle create (release 1) failed"; }
    "$nanolin" bundle create --board "$BOARD" --version "$V2" --image "$img2" \
        -s "$odir/bench.sec" -o "$srv/release2.nlb" >>"$work/log/ours-bundle.log" 2>&1 \
        || { cat "$work/log/ours-bundle.log" >&2; die "nanolin bundle create (release 2) failed"; }
}
# agent_conf FILE SLOT_A: a fresh agent configuration, state directory and boot state.
agent_conf() {
    rm -rf -- "$odir/state" "$odir/bootstate"
    mkdir -p "$odir/state"
    # The native boot record's region (two 512-byte copies), zeroed: a board never set up.
    head -c 4096 /dev/zero >"$odir/bootstate"
    cat >"$1" <<EOF
compatible=$BOARD
slot_a=$2
slot_b=$slot_b
booted=A
bootstate=native
bootstate_path=$odir/bootstate
keys=$odir/bench.pub
state_dir=$odir/state
EOF
}
ours() {
    agent_conf "$odir/agent.conf" "$slot_a"
    settle "$odir/release1.nlb"
    timed ours "$agent" -c "$odir/agent.conf" install "$odir/release1.nlb"
}
ours_delta() {
    agent_conf "$odir/agent-delta.conf" "$delta_a"
    zero "$slot_b"
    : >"$ngx/logs/access.log"
    settle "$delta_a" "$srv/release2.nlb"
    timed ours-delta "$agent" -c "$odir/agent-delta.conf" install "$URL/release2.nlb"
    served ours-delta
}

# --- casync ---------------------------------------------------------------------------
note "casync $casync_version: chunking release 2 into the store"
casync make --store="$srv/store" "$srv/image2.caibx" "$img2" >"$work/log/casync-make.log" 2>&1 \
    || { cat "$work/log/casync-make.log" >&2; die "casync make failed"; }
casync_out=$work/casync-out
casync_run() {
    rm -f -- "$casync_out"
    : >"$ngx/logs/access.log"
    settle "$img1" "$srv/store" "$srv/image2.caibx"
    timed casync casync extract --seed="$img1" --store="$URL/store" "$URL/image2.caibx" "$casync_out"
    served casync
    timed casync-sync sync
}

if (( HAVE_OURS )); then
    note "nanolin: keys and bundles"
    ours_setup
else
    note "nanolin-agent has no 'install' command yet (or nanolin no 'bundle create'): ours skipped"
fi

# --- the rounds -----------------------------------------------------------------------
echo "# page cache: $( ((DROP)) && echo "dropped before every run" || echo "NOT dropped (/proc/sys/vm/drop_caches not writable)"), input $( [[ $COLD = 1 ]] && echo "left cold" || echo "read back into the cache")"
for ((r = 1; r <= RUNS; r++)); do
    printf '# round %d/%d:' "$r" "$RUNS"
    # The first round checks every tool's result from a zeroed slot.
    (( r == 1 )) && zero "$slot_b"
    onepass_run; printf ' onepass %ss' "$(last_secs onepass)"
    (( r == 1 )) && { same "$img1" "$slot_b" onepass; zero "$slot_b"; }
    if (( HAVE_OURS )); then
        ours; printf ', ours %ss' "$(last_secs ours)"
        (( r == 1 )) && { same "$img1" "$slot_b" "nanolin-agent install"; zero "$slot_b"; }
    fi
    rauc_run; printf ', rauc %ss' "$(last_secs rauc)"
    (( r == 1 )) && { same "$img1" "$slot_b" "rauc install"; zero "$slot_b"; }
    swupdate_run; printf ', swupdate %ss + sync %ss' "$(last_secs swupdate)" "$(last_secs swupdate-sync)"
    (( r == 1 )) && same "$img1" "$slot_b" "swupdate"
    casync_run; printf ', casync %ss' "$(last_secs casync)"
    (( r == 1 )) && same "$img2" "$casync_out" "casync extract"
    if (( HAVE_OURS )); then
        ours_delta; printf ', ours delta %ss' "$(last_secs ours-delta)"
        (( r == 1 )) && same "$img2" "$slot_b" "nanolin-agent install (delta)"
    fi
    echo
done

# --- report ---------------------------------------------------------------------------
# median FILE COLUMN: the median of a column over the runs ("-" when unknown).
median() {
    [[ -s $1 ]] || { echo -; return; }
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0 || v[1] == "-" || v[1] == "") { print "-"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}
secs() { local s; s=$(median "$work/m/$1" 1); awk -v s="$s" 'BEGIN { if (s == "-") print "-"; else printf "%.2f", s }'; }
mib() { local k; k=$(median "$work/m/$1" 2); awk -v k="$k" 'BEGIN { if (k == "-") print "-"; else printf "%.1f", k / 1024 }'; }
mbps() { awk -v s="$1" -v b="$SIZE" 'BEGIN { if (s == "-" || s + 0 == 0) print "-"; else printf "%.0f", b / 1e6 / s }'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.2f", a + b }'; }
# ratio A B: A / B to two decimals, "-" when either is unknown or B is zero.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

s_lim=$(secs onepass)
s_ours=$(secs ours);  m_ours=$(mib ours)
echo
echo "Full install of a $SIZE_MIB MiB image into slot B (file on $fstype), median of $RUNS runs"
echo "(x limit = seconds / one-pass limit; /ours = this row / nanolin-agent: >1 means ours is faster, smaller)"
fmt='%-34s %8s %6s %13s %8s %8s %8s\n'
# shellcheck disable=SC2059
printf "$fmt" tool seconds MB/s "peak RSS MiB" "x limit" "t/ours" "RSS/ours"
# shellcheck disable=SC2059
printf "$fmt" ---------------------------------- -------- ------ ------------- -------- -------- --------
row() {   # row NAME SECONDS MIB
    # shellcheck disable=SC2059
    printf "$fmt" "$1" "$2" "$(mbps "$2")" "$3" "$(ratio "$2" "$s_lim")" "$(ratio "$2" "$s_ours")" "$(ratio "$3" "$m_ours")"
}
row "one-pass limit (read+SHA-256+O_DIRECT+fsync)" "$s_lim" "$(mib onepass)"
if (( HAVE_OURS )); then
    row "nanolin-agent install" "$s_ours" "$m_ours"
else
    printf '%-34s %s\n' "nanolin-agent install" "skipped: the agent has no 'install' command yet"
fi
row "rauc install (service RSS)" "$(secs rauc)" "$(mib rauc)"
s_sw=$(secs swupdate); s_sws=$(secs swupdate-sync)
row "swupdate -i" "$s_sw" "$(mib swupdate)"
row "swupdate -i, then sync" "$(sum "$s_sw" "$s_sws")" "$(mib swupdate)"
echo "  rauc: the service's peak RSS is mostly the bundle, mapped to check its signature; its"
echo "  anonymous memory peaked at $(mib rauc-anon) MiB (sampled every 50 ms), the client's RSS at $(mib rauc-client) MiB."
echo "  sync after swupdate: $s_sws s (median), for what was still dirty in the page cache when it exited."

pct() { awk -v b="$1" -v s="$SIZE" 'BEGIN { if (b == "-") print "-"; else printf "%.2f", 100 * b / s }'; }
b_cas=$(median "$work/m/casync.bytes" 1)
s_cas=$(secs casync); s_cass=$(secs casync-sync)
echo
echo "Delta: release 2 = release 1 with $CHANGES runs of $run_len bytes changed ($(pct "$changed") %), fetched from nginx on 127.0.0.1, median of $RUNS runs"
dfmt='%-34s %8s %14s %9s %13s %8s\n'
# shellcheck disable=SC2059
printf "$dfmt" tool seconds "bytes fetched" "% image" "peak RSS MiB" "t/ours"
# shellcheck disable=SC2059
printf "$dfmt" ---------------------------------- -------- -------------- --------- ------------- --------
s_od=$(secs ours-delta)
if (( HAVE_OURS )); then
    b_od=$(median "$work/m/ours-delta.bytes" 1)
    # shellcheck disable=SC2059
    printf "$dfmt" "nanolin-agent install URL" "$s_od" "$b_od" "$(pct "$b_od")" "$(mib ours-delta)" 1.00
else
    printf '%-34s %s\n' "nanolin-agent install URL" "skipped: the agent has no 'install' command yet"
fi
# shellcheck disable=SC2059
printf "$dfmt" "casync extract --seed" "$s_cas" "$b_cas" "$(pct "$b_cas")" "$(mib casync)" "$(ratio "$s_cas" "$s_od")"
# shellcheck disable=SC2059
printf "$dfmt" "casync extract --seed, then sync" "$(sum "$s_cas" "$s_cass")" "$b_cas" "$(pct "$b_cas")" "$(mib casync)" "$(ratio "$(sum "$s_cas" "$s_cass")" "$s_od")"

if (( HAVE_OURS )); then
    own=$(grep -o '[0-9]* bytes fetched' "$work/log/ours-delta.log" | tail -n 1 || true)
    if [[ -n $own ]]; then
        echo "  nanolin-agent's own count, last run: ${own% bytes fetched} bytes downloaded ($(pct "${own%% *}") %);"
        echo "  (nginx's \$bytes_sent adds the response heads of its ranged requests: see"
        echo "  log/ours-delta.access.log with KEEP=1)."
    fi
fi

echo
echo "Versions:"
echo "  one-pass limit  tests/bench/install/onepass (sha2 0.10, SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no))"
echo "  rauc            $rauc_version (Debian $(debver rauc)), plain bundle, bootloader=noop"
echo "  swupdate        $swupdate_version (Debian $(debver swupdate)), raw handler, CMS-signed sw-description"
echo "  casync          $casync_version (Debian), default chunk size (64 KiB average)"
echo "  nginx           $nginx_version (Debian $(debver nginx))"
echo "  nanolin-agent   $("$agent" --version 2>/dev/null || echo '?')$( ((HAVE_OURS)) || echo ' (not measured)')"
echo "Page cache: $( ((DROP)) && echo "dropped before every run" || echo "not dropped (/proc/sys/vm/drop_caches not writable)"); input $( [[ $COLD = 1 ]] && echo "left cold" || echo "read back into the cache before every run")."

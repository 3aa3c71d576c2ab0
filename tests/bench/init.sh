#!/usr/bin/env bash
# init benchmark: Nanolin's `init` against runit, s6 and busybox init, each as PID 1 of its
# own PID namespace, all supervising the same static do-nothing service binary.
#
#   bash tests/bench/init.sh [--quick]
#
# Measures (median of BENCH_RUNS runs, default 5; the best run is shown too, since the
# machine may be shared and a busy core slows every supervisor):
#   1. bring-up of 100 flat services: from the supervisor's execve (stamped by nlbench just
#      before it) until the last of the 100 service processes entered main();
#   2. bring-up of 500 services in a 20x25 dependency graph (each service needs every
#      service of the layer below), init only: runit, s6 and busybox have no dependency
#      graph and s6-rc is not packaged in Debian 12; dinit (not packaged) is quoted;
#   3. private memory (Private_Clean + Private_Dirty of smaps_rollup) of PID 1, and of the
#      whole supervision tree (every process of the namespace but the services), with 500
#      flat services;
#   4. restart latency: SIGKILL a service process, time until its replacement entered
#      main(); median over BENCH_KILLS kills (default 20) of distinct services that had been
#      up for over a second (runsv waits 1 s before restarting a service that ran less).
# Each service (init/nlbsvc.c) appends the CLOCK_MONOTONIC time its main() began to an
# events file: the figures come from those records, not from polling; /proc is only used
# to check that exactly N service processes run, to find PID 1 and to read memory.
# --quick: one run, 5 kills (CI smoke). Needs root (PID and mount namespaces); installs
# runit, s6, busybox-static and gcc with apt-get when missing.
#
# Environment: BENCH_RUNS, BENCH_KILLS, NANOLIN_INIT=PATH (use this x86_64 init binary
# instead of building one), TMPDIR.
#
# This is a benchmark, not a timed test: it never fails because of timings, only when a
# tool fails (a build, a supervisor that does not bring its services up, a missing peer).
set -euo pipefail
export LC_ALL=C

RUNS=${BENCH_RUNS:-5}
KILLS=${BENCH_KILLS:-20}
for arg in "$@"; do
    case $arg in
        --quick) RUNS=1 KILLS=${BENCH_KILLS:-5} ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "init.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

die() { echo "init.sh: error: $*" >&2; exit 1; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, got '$RUNS'"
[[ $KILLS =~ ^[1-9][0-9]*$ && $KILLS -le 100 ]] || die "BENCH_KILLS must be 1..100, got '$KILLS'"
[[ $(id -u) -eq 0 ]] || die "needs root (PID and mount namespaces); run: sudo bash $0 $*"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/tests/bench/init

FLAT=100        # services of the bring-up and restart measurements
MANY=500        # services of the memory measurement
LAYERS=20       # the graph: LAYERS layers of WIDTH services
WIDTH=25
TIMEOUT_MS=60000
RESTART_DELAY_MS=0   # init restarts a first crash at once (backoff applies from the second crash in a row)
S6_DELAY_MS=1000     # s6-supervise (2.11) waits 1 s after a death before it starts ./run again

# dinit is not packaged in Debian 12: reference figures, measured elsewhere.
DINIT_FLAT_MS=75
DINIT_GRAPH_MS=372
DINIT_RESTART_MS=1.8

# --- tools ----------------------------------------------------------------------------
missing=()
for pair in runsvdir:runit runsv:runit sv:runit s6-svscan:s6 s6-supervise:s6 s6-svc:s6 \
    s6-svstat:s6 gcc:gcc unshare:util-linux pgrep:procps; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
# (grep reads the whole list: with pipefail, grep -q would fail the pipe by closing it early)
[[ -x /bin/busybox ]] && /bin/busybox --list 2>/dev/null | grep -cx init >/dev/null || missing+=(busybox-static)
[[ -e /usr/lib/x86_64-linux-gnu/libc.a || -e /usr/lib/libc.a ]] || missing+=(libc6-dev)
if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "# installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; }; } ||
        die "apt-get install ${missing[*]} failed"
fi
RUNSVDIR=$(command -v runsvdir)
S6SVSCAN=$(command -v s6-svscan)
BUSYBOX=/bin/busybox
[[ $(file -b "$BUSYBOX" 2>/dev/null || echo static) == *static* ]] ||
    die "$BUSYBOX is not static (busybox-static): it must run with /etc replaced"

if [[ -n ${NANOLIN_INIT:-} ]]; then
    INIT=$NANOLIN_INIT
else
    echo "# building init (x86_64-unknown-linux-musl, release)"
    (cd "$root" && cargo build --quiet --release --target x86_64-unknown-linux-musl \
        -p nanolin-init --features binary) || die "cargo build of init failed"
    target_dir=${CARGO_TARGET_DIR:-$root/target}
    [[ $target_dir = /* ]] || target_dir=$root/$target_dir
    INIT=$target_dir/x86_64-unknown-linux-musl/release/init
fi
[[ -x $INIT ]] || die "not executable: $INIT"

# --- scratch directory, helpers, clean-up ---------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/nanolin-initbench.XXXXXX")
work=$(realpath "$work")
[[ $work =~ ^[A-Za-z0-9/._-]+$ ]] || die "scratch path '$work' has characters service files cannot hold"
chmod 755 "$work"
UPID='' PID1=''
cleanup() {
    if [[ -z $PID1 && -n $UPID ]]; then PID1=$(pgrep -P "$UPID" || true); fi
    if [[ -n $PID1 ]]; then kill -KILL "$PID1" 2>/dev/null || true; fi
    if [[ -n $UPID ]]; then wait "$UPID" 2>/dev/null || true; fi
    rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir "$work/bin"
gcc -static -O2 -o "$work/bin/nlbench" "$here/nlbench.c" || die "cannot build nlbench.c"
EVENTS=$work/events
gcc -static -Os -DNLB_EVENTS="\"$EVENTS\"" -o "$work/bin/nlbsvc" "$here/nlbsvc.c" ||
    die "cannot build nlbsvc.c"
NLB=$work/bin/nlbench
SVC=$work/bin/nlbsvc

# --- service sets -----------------------------------------------------------------------
# make_flat KIND N: a directory of N services for KIND, made anew (no state from a last run).
# runsv and s6-supervise exec ./run, here a symlink to the service binary (no shell); init
# and busybox exec the binary with the service's name as argument (busybox init merges
# inittab lines with the same command, so they must differ).
make_flat() {
    local kind=$1 n=$2 dir=$work/$1-flat-$2 i name
    rm -rf -- "$dir"
    mkdir "$dir"
    for ((i = 0; i < n; i++)); do
        printf -v name 's%03d' "$i"
        case $kind in
            nanolin) printf 'kind=longrun\nrun="%s %s"\nrestart=always\n' "$SVC" "$name" >"$dir/$name" ;;
            runit | s6) mkdir "$dir/$name" && ln -s "$SVC" "$dir/$name/run" ;;
            busybox) printf '::respawn:%s %s\n' "$SVC" "$name" >>"$dir/inittab" ;;
        esac
    done
    # Made long ago, as on a real system: Debian's runsvdir delays its first scan by a second
    # when the directory changed within the current second.
    touch -d '1 hour ago' "$dir"
    echo "$dir"
}

# make_graph READY: LAYERS x WIDTH services for init, each needing the whole layer below;
# READY=fd: each says it is ready on fd 3 (ready=fd:3) as soon as it runs.
make_graph() {
    local ready=$1 dir=$work/nanolin-graph-$1 l s needs
    rm -rf -- "$dir"
    mkdir "$dir"
    for ((l = 0; l < LAYERS; l++)); do
        needs=
        if ((l > 0)); then
            for ((s = 0; s < WIDTH; s++)); do needs+=$(printf ' l%02ds%02d' $((l - 1)) "$s"); done
        fi
        for ((s = 0; s < WIDTH; s++)); do
            {
                echo "kind=longrun"
                echo "restart=always"
                [[ -z $needs ]] || echo "needs=\"${needs# }\""
                if [[ $ready = fd ]]; then
                    echo "run=\"$SVC --ready 3\""
                    echo "ready=fd:3"
                else
                    echo "run=$SVC"
                fi
            } >"$(printf '%s/l%02ds%02d' "$dir" "$l" "$s")"
        done
    done
    touch -d '1 hour ago' "$dir"
    echo "$dir"
}

# --- one supervisor -------------------------------------------------------------------
# start KIND DIR N: runs KIND as PID 1 of a new PID (and mount) namespace on DIR; returns
# once N service processes run. Sets UPID (the unshare), PID1 (host pid of the namespace's
# PID 1) and UP_MS (bring-up time).
start() {
    local kind=$1 dir=$2 n=$3 log=$work/$1.log
    local -a cmd binds=()
    case $kind in
        nanolin) cmd=("$INIT" --services "$dir" --control "$work/ctl.sock") ;;
        runit) cmd=("$RUNSVDIR" "$dir") ;;
        s6) cmd=("$S6SVSCAN" -c 2000 "$dir") ;;
        busybox) cmd=("$BUSYBOX" init) binds=(--bind "$dir" /etc) ;;
    esac
    rm -f "$work/stamp" "$work/ctl.sock"
    : >"$EVENTS"
    echo "== $kind, $n services, $(date +%T.%N)" >>"$log"
    # container=bench: init skips the early mounts and, at the end, the remount of / read-only.
    unshare --pid --fork --mount-proc -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        container=bench CONSOLE=/dev/null \
        "$NLB" stamp "$work/stamp" "${binds[@]}" -- "${cmd[@]}" </dev/null >>"$log" 2>&1 &
    UPID=$!
    if ! UP_MS=$("$NLB" wait "$n" "$TIMEOUT_MS" "$work/stamp" "$EVENTS" "$SVC" "$UPID"); then
        PID1=$(pgrep -P "$UPID" || true)
        tail -n 20 "$log" >&2
        die "$kind did not bring $n services up"
    fi
    PID1=$(pgrep -P "$UPID") || die "no PID 1 under unshare $UPID"
    if [[ $kind = nanolin ]]; then
        # init's own view must agree: every service up (readiness may lag the exec a little).
        local up=0 try
        for ((try = 0; try < 500; try++)); do
            up=$("$INIT" ctl --control "$work/ctl.sock" status | grep -c ' up (' || true)
            ((up == n)) && break
            sleep 0.01
        done
        ((up == n)) || die "init ctl status shows $up of $n services up"
    fi
}

# stop: kills the namespace (SIGKILL to its PID 1 ends every process in it).
stop() {
    kill -KILL "$PID1" 2>/dev/null || true
    wait "$UPID" 2>/dev/null || true
    PID1='' UPID=''
    local try
    for ((try = 0; try < 500; try++)); do
        [[ $("$NLB" count "$SVC") == 0 ]] && return 0
        sleep 0.01
    done
    die "service processes outlived their namespace"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- measurements ---------------------------------------------------------------------
KINDS=(nanolin runit s6 busybox)
declare -A flat_ms=() graph_ms=() restart_ms=() restart_minmax=() pid1_kib=() tree_kib=() tree_procs=() many_ms=()

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# $RUNS run(s) of each bring-up, $KILLS kills; scratch in $work; load average $load_start"
for ((run = 1; run <= RUNS; run++)); do
    for kind in "${KINDS[@]}"; do
        start "$kind" "$(make_flat "$kind" "$FLAT")" "$FLAT"
        flat_ms[$kind]+="$UP_MS "
        echo "# run $run: $kind brought $FLAT flat services up in $UP_MS ms"
        if ((run == RUNS)); then
            sleep 1.5 # every service up for over a second: no peer throttles its restart
            kills=$("$NLB" restart "$SVC" "$PID1" "$KILLS" 10000 "$EVENTS") || die "restart measurement of $kind failed"
            restart_ms[$kind]=$(awk '{ printf "%.2f\n", $1 / 1000 }' <<<"$kills" | median)
            restart_minmax[$kind]=$(awk 'NR == 1 { lo = hi = $1 } { if ($1 < lo) lo = $1; if ($1 > hi) hi = $1 }
                END { printf "%.1f-%.1f", lo / 1000, hi / 1000 }' <<<"$kills")
            echo "# $kind: restart after kill, median ${restart_ms[$kind]} ms over $KILLS kills (${restart_minmax[$kind]} ms)"
        fi
        stop
    done
    for ready in none fd; do
        start nanolin "$(make_graph "$ready")" $((LAYERS * WIDTH))
        graph_ms[$ready]+="$UP_MS "
        echo "# run $run: nanolin brought the ${LAYERS}x$WIDTH graph (ready=$ready) up in $UP_MS ms"
        stop
    done
done
for kind in "${KINDS[@]}"; do
    start "$kind" "$(make_flat "$kind" "$MANY")" "$MANY"
    many_ms[$kind]=$UP_MS
    sleep 1 # let every process finish its start-up before its memory is read
    read -r p1 tree procs svcs < <("$NLB" mem "$PID1" "$SVC") || die "memory measurement of $kind failed"
    ((svcs == MANY)) || die "$kind: $svcs of $MANY services running at the memory measurement"
    pid1_kib[$kind]=$p1 tree_kib[$kind]=$tree tree_procs[$kind]=$procs
    echo "# $kind with $MANY services: up in $UP_MS ms; PID 1 $p1 KiB, tree $tree KiB in $procs processes"
    stop
done

# --- report ---------------------------------------------------------------------------
best() { tr ' ' '\n' | grep . | sort -g | head -n 1; }
declare -A flat_best=() graph_best=()
for kind in "${KINDS[@]}"; do
    flat_best[$kind]=$(best <<<"${flat_ms[$kind]}")
    flat_ms[$kind]=$(tr ' ' '\n' <<<"${flat_ms[$kind]}" | grep . | median)
done
for ready in none fd; do
    graph_best[$ready]=$(best <<<"${graph_ms[$ready]}")
    graph_ms[$ready]=$(tr ' ' '\n' <<<"${graph_ms[$ready]}" | grep . | median)
done
minus() { awk -v r="$1" -v d="$2" 'BEGIN { printf "%.2f", r - d }'; }
restart_net=$(minus "${restart_ms[nanolin]}" $RESTART_DELAY_MS)
s6_net=$(minus "${restart_ms[s6]}" $S6_DELAY_MS)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "n/a") printf "%.2fx", a / b; else print "-" }'; }
row() { # LABEL NANOLIN RUNIT S6 BUSYBOX DINIT
    printf '%-44s %12s %12s %12s %12s %11s\n' "$@"
}
rrow() { # ratios of a row's peers to its nanolin figure
    printf '%-44s %12s %12s %12s %12s %11s\n' "  ratio to init" "1.00x" "$(ratio "$2" "$1")" \
        "$(ratio "$3" "$1")" "$(ratio "$4" "$1")" "$(ratio "$5" "$1")"
}
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }

echo
echo "init benchmark: $(nproc) cores, Linux $(uname -r); runit $(ver runit), s6 $(ver s6), busybox $(ver busybox-static)"
echo "load average (1, 5, 15 min) at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared)"
echo "times: median of $RUNS run(s); restart: median of $KILLS kills; ratio = peer / init (above 1: init is better)"
echo
row "measure" "init" "runit" "s6" "busybox" "dinit(ref)"
row "bring-up, $FLAT flat services (ms)" "${flat_ms[nanolin]}" "${flat_ms[runit]}" "${flat_ms[s6]}" "${flat_ms[busybox]}" "$DINIT_FLAT_MS"
rrow "${flat_ms[nanolin]}" "${flat_ms[runit]}" "${flat_ms[s6]}" "${flat_ms[busybox]}" "$DINIT_FLAT_MS"
row "  best run (ms)" "${flat_best[nanolin]}" "${flat_best[runit]}" "${flat_best[s6]}" "${flat_best[busybox]}" "-"
row "bring-up, $((LAYERS * WIDTH)) in ${LAYERS}x$WIDTH graph, ready=none (ms)" "${graph_ms[none]}" "n/a" "n/a" "n/a" "$DINIT_GRAPH_MS"
rrow "${graph_ms[none]}" n/a n/a n/a "$DINIT_GRAPH_MS"
row "  best run (ms)" "${graph_best[none]}" "n/a" "n/a" "n/a" "-"
row "bring-up, same graph, ready=fd:3 (ms)" "${graph_ms[fd]}" "n/a" "n/a" "n/a" "-"
row "  best run (ms)" "${graph_best[fd]}" "n/a" "n/a" "n/a" "-"
row "bring-up, $MANY flat services, 1 run (ms)" "${many_ms[nanolin]}" "${many_ms[runit]}" "${many_ms[s6]}" "${many_ms[busybox]}" "-"
rrow "${many_ms[nanolin]}" "${many_ms[runit]}" "${many_ms[s6]}" "${many_ms[busybox]}" n/a
row "restart after kill, raw (ms)" "${restart_ms[nanolin]}" "${restart_ms[runit]}" "${restart_ms[s6]}" "${restart_ms[busybox]}" "$DINIT_RESTART_MS"
row "  (range over the kills, ms)" "${restart_minmax[nanolin]}" "${restart_minmax[runit]}" "${restart_minmax[s6]}" "${restart_minmax[busybox]}" "-"
row "restart minus the fixed delay (ms)" "$restart_net" "${restart_ms[runit]}" "$s6_net" "-" "$DINIT_RESTART_MS"
rrow "$restart_net" "${restart_ms[runit]}" "$s6_net" n/a "$DINIT_RESTART_MS"
row "PID 1 private memory, $MANY services (KiB)" "${pid1_kib[nanolin]}" "${pid1_kib[runit]}" "${pid1_kib[s6]}" "${pid1_kib[busybox]}" "-"
rrow "${pid1_kib[nanolin]}" "${pid1_kib[runit]}" "${pid1_kib[s6]}" "${pid1_kib[busybox]}" n/a
row "supervision tree private memory (KiB)" "${tree_kib[nanolin]}" "${tree_kib[runit]}" "${tree_kib[s6]}" "${tree_kib[busybox]}" "-"
rrow "${tree_kib[nanolin]}" "${tree_kib[runit]}" "${tree_kib[s6]}" "${tree_kib[busybox]}" n/a
row "  processes in the tree" "${tree_procs[nanolin]}" "${tree_procs[runit]}" "${tree_procs[s6]}" "${tree_procs[busybox]}" "-"
echo
echo "notes: restart, raw: kill to the replacement's main(); it includes each supervisor's policy delay:"
echo "  init restarts a first crash at once ($RESTART_DELAY_MS ms; backoff starts at the second crash in a row), s6-supervise waits 1 s after every death ($S6_DELAY_MS ms); runsv restarts"
echo "  at once a service that ran over 1 s (no delay); busybox init respawns from a main loop that"
echo "  sleeps 1 s (no fixed delay to subtract). 'minus the fixed delay' takes those delays out."
echo "  PID 1 is runsvdir for runit, s6-svscan for s6 (their trees add one runsv / s6-supervise per"
echo "  service). No peer has a dependency graph (s6-rc is not packaged in Debian 12); dinit is not"
echo "  packaged either: its figures are reference values, not measured here."

# --- budgets (reported, never enforced here) --------------------------------------------
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? "within" : "OVER" }'; }
faster() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 < b + 0) ? "yes" : "NO" }'; }
echo
echo "budgets"
arm=$root/target/aarch64-unknown-linux-musl/release/init
if [[ -f $arm ]]; then
    size=$(stat -c %s "$arm")
    printf '  %-62s %s\n' "aarch64 init binary <= 65536 bytes:" "$size bytes, $(verdict "$size" 65536)"
else
    printf '  %-62s %s\n' "aarch64 init binary <= 65536 bytes:" "not built ($arm)"
fi
printf '  %-62s %s\n' "(x86_64 init binary, for reference):" "$(stat -c %s "$INIT") bytes"
printf '  %-62s %s\n' "PID 1 private memory with $MANY services <= 256 KiB:" "${pid1_kib[nanolin]} KiB, $(verdict "${pid1_kib[nanolin]}" 256)"
printf '  %-62s %s\n' "$FLAT flat bring-up faster than dinit ($DINIT_FLAT_MS ms):" "${flat_ms[nanolin]} ms, $(faster "${flat_ms[nanolin]}" $DINIT_FLAT_MS)"
printf '  %-62s %s\n' "$((LAYERS * WIDTH))-service graph bring-up faster than dinit ($DINIT_GRAPH_MS ms):" "${graph_ms[none]} ms, $(faster "${graph_ms[none]}" $DINIT_GRAPH_MS)"
printf '  %-62s %s\n' "restart faster than dinit ($DINIT_RESTART_MS ms), backoff excluded:" "$restart_net ms, $(faster "$restart_net" $DINIT_RESTART_MS) (raw ${restart_ms[nanolin]} ms, $(faster "${restart_ms[nanolin]}" $DINIT_RESTART_MS))"

#!/usr/bin/env bash
# Signature benchmark: nanolin sign/verify and nanolin-agent verify against
# OpenBSD signify (signify-openbsd) and minisign on one big file.
#
#   bash tests/bench/signatures.sh [SIZE_MIB]     (default 1024)
#
# Environment:
#   BENCH_RUNS=N          runs per measurement, the median is reported (default 3)
#   NANOLIN=PATH          use this `nanolin` binary instead of building one
#   NANOLIN_AGENT=PATH    use this `nanolin-agent` binary instead of building one
#   TMPDIR                where the scratch directory goes (needs SIZE_MIB + ~20 MiB)
#
# This is a benchmark, not a timed test: it never fails because of timings. It exits
# non-zero only when a tool fails, a signature does not verify, or nanolin's signature
# differs from signify's (Ed25519 per RFC 8032 is deterministic: same key and message
# must give the same bytes).
set -euo pipefail
export LC_ALL=C

SIZE_MIB=${1:-1024}
RUNS=${BENCH_RUNS:-3}
SMALL_MIB=16

die() { echo "signatures.sh: error: $*" >&2; exit 1; }

[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer, got '$SIZE_MIB'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, got '$RUNS'"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

for tool in signify-openbsd minisign; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian packages signify-openbsd, minisign)"
done

# --- measuring tool -----------------------------------------------------------------
TIME_BIN=/usr/bin/time
if [[ ! -x $TIME_BIN ]] && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "# /usr/bin/time missing; installing package 'time'"
    { apt-get install -y -q time >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q time >/dev/null 2>&1; }; } || true
fi
if [[ -x $TIME_BIN ]]; then
    HAVE_RSS=1
else
    HAVE_RSS=0
    echo "# /usr/bin/time unavailable: wall time from bash's 'time', peak RSS reported as n/a"
fi

# --- binaries -----------------------------------------------------------------------
if [[ -n ${NANOLIN:-} && -n ${NANOLIN_AGENT:-} ]]; then
    nanolin=$NANOLIN
    agent=$NANOLIN_AGENT
else
    echo "# building nanolin and nanolin-agent (cargo --profile fast)"
    (cd "$root" && cargo build --quiet --profile fast -p nanolin-host -p nanolin-agent) \
        || die "cargo build failed"
    target_dir=${CARGO_TARGET_DIR:-$root/target}
    [[ $target_dir = /* ]] || target_dir=$root/$target_dir
    nanolin=${NANOLIN:-$target_dir/fast/nanolin}
    agent=${NANOLIN_AGENT:-$target_dir/fast/nanolin-agent}
fi
[[ -x $nanolin ]] || die "not executable: $nanolin"
[[ -x $agent ]] || die "not executable: $agent"

# --- scratch directory --------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/nanolin-sigbench.XXXXXX")
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

need_kib=$(( (SIZE_MIB + SMALL_MIB + 16) * 1024 ))
avail_kib=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
if [[ -n $avail_kib ]] && (( avail_kib < need_kib )); then
    die "not enough space in $work: need $((need_kib / 1024)) MiB, have $((avail_kib / 1024)) MiB"
fi

# run LABEL CMD...: runs CMD once, appends "seconds kib" to $work/LABEL.m.
# Any non-zero exit is fatal and shows the tool's output.
run() {
    local label=$1; shift
    local out=$work/$label.out err=$work/$label.err tm=$work/$label.t rc=0
    if (( HAVE_RSS )); then
        "$TIME_BIN" -f '%e %M' -o "$tm" -- "$@" >"$out" 2>"$err" || rc=$?
    else
        local TIMEFORMAT=%R
        { time "$@" >"$out" 2>"$err"; } 2>"$tm" || rc=$?
    fi
    if (( rc != 0 )); then
        echo "FAILED ($label, exit $rc): $*" >&2
        sed 's/^/  stdout: /' "$out" >&2
        sed 's/^/  stderr: /' "$err" >&2
        exit 1
    fi
    if (( HAVE_RSS )); then
        tail -n 1 "$tm" >>"$work/$label.m"
    else
        echo "$(tail -n 1 "$tm") -" >>"$work/$label.m"
    fi
}

# bench LABEL CMD...: RUNS runs of CMD, with progress on one line.
bench() {
    local label=$1; shift
    local i
    rm -f "$work/$label.m"
    printf '#   %-22s' "$label"
    for ((i = 1; i <= RUNS; i++)); do
        run "$label" "$@"
        printf ' %ss' "$(tail -n 1 "$work/$label.m" | cut -d' ' -f1)"
    done
    echo
}

# median LABEL COLUMN: median of a column (1 = seconds, 2 = KiB) over the runs.
median() {
    local col=$2
    awk -v c="$col" '{ print $c }' "$work/$1.m" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0 || v[1] == "-") { print "-"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}
secs() {   # /usr/bin/time gives 10 ms steps, bash's time 1 ms
    local s; s=$(median "$1" 1)
    [[ $s = - ]] && echo - || awk -v s="$s" -v d=$((HAVE_RSS ? 2 : 3)) 'BEGIN { printf "%.*f", d, s }'
}
mib() { local k; k=$(median "$1" 2); [[ $k = - ]] && echo n/a || awk -v k="$k" 'BEGIN { printf "%.1f", k / 1024 }'; }
# ratio A B: A / B to two decimals, "-" when either is unknown or B is zero.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "-" || b == "-" || a == "n/a" || b == "n/a" || b + 0 == 0) print "-";
        else printf "%.2f", a / b }'
}
mibps() { awk -v s="$1" -v m="$SIZE_MIB" 'BEGIN { if (s + 0 == 0) print "-"; else printf "%.0f", m / s }'; }

# --- inputs -------------------------------------------------------------------------
big=$work/data.bin
small=$work/small.bin
echo "# nanolin signature benchmark: $SIZE_MIB MiB file, median of $RUNS runs"
echo "# host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
echo "# nanolin:       $nanolin"
echo "# nanolin-agent: $agent"
echo "# signify:       $(command -v signify-openbsd)"
echo "# minisign:      $(command -v minisign) ($(minisign -v 2>&1 | head -n 1))"
echo "# scratch:       $work"

echo "# writing $SIZE_MIB MiB of random data"
# Random-ish: a 1 MiB block of /dev/urandom, each repeat prefixed by its index so no two
# MiB are equal (defeats any dedup/compression, and costs far less than 1 GiB of urandom).
head -c $((1024 * 1024 - 16)) /dev/urandom >"$work/block"
gen() {
    local n=$1 i
    for ((i = 0; i < n; i++)); do
        printf '%016x' "$i"
        cat "$work/block"
    done
}
gen "$SIZE_MIB" >"$big"
gen "$SMALL_MIB" >"$small"
rm -f "$work/block"
[[ $(stat -c %s "$big") -eq $((SIZE_MIB * 1024 * 1024)) ]] || die "short data file"
# Warm the page cache so the first timed run does not pay for the disk.
cat "$big" "$small" >/dev/null

"$nanolin" key generate -n -c bench -p "$work/K.pub" -s "$work/K.sec" >/dev/null 2>&1 \
    || die "nanolin key generate failed"
export SOURCE_DATE_EPOCH=1700000000   # fixed trusted comment: identical signature files per run

# --- sign ---------------------------------------------------------------------------
echo "# sign"
bench nanolin.sign "$nanolin" sign -s "$work/K.sec" -x "$work/ours.sig" "$big"
bench signify.sign signify-openbsd -S -s "$work/K.sec" -m "$big" -x "$work/S.sig"

ours_line=$(sed -n 2p "$work/ours.sig")
theirs_line=$(sed -n 2p "$work/S.sig")
if [[ -n $ours_line && $ours_line == "$theirs_line" ]]; then
    sig_same=yes
else
    sig_same=NO
fi

# --- verify -------------------------------------------------------------------------
# All four verifiers check the same file, the one `nanolin sign` wrote: signify reads
# its first two lines, minisign needs its trusted comment (minisign rejects a plain
# signify .sig with "Trusted comment not present").
echo "# verify"
bench nanolin.verify "$nanolin" verify -p "$work/K.pub" -x "$work/ours.sig" "$big"
bench agent.verify "$agent" verify -p "$work/K.pub" -x "$work/ours.sig" "$big"
bench signify.verify signify-openbsd -V -p "$work/K.pub" -m "$big" -x "$work/ours.sig"
bench minisign.verify minisign -V -p "$work/K.pub" -m "$big" -x "$work/ours.sig"
# And ours accepts what signify wrote (untimed).
run nanolin.verify-signify "$nanolin" verify -p "$work/K.pub" -x "$work/S.sig" "$big"
run agent.verify-signify "$agent" verify -p "$work/K.pub" -x "$work/S.sig" "$big"

# A tampered file must be rejected (untimed; flip one byte in the small file).
cp "$small" "$work/tampered.bin"
printf 'X' | dd of="$work/tampered.bin" bs=1 seek=12345 conv=notrunc status=none
"$nanolin" sign -s "$work/K.sec" -x "$work/small.sig" "$small" >/dev/null 2>&1 || die "nanolin sign (small) failed"
for v in "$nanolin" "$agent"; do
    if "$v" verify -p "$work/K.pub" -x "$work/small.sig" "$work/tampered.bin" >/dev/null 2>&1; then
        die "$(basename "$v") verify accepted a tampered file"
    fi
done

# --- memory does not grow with the file --------------------------------------------
echo "# verify, $SMALL_MIB MiB file"
bench nanolin.verify-small "$nanolin" verify -p "$work/K.pub" -x "$work/small.sig" "$small"
bench agent.verify-small "$agent" verify -p "$work/K.pub" -x "$work/small.sig" "$small"

# --- report -------------------------------------------------------------------------
s_sign=$(secs signify.sign);     m_sign=$(mib signify.sign)
s_ver=$(secs signify.verify);    m_ver=$(mib signify.verify)

echo
echo "Signatures, $SIZE_MIB MiB file, median of $RUNS runs (ratio = signify / this row: >1 means this row is faster / smaller)"
fmt='%-16s %-9s %8s %6s %12s %13s %12s\n'
# shellcheck disable=SC2059
printf "$fmt" tool operation seconds MiB/s "peak RSS MiB" "time signify/" "RSS signify/"
# shellcheck disable=SC2059
printf "$fmt" ---------------- --------- -------- ------ ------------ ------------- ------------
row() {   # row TOOL OP LABEL REF_SECS REF_MIB
    local s m
    s=$(secs "$3"); m=$(mib "$3")
    # shellcheck disable=SC2059
    printf "$fmt" "$1" "$2" "$s" "$(mibps "$s")" "$m" "$(ratio "$4" "$s")" "$(ratio "$5" "$m")"
}
row "nanolin"         sign   nanolin.sign    "$s_sign" "$m_sign"
row "signify-openbsd" sign   signify.sign    "$s_sign" "$m_sign"
row "nanolin"         verify nanolin.verify  "$s_ver"  "$m_ver"
row "nanolin-agent"   verify agent.verify    "$s_ver"  "$m_ver"
row "signify-openbsd" verify signify.verify  "$s_ver"  "$m_ver"
row "minisign"        verify minisign.verify "$s_ver"  "$m_ver"
echo
echo "nanolin signature line identical to signify's (same key, same file): $sig_same"
echo "nanolin and nanolin-agent accept signify's signature; both reject a tampered file: yes"
echo
echo "Verifier peak RSS MiB vs file size (constant memory expected):"
printf '  %-14s %10s %10s\n' tool "$SMALL_MIB MiB" "$SIZE_MIB MiB"
printf '  %-14s %10s %10s\n' nanolin "$(mib nanolin.verify-small)" "$(mib nanolin.verify)"
printf '  %-14s %10s %10s\n' nanolin-agent "$(mib agent.verify-small)" "$(mib agent.verify)"

if [[ $sig_same != yes ]]; then
    echo "FAILED: nanolin's signature differs from signify's for the same key and file" >&2
    echo "  nanolin: $ours_line" >&2
    echo "  signify: $theirs_line" >&2
    exit 1
fi

#!/usr/bin/env bash
# Fuzzes every parser of untrusted text in nanolin-core (the targets in fuzz/fuzz_targets/).
#
#   bash tests/fuzz.sh [SECONDS_PER_TARGET]      (default 20)
#
# Runs on the stable toolchain: RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's -Z flags. Builds
# with AddressSanitizer and debug assertions (so overflow checks too); set FUZZ_SANITIZER=none
# to build without a sanitizer (it falls back to none by itself when the ASan runtime is
# missing). Each target fuzzes a scratch copy of its seeds in fuzz/corpus/, so the repository is
# not changed; a crash is kept under fuzz/artifacts/<target>/ (ignored by git).
#
# Runs FUZZ_JOBS targets at once (default: the number of cores). Prints one line per target,
# then `N passed, N failed`.
# Exit status: 0 no target failed, 1 a target found a crash, 2 usage error, 3 build or
# install failure.
set -euo pipefail

usage() {
    echo "usage: bash tests/fuzz.sh [SECONDS_PER_TARGET]   (a whole number of seconds, default 20)" >&2
    exit 2
}

[[ $# -le 1 ]] || usage
seconds=${1:-20}
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || usage

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_dir=$root/fuzz
targets=(public_key secret_key signature base64 keyvalue service_file uboot_env grub_env boot_record bundle agent_files recipe board cargo_lock distro repo_index stage1 disk_ranges device_tree)

# Longest input per target: past the longest comment a file may hold (1023 bytes untrusted,
# 8191 trusted), so the length limits are reached.
declare -A max_len=([bundle]=4096 [agent_files]=4096 [public_key]=2048 [secret_key]=2048 [signature]=10240 [base64]=512 [keyvalue]=4096 [service_file]=4096 [uboot_env]=1024 [grub_env]=2048 [boot_record]=1100 [recipe]=4096 [board]=4096 [cargo_lock]=4096 [distro]=4096 [repo_index]=4096 [stage1]=4096 [disk_ranges]=8192 [device_tree]=16384)

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo fuzz is missing; installing it with cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked || {
        echo "fuzz: unable to install cargo-fuzz (network? try again, or install it by hand)" >&2
        exit 3
    }
fi

cd "$fuzz_dir"

sanitizer=${FUZZ_SANITIZER:-address}
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
build() {
    echo "fuzz: building ${#targets[@]} targets (sanitizer: $1, debug assertions on)"
    cargo fuzz build -a -s "$1" >"$build_log" 2>&1
}
build_failed() {
    cat "$build_log" >&2
    echo "fuzz: build failed (sanitizer: $sanitizer)" >&2
    exit 3
}
if ! build "$sanitizer"; then
    # Only a missing sanitizer runtime is worth a second try without it.
    if [[ -z ${FUZZ_SANITIZER:-} ]] && grep -qiE 'sanitizer|asan' "$build_log"; then
        grep -iE 'sanitizer|asan' "$build_log" | head -n 3 >&2
        echo "fuzz: AddressSanitizer is unavailable here; building without a sanitizer" >&2
        sanitizer=none
        build "$sanitizer" || build_failed
    else
        build_failed
    fi
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/nanolin-fuzz.XXXXXX")
keep_scratch=false
trap 'rm -f "$build_log"; $keep_scratch || rm -rf "$scratch"' EXIT

# One target: fuzzes it, prints its line, and leaves its exit status in $scratch/TARGET.status.
fuzz_target() {
    local target=$1 corpus=$scratch/corpus/$1 log=$scratch/$1.log artifacts=$fuzz_dir/artifacts/$1
    local status=0 runs cov artifact
    mkdir -p "$corpus" "$artifacts"
    cp "$fuzz_dir/corpus/$target"/seed-* "$corpus"/
    cargo fuzz run -a -s "$sanitizer" "$target" "$corpus" -- \
        -max_total_time="$seconds" -max_len="${max_len[$target]}" -timeout=10 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 \
        >"$log" 2>&1 </dev/null || status=$?
    echo "$status" >"$scratch/$target.status"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
    if [[ $status -eq 0 ]]; then
        echo "fuzz: $target: passed (${runs:-?} runs in ${seconds}s, coverage ${cov:-?}, corpus $(ls "$corpus" | wc -l) inputs)"
        return
    fi
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    {
        echo "fuzz: $target: FAILED (exit $status): ${artifact:-no artifact written}; log $log"
        # The panic message or sanitizer report, and how to reproduce.
        grep -A 3 -E 'panicked at|ERROR: (AddressSanitizer|libFuzzer)' "$log" | head -n 12 | sed 's/^/    /' || true
        if [[ -n $artifact ]]; then
            echo "    input (hex): $(od -An -tx1 -v "$artifact" | tr -d ' \n' | head -c 2000)"
            echo "    reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -a -s $sanitizer $target $artifact"
        fi
    } >&2
}

# libFuzzer runs one process per target: as many targets run at once as there are cores
# (FUZZ_JOBS), each for its full time.
jobs_max=${FUZZ_JOBS:-$(nproc)}
for target in "${targets[@]}"; do
    while [[ $(jobs -rp | wc -l) -ge $jobs_max ]]; do
        wait -n || true
    done
    fuzz_target "$target" &
done
wait

passed=0
failed=0
for target in "${targets[@]}"; do
    if [[ $(cat "$scratch/$target.status" 2>/dev/null) == 0 ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        keep_scratch=true
    fi
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]] || exit 1

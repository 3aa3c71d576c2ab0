#!/usr/bin/env bash
# `./nanolin test`: every test the project has, in one run.
#   1. peer tools and Rust targets (installed when missing)
#   2. unit and integration tests of the workspace (interop with signify, minisign, qemu-user)
#   3. board-side unit tests for aarch64, run under qemu-aarch64
#   4. bare-metal builds of the no_std libraries (no OS, no allocator) and the static init binary
#   5. a QEMU boot of Debian's arm64 kernel with our init as PID 1 (tests/qemu/init_boot.sh)
#   6. every fuzz target, briefly (FUZZ_SECONDS each, default 10), built without a sanitizer
#      (FUZZ_SANITIZER): the fuzzed parsers hold no unsafe code, and AddressSanitizer would add
#      about 100 s of build to every run; `./nanolin fuzz` campaigns build with it
# The last line counts the tests run: "N passed, N failed".
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=tests/peers.sh
source tests/peers.sh
export CARGO_TERM_COLOR=never

log=$(mktemp "${TMPDIR:-/tmp}/nanolin-test.XXXXXX")
trap 'rm -f "$log"' EXIT
passed=0
failed=0

# Runs a step; a step that runs cargo tests adds their counts, any other step counts as one.
step() {
  local name=$1 started=$SECONDS
  shift
  echo "== $name"
  if "$@" 2>&1 | tee "$log"; then
    echo "== $((SECONDS - started)) s: $name"
    local counted
    counted=$(count_tests "$log")
    if [ -n "$counted" ]; then
      passed=$((passed + ${counted% *}))
      failed=$((failed + ${counted#* }))
    else
      passed=$((passed + 1))
    fi
  else
    echo "== FAILED after $((SECONDS - started)) s: $name"
    local counted
    counted=$(count_tests "$log")
    if [ -n "$counted" ]; then
      passed=$((passed + ${counted% *}))
      failed=$((failed + ${counted#* }))
    fi
    # A failing step counts at least once, even when it failed before running any test.
    if [ -z "$counted" ] || [ "${counted#* }" -eq 0 ]; then
      failed=$((failed + 1))
    fi
  fi
}

# "P F" summed over cargo's "test result:" lines, or nothing when there are none.
count_tests() {
  awk '/^test result:/ || /^[0-9]+ passed, [0-9]+ failed/ {
         for (i = 2; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) }
         n++ }
       END { if (n) print p+0, f+0 }' "$1"
}

init_size_within_budget() {
  local bin=target/aarch64-unknown-linux-musl/release/init budget=$((64 * 1024)) size
  cargo build --release --target aarch64-unknown-linux-musl -p nanolin-init --features binary || return 1
  cargo build --release --target x86_64-unknown-linux-musl -p nanolin-init --features binary || return 1
  size=$(stat -c %s "$bin")
  echo "init for aarch64: $size bytes (budget $budget)"
  file "$bin" 2>/dev/null | grep -q 'statically linked' || { echo "init is not a static binary"; return 1; }
  qemu-aarch64-static "$bin" --version | grep -q '^nanolin-init ' || { echo "init does not run under qemu-aarch64"; return 1; }
  [ "$size" -le "$budget" ]
}

# riscv64 and armv7 boards: static glibc builds (see .cargo/config.toml), run under qemu-user.
init_other_boards() {
  local t runner
  for t in riscv64gc-unknown-linux-gnu:qemu-riscv64-static armv7-unknown-linux-gnueabihf:qemu-arm-static; do
    runner=${t#*:}
    t=${t%%:*}
    cargo build --release --target "$t" -p nanolin-init --features binary || return 1
    echo "init for $t: $(stat -c %s "target/$t/release/init") bytes"
    "$runner" "target/$t/release/init" --version | grep -q '^nanolin-init ' || { echo "init for $t does not run"; return 1; }
  done
}

bare_metal() {
  cargo build -p nanolin-core -p nanolin-init --target thumbv7em-none-eabihf &&
    cargo build -p nanolin-core -p nanolin-init --target riscv64gc-unknown-none-elf
}

ensure_peers
ensure_targets

step "workspace tests (unit, interop with signify and minisign)" cargo test --workspace
step "board-side unit tests on aarch64 (qemu-user)" cargo test -p nanolin-core -p nanolin-init -p nanolin-agent --target aarch64-unknown-linux-musl
step "no_std libraries (nanolin-core, nanolin-init) build for bare metal" bare_metal
step "init: static aarch64 binary within its size budget" init_size_within_budget
step "init: static riscv64 and armv7 builds run under qemu-user" init_other_boards
step "QEMU: init as PID 1 of Debian's arm64 kernel, services, ctl poweroff" bash tests/qemu/init_boot.sh
step "fuzz targets, ${FUZZ_SECONDS:-10} s each" env FUZZ_SANITIZER="${FUZZ_SANITIZER:-none}" \
  bash tests/fuzz.sh "${FUZZ_SECONDS:-10}"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Package benchmark: building and packaging the shipped recipes, and package ids at scale.
#
#   bash tests/bench/packages.sh
#
# Measures:
#   1. `nanolin package build` of every recipe in recipes/ for the default board
#      (aarch64-unknown-linux-musl), one after another:
#      - cold: an empty source cache, and CARGO_HOME pointed at an empty directory, so every
#        source comes from the network (Debian's pool for busybox, crates.io for the crates
#        of the in-tree recipes) or the tree;
#      - warm: the same builds again with the cache the cold run filled (nothing fetched;
#        each cached file is hashed again before use).
#      Wall time per recipe and in all, and the build's share (cargo, the C compiler) is
#      what remains after the fetch: the log's step lines are timestamped.
#   2. `nanolin package id DIR` over 10,000 generated recipes with a random dependency graph
#      (each names up to 3 earlier recipes; seeded, so repeatable), against the floor of
#      reading and hashing the same files with `sha256sum` (the id hashes each recipe once,
#      plus its dependencies' ids).
#
# Environment:
#   BENCH_RECIPES=N   generated recipes for the id benchmark (default 10000)
#   KEEP=1            keep the work directory
#   NANOLIN=PATH      use this nanolin instead of building it
# A benchmark, not a test: it never fails on timings, only when a build fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
count=${BENCH_RECIPES:-10000}
work=${TMPDIR:-/tmp}/nanolin-bench-packages
rm -rf "$work"
mkdir -p "$work"
[[ ${KEEP:-} == 1 ]] || trap 'rm -rf "$work"' EXIT

if [[ -z ${NANOLIN:-} ]]; then
  cargo build --quiet --profile fast -p nanolin-host
  NANOLIN=$root/target/fast/nanolin
fi

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

build_all() { # $1: label; the cache is $work/cache
  local label=$1 total=0 start end t
  printf '%-8s' "$label"
  for recipe in recipes/*.rcp; do
    start=$(now)
    CARGO_HOME=$work/empty-cargo-home NANOLIN_SOURCE_CACHE=$work/cache SOURCE_DATE_EPOCH=1790000000 \
      "$NANOLIN" package build "$recipe" --target aarch64-unknown-linux-musl \
      -o "$work/out-$label" >"$work/$label-$(basename "$recipe" .rcp).log" 2>&1 ||
      { echo; echo "build of $recipe failed:"; tail -20 "$work/$label-$(basename "$recipe" .rcp).log"; exit 1; }
    end=$(now)
    t=$(secs "$start" "$end")
    total=$(awk -v a="$total" -v b="$t" 'BEGIN { printf "%.2f", a + b }')
    printf ' %14s' "${t} s"
  done
  printf ' %10s\n' "${total} s"
  echo "$total" >"$work/$label.total"
}

echo "-- build and package the shipped recipes (aarch64), cold then warm source cache"
mkdir -p "$work/empty-cargo-home"
printf '%-8s' ""
for recipe in recipes/*.rcp; do printf ' %14s' "$(basename "$recipe" .rcp)"; done
printf ' %10s\n' "all"
build_all cold
build_all warm
echo "   cold fetches: $(du -sh "$work/cache" | cut -f1) into the cache;" \
  "warm/cold = $(awk -v c="$(cat "$work/cold.total")" -v w="$(cat "$work/warm.total")" 'BEGIN { printf "%.2f", w / c }')"

echo
echo "-- package ids of $count recipes"
python3 - "$work/recipes" "$count" <<'PY'
import os, random, sys
out, count = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
rng = random.Random(20261123)
for i in range(count):
    deps = sorted({f"pkg{rng.randrange(i)}" for _ in range(rng.randrange(4))}) if i else []
    with open(f"{out}/pkg{i}.rcp", "w") as f:
        f.write(f"""# generated
name=pkg{i}
version=1.{i % 97}
release=1
description="generated recipe {i}"
license=MIT
source="pkg{i}-1.0.tar.gz"
sha256sums="{rng.getrandbits(256):064x}"
depends="{' '.join(deps)}"
build() {{
    make
}}
package() {{
    make DESTDIR="$DESTDIR" install
}}
""")
PY
sync
start=$(now)
NANOLIN_SOURCE_CACHE=$work/cache "$NANOLIN" package id "$work/recipes" >"$work/ids"
ours=$(secs "$start" "$(now)")
start=$(now)
cat "$work"/recipes/*.rcp | sha256sum >/dev/null
floor=$(secs "$start" "$(now)")
printf '   nanolin package id: %s s for %s ids (%s ids/s)\n' "$ours" "$(wc -l <"$work/ids")" \
  "$(awk -v n="$count" -v t="$ours" 'BEGIN { printf "%.0f", n / (t > 0 ? t : 0.001) }')"
printf '   floor (cat | sha256sum of the same files): %s s; ratio %s\n' "$floor" \
  "$(awk -v a="$ours" -v b="$floor" 'BEGIN { printf "%.1f", a / (b > 0 ? b : 0.001) }')"

#!/usr/bin/env bash
# `./nanolin bench`: every benchmark, each against its peer tools in the same run.
# Benchmarks print figures and ratios; they never fail on timings (the machine is shared).
#
#   ./nanolin bench [SIZE_MIB]     size of the signed file (default 1024)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=tests/peers.sh
source tests/peers.sh
ensure_peers

echo "== signatures: nanolin against signify and minisign"
bash tests/bench/signatures.sh "${1:-1024}"

echo
echo "== init: bring-up, restart and memory against runit, s6 and busybox init"
bash tests/bench/init.sh

echo
echo "== install: a 1 GiB image and a 1 % delta against RAUC, SWUpdate and casync"
bash tests/bench/install.sh

echo
echo "== packages: building the shipped recipes, cold and warm; package ids of 10,000 recipes"
bash tests/bench/packages.sh

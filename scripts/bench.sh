#!/usr/bin/env bash
# The benchmark suite: installs what is missing, builds the release bundle and the release
# simulator, measures every budget of DESIGN.md in headless Chromium (peers in the same run)
# and rewrites BENCHMARKS.md. About 20 minutes, 10 of them the memory soak.
#
#   scripts/bench.sh                      # everything
#   scripts/bench.sh --only map,decode    # some sections: size, first, history, store, replay, decode, latency, map, ingest, soak
#   scripts/bench.sh --soak-minutes 2     # a shorter soak
#   scripts/bench.sh --quick --out target/bench/BENCHMARKS.md   # seconds; what the tests run
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/release-build.sh"
exec node tests/bench/suite.mjs "$@"

#!/usr/bin/env bash
# The long reliability run ("hours in minutes"): installs what is missing, builds the release
# bundle and simulator, then runs tests/long/hours-in-minutes.mjs: thousands of positions a
# second with WebSocket cuts and connection drops on a timer, memory and losses sampled every
# 10 s. Writes target/long-run/report.md; exits 1 if memory grows, a report is lost or
# repeated within a connection, a message is skipped, or the page stops being live.
#
#   scripts/long-run.sh                           # 20 minutes, 3,000 vehicles at 2 Hz
#   scripts/long-run.sh --minutes 120 --vehicles 5000
#   scripts/long-run.sh --quick                   # half a minute; what the tests run
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/release-build.sh"
SIMULATOR_BIN="$ROOT/target/release/simulator" exec node tests/long/hours-in-minutes.mjs "$@"

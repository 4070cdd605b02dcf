#!/usr/bin/env bash
# The main job: installs what is missing, starts the simulator and the dashboard, and prints
# the URL to open. Ctrl-C stops both.
#
#   DASHBOARD_PORT (8080), FUNCTIONS_PORT (7071), SERVICE_PORT (8888) change the ports;
#   SIMULATOR_DATA_DIR (target/simulator-data) is where the simulator keeps its history, so a
#   restart keeps what is still within the window (the downtime stays a gap, and the scenarios
#   start again from their seed's state);
#   extra arguments go to the simulator, e.g. scripts/run.sh --vehicles 500 --seed 7
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DASHBOARD_PORT="${DASHBOARD_PORT:-8080}"
FUNCTIONS_PORT="${FUNCTIONS_PORT:-7071}"
SERVICE_PORT="${SERVICE_PORT:-8888}"
# Through the environment rather than a flag, so `--data-dir` among the arguments still wins.
export SIMULATOR_DATA_DIR="${SIMULATOR_DATA_DIR:-$ROOT/target/simulator-data}"

"$ROOT/scripts/bootstrap.sh"
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m[run]\033[0m %s\n' "$*"; }

say "building the simulator"
cargo build --release -p simulator --locked
say "building the dashboard (release)"
trunk build --release --locked

mkdir -p target/run
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

SIM_LOG="$ROOT/target/run/simulator.log"
./target/release/simulator \
  --functions-port "$FUNCTIONS_PORT" \
  --connection-string "Endpoint=http://127.0.0.1:$SERVICE_PORT;AccessKey=SimulatorDevelopmentKeyNotASecret0123456789ABCDEF;Version=1.0;" \
  "$@" >"$SIM_LOG" 2>&1 &
pids+=($!)

# The dashboard reads config.json at runtime; point it at the simulator's functions API.
API_BASE="http://127.0.0.1:$FUNCTIONS_PORT/api"
TRUNK_LOG="$ROOT/target/run/trunk.log"
trunk serve --release --locked --no-autoreload --port "$DASHBOARD_PORT" >"$TRUNK_LOG" 2>&1 &
pids+=($!)

for _ in $(seq 1 600); do
  if ! kill -0 "${pids[0]}" 2>/dev/null; then say "the simulator stopped:"; cat "$SIM_LOG"; exit 1; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then say "trunk serve stopped:"; cat "$TRUNK_LOG"; exit 1; fi
  if curl -fsS -o /dev/null -X POST "$API_BASE/negotiate" 2>/dev/null \
    && curl -fsS -o /dev/null "http://127.0.0.1:$DASHBOARD_PORT/" 2>/dev/null; then
    URL="http://127.0.0.1:$DASHBOARD_PORT/"
    if [ "$FUNCTIONS_PORT" != 7071 ]; then URL="${URL}?apiBase=$API_BASE"; fi
    cat "$SIM_LOG"
    echo
    say "dashboard ready — open $URL"
    say "logs: $SIM_LOG, $TRUNK_LOG; Ctrl-C stops everything"
    wait -n "${pids[@]}"
    exit $?
  fi
  sleep 0.5
done
say "timed out waiting for the simulator and the dashboard"; exit 1

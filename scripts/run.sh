#!/usr/bin/env bash
# The main job: installs what is missing, starts the simulator and the dashboard, and prints
# the URL to open. Ctrl-C stops both.
#
#   DASHBOARD_PORT (8080), FUNCTIONS_PORT (7071), SERVICE_PORT (8888) change the ports;
#   SIMULATOR_DATA_DIR (target/simulator-data) is where the simulator keeps its history, so a
#   restart keeps what is still within the window (the downtime stays a gap, and the scenarios
#   start again from their seed's state);
#   extra arguments go to the simulator, e.g. scripts/run.sh --vehicles 500 --seed 7;
#   SIGN_IN=1 turns sign-in on: a real OpenID provider on loopback (ISSUER_PORT, 9090;
#   scripts/sign-in-demo.mjs, accounts alice, victor and olga, any password) and a simulator
#   that requires its tokens; the dashboard is then served by that script, with a config.json
#   that signs in.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DASHBOARD_PORT="${DASHBOARD_PORT:-8080}"
FUNCTIONS_PORT="${FUNCTIONS_PORT:-7071}"
SERVICE_PORT="${SERVICE_PORT:-8888}"
ISSUER_PORT="${ISSUER_PORT:-9090}"
SIGN_IN="${SIGN_IN:-0}"
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

SIGN_IN_ARGS=()
if [ "$SIGN_IN" = 1 ]; then
  SIGN_IN_ARGS=(--oidc-issuer "http://127.0.0.1:$ISSUER_PORT" --oidc-audience "api://iot-dashboard")
fi
SIM_LOG="$ROOT/target/run/simulator.log"
./target/release/simulator \
  --functions-port "$FUNCTIONS_PORT" \
  --connection-string "Endpoint=http://127.0.0.1:$SERVICE_PORT;AccessKey=SimulatorDevelopmentKeyNotASecret0123456789ABCDEF;Version=1.0;" \
  ${SIGN_IN_ARGS[@]+"${SIGN_IN_ARGS[@]}"} "$@" >"$SIM_LOG" 2>&1 &
pids+=($!)

# The dashboard reads config.json at runtime; point it at the simulator's functions API.
API_BASE="http://127.0.0.1:$FUNCTIONS_PORT/api"
TRUNK_LOG="$ROOT/target/run/trunk.log"
if [ "$SIGN_IN" = 1 ]; then
  # The release bundle just built, with a config.json that signs in, and the provider.
  node scripts/sign-in-demo.mjs --port "$DASHBOARD_PORT" --issuer-port "$ISSUER_PORT" --api-base "$API_BASE" \
    >"$TRUNK_LOG" 2>&1 &
else
  trunk serve --release --locked --no-autoreload --port "$DASHBOARD_PORT" >"$TRUNK_LOG" 2>&1 &
fi
pids+=($!)
# Up: negotiate answers (401 when it wants a sign-in: up too).
functions_up() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API_BASE/negotiate" 2>/dev/null || true)"
  [ "$code" = 200 ] || { [ "$SIGN_IN" = 1 ] && [ "$code" = 401 ]; }
}

for _ in $(seq 1 600); do
  if ! kill -0 "${pids[0]}" 2>/dev/null; then say "the simulator stopped:"; cat "$SIM_LOG"; exit 1; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then say "the dashboard's server stopped:"; cat "$TRUNK_LOG"; exit 1; fi
  if functions_up \
    && curl -fsS -o /dev/null "http://127.0.0.1:$DASHBOARD_PORT/" 2>/dev/null; then
    URL="http://127.0.0.1:$DASHBOARD_PORT/"
    if [ "$FUNCTIONS_PORT" != 7071 ]; then URL="${URL}?apiBase=$API_BASE"; fi
    cat "$SIM_LOG"
    if [ "$SIGN_IN" = 1 ]; then cat "$TRUNK_LOG"; fi
    echo
    say "dashboard ready — open $URL"
    say "logs: $SIM_LOG, $TRUNK_LOG; Ctrl-C stops everything"
    wait -n "${pids[@]}"
    exit $?
  fi
  sleep 0.5
done
say "timed out waiting for the simulator and the dashboard"; exit 1

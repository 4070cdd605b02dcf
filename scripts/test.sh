#!/usr/bin/env bash
# Runs every test: lints, native tests, in-browser tests (headless Chromium), the release
# build, end-to-end tests against it, and interop with the official SignalR client.
# Installs what is missing first (scripts/bootstrap.sh). Stops at the first failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/bootstrap.sh"
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
started=$SECONDS

step "format"
cargo fmt --all -- --check

step "clippy (native and wasm32)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p dashboard -p signalr --features signalr/web --all-targets --target wasm32-unknown-unknown --locked -- -D warnings
cargo clippy -p telemetry -p jsonread --lib --target wasm32-unknown-unknown --locked -- -D warnings

step "native tests"
cargo test --workspace --locked

step "in-browser tests (wasm-bindgen-test, headless Chromium, against a simulator)"
cargo build -p simulator --locked
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
FN_PORT="$(free_port)"
SVC_PORT="$(free_port)"
./target/debug/simulator --functions-port "$FN_PORT" --vehicles 5 --rate 5 --poll-timeout-ms 2000 \
  --connection-string "Endpoint=http://127.0.0.1:$SVC_PORT;AccessKey=browser-tests-only;Version=1.0;" \
  >target/browser-tests-simulator.log 2>&1 &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:$FN_PORT/api/negotiate" 2>/dev/null && break
  sleep 0.1
done
SIGNALR_TEST_API="http://127.0.0.1:$FN_PORT/api" cargo test -p dashboard --target wasm32-unknown-unknown --locked
kill $SIM_PID 2>/dev/null || true

step "release bundle (trunk build --release)"
trunk build --release --locked

step "end-to-end and interop tests (Node, playwright-core, @microsoft/signalr)"
# A test that hangs fails after five minutes instead of holding the run.
node --test --test-concurrency=1 --test-timeout=300000 tests/e2e/ tests/interop/

step "benchmark suite in quick mode (proves every section still runs; its figures mean nothing)"
# `cargo test` built the store's benchmark (an example) in debug: the quick suite runs it from there.
SIMULATOR_BIN=target/debug/simulator HISTORY_BENCH_BIN=target/debug/examples/history \
  node tests/bench/suite.mjs --quick --out target/bench/BENCHMARKS.md
for section in "Transfer size" "First live datum" "Opening a device with its history" "History store" "Replay" "Decode" "Latency per transport" "Map frame times" "Sustained ingest" "Soak"; do
  grep -q "^### $section" target/bench/BENCHMARKS.md || { echo "benchmark section missing: $section"; exit 1; }
done

step "long reliability run in quick mode (half a minute with cuts and drops: nothing lost, memory flat)"
SIMULATOR_BIN=target/debug/simulator node tests/long/hours-in-minutes.mjs --quick --out target/long-run/quick.md

step "all tests passed in $((SECONDS - started)) s"

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

step "native tests"
cargo test --workspace --locked

step "in-browser tests (wasm-bindgen-test, headless Chromium)"
cargo test -p dashboard --target wasm32-unknown-unknown --locked

step "release bundle (trunk build --release)"
cargo build -p simulator --locked
trunk build --release --locked

step "end-to-end and interop tests (Node, playwright-core, @microsoft/signalr)"
node --test --test-concurrency=1 tests/e2e/ tests/interop/

step "all tests passed in $((SECONDS - started)) s"

#!/usr/bin/env bash
# Sourced by the scripts that measure the release build (bench.sh, long-run.sh): installs what
# is missing, puts the installed tools on PATH, and builds the release simulator and bundle.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh"
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cargo build --release -p simulator --locked
# The history store's own benchmark, which the suite runs as a process of its own (section store).
cargo build --release -p simulator --example history --locked
trunk build --release --locked

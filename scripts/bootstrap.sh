#!/usr/bin/env bash
# Installs everything the dashboard, the simulator and the tests need, idempotently: what is
# already there at the right version is skipped, so a warm run takes seconds.
#
#   Rust target wasm32-unknown-unknown, Trunk, wasm-bindgen CLI (matching Cargo.lock),
#   npm packages (Leaflet, binaryen's wasm-opt, the official SignalR client, playwright-core),
#   a Python virtualenv with signalrcore (a second, independent SignalR client for interop),
#   Debian's Chromium + ChromeDriver.
#
# Used by scripts/run.sh, scripts/test.sh and .ci/run. Safe to source or to run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION="0.21.14"
# The CLI must equal the wasm-bindgen crate pinned in Cargo.toml.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml" | head -n1)"

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

export PATH="$HOME/.cargo/bin:$PATH"

if ! have cargo || ! have rustup; then
  say "cargo/rustup not found: install Rust with rustup first (https://rustup.rs)." >&2
  exit 1
fi

# 1. The wasm target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. Trunk (pinned: 0.22 needs a newer rustc than this machine has).
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION (takes ~10 minutes on 2 cores, once)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

# 3. wasm-bindgen CLI and its test runner (one package). Not --locked: its lock file names
#    a crate version the registry no longer has.
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ] \
  || ! have wasm-bindgen-test-runner; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (takes ~3 minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# 4. npm packages, exactly as package-lock.json says. Re-run only when the lock changed.
if ! have node || ! have npm; then
  say "node and npm are required (Node 20+)." >&2
  exit 1
fi
stamp="$ROOT/node_modules/.bootstrap-lock-sha"
lock_sha="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sha" ]; then
  say "installing npm packages (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sha" >"$stamp"
fi

# 5. A Python virtualenv with the independent SignalR client used by the interop tests.
VENV="$ROOT/.venv-tests"
req_sha="$(sha256sum "$ROOT/tests/interop/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements-sha" 2>/dev/null)" != "$req_sha" ]; then
  say "installing the Python test client (signalrcore) into .venv-tests"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    SUDO_PY=""
    [ "$(id -u)" -ne 0 ] && SUDO_PY="sudo"
    $SUDO_PY env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/tests/interop/requirements.txt"
  echo "$req_sha" >"$VENV/.requirements-sha"
fi

# 6. Chromium and its driver from Debian (no browser download tool works offline).
if ! have chromium || ! have chromedriver; then
  say "installing chromium and chromium-driver from Debian"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then SUDO="sudo"; else
      say "need root (or sudo) to apt-get install chromium chromium-driver" >&2
      exit 1
    fi
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
chromium_major="$(chromium --version 2>/dev/null | grep -o '[0-9]\+' | head -n1)"
driver_major="$(chromedriver --version 2>/dev/null | grep -o '[0-9]\+' | head -n1)"
if [ "$chromium_major" != "$driver_major" ]; then
  say "chromium ($chromium_major) and chromedriver ($driver_major) differ; run: apt-get install --only-upgrade chromium chromium-driver" >&2
  exit 1
fi

say "ready: $(trunk --version), $(wasm-bindgen --version), wasm-opt $("$ROOT/node_modules/.bin/wasm-opt" --version | grep -o 'version [0-9]*'), $(chromium --version 2>/dev/null)"

#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs the pinned test tooling from npm
# (anvil, cast and solc, see package.json) and runs every Rust test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
export PATH="$PWD/node_modules/@foundry-rs/anvil-linux-amd64/bin:$PWD/node_modules/@foundry-rs/cast-linux-amd64/bin:$PATH"

cargo test --workspace --all-features --locked

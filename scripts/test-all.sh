#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs the pinned test tooling from npm
# (anvil, cast, solc and the SARIF multitool, see package.json) and poppler-utils (pdftoppm and
# pdftotext, for the PDF report tests) when missing, and runs every Rust test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ] || [ ! -x node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
export PATH="$PWD/node_modules/@foundry-rs/anvil-linux-amd64/bin:$PWD/node_modules/@foundry-rs/cast-linux-amd64/bin:$PATH"

# The PDF report tests render pages with poppler (Debian package poppler-utils).
if ! command -v pdftoppm >/dev/null || ! command -v pdftotext >/dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get install -y --no-install-recommends poppler-utils \
    || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends poppler-utils; }
fi

# The PostgreSQL tests (audit log store) need a server on 127.0.0.1:5432 with trust auth, or
# SCORPIUS_TEST_POSTGRES_URL. Start the machine's cluster if it is installed but stopped.
if [ -z "${SCORPIUS_TEST_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

# The SDK's and the CLI's remote tests start the server binary this build makes (rather than
# building it again with other features).
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export SCORPIUS_SERVER_BIN="$target_dir/debug/scorpius-server"

cargo test --workspace --all-features --locked

# The server's whole suite once more on PostgreSQL: database `test` on the machine's server,
# a schema of its own per test server (see scorpius-server/tests/it/common.rs). The test binary
# is the one just built; it is run directly so nothing is rebuilt.
export SCORPIUS_TEST_DATABASE_URL="${SCORPIUS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
server_it=$(cargo test --workspace --all-features --locked --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "it" \
            and "scorpius-server" in m["package_id"] and m.get("executable"):
        print(m["executable"])')
echo "server suite on PostgreSQL ($SCORPIUS_TEST_DATABASE_URL): $server_it"
(cd scorpius-server && CARGO_MANIFEST_DIR="$PWD" "$server_it")

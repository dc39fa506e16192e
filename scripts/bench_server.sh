#!/usr/bin/env bash
# Throughput of scorpius-server with the load example (scorpius-server/examples/load.rs):
# 32 clients for 10 s on POST /v1/scan/transaction, then GET /health/ready; SQLite, then
# PostgreSQL on 127.0.0.1:5432 (a database of its own, dropped after). Port 18080.
# BIN_DIR=dir runs the scorpius-server and load binaries found there instead of building (a
# baseline build, to compare in the same session); BACKENDS="sqlite" runs one backend.
set -u
cd "$(dirname "$0")/.."
if [ -n "${BIN_DIR:-}" ]; then
  BIN=$BIN_DIR/scorpius-server LOAD=$BIN_DIR/load
else
  cargo build --release -q -p scorpius-server --bin scorpius-server --example load
  BIN=${CARGO_TARGET_DIR:-target}/release/scorpius-server
  LOAD=${CARGO_TARGET_DIR:-target}/release/examples/load
fi
export SCORPIUS_RATE_LIMIT_PER_SECOND=1000000 SCORPIUS_RATE_LIMIT_BURST=1000000 SCORPIUS_LOG=warn
for backend in ${BACKENDS:-sqlite postgres}; do
  D=$(mktemp -d)
  ARGS=(--data-dir "$D")
  if [ $backend = postgres ]; then
    DB=scorpius_server_perf_$$
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
    ARGS+=(--database-url "postgres://postgres@127.0.0.1:5432/$DB")
  fi
  KEY=$($BIN "${ARGS[@]}" admin create-key --role security --tenant perf 2>/dev/null)
  $BIN "${ARGS[@]}" --bind 127.0.0.1:18080 2>/tmp/server-perf-$backend.log &
  PID=$!
  for i in $(seq 50); do curl -sf http://127.0.0.1:18080/health/ready >/dev/null && break; sleep 0.2; done
  echo "== $backend"
  $LOAD http://127.0.0.1:18080 "$KEY" 32 10
  kill -TERM $PID; wait $PID
  if [ $backend = postgres ]; then psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $DB WITH (FORCE)"; fi
  rm -rf "$D"
done

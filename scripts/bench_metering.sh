#!/usr/bin/env bash
# Metering's cost on POST /v1/scan/transaction at a fixed 1,000 requests/s (issue 9), and a
# month of usage with 1,000,000 events. Release builds; the server on SQLite, then on
# PostgreSQL (127.0.0.1:5432, a database of its own, dropped after); each configuration
# alternately ROUNDS times (default 3) for 10 s. Port 18081. USAGE=0 skips the 1,000,000-event
# month query; SCORPIUS_BLOCKING_THREADS sets the server's blocking pool.
# BIN_DIR=dir runs the scorpius-server and rate_load binaries found there instead of building
# (a baseline build; USAGE=0 is then implied).
set -u
cd "$(dirname "$0")/.."
if [ -n "${BIN_DIR:-}" ]; then
  SERVER=$BIN_DIR/scorpius-server RATE_LOAD=$BIN_DIR/rate_load USAGE=0
else
  cargo build --release -q -p scorpius-server --bin scorpius-server --example rate_load --example usage_bench
  T=${CARGO_TARGET_DIR:-target}/release
  SERVER=$T/scorpius-server RATE_LOAD=$T/examples/rate_load
fi
ROUNDS=${ROUNDS:-3}
BACKENDS=${BACKENDS:-sqlite postgres}
export SCORPIUS_RATE_LIMIT_PER_SECOND=1000000 SCORPIUS_RATE_LIMIT_BURST=1000000 SCORPIUS_LOG=warn
CONF=$(mktemp -d)
printf '[metering]\nenabled = false\n' >"$CONF/off.toml"
# On: a plan with a quota on the measured meter, so every request takes the conditional path.
printf '[metering]\nenabled = true\ndefault_plan = "p"\n[metering.plans.p]\nquotas = { "scan.transaction" = 100000000 }\n' >"$CONF/on.toml"
for backend in $BACKENDS; do
  for round in $(seq "$ROUNDS"); do
    for mode in off on; do
      D=$(mktemp -d)
      ARGS=(--data-dir "$D" --config "$CONF/$mode.toml")
      if [ "$backend" = postgres ]; then
        DB=scorpius_metering_perf_$$
        psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
        ARGS+=(--database-url "postgres://postgres@127.0.0.1:5432/$DB")
      fi
      KEY=$($SERVER "${ARGS[@]}" admin create-key --role security --tenant perf 2>/dev/null)
      $SERVER "${ARGS[@]}" --bind 127.0.0.1:18081 2>/tmp/metering-perf.log &
      PID=$!
      for i in $(seq 50); do curl -sf http://127.0.0.1:18081/health/ready >/dev/null && break; sleep 0.2; done
      # warm-up, then the measurement
      $RATE_LOAD http://127.0.0.1:18081 "$KEY" 500 2 >/dev/null
      echo "== $backend metering=$mode round $round: $($RATE_LOAD http://127.0.0.1:18081 "$KEY" 1000 10)"
      kill -TERM $PID; wait $PID
      if [ "$backend" = postgres ]; then psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $DB WITH (FORCE)"; fi
      rm -rf "$D"
    done
  done
done
rm -rf "$CONF"
echo "== a month of usage, 1,000,000 events (SQLite)"
[ "${USAGE:-1}" = 1 ] && $T/examples/usage_bench 1000000
# On PostgreSQL loading a million events row by row takes minutes: opt in with USAGE_PG=1.
if [ "${USAGE_PG:-0}" = 1 ]; then
  DB=scorpius_usage_perf_$$
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
  echo "== a month of usage, 1,000,000 events (PostgreSQL)"
  $T/examples/usage_bench 1000000 "postgres://postgres@127.0.0.1:5432/$DB"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $DB WITH (FORCE)"
fi

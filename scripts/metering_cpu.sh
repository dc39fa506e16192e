#!/usr/bin/env bash
# Where metering's cost goes (issue 9): CPU seconds of each scorpius-server thread and, on
# PostgreSQL, of each of its backends during 10 s of open-loop 1,000 requests/s of
# POST /v1/scan/transaction, metering off and then on (a plan with a quota on the measured
# meter), read from /proc/<pid>/stat before and after. BACKEND=postgres (the default) needs a
# local PostgreSQL on 127.0.0.1:5432 (trust auth) and psql; BACKEND=sqlite runs on the
# embedded store. Port 18082. BIN_DIR=dir runs the scorpius-server and rate_load binaries
# found there instead of building.
set -eu
cd "$(dirname "$0")/.."
if [ -n "${BIN_DIR:-}" ]; then
  SERVER=$BIN_DIR/scorpius-server RATE_LOAD=$BIN_DIR/rate_load
else
  cargo build --release -q -p scorpius-server --bin scorpius-server --example rate_load
  T=${CARGO_TARGET_DIR:-target}/release
  SERVER=$T/scorpius-server RATE_LOAD=$T/examples/rate_load
fi
export SCORPIUS_RATE_LIMIT_PER_SECOND=1000000 SCORPIUS_RATE_LIMIT_BURST=1000000 SCORPIUS_LOG=warn
CONF=$(mktemp -d)
trap 'rm -rf "$CONF"' EXIT
printf '[metering]\nenabled = false\n' >"$CONF/off.toml"
printf '[metering]\nenabled = true\ndefault_plan = "p"\n[metering.plans.p]\nquotas = { "scan.transaction" = 100000000 }\n' >"$CONF/on.toml"
PSQL=(psql -h 127.0.0.1 -U postgres -qAt)
BACKEND=${BACKEND:-postgres}
for mode in off on; do
  D=$(mktemp -d) DB=scorpius_metering_cpu_$$
  ARGS=(--data-dir "$D" --config "$CONF/$mode.toml")
  if [ "$BACKEND" = postgres ]; then
    "${PSQL[@]}" -c "CREATE DATABASE $DB"
    ARGS+=(--database-url "postgres://postgres@127.0.0.1:5432/$DB")
  fi
  KEY=$($SERVER "${ARGS[@]}" admin create-key --role security --tenant perf 2>/dev/null)
  $SERVER "${ARGS[@]}" --bind 127.0.0.1:18082 2>/dev/null &
  PID=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:18082/health/ready >/dev/null && break; sleep 0.2; done
  $RATE_LOAD http://127.0.0.1:18082 "$KEY" 500 2 >/dev/null
  # name ticks, for each server thread (by name) and each backend (by its last statement)
  snap() {
    for t in /proc/$PID/task/*; do echo "server:$(cat "$t/comm") $(awk '{print $14+$15}' "$t/stat")"; done
    [ "$BACKEND" = postgres ] || return 0
    "${PSQL[@]}" -F ' ' -c "SELECT pid, left(regexp_replace(query, '\\s+', ' ', 'g'), 30) FROM pg_stat_activity WHERE datname = '$DB'" |
      while read -r pid query; do echo "postgres:${query// /_} $(awk '{print $14+$15}' "/proc/$pid/stat")"; done
  }
  snap >"$D/before"
  echo "== metering=$mode: $($RATE_LOAD http://127.0.0.1:18082 "$KEY" 1000 10)"
  snap >"$D/after"
  kill -TERM $PID
  wait $PID || true
  if [ "$BACKEND" = postgres ]; then "${PSQL[@]}" -c "DROP DATABASE $DB WITH (FORCE)"; fi
  # CPU seconds per name (tokio workers summed), largest first
  awk -v hz="$(getconf CLK_TCK)" '
    FNR == NR { before[$1] += $2; next }
    { n = $1; sub(/^server:tokio-rt-worker$/, "server:tokio-workers", n); delta[n] += $2 - before[$1]; before[$1] = 0 }
    END { for (n in delta) if (delta[n] > 0) { printf "%7.2f s  %s\n", delta[n] / hz, n; total += delta[n] } printf "%7.2f s  total\n", total / hz }
  ' "$D/before" "$D/after" | sort -rn
  rm -rf "$D"
done

#!/usr/bin/env bash
# A GROUP BY over 100k keys beside live ingest: starts a release `sluice serve` in a
# temporary data directory, paces `sluice bench` rows into `bench_0`, creates the CTAS
# from earliest two seconds in, prints the query's lag (from /metrics) each second, and
# how long it took to drain after ingest ended. Numbers: benches/README.md, "GROUP BY".
#
#   cargo build --release --bin sluice
#   benches/live_group_by.sh [RATE rows/s, default 100000] [ROWS, default 15 s of RATE] [PORT]
#
# SLUICE_SERVE_ARGS adds arguments to `sluice serve`, e.g. the Kafka backend:
#   SLUICE_SERVE_ARGS="--log kafka --kafka-bootstrap 127.0.0.1:PORT" benches/live_group_by.sh
set -euo pipefail
RATE=${1:-100000}
ROWS=${2:-$((RATE * 15))}
PORT=${3:-18931}
EXE=${SLUICE_EXE:-$(dirname "$0")/../target/release/sluice}
DATA=$(mktemp -d)
LOG=$(mktemp)
# shellcheck disable=SC2086 # SLUICE_SERVE_ARGS is a list of arguments
"$EXE" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" ${SLUICE_SERVE_ARGS:-} > "$LOG.server" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA" "$LOG" "$LOG.server"' EXIT
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$PORT/info" > /dev/null && break
  sleep 0.5
done
"$EXE" bench --addr "127.0.0.1:$PORT" --server-pid "$SERVER" --rate "$RATE" --rows "$ROWS" \
  --queries 0 > "$LOG" 2>&1 &
BENCH=$!
sleep 2
curl -s -X POST "http://127.0.0.1:$PORT/ksql" -H 'content-type: application/json' -d \
  '{"ksql":"CREATE TABLE AGG AS SELECT ID % 100000 AS K, COUNT(*) AS N, SUM(ID) AS S FROM BENCH_0 GROUP BY ID % 100000 EMIT CHANGES;","streamsProperties":{"auto.offset.reset":"earliest"}}' \
  | grep -q SUCCESS || { echo "CTAS failed" >&2; exit 1; }
lag() {
  curl -s "http://127.0.0.1:$PORT/metrics" \
    | awk '/^sluice_persistent_query_lag_records/ {s += $NF} END {print s + 0}'
}
max=0
for t in $(seq 1 600); do
  sleep 1
  now=$(lag)
  (( now > max )) && max=$now
  echo "t=${t}s lag=${now}"
  kill -0 "$BENCH" 2>/dev/null || break
done
wait "$BENCH"
for drain in $(seq 1 60); do
  [ "$(lag)" = "0" ] && break
  sleep 1
done
echo "drained ${drain}s after ingest ended; largest lag seen ${max} records"
curl -s "http://127.0.0.1:$PORT/metrics" | awk '
  /^sluice_state_commit_latency_seconds_sum/ {s = $NF}
  /^sluice_state_commit_latency_seconds_count/ {n = $NF}
  END {if (n > 0) printf "state commits: %d, mean %.1f ms\n", n, 1000 * s / n}'

grep -E "^(ingest|server)" "$LOG"

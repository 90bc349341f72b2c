#!/usr/bin/env bash
# Replays ksqlDB's QTT and RQTT cases against `sluice serve --log kafka` on a real broker
# (scripts/kafka/broker.sh, started here and stopped on exit), and reports each suite's pass
# count against the embedded backend's baselines (conformance/baseline-*.txt).
#
#   scripts/kafka/conformance.sh            check against the embedded baselines
#
# Not a CI step: every DDL statement on Kafka takes the command topic's writer turn (a new
# transactional producer, init_transactions) and creates real topics, so a full run takes
# far longer than the embedded one. Run it by hand after changing the Kafka backend.
# Environment: SLUICE_CONFORMANCE_DIR (cases, default ../shared/conformance), SLUICE_BIN
# (a sluice binary to use instead of building target/debug/sluice).
set -euo pipefail
cd "$(dirname "$0")/../.."

cases_root="${SLUICE_CONFORMANCE_DIR:-../shared/conformance}"
if [[ ! -d "$cases_root/qtt/cases" && ! -d "$cases_root/rqtt/cases" ]]; then
    echo "conformance on Kafka: no cases under $cases_root; skipping"
    exit 0
fi

bin="${SLUICE_BIN:-}"
if [[ -z "$bin" ]]; then
    cargo build --locked --quiet --bin sluice
    bin=target/debug/sluice
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    # Stop only what this script started: its server, then its broker.
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    scripts/kafka/broker.sh stop --dir "$work/kafka" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

bootstrap="$(scripts/kafka/broker.sh start --dir "$work/kafka" --port 0 --owner-pid $$ \
    | sed -n 's/^bootstrap=//p')"
[[ -n "$bootstrap" ]] || { echo "conformance on Kafka: no broker" >&2; exit 1; }

"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --log kafka \
    --kafka-bootstrap "$bootstrap" --service-id conformance_ --kafka-config linger.ms=1 \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

url=""
for _ in $(seq 1 600); do
    url="$(sed -n 's/^sluice listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/server.out" | head -n1)"
    [[ -n "$url" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "conformance on Kafka: the server exited early:" >&2
        cat "$work/server.err" >&2
        exit 1
    fi
    sleep 0.1
done
[[ -n "$url" ]] || { echo "conformance on Kafka: the server did not print its address" >&2; exit 1; }

status=0
for suite in qtt rqtt; do
    dir="$cases_root/$suite/cases"
    [[ -d "$dir" ]] || continue
    printf '\n==> conformance on Kafka: %s (%s)\n' "$suite" "$dir"
    if ! "$bin" conformance --server "$url" --baseline "conformance/baseline-$suite.txt" "$dir" \
        >"$work/$suite.txt"; then
        status=1
    fi
    grep -v '^PASS \|^SKIP ' "$work/$suite.txt" | tail -n 80 || true
done
exit "$status"

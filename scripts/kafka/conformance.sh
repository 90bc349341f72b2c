#!/usr/bin/env bash
# Replays ksqlDB's QTT and RQTT cases against `sluice serve --log kafka` on a real broker
# (scripts/kafka/broker.sh, started here and stopped on exit), and fails when a case listed
# in the Kafka backend's own baselines (conformance/baseline-kafka-*.txt) stops passing.
#
#   scripts/kafka/conformance.sh                  every case, against the Kafka baselines
#   scripts/kafka/conformance.sh --every N        every Nth case only (CI: a fixed sample)
#   scripts/kafka/conformance.sh --write-baseline regenerate the Kafka baselines (all cases)
#
# The Kafka baselines hold the embedded baselines' cases less those that cannot pass on
# Kafka (docs/kafka-conformance.md says which and why); a case in an embedded baseline
# but not here is a Kafka gap, not a regression. A full run takes ~8 minutes on 2 cores
# (every DDL statement is a command topic transaction, every case creates and deletes
# real topics); CI runs a quarter of the cases.
# Environment: SLUICE_CONFORMANCE_DIR (cases, default ../shared/conformance), SLUICE_BIN
# (a sluice binary to use instead of building target/debug/sluice).
set -euo pipefail
cd "$(dirname "$0")/../.."

mode="--baseline"
every=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --write-baseline) mode="--write-baseline" ;;
        --every)
            [[ $# -ge 2 ]] || { echo "conformance on Kafka: --every needs a number" >&2; exit 2; }
            every=(--every "$2")
            shift
            ;;
        *) echo "conformance on Kafka: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [[ "$mode" == "--write-baseline" && ${#every[@]} -gt 0 ]]; then
    echo "conformance on Kafka: --write-baseline runs every case; drop --every" >&2
    exit 2
fi

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

# As the Kafka tests do (tests/support/kafka.rs): a machine that cannot run the broker (no
# Java, no jars) skips loudly, except under CI, where that is a failure.
bootstrap="$(scripts/kafka/broker.sh start --dir "$work/kafka" --port 0 --owner-pid $$ \
    | sed -n 's/^bootstrap=//p')" || true
if [[ -z "$bootstrap" ]]; then
    if [[ -n "${CI:-}" ]]; then
        echo "conformance on Kafka: CI must run it, but no Kafka broker could be started" >&2
        exit 1
    fi
    echo "!!!!! SKIPPING conformance on Kafka: no real Kafka broker on this machine." \
        "Install Java 17 and Maven and run scripts/kafka/broker.sh fetch. !!!!!" >&2
    exit 0
fi

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
    if ! "$bin" conformance --server "$url" "$mode" "conformance/baseline-kafka-$suite.txt" \
        ${every[@]+"${every[@]}"} "$dir" >"$work/$suite.txt"; then
        status=1
    fi
    grep -v '^PASS \|^SKIP ' "$work/$suite.txt" | tail -n 80 || true
done
exit "$status"

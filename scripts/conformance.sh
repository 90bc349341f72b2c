#!/usr/bin/env bash
# Replays ksqlDB's QTT and RQTT cases against a freshly started `sluice serve` and fails when
# a case listed in conformance/baseline-*.txt stops passing.
#
#   scripts/conformance.sh                  check against the baselines
#   scripts/conformance.sh --write-baseline regenerate the baselines from this run
#
# The cases live in ../shared/conformance (beside the repository clone in CI); override with
# SLUICE_CONFORMANCE_DIR. Missing case directories skip the step rather than fail it.
set -euo pipefail
cd "$(dirname "$0")/.."

cases_root="${SLUICE_CONFORMANCE_DIR:-../shared/conformance}"
mode="--baseline"
if [[ "${1:-}" == "--write-baseline" ]]; then
    mode="--write-baseline"
fi

if [[ ! -d "$cases_root/qtt/cases" && ! -d "$cases_root/rqtt/cases" ]]; then
    echo "conformance: no cases under $cases_root; skipping"
    exit 0
fi

cargo build --locked --quiet --bin sluice
bin=target/debug/sluice

work="$(mktemp -d)"
server_pid=""
cleanup() {
    # Stop only the server this script started.
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Port 0: the server picks a free port and prints it.
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

url=""
for _ in $(seq 1 200); do
    url="$(sed -n 's/^sluice listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/server.out" | head -n1)"
    [[ -n "$url" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "conformance: the server exited early:" >&2
        cat "$work/server.err" >&2
        exit 1
    fi
    sleep 0.05
done
if [[ -z "$url" ]]; then
    echo "conformance: the server did not print its address" >&2
    exit 1
fi

status=0
for suite in qtt rqtt; do
    dir="$cases_root/$suite/cases"
    [[ -d "$dir" ]] || continue
    printf '\n==> conformance %s (%s)\n' "$suite" "$dir"
    if ! "$bin" conformance --server "$url" "$mode" "conformance/baseline-$suite.txt" "$dir" \
        >"$work/$suite.txt"; then
        status=1
    fi
    # The per-case lines are long; CI logs keep the failures and the summary.
    grep -v '^PASS \|^SKIP ' "$work/$suite.txt" | tail -n 80 || true
done
exit "$status"

#!/usr/bin/env bash
# Proves the test broker is a working Kafka, with a real client (confluent-kafka, which is
# librdkafka, the library under the rdkafka crate):
#   - 1 broker: topic defaults (RF, min.insync.replicas, auto-create off), produce with
#     acks=all and idempotence, a two-member consumer group with committed offsets,
#     transactions (aborted records invisible under read_committed), offsets committed
#     inside a transaction;
#   - 3 brokers: the same, then one broker SIGKILLed mid-produce with acks=all: every acked
#     record is read back, none twice; the broker is restarted and rejoins every ISR.
# Starts each broker/cluster in a temp dir and stops it again, also on failure.
#
#   scripts/kafka/smoke.sh [--brokers 1|3]     (default: both, one after the other)
set -euo pipefail

# confluent-kafka bundles librdkafka in its wheel: nothing else to install. Pinned so the
# smoke test means the same thing on every machine.
readonly CONFLUENT_KAFKA_VERSION="2.16.1"
# Upper bound for one run of smoke.py (typically 10-40 s); the tests in it bound each wait too.
readonly SMOKE_TIMEOUT_S=600

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly BROKER_SH="$HERE/broker.sh"
readonly CACHE_ROOT="${SLUICE_KAFKA_HOME:-$HOME/.cache/sluice-kafka}"
readonly VENV="$CACHE_ROOT/smoke-venv-confluent-kafka-$CONFLUENT_KAFKA_VERSION"

say() { printf 'smoke.sh: %s\n' "$*" >&2; }

case "${1:-}" in
  "") SIZES=(1 3) ;;
  --brokers)
    [[ "${2:-}" == 1 || "${2:-}" == 3 ]] || { say "--brokers must be 1 or 3"; exit 2; }
    SIZES=("$2")
    ;;
  *) say "usage: smoke.sh [--brokers 1|3]"; exit 2 ;;
esac

if ! "$VENV/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
  say "installing confluent-kafka $CONFLUENT_KAFKA_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "confluent-kafka==$CONFLUENT_KAFKA_VERSION"
fi

"$BROKER_SH" fetch

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka-smoke.XXXXXX")"
CURRENT=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [[ -n "$CURRENT" ]]; then "$BROKER_SH" stop --dir "$CURRENT" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

status=0
for brokers in "${SIZES[@]}"; do
  CURRENT="$WORK/cluster-$brokers"
  started=$(date +%s%3N)
  # --owner-pid: should this script be killed outright, the brokers still stop.
  bootstrap="$("$BROKER_SH" start --dir "$CURRENT" --brokers "$brokers" --port 0 --owner-pid $$)"
  bootstrap="${bootstrap#bootstrap=}"
  say "$brokers broker(s) at $bootstrap, ready in $(($(date +%s%3N) - started)) ms"
  for pidfile in "$CURRENT"/broker-*/pid; do
    say "$(basename "$(dirname "$pidfile")") RSS after start: $(($(awk '/^VmRSS/{print $2}' "/proc/$(cat "$pidfile")/status") / 1024)) MiB"
  done
  timeout "$SMOKE_TIMEOUT_S" "$VENV/bin/python" "$HERE/smoke.py" --bootstrap "$bootstrap" \
    --brokers "$brokers" --broker-sh "$BROKER_SH" --dir "$CURRENT" || status=1
  for pidfile in "$CURRENT"/broker-*/pid; do
    [[ -f "$pidfile" ]] || continue
    rss_kb="$(awk '/^VmRSS/{print $2}' "/proc/$(cat "$pidfile")/status" 2>/dev/null || echo 0)"
    say "$(basename "$(dirname "$pidfile")") RSS after the checks: $((rss_kb / 1024)) MiB"
  done
  stop_started=$(date +%s%3N)
  "$BROKER_SH" stop --dir "$CURRENT"
  say "stopped in $(($(date +%s%3N) - stop_started)) ms"
  CURRENT=""
done
exit "$status"

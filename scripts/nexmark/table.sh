#!/usr/bin/env bash
# Runs every Nexmark query Sluice supports with `sluice nexmark --spawn` (release build) and
# prints the two tables of benches/README.md's Nexmark section: flat out, then paced.
#
#   scripts/nexmark/table.sh [EVENTS_FLAT_OUT [EVENTS_PACED [RATE]]]
#
# Defaults: 2,000,000 events flat out, 1,000,000 paced at 100,000 events/s. Each run spawns
# its own server in a temporary directory; the JSON reports are kept in $OUT (a temp dir).
set -euo pipefail
cd "$(dirname "$0")/../.."

EVENTS="${1:-2000000}"
EVENTS_PACED="${2:-1000000}"
RATE="${3:-100000}"
FLAT_QUERIES="q0 q1 q2 q3 q4 q8 q11 q13 q14 q15 q16 q17 q20 q21 q22"
PACED_QUERIES="q0 q1 q2 q3 q14 q17"
OUT="$(mktemp -d -t sluice-nexmark-XXXXXX)"

cargo build --release --bin sluice --quiet
for q in $FLAT_QUERIES; do
  ./target/release/sluice nexmark --spawn --query "$q" --events "$EVENTS" --window 65536 \
    --json >"$OUT/flat-$q.json"
done
for q in $PACED_QUERIES; do
  ./target/release/sluice nexmark --spawn --query "$q" --events "$EVENTS_PACED" \
    --rate "$RATE" --window 65536 --json >"$OUT/paced-$q.json"
done

python3 - "$OUT" $FLAT_QUERIES -- $PACED_QUERIES <<'PY'
import json, sys
out, rest = sys.argv[1], sys.argv[2:]
split = rest.index("--")
flat, paced = rest[:split], rest[split + 1:]
load = lambda name: json.load(open(f"{out}/{name}.json"))
k = lambda x: f"{x / 1000:.0f}k"
print("| query | sustained events/s | ingest events/s | server CPU µs/event | generator CPU µs/event | server peak RSS |")
print("|---|---|---|---|---|---|")
for q in flat:
    r = load(f"flat-{q}")
    print(f"| {q} {r['about']} | {k(r['sustained_events_per_s'])} | {k(r['ingest_events_per_s'])} "
          f"| {r['server_cpu_us_per_event']:.2f} | {r['client_cpu_us_per_event']:.2f} "
          f"| {r['server_rss_peak_bytes'] >> 20} MiB |")
print()
print("| query | e2e p50 | e2e p99 | sink rows | server CPU µs/event | sustained events/s |")
print("|---|---|---|---|---|---|")
for q in paced:
    r = load(f"paced-{q}")
    l = r["e2e_latency"] or {}
    ms = lambda us: f"{us / 1000:.1f} ms" if us is not None else "–"
    print(f"| {q} | {ms(l.get('p50_us'))} | {ms(l.get('p99_us'))} | {r['sink_rows']:,} "
          f"| {r['server_cpu_us_per_event']:.1f} | {k(r['sustained_events_per_s'])} |")
PY
echo "reports: $OUT" >&2

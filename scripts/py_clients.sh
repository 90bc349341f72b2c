#!/usr/bin/env bash
# The faces' real Python client libraries, run unmodified against a real server.
#
#   scripts/py_clients.sh install   create .venv-clients and pip-install clients/requirements.txt,
#                                   and .venv-ksqldb-clients with clients/ksqldb-requirements.txt
#   scripts/py_clients.sh run       start target/debug/sluice (built by check.sh) and run each
#                                   client script against it; exit non-zero on any failure
#
# DeltaStream's client runs twice: against a server that answers statements at once (200)
# and one whose --statement-wait-ms 0 makes every statement asynchronous (202, polling);
# Foundry's SDK runs against the first. The third-party ksqlDB clients (PyPI's `ksqldb` and
# `ksql-python-ng`) run against a server without auth, as most ksqlDB users run it (the
# `ksqldb` package cannot send credentials); they pin an older httpx than the faces'
# clients, so they have a venv of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-clients
KSQLDB_VENV=.venv-ksqldb-clients
SLUICE=target/debug/sluice

# Creates venv $1 (if missing) and pip-installs requirements file $2 into it.
venv_with() {
  local venv=$1
  if [ ! -x "$venv/bin/python" ]; then
    # Debian's python3 needs python3-venv for ensurepip.
    if ! python3 -m venv "$venv" 2>/dev/null; then
      rm -rf "$venv"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    fi
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$2"
}

install() {
  venv_with "$VENV" scripts/clients/requirements.txt
  venv_with "$KSQLDB_VENV" scripts/clients/ksqldb-requirements.txt
}

# Starts `sluice serve` over $1/data with extra flags; sets PID and URL.
start_server() {
  local dir=$1
  shift
  # Emptied here, not by the child's redirection: the child may not have run yet when the
  # loop below first reads the file, and it must not find the previous server's address.
  : >"$dir/stdout"
  "$SLUICE" serve --listen 127.0.0.1:0 --data-dir "$dir/data" "$@" \
    >>"$dir/stdout" 2>"$dir/stderr" &
  PID=$!
  URL=""
  for _ in $(seq 1 200); do
    URL=$(sed -n 's/^sluice listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$dir/stdout")
    [ -n "$URL" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "py_clients.sh: sluice did not start; its stderr:" >&2
  cat "$dir/stderr" >&2
  return 1
}

run() {
  for venv in "$VENV" "$KSQLDB_VENV"; do
    if [ ! -x "$venv/bin/python" ]; then
      echo "py_clients.sh: $venv is missing; run scripts/py_clients.sh install (scripts/setup.sh does)" >&2
      exit 1
    fi
  done
  cargo build --bin sluice --locked --quiet
  WORK=$(mktemp -d)
  local work=$WORK
  PID=""
  trap 'if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT
  printf 'ci: ci-token-1\n' >"$work/tokens"
  printf 'fred: letmein\n' >"$work/users"
  for wait_ms in 1000 0; do
    rm -rf "$work/data"
    start_server "$work" --auth-basic-file "$work/users" --auth-tokens-file "$work/tokens" \
      --foundry-functions scripts/clients/foundry_functions.json --statement-wait-ms "$wait_ms"
    timeout 120 "$VENV/bin/python" scripts/clients/deltastream_client.py "$URL" ci-token-1 fred:letmein
    # Both waits: executeAsync answers `completed` with one, `submitted` (then polled)
    # with none.
    timeout 120 "$VENV/bin/python" scripts/clients/foundry_client.py "${URL#http://}" ci-token-1 fred:letmein
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
  done
  rm -rf "$work/data"
  start_server "$work"
  timeout 120 "$KSQLDB_VENV/bin/python" scripts/clients/ksqldb_clients.py "$URL"
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=""
}

case "${1:-}" in
  install) install ;;
  run) run ;;
  *) echo "usage: $0 install|run" >&2; exit 2 ;;
esac

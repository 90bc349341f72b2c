#!/usr/bin/env bash
# Installs what the tests need that a fresh machine of ours (Rust toolchain, gcc, python3,
# node, Java 17 and Maven) may lack, and does nothing for what is already there, so
# `scripts/check.sh` runs it first and works as written on a fresh clone. CI (`.ci/run`)
# runs exactly that. Installing Debian packages needs root, as on CI.
set -euo pipefail
cd "$(dirname "$0")/.."

# rustfmt and clippy ship with the toolchain here; add them if a bare toolchain lacks them.
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

# The web console's end-to-end test drives Debian's Chromium with playwright-core (never
# Playwright's own browser downloads).
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
(cd tests/console && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)

# The Kafka backend's tests run a real Apache Kafka broker (scripts/kafka/broker.sh; each
# test starts its own). Its jars come from Maven Central through Maven and need a JDK 17+;
# fetch them now, into a cache a warm machine reuses in milliseconds, so a missing tool or an
# unreachable registry fails here under its own name rather than inside a test.
printf '\n==> Kafka test broker (scripts/kafka/broker.sh fetch)\n'
if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  if ! { apt-get update -qq && apt-get install -y -qq maven openjdk-17-jdk-headless >/dev/null; }; then
    echo ".ci/run: FAILED: installing Maven and a JDK 17 for the Kafka test broker (apt-get)" >&2
    exit 1
  fi
fi
if ! scripts/kafka/broker.sh fetch; then
  echo ".ci/run: FAILED: fetching the Kafka test broker (scripts/kafka/broker.sh fetch; its error is above)" >&2
  exit 1
fi


# The faces' real Python client libraries (deltastream-connector, foundry-platform-sdk),
# pinned in scripts/clients/requirements.txt, in a venv of their own (.venv-clients), and
# the third-party ksqlDB clients (ksqldb, ksql-python-ng) in scripts/clients/
# ksqldb-requirements.txt (.venv-ksqldb-clients).
printf '\n==> Python client libraries (scripts/py_clients.sh install)\n'
if ! scripts/py_clients.sh install; then
  echo "setup: FAILED: installing the Python client libraries (pip; its error is above)" >&2
  exit 1
fi

# The gate's short fuzz run (scripts/fuzz.sh) needs cargo-fuzz on a nightly toolchain. A
# machine with a nightly but no cargo-fuzz gets it from the crates registry (a few minutes'
# build, once); without a nightly, fuzz.sh says loudly that it skips.
if cargo +nightly --version >/dev/null 2>&1 && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  printf '\n==> cargo-fuzz (cargo install --locked cargo-fuzz)\n'
  if ! cargo install --locked --quiet cargo-fuzz; then
    echo "setup: FAILED: installing cargo-fuzz (cargo install; its error is above)" >&2
    exit 1
  fi
fi

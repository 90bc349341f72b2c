#!/usr/bin/env bash
# The one gate, run the same way by developers and CI: formatting, layering, lints (which
# type-check the benches), tests, docs, a short fuzz run and conformance. Exits non-zero
# on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup (install what the tests need; nothing when it is there)"
scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all --check

step "layering (no import cycles; only the engine facade above the engine)"
python3 scripts/check_layers.py

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "node end to end: the web console (headless Chromium), protobufjs reading PROTOBUF rows and npm's ksqldb-client (.ci/run installs chromium and npm ci)"
cargo build --bin sluice --locked --quiet
(cd tests/console && npm test)

step "real Python clients against the faces, and third-party ksqlDB clients (scripts/py_clients.sh; setup.sh installs them)"
scripts/py_clients.sh run

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

# The benches are type-checked by clippy's --all-targets above; building them in the
# bench (release) profile here took CI minutes for no further check.

step "fuzz (120 s shared by every target; skipped without nightly and cargo-fuzz)"
scripts/fuzz.sh --total 120

step "conformance (QTT + RQTT against the baselines)"
scripts/conformance.sh

step "conformance on Kafka (every 4th case, on a real broker, against the Kafka baselines)"
scripts/kafka/conformance.sh --every 4

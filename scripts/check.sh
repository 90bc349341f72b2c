#!/usr/bin/env bash
# The one gate, run the same way by developers and CI: formatting, lints, tests, docs,
# and benches compile. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "layering (no import cycles; only the engine facade above the engine)"
python3 scripts/check_layers.py

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "web console end to end (headless Chromium; .ci/run installs chromium and npm ci)"
cargo build --bin sluice --locked --quiet
(cd tests/console && npm test)

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "benches compile"
cargo bench --workspace --no-run --locked --quiet

step "fuzz (120 s shared by every target; skipped without nightly and cargo-fuzz)"
scripts/fuzz.sh --total 120

step "conformance (QTT + RQTT against the baselines)"
scripts/conformance.sh

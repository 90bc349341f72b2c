#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for a bounded time, one after another, from the
# seed corpus checked in under fuzz/corpus/<target>/; fails if any target crashes, hangs or
# runs out of memory. See fuzz/README.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]    default 60
#   scripts/fuzz.sh --total SECONDS         the budget shared evenly by every target
#
# Needs a nightly toolchain (`cargo +nightly`) and cargo-fuzz, which this project's machines
# have. A machine that lacks either prints a loud SKIP and exits 0 rather than failing the
# gate: installing a toolchain needs a download these machines may not be allowed.
#
# Environment: SLUICE_FUZZ_TARGETS (space-separated subset), SLUICE_FUZZ_SANITIZER
# (default none: the code under test is safe Rust, and without ASan a target runs about
# twice as many inputs), SLUICE_FUZZ_CODEGEN_UNITS (default 16: builds in about half the
# time of cargo-fuzz's default of 1, for a few percent fewer inputs per second).
set -euo pipefail
cd "$(dirname "$0")/.."

total_seconds=""
if [ "${1:-}" = "--total" ]; then
    total_seconds="${2:?--total needs a number of seconds}"
else
    seconds="${1:-60}"
fi
sanitizer="${SLUICE_FUZZ_SANITIZER:-none}"
build_flags=(--fuzz-dir fuzz --sanitizer "$sanitizer" --codegen-units "${SLUICE_FUZZ_CODEGEN_UNITS:-16}")
# An input that takes longer than this is reported as a hang: every decoder is linear, and
# the largest fuzz inputs take milliseconds.
input_timeout_seconds=10

warn() {
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
    printf '!!! fuzz: %s\n' "$*" >&2
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
}

if ! cargo +nightly --version >/dev/null 2>&1; then
    warn "SKIP: no nightly toolchain (cargo +nightly): NOT FUZZING"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    warn "SKIP: cargo-fuzz is not installed (cargo install cargo-fuzz): NOT FUZZING"
    exit 0
fi

targets="${SLUICE_FUZZ_TARGETS:-$(cargo +nightly fuzz list --fuzz-dir fuzz)}"
if [ -n "$total_seconds" ]; then
    count=$(wc -w <<<"$targets")
    seconds=$((total_seconds / count))
    if ((seconds < 1)); then
        seconds=1
    fi
fi

# New inputs a run finds go to a scratch corpus, so the checked-in seeds stay as they are;
# crash, timeout and out-of-memory inputs go to fuzz/artifacts/<target>/.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT INT TERM

cargo +nightly fuzz build "${build_flags[@]}"

failed=()
for target in $targets; do
    printf '\n==> fuzz %s for %ss\n' "$target" "$seconds"
    mkdir -p "$scratch/$target" "fuzz/artifacts/$target"
    if ! cargo +nightly fuzz run "${build_flags[@]}" "$target" \
        "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout="$input_timeout_seconds" \
        -print_final_stats=1 2>"$scratch/$target.log"; then
        tail -n 40 "$scratch/$target.log" >&2
        failed+=("$target")
        continue
    fi
    grep -E '^Done |^stat::peak_rss_mb' "$scratch/$target.log" || true
done

if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/; see fuzz/README.md)" >&2
    exit 1
fi
echo "fuzz: every target ran ${seconds}s without a crash"

#!/usr/bin/env bash
# CI: line coverage of every crate of the workspace over the README's test
# command, against the floors in .ci/coverage-floors.txt.
#
# Runs `cargo test --workspace` under `cargo llvm-cov` (source-based
# coverage: -C instrument-coverage; processes the tests spawn, such as the
# `weir` binary, are counted too), then prints each crate's line coverage and
# the least covered files, and fails if a crate is below its floor or has no
# floor. The instrumented build has its own target directory
# (target/llvm-cov-target), so it does not disturb the normal one.
#
# Costs 1.5 min on 2 cores from a clean target directory when nothing else
# runs (3 min beside another build), plus 2 min the first time to install
# cargo-llvm-cov.
#
# Options (environment):
#   COVERAGE_HTML=1   also write an HTML report to target/llvm-cov/html/
#   COVERAGE_WORST=N  how many of the least covered files to list (default 12)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

if ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
    echo "== installing llvm-tools-preview"
    rustup component add llvm-tools-preview
fi
if ! cargo llvm-cov --version >/dev/null 2>&1; then
    echo "== installing cargo-llvm-cov"
    cargo install cargo-llvm-cov --locked
fi

out=target/llvm-cov
mkdir -p "$out"
echo "== cargo llvm-cov: the workspace tests, instrumented"
# Exactly the README's test command, under the instrumentation environment
# (`show-env`): unlike `cargo llvm-cov test`, which passes `--tests`, it
# builds the examples too, which tests/examples.rs starts as processes. The
# instrumented build has its own target directory.
export CARGO_TARGET_DIR="$PWD/target/llvm-cov-target"
eval "$(cargo llvm-cov show-env --sh 2>/dev/null)"
# The .profraw files of earlier runs would be merged into this one's
# figures: remove them first (the build is kept).
# Workspace artifacts too, not only old profiles: a test binary left over
# from an earlier build (same name, other code) is read with the new
# profiles and reports the lines it shares with today's code as missed.
cargo llvm-cov clean --workspace
cargo test --workspace
cargo llvm-cov report --workspace --json --summary-only --output-path "$out/summary.json"
if [ "${COVERAGE_HTML:-0}" = 1 ]; then
    cargo llvm-cov report --workspace --html --output-dir "$out"
    echo "HTML report: $out/html/index.html"
fi

echo "== line coverage per crate (floors: .ci/coverage-floors.txt)"
cargo metadata --no-deps --format-version 1 >"$out/metadata.json"
python3 .ci/coverage_check.py "$out/summary.json" "$out/metadata.json" \
    .ci/coverage-floors.txt --worst "${COVERAGE_WORST:-12}"

#!/usr/bin/env bash
# CI: every cargo-fuzz target for a short run from the committed seeds.
#
# The targets come from `cargo fuzz list`, so a target added with
# `cargo fuzz add` is fuzzed without touching this script. Each runs for
# FUZZ_SECONDS (default 20) from its seeds in fuzz/corpus/<target>; new
# inputs go to a scratch directory, so the committed seeds stay as they are.
# A crash, a panic, a leak or an input slower than 10 s fails CI; the input
# is kept in fuzz/artifacts/<target>/ and the log's tail says how to replay
# it. Costs about 1 min to build and 20 s per target on 2 cores, plus a
# few minutes the first time to install cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, ...): let the
# stable toolchain accept them rather than require a nightly one.
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-20}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

mapfile -t targets < <(cargo fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets found in fuzz/Cargo.toml" >&2
    exit 1
fi

echo "== building ${#targets[@]} fuzz targets: ${targets[*]}"
cargo fuzz build

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
    # The first corpus directory is where libFuzzer writes new inputs.
    mkdir -p "$scratch/$t"
    corpus=("$scratch/$t")
    seeds=0
    if [ -d "corpus/$t" ]; then
        corpus+=("corpus/$t")
        seeds="$(find "corpus/$t" -type f | wc -l)"
    fi
    echo "== fuzz $t: $seeds seeds, $seconds s"
    log="$scratch/$t.log"
    if cargo fuzz run "$t" "${corpus[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        # "#123456 DONE cov: 812 ft: 3120 corp: 240/9Kb ..." (the coverage
        # and corpus it reached) and "Done 123456 runs in 21 second(s)".
        grep -E '^#[0-9]+[[:space:]]+DONE ' "$log" || true
        grep -E '^Done [0-9]+ runs' "$log" || true
        grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" || true
    else
        echo "!! $t failed:"
        tail -n 60 "$log"
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "== fuzzing failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "== fuzzing: ${#targets[@]} targets, no crash"

#!/usr/bin/env bash
# CI: the tests again under sanitizers, which see what a passing test cannot:
# a read one byte past a buffer in http's SIMD scan, a length past a buffer
# handed to the kernel from reactor/src/sys/, a use-after-free, a leak, a
# data race between a shard and the threads that reach it.
#
# 1. AddressSanitizer + LeakSanitizer over every crate's unit and
#    integration tests: the `unsafe` in reactor/src/sys/ and http, ws, the
#    server's unit tests and the end-to-end tests on loopback (tests/).
#    Doctests are left out (`--lib --bins --tests`): they are usage examples
#    in safe code, each linked as its own ASan binary, and cost minutes for
#    paths the unit tests already run.
# 2. ThreadSanitizer over the code that crosses threads: the reactor's tests
#    (the shard inbox and its eventfd waker in reactor/src/handle.rs, the
#    worker pool in reactor/src/worker.rs, many threads sending at once),
#    the server's unit tests, and the end-to-end tests that send between
#    shards and threads: pub/sub on every shard, a WebSocket sender on
#    another thread, the relay, worker and deferred handlers, multi-shard
#    HTTP. The static-file tests are left out: under TSan their gzip runs
#    take ~30 s, for a shared cache that ASan already covers.
#
# Both use flags that are nightly-only; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them. The explicit `--target` keeps RUSTFLAGS off build
# scripts and proc-macros (serde_derive, clap_derive), which run inside the
# uninstrumented compiler. `--cfg weir_sanitize` sends the reactor's hot
# system calls (read, write, writev, epoll_wait) through glibc instead of a
# bare `syscall` instruction, so the sanitizers' interceptors check the
# memory the kernel reads and writes (reactor/src/sys/raw.rs). Each
# sanitizer has its own target dir, so neither clobbers the other nor the
# normal build. Every test binary runs even after a report (--no-fail-fast),
# so one CI log shows all of them. About 7 minutes on 2 cores from a clean
# tree, most of it compiling; under 2 minutes when the builds are cached.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export RUSTC_BOOTSTRAP=1
target=x86_64-unknown-linux-gnu
failed=()

# ASan needs nothing installed: its runtime (librustc-*_rt.asan.a) ships with
# the toolchain's rust-std, so neither clang's runtime nor rust-src is used.
# Frame pointers give the fast unwinder whole stacks in the reports.
# detect_stack_use_after_return also catches a pointer into a dead stack
# frame (a buffer handed to the kernel from a function that has returned).
echo "== AddressSanitizer + LeakSanitizer: all crates, unit and integration tests"
asan() {
    RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes --cfg weir_sanitize" \
        ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1" \
        CARGO_TARGET_DIR=target/asan \
        cargo "$@"
}
# tests/examples.rs starts the example binaries: build them (sanitized too)
# first, since `--tests` does not.
{ asan build --workspace --target "$target" --examples &&
    asan test --workspace --target "$target" --lib --bins --tests --no-fail-fast; } ||
    failed+=(AddressSanitizer)

# TSan must see std's own synchronisation (Mutex, channels, thread join,
# Arc's fences), or it reports races that std prevents: std is rebuilt
# instrumented with -Zbuild-std, from the rust-src component (its few
# dependencies come from crates.io).
#
# RUST_BACKTRACE=0: that rebuilt std is unoptimised and instrumented, and
# with backtraces on, the panic hook of a deliberately panicking worker
# handler (tests/lifecycle.rs) spends more than the tests' 5 s patience
# symbolising the trace before the handler's 500 can be sent.
echo "== ThreadSanitizer: reactor, server, and the end-to-end tests that cross threads"
tsan() {
    RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes --cfg weir_sanitize" \
        RUST_BACKTRACE=0 \
        CARGO_TARGET_DIR=target/tsan \
        cargo test -Zbuild-std --target "$target" --no-fail-fast "$@"
}
if ! rustup component add rust-src >/dev/null 2>&1; then
    echo "!! ThreadSanitizer needs the rust-src component (for -Zbuild-std), and rustup could not add it" >&2
    failed+=(ThreadSanitizer)
else
    tsan -p weir-reactor --lib --tests || failed+=("ThreadSanitizer (reactor)")
    tsan -p weir-server -p weir --lib \
        --test websocket --test websocket_flow --test ws_relay --test lifecycle --test http_server ||
        failed+=("ThreadSanitizer (server)")
fi

if [ "${#failed[@]}" -ne 0 ]; then
    echo "== sanitizers failed: ${failed[*]} (the report is above, after ==NNN==ERROR or WARNING: ThreadSanitizer)" >&2
    exit 1
fi
echo "== sanitizers: no report"

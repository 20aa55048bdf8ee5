#!/usr/bin/env bash
# README's second command: installs what the tests need, builds with ASan+UBSan, and runs
# every test through ctest (unit, integration, the fuzzers for a bounded time, and the
# end-to-end tests with the real Claude Code client), then prints ctest's summary.
# .ci/run calls exactly this. Environment: CKH_FUZZ_SECONDS (per fuzzer, default 20),
# CKH_BUILD_DIR (default build-tests), CKH_CTEST_JOBS (default: the number of cores; the
# suite must pass with every core busy), any ctest arguments are passed through (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."

./tests/deps.sh   # the build dependencies (install/deps.sh), then the tests' own
build="${CKH_BUILD_DIR:-build-tests}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCKH_SANITIZERS=ON
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build" --output-on-failure --timeout 900 -j"${CKH_CTEST_JOBS:-$(nproc)}" "$@"

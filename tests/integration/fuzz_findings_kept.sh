#!/bin/bash
# tests/fuzz/run.sh makes every fuzz finding permanent (issue 10 item 17): it replays the
# whole committed seed corpus before fuzzing, so a committed reproducer fails the run
# whatever libFuzzer's seed, naming the seed file; and a new finding is printed with its
# path and base64, as a command that writes it into the seed corpus.
# Checked on a tiny target of its own in a private source tree (the real targets' run.sh,
# fuzz_check.h): it traps on any non-empty input that does not start with "ok".
# Needs clang++-16 (as the fuzz tests do): skipped without it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib_checks.sh"
command -v "${CKH_FUZZ_CXX:-clang++-16}" >/dev/null 2>&1 || { echo "skipped: clang++-16 not installed"; exit 77; }
private_tmp ckh-fuzz-kept

SRC=$T/src
mkdir -p "$SRC/tests/fuzz/corpus/fuzz_selftest" "$SRC/shared"
cp "$HERE/../fuzz/run.sh" "$HERE/../fuzz/fuzz_check.h" "$SRC/tests/fuzz/"
: > "$SRC/shared/nothing.cpp"  # run.sh links shared/*.cpp into every target
cat > "$SRC/tests/fuzz/fuzz_selftest.cpp" <<'CPP'
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  CKH_FUZZ_CHECK(in.empty() || in.substr(0, 2) == "ok", "input does not start with ok");
  return 0;
}
CPP
printf 'ok, a seed' > "$SRC/tests/fuzz/corpus/fuzz_selftest/good"
printf 'ok too' > "$SRC/tests/fuzz/corpus/fuzz_selftest/good2"

fuzz() { # fuzz SECONDS: runs run.sh on the self-test target; sets RC and OUTPUT
  set +e
  OUTPUT=$(CKH_SOURCE_DIR=$SRC CKH_BUILD_DIR=$T/build CKH_FUZZ_SECONDS=$1 \
    timeout 300 bash "$SRC/tests/fuzz/run.sh" fuzz_selftest 2>&1)
  RC=$?
  set -e
}

# 1. Clean seeds: the replay passes; with CKH_FUZZ_SECONDS=0 that is all.
fuzz 0
expect_eq "clean seeds, replay only: exit 0" 0 "$RC"
grep -q 'replayed 2 seed(s) of tests/fuzz/corpus/fuzz_selftest: all clean' <<<"$OUTPUT" \
  && pass "the replay ran both seeds" || fail "replay output: $OUTPUT"

# 2. A committed finding fails the run before any fuzzing, naming the file: every time.
printf 'BOOM' > "$SRC/tests/fuzz/corpus/fuzz_selftest/regress_boom"
for run in 1 2; do
  fuzz 5
  expect_eq "a committed finding fails the run (run $run)" 1 "$RC"
  grep -q 'FAILED the regression replay' <<<"$OUTPUT" && grep -q 'PROPERTY VIOLATED' <<<"$OUTPUT" \
    && pass "the replay reports the violated property (run $run)" || fail "replay failure output: $OUTPUT"
  grep -q '^fuzz: failing seed(s): tests/fuzz/corpus/fuzz_selftest/regress_boom$' <<<"$OUTPUT" \
    && pass "the failing seed is named, and only it (run $run)" || fail "failing seeds: $(grep 'failing seed' <<<"$OUTPUT")"
  grep -q 'running fuzz_selftest for' <<<"$OUTPUT" && fail "fuzzing ran after a failed replay" \
    || pass "no fuzzing after a failed replay (run $run)"
done
rm "$SRC/tests/fuzz/corpus/fuzz_selftest/regress_boom"

# 3. A new finding while fuzzing: its path and base64, as a command that commits it.
fuzz 30
expect_eq "a finding while fuzzing fails the run" 1 "$RC"
ARTIFACT=$(sed -n 's/^fuzz: finding: \(.*\) ([0-9]* bytes)$/\1/p' <<<"$OUTPUT" | head -1)
[ -n "$ARTIFACT" ] && [ -f "$ARTIFACT" ] && pass "the finding's path is printed ($(basename "$ARTIFACT"))" \
  || fail "no finding path in: $OUTPUT"
# Run the printed command from the source tree's root, as its caption says.
CMD=$(sed -n '/^base64 -d > tests\/fuzz\/corpus\/fuzz_selftest\/regress_crash-[0-9a-f]\{12\} <<.B64.$/,/^B64$/p' <<<"$OUTPUT")
[ -n "$CMD" ] && pass "a base64 heredoc into the seed corpus is printed" || fail "no base64 command in: $OUTPUT"
(cd "$SRC" && bash -c "$CMD")
KEPT=$(ls "$SRC/tests/fuzz/corpus/fuzz_selftest/" | grep '^regress_crash-' || true)
[ -n "$KEPT" ] && cmp -s "$ARTIFACT" "$SRC/tests/fuzz/corpus/fuzz_selftest/$KEPT" \
  && pass "the printed command writes the finding, byte for byte, into the seed corpus" \
  || fail "kept seed [$KEPT] differs from the finding"

# 4. Once kept, it fails the next run in the replay, before fuzzing.
fuzz 5
expect_eq "the kept finding fails the next run" 1 "$RC"
grep -q "^fuzz: failing seed(s): tests/fuzz/corpus/fuzz_selftest/$KEPT\$" <<<"$OUTPUT" \
  && pass "the next run names the kept finding in its replay" || fail "replay after keeping: $OUTPUT"
finish

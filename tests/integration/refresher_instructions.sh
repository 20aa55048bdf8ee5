#!/usr/bin/env bash
# The refresher's start stays cheap (issue 15), judged in instructions, never wall time:
# tests/bench/refresher.sh --check measures with callgrind, on a Release build without
# sanitizers (their runtime would be most of any count), and fails when
#   - `once` with nothing due costs more than 3M instructions, or
#   - the helper's 401 round trip with no daemon costs more than 2x the round trip through a
#     daemon plus the backend's own run.
# A regression such as linking a network library again, a dynamic libstdc++, or setting up
# every command's parser for the helper's request shows up here.
# The Release tree is the one `integration: debian_package` builds (the same directory and
# configuration, one build for both; ctest runs them one at a time: RESOURCE_LOCK).
# Exit 77 (skipped) without valgrind.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${CKH_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
parent_build=${CKH_BUILD_DIR:-}
release=${CKH_DEB_BUILD_DIR:-${parent_build:+$parent_build/deb-release}}
release=${release:-$src/build-deb}
command -v valgrind >/dev/null || { echo "skipped: valgrind not installed"; exit 77; }
launcher=()
if [[ -n $parent_build && -f $parent_build/CMakeCache.txt ]]; then
  l=$(sed -n 's/^CMAKE_CXX_COMPILER_LAUNCHER:[A-Z]*=//p' "$parent_build/CMakeCache.txt")
  [[ -z $l ]] || launcher=("-DCMAKE_CXX_COMPILER_LAUNCHER=$l")
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cmake -S "$src" -B "$release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCKH_SANITIZERS=OFF \
  -DCKH_TESTS=OFF "${launcher[@]}" >"$log" 2>&1 || { cat "$log"; echo "FAIL: configure $release"; exit 1; }
cmake --build "$release" -j"$(nproc)" --target claude-key-refresher claude-key-helper >"$log" 2>&1 ||
  { tail -n 40 "$log"; echo "FAIL: build in $release"; exit 1; }
bash "$src/tests/bench/refresher.sh" --check "$release"

#!/usr/bin/env bash
# Installs the REAL Claude Code client pinned in tests/e2e/package.json + package-lock.json
# (`npm ci`, so exactly the locked version and integrity hashes) into
# $CKH_BUILD_DIR/e2e-cache, and prints the absolute path of the `claude` binary on stdout
# (the only line on stdout; npm's chatter goes to stderr).
#   setup.sh [PIN]   PIN = a subdirectory of tests/e2e holding its own package.json +
#                    package-lock.json (e.g. `newest`: the newest client the organization
#                    helper tests check), installed into $CKH_BUILD_DIR/e2e-cache-PIN.
#
# An install that already holds the pinned version (same package-lock.json) is reused
# without touching the network. If npm or the registry is unavailable it prints
# "skipped: <reason>" and exits 77 (ctest's SKIP_RETURN_CODE).
#
# The package declares node >= 22 but its real client is a native binary in the optional
# dependency @anthropic-ai/claude-code-linux-x64 that does not need node at all, so the
# engine check is switched off (--engine-strict=false; npm only warns).
set -euo pipefail

src=${CKH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${CKH_BUILD_DIR:-$src/build}
e2e="$src/tests/e2e"
cache="$build/e2e-cache"
if [[ -n ${1:-} ]]; then
  [[ $1 =~ ^[a-z0-9_-]+$ && -f $e2e/$1/package-lock.json ]] \
    || { echo "FAIL: setup.sh: no pinned client in $e2e/${1}/ (package.json + package-lock.json)"; exit 1; }
  cache="$build/e2e-cache-$1"
  e2e="$e2e/$1"
fi
pinned=$(sed -n 's/.*"@anthropic-ai\/claude-code": *"\([^"]*\)".*/\1/p' "$e2e/package.json" | head -n1)
[[ -n $pinned ]] || { echo "FAIL: no pinned @anthropic-ai/claude-code version in $e2e/package.json"; exit 1; }

# The binary the package links as `claude` (bin/claude.exe, replaced by the native binary at
# postinstall); fall back to the platform package's binary.
find_claude() {
  local c
  for c in "$cache/node_modules/@anthropic-ai/claude-code/bin/claude.exe" \
           "$cache/node_modules/@anthropic-ai/claude-code-linux-x64/claude" \
           "$cache/node_modules/.bin/claude"; do
    if [[ -x $c && -s $c ]]; then
      # The placeholder shipped before postinstall is a tiny script; the real one is large.
      if (( $(stat -L -c %s "$c") > 1000000 )); then readlink -f "$c"; return 0; fi
    fi
  done
  return 1
}

installed_version() {
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$cache/node_modules/@anthropic-ai/claude-code/package.json" 2>/dev/null | head -n1
}

if [[ $(installed_version) == "$pinned" ]] && cmp -s "$e2e/package-lock.json" "$cache/package-lock.json" \
   && claude=$(find_claude); then
  echo "$claude"
  exit 0
fi

# shellcheck source=tests/lib_npm_ci.sh
source "$src/tests/lib_npm_ci.sh"
npm_ci_pinned "$e2e" "$cache" "@anthropic-ai/claude-code@$pinned" 900 --engine-strict=false

[[ $(installed_version) == "$pinned" ]] || { echo "FAIL: installed $(installed_version), pinned $pinned"; exit 1; }
claude=$(find_claude) || {
  echo "skipped: no native claude binary for this platform in @anthropic-ai/claude-code@$pinned"
  exit 77
}
echo "$claude"

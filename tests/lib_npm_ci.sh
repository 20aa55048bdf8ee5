# npm_ci_pinned: the one way the test suite installs its npm peers (the real Claude Code client
# for tests/e2e, AWS's signer for tests/fakes/aws). Sourced by tests/e2e/setup.sh and
# tests/fakes/aws/setup.sh, which keep their own "already installed?" checks and post-checks.
#
# npm_ci_pinned PKG_DIR CACHE WHAT TIMEOUT_S [npm flags...]
#   Copies PKG_DIR/package.json and package-lock.json into a fresh CACHE and runs `npm ci`
#   there (exactly the locked versions and integrity hashes; npm's chatter goes to stderr).
#   The registry's reachability is checked first, bounded (`npm ping` is never answered from
#   npm's cache, unlike `npm view`), so an offline machine decides quickly; offline, npm's own
#   cache may still hold the pinned tarballs (`npm ci --offline`, integrity-checked).
#   Returns 0 when installed. Otherwise it ends the calling script: "skipped: <reason>" and
#   exit 77 (ctest's SKIP_RETURN_CODE) when npm or the registry is unavailable, "FAIL: ..."
#   and exit 1 when npm ci failed with the registry reachable. WHAT names the package(s) in
#   those messages.
npm_ci_pinned() {
  local pkg=$1 cache=$2 what=$3 limit=$4
  shift 4
  local flags=(--no-audit --no-fund --fetch-retries=1 --fetch-timeout=30000 "$@")
  command -v npm >/dev/null || { echo "skipped: npm is not installed"; exit 77; }
  local registry start rc=0
  registry=$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)
  start=$(date +%s)
  rm -rf "$cache"
  mkdir -p "$cache"
  cp "$pkg/package.json" "$pkg/package-lock.json" "$cache/"
  if ! timeout 30 npm ping --fetch-retries=0 --fetch-timeout=15000 >/dev/null 2>&1; then
    if (cd "$cache" && timeout 300 npm ci --offline "${flags[@]}" >&2 2>/dev/null); then
      echo "setup: registry $registry unreachable; installed from npm's cache" >&2
      return 0
    fi
    rm -rf "$cache"
    echo "skipped: npm registry $registry unreachable (npm ping failed) and $what is not in npm's cache"
    exit 77
  fi
  (cd "$cache" && timeout "$limit" npm ci "${flags[@]}" >&2) || rc=$?
  if ((rc != 0)); then
    rm -rf "$cache"
    # A network failure half-way is still "registry unreachable"; anything else is a failure.
    if ! timeout 30 npm ping --fetch-retries=0 --fetch-timeout=15000 >/dev/null 2>&1; then
      echo "skipped: npm registry $registry became unreachable during npm ci"
      exit 77
    fi
    echo "FAIL: npm ci of $what exited $rc"
    exit 1
  fi
  echo "setup: npm ci took $(($(date +%s) - start)) s" >&2
}

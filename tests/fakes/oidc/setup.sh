#!/usr/bin/env bash
# Installs the certified OpenID Provider implementation oidc-provider, pinned in
# tests/fakes/oidc/package.json + package-lock.json (`npm ci`, so exactly the locked versions
# and integrity hashes: oidc-provider and its jose/koa dependencies), into
# $CKH_BUILD_DIR/oidc-fakes-cache, and prints the absolute path of its node_modules directory on
# stdout (the only line on stdout; npm's chatter goes to stderr). The OpenID Provider test peer
# (server.js --node-modules DIR) and its helpers (approve_device.js, pem_to_jwks.js,
# sign_jwt.js) load oidc-provider and jose from there.
#
# An install made from the same package-lock.json that still loads is reused without touching
# the network. If npm or the registry is unavailable it prints "skipped: <reason>" and exits 77
# (ctest's SKIP_RETURN_CODE).
set -euo pipefail

src=${CKH_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
build=${CKH_BUILD_DIR:-$src/build}
pkg="$src/tests/fakes/oidc"
cache="$build/oidc-fakes-cache"
nm="$cache/node_modules"
pinned=$(sed -n 's/.*"oidc-provider": *"\([^"]*\)".*/\1/p' "$pkg/package.json" | head -n1)
[[ -n $pinned ]] || { echo "FAIL: no pinned oidc-provider version in $pkg/package.json"; exit 1; }

command -v node >/dev/null || { echo "skipped: node is not installed"; exit 77; }

installed_version() {
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$nm/oidc-provider/package.json" 2>/dev/null | head -n1
}
# The install is usable when oidc-provider (an ES module) loads with its Provider class and the
# jose it depends on resolves from the same node_modules. Its "Unsupported runtime" warning on
# Node.js < 22 goes to stderr and is silenced here.
loads() {
  node -e 'const p=require("path"),u=require("url"),d=process.argv[1];
    const jose=require.resolve("jose",{paths:[d]});
    Promise.all([import(u.pathToFileURL(p.join(d,"oidc-provider","lib","index.js")).href),
                 import(u.pathToFileURL(jose).href)])
      .then(([o,j])=>{ if (typeof o.Provider!=="function"||typeof j.jwtVerify!=="function") process.exit(1); })
      .catch(()=>process.exit(1));' "$nm" >/dev/null 2>&1
}

if [[ $(installed_version) == "$pinned" ]] && cmp -s "$pkg/package-lock.json" "$cache/package-lock.json" && loads; then
  echo "$nm"
  exit 0
fi

# shellcheck source=tests/lib_npm_ci.sh
source "$src/tests/lib_npm_ci.sh"
npm_ci_pinned "$pkg" "$cache" "oidc-provider@$pinned" 600

[[ $(installed_version) == "$pinned" ]] || { echo "FAIL: installed oidc-provider $(installed_version), pinned $pinned"; exit 1; }
loads || { echo "FAIL: oidc-provider / jose installed in $nm do not load"; exit 1; }
echo "$nm"

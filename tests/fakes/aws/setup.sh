#!/usr/bin/env bash
# Installs AWS's own JavaScript SigV4 signer, pinned in tests/fakes/aws/package.json +
# package-lock.json (`npm ci`, so exactly the locked versions and integrity hashes:
# @smithy/signature-v4 and @aws-crypto/sha256-js, the pair that generated
# aws_fixtures/aws-secretsmanager/signed-get-secret-value.json), into
# $CKH_BUILD_DIR/aws-fakes-cache, and prints the absolute path of its node_modules directory on
# stdout (the only line on stdout; npm's chatter goes to stderr). The fake Secrets Manager
# endpoint (secretsmanager.js --node-modules DIR) and the tests' signing clients load the
# signer from there.
#
# An install made from the same package-lock.json that still loads is reused without touching
# the network. If npm or the registry is unavailable it prints "skipped: <reason>" and exits 77
# (ctest's SKIP_RETURN_CODE).
set -euo pipefail

src=${CKH_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
build=${CKH_BUILD_DIR:-$src/build}
pkg="$src/tests/fakes/aws"
cache="$build/aws-fakes-cache"
nm="$cache/node_modules"
pinned=$(sed -n 's/.*"@smithy\/signature-v4": *"\([^"]*\)".*/\1/p' "$pkg/package.json" | head -n1)
[[ -n $pinned ]] || { echo "FAIL: no pinned @smithy/signature-v4 version in $pkg/package.json"; exit 1; }

command -v node >/dev/null || { echo "skipped: node is not installed"; exit 77; }

installed_version() {
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$nm/@smithy/signature-v4/package.json" 2>/dev/null | head -n1
}
# The install is usable when both packages load and the signer has the expected class.
loads() {
  node -e 'const p=require("path"),d=process.argv[1];
    const {SignatureV4}=require(p.join(d,"@smithy","signature-v4"));
    const {Sha256}=require(p.join(d,"@aws-crypto","sha256-js"));
    if (typeof SignatureV4!=="function"||typeof Sha256!=="function") process.exit(1);' "$nm" >/dev/null 2>&1
}

if [[ $(installed_version) == "$pinned" ]] && cmp -s "$pkg/package-lock.json" "$cache/package-lock.json" && loads; then
  echo "$nm"
  exit 0
fi

# shellcheck source=tests/lib_npm_ci.sh
source "$src/tests/lib_npm_ci.sh"
npm_ci_pinned "$pkg" "$cache" "@smithy/signature-v4@$pinned" 600

[[ $(installed_version) == "$pinned" ]] || { echo "FAIL: installed @smithy/signature-v4 $(installed_version), pinned $pinned"; exit 1; }
loads || { echo "FAIL: @smithy/signature-v4 / @aws-crypto/sha256-js installed in $nm do not load"; exit 1; }
echo "$nm"

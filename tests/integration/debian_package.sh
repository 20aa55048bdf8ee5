#!/usr/bin/env bash
# The Debian package (issue 11, item 8): `cpack -G DEB` in a Release build of its own (no
# sanitizers, no tests) makes claude-key-helper_<version>_amd64.deb, and that package
#  - holds both binaries in /usr/bin (root:root 0755), the systemd user units rendered for
#    /usr in /usr/lib/systemd/user/, both man pages, README and config.example.toml in
#    /usr/share/doc/claude-key-helper/; every entry root:root, no group/world-writable
#    directory, nothing outside /usr, nothing of the tests;
#  - Depends on what dpkg-shlibdeps found (libc6) and on the libraries the refresher loads
#    when a backend needs them (libcurl4, libssl3, libsecret-1-0, libsimdjson14), and on nothing of
#    the test tool chain (sanitizer runtimes, Catch2, clang, node);
#  - installs with `dpkg -i` on this machine, where /usr/bin/claude-key-refresher once and
#    /usr/bin/claude-key-helper serve a static key from a temp HOME, and `dpkg --purge`
#    then leaves none of its files behind.
# Needs root and dpkg (else exit 77). Refuses to touch a claude-key-helper already installed
# here by someone else (exit 77, says so). The Release build dir is kept and reused:
# CKH_DEB_BUILD_DIR, default <ctest build dir>/deb-release (or build-deb in the source).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib_checks.sh
source "$here/lib_checks.sh"

src=${CKH_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
parent_build=${CKH_BUILD_DIR:-}
deb_build=${CKH_DEB_BUILD_DIR:-${parent_build:+$parent_build/deb-release}}
deb_build=${deb_build:-$src/build-deb}

skip() { echo "skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "dpkg -i needs root"
for tool in dpkg dpkg-deb dpkg-shlibdeps cpack readelf; do
  command -v "$tool" >/dev/null || skip "$tool not installed (dpkg-dev, cmake, binutils)"
done
command -v help2man >/dev/null || { echo "FAIL: help2man not installed: install/deps.sh installs it" >&2; exit 1; }
if dpkg-query -W -f='${Status}' claude-key-helper 2>/dev/null | grep -q 'installed'; then
  skip "a claude-key-helper package is already installed on this machine; not touching it"
fi
for f in /usr/bin/claude-key-helper /usr/bin/claude-key-refresher; do
  [ ! -e "$f" ] || skip "$f exists and belongs to no package here; not overwriting it"
done

private_tmp debian-package
installed=0
purge_on_exit() {
  if [ "$installed" = 1 ]; then dpkg --purge claude-key-helper >/dev/null 2>&1 || true; fi
  cleanup
}
trap purge_on_exit EXIT

version=$(sed -n 's/^project(claude-key-helper VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || { echo "FAIL: no project VERSION in $src/CMakeLists.txt" >&2; exit 1; }
arch=$(dpkg --print-architecture)

# --- build: Release, no sanitizers, no tests; reused across runs --------------------------
launcher=()
if [ -n "$parent_build" ] && [ -f "$parent_build/CMakeCache.txt" ]; then
  l=$(sed -n 's/^CMAKE_CXX_COMPILER_LAUNCHER:[A-Z]*=//p' "$parent_build/CMakeCache.txt")
  [ -z "$l" ] || launcher=("-DCMAKE_CXX_COMPILER_LAUNCHER=$l")
fi
start=$SECONDS
cmake -S "$src" -B "$deb_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCKH_SANITIZERS=OFF \
  -DCKH_TESTS=OFF "${launcher[@]}" >"$T/configure.log" 2>&1 ||
  { cat "$T/configure.log" >&2; echo "FAIL: configure $deb_build" >&2; exit 1; }
cmake --build "$deb_build" -j"$(nproc)" >"$T/build.log" 2>&1 ||
  { tail -n 40 "$T/build.log" >&2; echo "FAIL: build in $deb_build" >&2; exit 1; }
echo "built in $deb_build in $((SECONDS - start)) s"
start=$SECONDS
rm -rf "$deb_build/package"
(cd "$deb_build" && timeout 300 cpack -G DEB -B "$deb_build/package") >"$T/cpack.log" 2>&1 ||
  { cat "$T/cpack.log" >&2; echo "FAIL: cpack -G DEB" >&2; exit 1; }
deb=$deb_build/package/claude-key-helper_${version}_${arch}.deb
[ -f "$deb" ] || { ls -l "$deb_build/package" >&2; echo "FAIL: no $deb" >&2; exit 1; }
pass "cpack made $(basename "$deb") ($(stat -c %s "$deb") bytes) in $((SECONDS - start)) s"

# --- control fields ------------------------------------------------------------------------
expect_eq "Package" claude-key-helper "$(dpkg-deb -f "$deb" Package)"
expect_eq "Version" "$version" "$(dpkg-deb -f "$deb" Version)"
expect_eq "Architecture" "$arch" "$(dpkg-deb -f "$deb" Architecture)"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libc6 libcurl4 libssl3 libsecret-1-0 libsimdjson14; do
  [[ $depends == *"$lib"* ]] && pass "Depends names $lib" || fail "Depends lacks $lib: $depends"
done
if grep -Eiq 'asan|ubsan|lsan|catch|clang|llvm|valgrind|node|hyperfine' <<<"$depends"; then
  fail "Depends holds something of the test tool chain: $depends"
else
  pass "Depends holds nothing of the test tool chain"
fi

# --- contents --------------------------------------------------------------------------------
dpkg-deb -c "$deb" >"$T/contents"
awk '{print $6}' "$T/contents" | sed 's|^\./|/|; s|/$||' | grep -v '^$' | sort >"$T/paths"
for p in /usr/bin/claude-key-helper /usr/bin/claude-key-refresher \
         /usr/lib/systemd/user/claude-key-refresher.service \
         /usr/lib/systemd/user/claude-key-refresher-once.service \
         /usr/lib/systemd/user/claude-key-refresher-once.timer \
         /usr/share/man/man1/claude-key-helper.1.gz /usr/share/man/man1/claude-key-refresher.1.gz \
         /usr/share/doc/claude-key-helper/README.md \
         /usr/share/doc/claude-key-helper/config.example.toml; do
  grep -qxF "$p" "$T/paths" && pass "holds $p" || fail "does not hold $p"
done
bad=$(grep -v '^/usr\(/\|$\)' "$T/paths" | grep -vx '' || true)
[ -z "$bad" ] && pass "nothing outside /usr" || fail "entries outside /usr: $bad"
bad=$(grep -Ei '/tests?/|fuzz|catch|/e2e/|unit_tests' "$T/paths" || true)
[ -z "$bad" ] && pass "nothing of the tests" || fail "test files in the package: $bad"
bad=$(awk '$2 != "root/root" {print $2, $6}' "$T/contents")
[ -z "$bad" ] && pass "every entry is root:root" || fail "not root:root: $bad"
bad=$(awk '$1 ~ /^d/ && (substr($1,6,1) == "w" || substr($1,9,1) == "w") {print $1, $6}' "$T/contents")
[ -z "$bad" ] && pass "no group/world-writable directory" || fail "writable directories: $bad"
bad=$(awk '$1 !~ /^d/ && (substr($1,6,1) == "w" || substr($1,9,1) == "w") {print $1, $6}' "$T/contents")
[ -z "$bad" ] && pass "no group/world-writable file" || fail "writable files: $bad"
for b in claude-key-helper claude-key-refresher; do
  expect_eq "/usr/bin/$b mode" "-rwxr-xr-x" "$(awk -v p="./usr/bin/$b" '$6 == p {print $1}' "$T/contents")"
done

# The units are rendered for /usr (render-units.sh), not the ~/.local templates.
mkdir "$T/x"
dpkg-deb -x "$deb" "$T/x"
for unit in claude-key-refresher.service claude-key-refresher-once.service; do
  f=$T/x/usr/lib/systemd/user/$unit
  grep -q '^ExecStart=/usr/bin/claude-key-refresher ' "$f" && pass "$unit runs /usr/bin/claude-key-refresher" ||
    fail "$unit: $(grep '^ExecStart' "$f")"
  grep -v '^[#;]' "$f" | grep -q '%h/\.local' && fail "$unit still points into ~/.local: $(grep '%h/.local' "$f")" || true
done
# Release, not sanitised: no sanitizer runtime, nothing of the build tree in the binaries.
if readelf -dW "$T/x/usr/bin/claude-key-refresher" | grep -Ei 'NEEDED.*(asan|ubsan)'; then
  fail "the packaged refresher is linked against a sanitizer runtime"
else
  pass "the packaged refresher is not sanitised"
fi
readelf -dW "$T/x/usr/bin/claude-key-helper" | grep -q NEEDED &&
  fail "the packaged helper is not static" || pass "the packaged helper is static"
zcat "$T/x/usr/share/man/man1/claude-key-refresher.1.gz" | grep -q "^\.TH .*$version" &&
  pass "the refresher's man page carries $version" || fail "the refresher's man page lacks $version"

# --- install, run, purge -------------------------------------------------------------------
# dpkg's lock may be held for a moment by another installer: retry for at most 60 s.
dpkg_retry() {
  local i
  for i in $(seq 30); do
    if "$@" >"$T/dpkg.log" 2>&1; then return 0; fi
    grep -qi 'lock' "$T/dpkg.log" || break
    sleep 2
  done
  cat "$T/dpkg.log" >&2
  return 1
}
start=$SECONDS
installed=1
if dpkg_retry timeout 120 dpkg -i "$deb"; then
  pass "dpkg -i installed it"
else
  fail "dpkg -i failed"
  finish
fi
dpkg-query -W -f='${Status}' claude-key-helper | grep -q 'install ok installed' &&
  pass "dpkg says installed" || fail "dpkg status: $(dpkg-query -W -f='${Status}' claude-key-helper)"
for b in /usr/bin/claude-key-helper /usr/bin/claude-key-refresher; do
  expect_eq "$b owner and mode" "root:root 755" "$(stat -c '%U:%G %a' "$b")"
  d=$(dirname "$b")
  while :; do
    [ "$(stat -c %u "$d")" = 0 ] && [ $((0$(stat -c %a "$d") & 022)) -eq 0 ] ||
      fail "$d (above $b) is not root-owned and closed to users: $(stat -c '%U %a' "$d")"
    [ "$d" = / ] && break
    d=$(dirname "$d")
  done
done
expect_eq "installed helper --version" "claude-key-helper $version" "$(/usr/bin/claude-key-helper --version)"
expect_eq "installed refresher --version" "claude-key-refresher $version" \
  "$(/usr/bin/claude-key-refresher --version)"

# A static key in a temp HOME, served by the installed binaries.
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_STATE_HOME=$T/home/.local/state
unset ANTHROPIC_API_KEY CLAUDE_KEY_HELPER_CONFIG CLAUDE_KEY_HELPER_STATE_DIR CLAUDE_KEY_HELPER_PROFILE \
  CLAUDE_KEY_REFRESHER
mkdir -p "$XDG_CONFIG_HOME/claude-key-helper"
key="sk-ant-api03-debpkg$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
secret "$key"
(umask 077 && printf '%s\n' "$key" >"$XDG_CONFIG_HOME/claude-key-helper/key")
cat >"$XDG_CONFIG_HOME/claude-key-helper/config.toml" <<EOF
[profile.default]
backend = "static"
[profile.default.static]
file = "$XDG_CONFIG_HOME/claude-key-helper/key"
EOF
rc=0
(cd / && PATH=/usr/bin:/bin timeout 60 /usr/bin/claude-key-refresher once) >"$T/once.out" 2>&1 || rc=$?
expect_eq "/usr/bin/claude-key-refresher once" 0 "$rc"
[ "$rc" = 0 ] || echo "$(redact "$(cat "$T/once.out")")" >&2
rc=0
out=$(cd / && env -i HOME="$HOME" XDG_STATE_HOME="$XDG_STATE_HOME" PATH=/usr/bin:/bin \
  timeout 60 /usr/bin/claude-key-helper 2>"$T/helper.err") || rc=$?
expect_eq "/usr/bin/claude-key-helper exit" 0 "$rc"
[ "$out" = "$key" ] && pass "/usr/bin/claude-key-helper prints the key" ||
  fail "/usr/bin/claude-key-helper printed [$out], stderr: $(cat "$T/helper.err")"
if command -v man >/dev/null; then
  man -w claude-key-refresher >/dev/null 2>&1 && pass "man finds claude-key-refresher(1)" ||
    fail "man -w claude-key-refresher finds no page"
fi

# Purge: every file of the package is gone.
dpkg -L claude-key-helper >"$T/owned" 2>/dev/null || true
if dpkg_retry timeout 120 dpkg --purge claude-key-helper; then
  installed=0
  pass "dpkg --purge removed it"
else
  fail "dpkg --purge failed"
fi
dpkg-query -W -f='${Status}' claude-key-helper 2>/dev/null | grep -q 'installed' &&
  fail "still installed after purge" || pass "dpkg no longer lists it"
left=$(grep -E 'claude-key' "$T/owned" | while IFS= read -r p; do [ ! -e "$p" ] || echo "$p"; done)
[ -z "$left" ] && pass "nothing of it left after purge" || fail "left after purge: $left"
echo "install, run and purge took $((SECONDS - start)) s"

finish

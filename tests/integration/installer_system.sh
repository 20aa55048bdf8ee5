#!/usr/bin/env bash
# install/install.sh --system (issue 11, item 8), from the existing build dir (CKH_BUILD_DIR;
# --no-deps --no-build), into a throwaway prefix below a fresh root-owned 0755 directory
# in /opt (not /usr/local: the test leaves the system as it found it):
#   - not root: refused with a message that says to use sudo; nothing installed;
#   - a prefix below a group/world-writable directory: refused, naming that directory;
#   - as root: both binaries root-owned 0755 in PREFIX/bin, every directory from there up to
#     / root-owned and not group/world-writable; the systemd user units in
#     PREFIX/lib/systemd/user running PREFIX/bin (systemd-analyze verify where it exists);
#     the docs and example config (and the man pages when the build made them); no user's
#     settings.json, config or state dir touched, no refresher started; the output says what
#     each user runs, and the installed refresher works for a user (once, then the helper);
#   - the installed uninstall.sh --system removes every file and directory it installed.
# Exit 77 when not root or the binaries are not built.
set -euo pipefail

src=${CKH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${CKH_BUILD_DIR:-}
if [ -z "$build" ] || [ ! -f "$build/cmake_install.cmake" ] || [ ! -x "$build/claude-key-refresher" ]; then
  echo "skipped: no built build dir (CKH_BUILD_DIR=$build)"; exit 77
fi
[ "$(id -u)" -eq 0 ] || { echo "skipped: --system needs root"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "skipped: setpriv (util-linux) is missing"; exit 77; }
# shellcheck source=tests/integration/lib_checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_checks.sh"
private_tmp ckh-system
base=$(mktemp -d /opt/ckh-system-test.XXXXXX)
chmod 0755 "$base"
trap 'rm -rf "$base"; cleanup' EXIT
prefix=$base/usr/local

# A user whose files must not change.
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_STATE_HOME=$T/home/.local/state
unset CLAUDE_CONFIG_DIR CLAUDE_KEY_HELPER_CONFIG CLAUDE_KEY_HELPER_STATE_DIR ANTHROPIC_API_KEY || true
mkdir -p "$HOME/.claude"
printf '{"model": "opus"}\n' >"$HOME/.claude/settings.json"
home_sum() { (cd "$HOME" && find . | sort && find . -type f -exec sha256sum {} + | sort) | sha256sum; }
before=$(home_sum)
run_install() {  # run_install OUT [args]: sets rc
  local out=$1; shift
  rc=0
  bash "$src/install/install.sh" --system --no-deps --no-build --build-dir "$build" "$@" >"$out" 2>&1 || rc=$?
}

# --- not root --------------------------------------------------------------------------------
chmod 0755 "$T"
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/nonexistent \
  bash "$src/install/install.sh" --system --no-deps --no-build --build-dir "$build" \
  --prefix "$prefix" >"$T/nonroot.out" 2>&1 || rc=$?
expect_eq "not root: exit 1" 1 "$rc"
grep -q 'must run as root: sudo ' "$T/nonroot.out" && pass "not root: says to use sudo" ||
  fail "not root: $(cat "$T/nonroot.out")"
[ ! -e "$prefix" ] && pass "not root: nothing installed" || fail "not root: $prefix exists"

# --- an unsafe directory above the prefix ------------------------------------------------------
mkdir -m 0777 "$base/open"
run_install "$T/unsafe.out" --prefix "$base/open/usr"
expect_eq "below a world-writable dir: exit 1" 1 "$rc"
grep -qF "$base/open (owner uid 0, mode 777)" "$T/unsafe.out" && pass "names the unsafe directory" ||
  fail "unsafe prefix: $(cat "$T/unsafe.out")"
[ ! -e "$base/open/usr" ] && pass "nothing installed below it" || fail "installed below $base/open"
rmdir "$base/open"

# --- as root ------------------------------------------------------------------------------------
(umask 0002 && run_install "$T/install.out" --prefix "$prefix")  # a loose umask must not matter
rc=0; grep -q '^install: undo: ' "$T/install.out" || rc=1
expect_eq "--system install exits 0 and says how to undo" 0 "$rc"
for b in claude-key-helper claude-key-refresher; do
  expect_eq "$b root-owned 0755" "0 0 755" "$(stat -c '%u %g %a' "$prefix/bin/$b" 2>&1)"
done
d=$prefix/bin bad=""
while :; do
  read -r owner mode < <(stat -c '%u %a' "$d")
  if [ "$owner" != 0 ] || (( (8#$mode & 8#022) != 0 )); then bad+=" $d($owner,$mode)"; fi
  [ "$d" != / ] || break
  d=$(dirname "$d")
done
expect_eq "every directory above the binaries root-owned, not group/world-writable" "" "$bad"
bad=$(find "$prefix" \( ! -user 0 -o -perm /022 \) -printf '%p ' )
expect_eq "nothing installed is writable by others or not root's" "" "$bad"
units=$prefix/lib/systemd/user
for u in claude-key-refresher.service claude-key-refresher-once.service claude-key-refresher-once.timer; do
  [ -f "$units/$u" ] && pass "unit $u in PREFIX/lib/systemd/user" || fail "no $units/$u"
done
grep -q "^ExecStart=$prefix/bin/claude-key-refresher run" "$units/claude-key-refresher.service" &&
  pass "the service runs PREFIX/bin/claude-key-refresher" ||
  fail "ExecStart: $(grep ExecStart "$units/claude-key-refresher.service")"
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -m 0700 "$T/runtime"
  out=$(cd "$units" && XDG_RUNTIME_DIR=$T/runtime systemd-analyze --user verify \
        claude-key-refresher.service claude-key-refresher-once.service \
        claude-key-refresher-once.timer 2>&1) && pass "the units verify" || fail "verify: $out"
fi
for f in share/doc/claude-key-helper/README.md share/doc/claude-key-helper/config.example.toml \
         share/claude-key-helper/uninstall.sh share/claude-key-helper/claude-code-settings.py; do
  [ -f "$prefix/$f" ] && pass "PREFIX/$f installed" || fail "no PREFIX/$f"
done
if [ -f "$build/man/claude-key-refresher.1.gz" ]; then
  [ -f "$prefix/share/man/man1/claude-key-refresher.1.gz" ] && pass "man pages installed" ||
    fail "no man page in PREFIX/share/man/man1"
fi
expect_eq "no user's files touched (settings.json, config, state)" "$before" "$(home_sum)"
grep -qF "python3 $prefix/share/claude-key-helper/claude-code-settings.py register" "$T/install.out" &&
  grep -qF "systemctl --user enable --now claude-key-refresher" "$T/install.out" &&
  pass "says what each user runs" || fail "no per-user instructions: $(cat "$T/install.out")"
if pgrep -f "$prefix/bin/claude-key-refresher" >/dev/null; then fail "a refresher was started"; else pass "nothing started"; fi

# The installed binaries work for a user (nobody, with a static key file of its own).
user_home=$T/nobody
mkdir -p "$user_home/.config/claude-key-helper"
printf 'sk-ant-system-test' >"$user_home/.config/claude-key-helper/key"
chmod 0600 "$user_home/.config/claude-key-helper/key"
printf '[profile.default]\nbackend = "static"\n[profile.default.static]\nfile = "%s"\n' \
  "$user_home/.config/claude-key-helper/key" >"$user_home/.config/claude-key-helper/config.toml"
chown -R 65534:65534 "$user_home"
as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME="$user_home" PATH=/usr/bin:/bin "$@"; }
rc=0; as_user "$prefix/bin/claude-key-refresher" once --quiet >"$T/once.out" 2>&1 || rc=$?
expect_eq "a user's once with the installed refresher" 0 "$rc"
expect_eq "the installed helper prints the user's key" sk-ant-system-test \
  "$(as_user "$prefix/bin/claude-key-helper" 2>"$T/helper.err" </dev/null || cat "$T/helper.err")"

# --- uninstall --system ------------------------------------------------------------------------
rc=0; bash "$prefix/share/claude-key-helper/uninstall.sh" --system >"$T/uninstall.out" 2>&1 || rc=$?
expect_eq "uninstall --system exits 0" 0 "$rc"
grep -qxF "uninstall: removed $prefix/bin/claude-key-helper" "$T/uninstall.out" &&
  pass "uninstall names what it removed" || fail "uninstall output: $(cat "$T/uninstall.out")"
left=$(find "$base" -mindepth 1 2>/dev/null | head -5)
expect_eq "nothing left of the install" "" "$left"

finish

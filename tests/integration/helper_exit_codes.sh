#!/bin/bash
# Every documented exit code of claude-key-helper, each with its one-line stderr (< 500
# bytes, names a command to run, never a secret), and the success contract: exactly the
# credential and one newline on stdout, nothing on stderr, stdin never read.
source "$(dirname "$0")/lib.sh"

check_error_line() { # label
  local lines bytes
  lines=$(printf '%s' "$ERR" | grep -c '' || true)
  bytes=$(printf '%s' "$ERR" | wc -c)
  [ "$lines" -eq 1 ] || fail "$1: stderr has $lines lines: $ERR"
  [ "$bytes" -lt 500 ] || fail "$1: stderr is $bytes bytes"
  case "$ERR" in *"run: claude-key-"*|*"see: claude-key-"*|*"run \`claude-key-"*) ;; *) fail "$1: stderr names no command to run: $ERR" ;; esac
  case "$ERR" in *key-[0-9]*) fail "$1: stderr quotes a credential" ;; esac
  [ -z "$OUT" ] || fail "$1: stdout not empty on failure"
}

make_command_backend

# 64: usage
run_helper --bogus
expect_eq "unknown argument exits 64" 64 "$RC"
check_error_line usage
run_helper --profile 'bad/name'
expect_eq "invalid profile name exits 64" 64 "$RC"
run_helper --profile
expect_eq "--profile without a value exits 64" 64 "$RC"
run_helper --help
expect_eq "--help exits 0" 0 "$RC"

# 78: not configured (no config, no ANTHROPIC_API_KEY), and no credential yet
run_helper
expect_eq "no config exits 78" 78 "$RC"
check_error_line "not configured"
write_command_config 1h
backend_mode fail
run_helper
expect_eq "backend failing before any credential exits 78" 78 "$RC"
check_error_line "no credential yet"
case "$ERR" in *"upstream said no"*) pass "reason names the backend's error" ;; *) fail "reason missing: $ERR" ;; esac
run_helper --profile other
expect_eq "unknown profile exits 78" 78 "$RC"

# 0: success contract (with nothing valid, one retry per backoff_min = 1 s goes through)
backend_mode ok
sleep 1.1
run_helper
expect_eq "fresh credential exits 0" 0 "$RC"
expect_eq "stdout is the credential" "key-1" "$OUT"
expect_eq "stderr empty on success" "" "$ERR"
bytes=$(timeout 30 "$CKH_HELPER" <&9 | od -c | head -1)
case "$bytes" in *"k   e   y   -   1  \\n"*) pass "exactly one trailing newline" ;; *) fail "output bytes: $bytes" ;; esac
calls_before=$(backend_calls)
run_helper
expect_eq "cache hit makes no backend call" "$calls_before" "$(backend_calls)"

# CLAUDE_KEY_HELPER_PROFILE selects the profile (here: one that does not exist)
CLAUDE_KEY_HELPER_PROFILE=nope run_helper
expect_eq "CLAUDE_KEY_HELPER_PROFILE is honoured" 78 "$RC"

# 75: expired, and the backend is down
write_command_config 2s
"$CKH_REFRESHER" once --force --quiet
backend_mode fail
sleep 2.2
run_helper
expect_eq "expired with backend down exits 75" 75 "$RC"
check_error_line expired
case "$ERR" in *"expired at"*) pass "says it expired" ;; *) fail "75 message: $ERR" ;; esac

# 65: corrupt or unknown-version cache
backend_mode ok
write_command_config 1h
"$CKH_REFRESHER" once --force --quiet
cp "$STATE/default.cred" "$T/good.cred"
sed -i 's/generation: .*/generation: many/' "$STATE/default.cred"
run_helper
expect_eq "corrupt cache exits 65" 65 "$RC"
check_error_line corrupt
sed -E '1s/ v[0-9]+$/ v9/' "$T/good.cred" > "$STATE/default.cred"
run_helper
expect_eq "unknown version exits 65" 65 "$RC"
case "$ERR" in *"version 9"*) pass "names the version" ;; *) fail "version message: $ERR" ;; esac
head -c 40 "$T/good.cred" > "$STATE/default.cred"
run_helper
expect_eq "truncated cache exits 65" 65 "$RC"

# 77: unsafe cache
cp "$T/good.cred" "$STATE/default.cred"
chmod 644 "$STATE/default.cred"
run_helper
expect_eq "group/world-readable cache exits 77" 77 "$RC"
check_error_line "unsafe mode"
case "$ERR" in *"chmod 600"*) pass "says how to fix the mode" ;; *) fail "mode message: $ERR" ;; esac
rm "$STATE/default.cred"
cp "$T/good.cred" "$T/elsewhere.cred"
ln -s "$T/elsewhere.cred" "$STATE/default.cred"
run_helper
expect_eq "symlinked cache exits 77" 77 "$RC"
rm "$STATE/default.cred"
mkdir "$STATE/default.cred"
run_helper
expect_eq "directory as cache exits 77" 77 "$RC"
rmdir "$STATE/default.cred"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  cp "$T/good.cred" "$STATE/default.cred"
  chown nobody "$STATE/default.cred"
  run_helper
  expect_eq "cache owned by another user exits 77" 77 "$RC"
  rm -f "$STATE/default.cred"
else
  echo "note: owner check needs root to chown; covered by unit tests"
fi
cp "$T/good.cred" "$STATE/default.cred"
run_helper
expect_eq "restored cache exits 0" 0 "$RC"

# stdin is never read: every run above had a stdin that never ends (run_helper) and a 30 s
# bound; one more, with data waiting on stdin that must stay unread.
echo "not-for-the-helper" > "$T/stdin.fifo" &
BG_PIDS+=($!)
run_helper
expect_eq "helper with data on stdin still answers" 0 "$RC"
leftover=$(timeout 2 head -c 18 <&9 || true)
expect_eq "stdin left unread" "not-for-the-helper" "$leftover"
finish

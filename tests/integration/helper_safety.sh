#!/bin/bash
# Issue 10, items 5, 6 and 11: what the helper and `once` do with a hostile or broken state.
#  5  a FIFO (or a file of another user) at P.lock: `once` refuses it at once with what to
#     remove, instead of hanging in open() forever; the helper says so (exit 77), prints a
#     still-valid credential regardless, and leaves no `once` behind.
#  6  the helper never runs a claude-key-refresher found through a relative PATH entry or a
#     relative CLAUDE_KEY_REFRESHER (Claude Code runs it in the user's project directory).
# 11  a state dir that is 0755/0777, a symlink or another user's is refused by the helper
#     (exit 77) with the refresher's own words; nothing is sent to a P.sock listener running
#     as another uid.
source "$(dirname "$0")/lib.sh"
make_command_backend
write_command_config 1h

# The pids of the `once` processes that belong to this test's state dir (by their
# environment). A regression leaves them hanging: they are killed on exit.
our_once_pids() {
  local pid
  for pid in $(pgrep -f -- '--helper-request' || true); do
    if grep -qzxF "CLAUDE_KEY_HELPER_STATE_DIR=$STATE" "/proc/$pid/environ" 2>/dev/null; then
      echo "$pid"
    fi
  done
}
our_once_processes() { our_once_pids | grep -c . || true; }
kill_our_once() {
  local pid
  for pid in $(our_once_pids); do kill -KILL "$pid" 2>/dev/null || true; done
}
trap 'kill_our_once; cleanup' EXIT

"$CKH_REFRESHER" once --quiet
cp "$STATE/default.cred" "$T/good.cred"

# ---- 5: P.lock is a FIFO ------------------------------------------------------------------
rm -f "$STATE/default.lock"
mkfifo "$STATE/default.lock"
set +e
timeout 30 "$CKH_REFRESHER" once --force >"$T/once.out" 2>"$T/once.err"
rc=$?
set -e
[ "$rc" != 124 ] && pass "once with a FIFO at P.lock ends (exit $rc)" || fail "once hung on a FIFO at P.lock"
grep -q "default.lock is not a regular file; remove it" "$T/once.err" &&
  pass "once says P.lock is not a regular file and to remove it" || fail "once stderr: $(cat "$T/once.err")"

rm -f "$STATE/default.cred"
run_helper --wait-ms 20000
expect_eq "no credential and a FIFO at P.lock: helper exits 77" 77 "$RC"
case "$ERR" in *"default.lock is not a regular file"*"run: claude-key-refresher"*) pass "the helper names P.lock and what to run" ;;
  *) fail "helper stderr: $ERR" ;; esac
expect_eq "no 'once' is left hanging" 0 "$(our_once_processes)"

# A credential valid but not for the caller's TTL: served whatever the lock is.
cp "$T/good.cred" "$STATE/default.cred"
CLAUDE_CODE_API_KEY_HELPER_TTL_MS=7200000 run_helper --wait-ms 20000
expect_eq "a still-valid credential is served despite the FIFO" "0 key-1" "$RC $OUT"
expect_eq "... silently" "" "$ERR"
expect_eq "no 'once' is left hanging after that either" 0 "$(our_once_processes)"
rm -f "$STATE/default.lock"

if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  : >"$STATE/default.lock"
  chown nobody "$STATE/default.lock"
  set +e
  timeout 30 "$CKH_REFRESHER" once --force >"$T/once.out" 2>"$T/once.err"
  set -e
  grep -q "default.lock is owned by uid $(id -u nobody), not by you" "$T/once.err" &&
    pass "once refuses a P.lock of another user" || fail "once stderr: $(cat "$T/once.err")"
  rm -f "$STATE/default.lock"
else
  echo "note: a P.lock of another user needs root to chown; covered by unit tests"
fi

# ---- 6: no refresher from a relative PATH entry ----------------------------------------------
# A helper with no refresher beside it, run in a project that ships its own "refresher".
mkdir -p "$T/lonely" "$T/project/bin" "$T/realbin"
cp "$CKH_HELPER" "$T/lonely/claude-key-helper"
for planted in "$T/project/claude-key-refresher" "$T/project/bin/claude-key-refresher"; do
  printf '#!/bin/sh\ntouch "%s"\necho "ok 99"\n' "$T/planted-ran" >"$planted"
  chmod 755 "$planted"
done
ln -s "$CKH_REFRESHER" "$T/realbin/claude-key-refresher"
rm -f "$STATE/default.cred"
run_lonely() { # PATH [CLAUDE_KEY_REFRESHER]: the copied helper, in the project dir
  set +e
  OUT=$(cd "$T/project" && env -u CLAUDE_KEY_REFRESHER PATH="$1" ${2:+CLAUDE_KEY_REFRESHER="$2"} \
    timeout 30 "$T/lonely/claude-key-helper" --wait-ms 20000 <&9 2>"$T/helper.err")
  RC=$?
  set -e
  ERR=$(cat "$T/helper.err")
}
run_lonely ".:bin::/usr/bin:/bin"
[ ! -e "$T/planted-ran" ] && pass "relative PATH entries are not searched" ||
  fail "the helper ran the project's ./claude-key-refresher"
expect_eq "no refresher found: exit 78" 78 "$RC"
case "$ERR" in *"absolute PATH entry"*"CLAUDE_KEY_REFRESHER"*) pass "says where it looked and what to set" ;;
  *) fail "helper stderr: $ERR" ;; esac
rm -f "$T/planted-ran"
run_lonely "/usr/bin:/bin" "claude-key-refresher"
[ ! -e "$T/planted-ran" ] && pass "a relative CLAUDE_KEY_REFRESHER is not run" ||
  fail "the helper ran CLAUDE_KEY_REFRESHER relative to the project dir"
expect_eq "relative CLAUDE_KEY_REFRESHER: exit 78" 78 "$RC"
case "$ERR" in *"CLAUDE_KEY_REFRESHER must be an absolute path"*) pass "says it must be absolute" ;;
  *) fail "helper stderr: $ERR" ;; esac
rm -f "$T/planted-ran"
run_lonely ".:bin:$T/realbin:/usr/bin:/bin"
case "$RC $OUT" in "0 key-"*) pass "the refresher in an absolute PATH entry is used" ;;
  *) fail "absolute PATH entry: exit $RC, stderr: $ERR" ;; esac
[ ! -e "$T/planted-ran" ] || fail "the planted refresher ran"
cp "$T/good.cred" "$STATE/default.cred"

# ---- 11: the state dir ---------------------------------------------------------------------
same_rule() { # label: the helper refuses (77) with the words `once` refuses with
  local words
  run_helper
  expect_eq "$1: helper exits 77" 77 "$RC"
  [ -z "$OUT" ] || fail "$1: the helper printed a credential"
  set +e
  "$CKH_REFRESHER" once --force >/dev/null 2>"$T/once.err"
  set -e
  words=$(sed -n 's/.*refresh failed (unsafe): //p' "$T/once.err")
  if [ -n "$words" ] && [[ $ERR == *"refusing the state directory: $words"* ]]; then
    pass "$1: helper and once give the same reason"
  else
    fail "$1: helper [$ERR] vs once [$(cat "$T/once.err")]"
  fi
}
chmod 755 "$STATE"
same_rule "state dir 0755"
case "$ERR" in *"chmod 700 $STATE"*) pass "says how to fix the mode" ;; *) fail "mode message: $ERR" ;; esac
chmod 777 "$STATE"
same_rule "state dir 0777"
chmod 700 "$STATE"
ln -s "$STATE" "$T/state-link"
CLAUDE_KEY_HELPER_STATE_DIR="$T/state-link" same_rule "state dir through a symlink"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  chown nobody "$STATE"
  same_rule "state dir of another user"
  chown "$(id -u)" "$STATE"
else
  echo "note: a state dir of another user needs root to chown; covered by unit tests"
fi
run_helper
expect_eq "the repaired state dir serves again" "0 key-1" "$RC $OUT"

# ---- 11: who listens on P.sock ----------------------------------------------------------------
# A listener bound in the state dir that calls listen() as nobody (SO_PEERCRED reports that
# uid); it logs every byte it is sent.
python=/usr/bin/python3
if [ "$(id -u)" -eq 0 ] && [ -x "$python" ] && id nobody >/dev/null 2>&1; then
  "$python" - "$STATE/default.sock" "$T/listener.log" "$(id -u nobody)" <<'PY' &
import os, socket, sys
path, log_path, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = open(log_path, "ab", buffering=0)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.setgid(uid); os.setuid(uid)
s.listen(8)
log.write(b"listening\n")
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        data = c.recv(4096)
    except OSError:
        data = b""
    log.write(b"conn [" + data + b"]\n")
    c.close()
PY
  BG_PIDS+=($!)
  for _ in $(seq 200); do grep -q listening "$T/listener.log" 2>/dev/null && break; sleep 0.05; done
  CLAUDE_CODE_API_KEY_HELPER_TTL_MS=7200000 run_helper --wait-ms 20000
  expect_eq "foreign listener: the still-valid credential is served" "0 key-1" "$RC $OUT"
  rm -f "$STATE/default.cred"
  run_helper --wait-ms 20000
  expect_eq "foreign listener and no credential: exit 77" 77 "$RC"
  case "$ERR" in *"served by uid $(id -u nobody), not by you"*) pass "names the listener's uid" ;;
    *) fail "helper stderr: $ERR" ;; esac
  if grep -q 'refresh' "$T/listener.log"; then
    fail "the helper sent its request to a listener of another uid: $(cat "$T/listener.log")"
  else
    pass "nothing was sent to the foreign listener ($(grep -c conn "$T/listener.log") connections)"
  fi
else
  echo "note: a listener of another uid needs root and /usr/bin/python3; covered by unit tests"
fi
finish

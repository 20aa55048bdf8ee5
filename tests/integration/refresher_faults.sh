#!/bin/bash
# Issue 10, "keeps working through faults" (items 12, 14, 15) with the real binaries:
#   12. the state dir removed under a running daemon: the daemon says so in one log line and
#       exits 75 (systemd restarts it); a second daemon then serves the new dir alone; a
#       daemon whose socket was replaced leaves the replacement alone when it goes; a first
#       daemon stopped while a second serves the new dir leaves the second's socket and pid
#       file alone;
#   14. a permanent failure stops automatic retries (daemon timer, helper requests) until
#       the config or P.secret changes or `once --force` runs; status says so;
#   15. credentials that live no longer than Claude Code's helper TTL: check-config warns,
#       and helper calls do not each run the backend.
source "$(dirname "$0")/lib.sh"
make_command_backend
R="$CKH_REFRESHER"

# wait_exit PID SECONDS: sets RC to the exit status, or "running" after SECONDS.
wait_exit() {
  local pid=$1 i
  for i in $(seq $(($2 * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      set +e
      wait "$pid" 2>/dev/null
      RC=$?
      set -e
      return 0
    fi
    sleep 0.1
  done
  RC=running
}

# ---- 12. the state dir removed under a running daemon --------------------------------------
echo "--- 12. state dir removed under the daemon"
write_command_config 1h
start_daemon
first=$DAEMON_PID
"$R" status | grep -q "daemon:        running (pid $first)" && pass "first daemon serves" || fail "status: $("$R" status)"
rm -rf "$STATE"
start_s=$(date +%s)
wait_exit "$first" 30
echo "the daemon noticed the removal and exited after $(( $(date +%s) - start_s )) s (bound: 30 s)"
expect_eq "a daemon whose state dir was removed exits 75 (systemd restarts it)" 75 "$RC"
grep -q "lost the state dir $STATE while running" "$T/daemon.log" \
  && pass "it says so in one log line: $(grep 'lost the state dir' "$T/daemon.log" | head -1 | sed 's/^.*\] //')" \
  || fail "no clear log line: $(tail -3 "$T/daemon.log")"
[ "$(grep -c 'lost the state dir' "$T/daemon.log")" = 1 ] && pass "exactly one such line" || fail "$(grep -c 'lost the state dir' "$T/daemon.log") lines"
start_daemon
second=$DAEMON_PID
"$R" signal >/dev/null && pass "signal reaches the second daemon" || fail "signal after restart"
"$R" status | grep -q "daemon:        running (pid $second)" && pass "status shows the second daemon" || fail "status: $("$R" status)"
run_helper
expect_eq "the helper is served from the new dir" "$(sed -n 's/^credential: //p' "$STATE/default.cred")" "$OUT"

# A replaced socket (someone else's now): the daemon leaves, without removing it.
python3 - "$STATE/default.sock" "$T/other.sock" <<'PY' &
import os, socket, sys, time
target, temp = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(temp)
s.listen(1)
os.rename(temp, target)
time.sleep(60)
PY
BG_PIDS+=($!)
impostor=$!
wait_exit "$second" 30
expect_eq "a daemon whose socket was replaced exits 75" 75 "$RC"
[ -S "$STATE/default.sock" ] && pass "the replacement socket is left alone" || fail "the daemon removed a socket that was not its own"
kill "$impostor" 2>/dev/null || true
rm -f "$STATE/default.sock"

# Its parent dir moved away (no inotify event for the state dir itself): a second daemon
# serves the new dir while the first has not noticed yet; stopping the first must leave the
# second's socket and pid file alone.
export CLAUDE_KEY_HELPER_STATE_DIR="$T/parent/state"
STATE=$CLAUDE_KEY_HELPER_STATE_DIR
mkdir -p -m 700 "$T/parent"
start_daemon
first=$DAEMON_PID
for _ in $(seq 100); do [ -e "$STATE/default.cred" ] && break; sleep 0.1; done  # its first refresh
mv "$T/parent" "$T/parent.old"
mkdir -m 700 "$T/parent"
rm -f "$T/daemon.pid"
start_daemon
second=$DAEMON_PID
kill -0 "$first" 2>/dev/null && pass "two daemons ran for a moment (the first had not noticed yet)" || echo "note: the first daemon noticed at once"
kill -TERM "$first" 2>/dev/null || true
wait_exit "$first" 30
[ "$RC" != running ] && pass "the first daemon stopped (exit $RC)" || fail "the first daemon did not stop"
[ -S "$STATE/default.sock" ] && pass "stopping the first left the second's socket" || fail "stopping the first removed the second's socket"
expect_eq "stopping the first left the second's pid file" "$second" "$(cat "$T/daemon.pid" 2>/dev/null)"
"$R" signal >/dev/null && pass "the second daemon still answers" || fail "the second daemon is unreachable"
"$R" status | grep -q "daemon:        running (pid $second)" && pass "status shows the second daemon running" || fail "status: $("$R" status)"
kill -TERM "$second"; wait "$second" 2>/dev/null || true
export CLAUDE_KEY_HELPER_STATE_DIR="$T/state"
STATE=$CLAUDE_KEY_HELPER_STATE_DIR

# ---- 14. a permanent failure waits for the user ------------------------------------------------
echo "--- 14. permanent failure"
cat > "$T/backend/bad.sh" <<SCRIPT
#!/bin/sh
echo "call \$(date +%s%N)" >> "$T/backend/calls"
echo "two words"
SCRIPT
chmod +x "$T/backend/bad.sh"
rm -f "$STATE/default.cred"
write_command_config 1h 'backoff_min = "1s"' 'backoff_max = "2s"'
sed -i "s|fetch.sh|bad.sh|" "$CLAUDE_KEY_HELPER_CONFIG"
: > "$T/backend/calls"
start_daemon
sleep 6
# Before: one retry every backoff_max (2 s), each resending what was refused.
expect_eq "after a permanent failure the daemon's timer does not retry (6 s, backoff_max 2 s)" 1 "$(backend_calls)"
run_helper
[ "$RC" != 0 ] && [ -z "$OUT" ] && pass "the helper fails (exit $RC)" || fail "helper: $RC $OUT"
expect_eq "nor does a helper request" 1 "$(backend_calls)"
case "$ERR" in *"once --force"*) pass "the helper's error says what to run" ;; *) fail "helper error: $ERR" ;; esac
"$R" status >"$T/status.out" || true  # exits 77 (refused): the worst profile's health
grep -q "next refresh:  none automatically" "$T/status.out" && pass "status says no automatic refresh" || fail "status: $(cat "$T/status.out")"
{ "$R" status --json || true; } | python3 -c 'import json,sys; p=json.load(sys.stdin)["profiles"][0]; assert p["automatic_refresh_stopped"] is True and p["next_refresh_at"] is None, p' \
  && pass "status --json: automatic_refresh_stopped" || fail "status --json"
set +e
"$R" once </dev/null 2>/dev/null; rc=$?  # as cron runs it: no terminal
set -e
expect_eq "once (not forced) does not retry either, exit 77" "77 1" "$rc $(backend_calls)"
set +e
"$R" once --force 2>/dev/null; rc=$?
set -e
expect_eq "once --force retries (and fails again, 77)" "77 2" "$rc $(backend_calls)"
# An edited configuration resumes automatic refreshes.
write_command_config 1h 'backoff_min = "1s"' 'backoff_max = "3s"'
sed -i "s|fetch.sh|bad.sh|" "$CLAUDE_KEY_HELPER_CONFIG"
kill -HUP "$DAEMON_PID"
for _ in $(seq 100); do [ "$(backend_calls)" -ge 3 ] && break; sleep 0.1; done
expect_eq "a changed config is tried once by the daemon" 3 "$(backend_calls)"
sleep 4
expect_eq "and then waits again" 3 "$(backend_calls)"
# The fix: a working command, then once --force.
sed -i "s|bad.sh|fetch.sh|" "$CLAUDE_KEY_HELPER_CONFIG"
kill -HUP "$DAEMON_PID"
for _ in $(seq 100); do [ -e "$STATE/default.cred" ] && break; sleep 0.1; done
run_helper
case "$OUT" in key-*) pass "after the config fix the daemon refreshes by itself" ;; *) fail "helper after fix: $RC $ERR" ;; esac
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true

# ---- 15. credentials that live no longer than Claude Code's TTL ------------------------------
echo "--- 15. short-lived credentials"
write_command_config 2m
"$R" check-config >"$T/check.out"
grep -q "warning: profile 'default': its credentials live 120s (command backend), not longer than the helper TTL 300s" "$T/check.out" \
  && pass "check-config warns: $(grep warning "$T/check.out")" || fail "check-config: $(cat "$T/check.out")"
grep -q 'set env.CLAUDE_CODE_API_KEY_HELPER_TTL_MS to "45000"' "$T/check.out" && pass "and suggests the TTL" || fail "no TTL suggested"
"$R" check-config --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] and len(d["warnings"]) == 1, d' \
  && pass "check-config --json lists the warning" || fail "check-config --json"
CLAUDE_CODE_API_KEY_HELPER_TTL_MS=45000 "$R" check-config | grep -q warning && fail "warns with a fitting TTL" || pass "no warning with a fitting TTL"
mkdir -p "$T/claude"
printf '{"apiKeyHelper": "x", "env": {"CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "45000"}}\n' > "$T/claude/settings.json"
CLAUDE_CONFIG_DIR="$T/claude" "$R" check-config | grep -q warning && fail "settings.json's TTL ignored" || pass "the TTL in Claude Code's settings.json counts"
write_command_config 1h
"$R" check-config | grep -q warning && fail "warns about a 1 h credential" || pass "no warning for a 1 h credential"

# Without a daemon each stale helper call runs `once`; with a 2 m credential every call is
# stale for Claude Code's default TTL. Before: one backend call per helper call.
write_command_config 2m
"$R" once --force --quiet
calls=$(backend_calls)
for _ in 1 2 3 4 5; do
  run_helper
  case "$OUT" in key-*) ;; *) fail "helper with a short-lived credential: $RC $ERR" ;; esac
done
extra=$(( $(backend_calls) - calls ))
echo "backend calls for 5 helper calls with a 2 m credential: $extra"
[ "$extra" -le 1 ] && pass "helper calls are rate-limited (at most one backend call per 30 s)" || fail "$extra backend calls for 5 helper calls"
finish

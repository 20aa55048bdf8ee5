#!/bin/bash
# `claude-key-refresher run`: refreshes when due and never in between, at once on `signal`
# and on the helper's request, backs off with jitter on failure, keeps the last good
# credential, refuses a second daemon for the same profile, reloads on SIGHUP (keeping the
# old config when the new one is bad) and on an edit of the config file by itself, exits
# cleanly on SIGTERM.
source "$(dirname "$0")/lib.sh"
make_command_backend
write_command_config 1h
R="$CKH_REFRESHER"

start_daemon
sleep 0.5
expect_eq "daemon refreshes at start (no credential yet)" 1 "$(backend_calls)"
sleep 2
expect_eq "daemon does not poll between due times" 1 "$(backend_calls)"
"$R" status | grep -q "daemon:        running (pid $DAEMON_PID)" && pass "status shows the daemon" || fail "status: $("$R" status)"
"$R" status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["profiles"][0]; assert p["daemon_alive"] and p["credential"]["generation"]==1, p' \
  && pass "status --json parses and agrees" || fail "status --json"

# A second daemon for the same profile is refused.
set +e
timeout 10 "$R" run 2>"$T/second.err"; rc=$?
set -e
expect_eq "second daemon refused with 78" 78 "$rc"
grep -q "already served" "$T/second.err" && pass "says another daemon serves it" || fail "second daemon: $(cat "$T/second.err")"

# signal: an immediate forced refresh; time it (the figure goes to the closing note).
start=$(date +%s%N)
"$R" signal >/dev/null
echo "signal round trip including a backend call: $(( ($(date +%s%N) - start) / 1000000 )) ms"
backend_start=$(tail -1 "$T/backend/calls" | cut -d' ' -f2)
echo "from running 'signal' to the backend starting: $(( (backend_start - start) / 1000000 )) ms (includes starting the signal process)"
expect_eq "signal refreshes at once" 2 "$(backend_calls)"
expect_eq "signal publishes a new generation" "key-2" "$(sed -n 's/^credential: //p' "$STATE/default.cred")"

# Backoff: with a credential that is always due (it lives 2 s, so half-life is 1 s),
# failures are retried with growing, jittered delays (1 s, then up to 2 s, 4 s...), never in
# a tight loop, and the last good credential stays published.
write_command_config 2s
kill -HUP "$DAEMON_PID"
sleep 0.5
"$R" signal >/dev/null   # publish a 2 s credential
backend_mode fail
calls_at_failure=$(backend_calls)
sleep 6
retries=$(( $(backend_calls) - calls_at_failure ))
echo "attempts in 6 s while the backend fails: $retries"
[ "$retries" -ge 2 ] && [ "$retries" -le 6 ] && pass "backoff bounds retries" || fail "$retries attempts in 6 s"
backend_mode ok
write_command_config 1h
kill -HUP "$DAEMON_PID"
sleep 0.3
"$R" signal >/dev/null   # publish a 1 h credential
backend_mode fail
"$R" signal >/dev/null 2>&1 || true
good_key=$(sed -n 's/^credential: //p' "$STATE/default.cred")
run_helper
expect_eq "helper still serves the last good credential during the outage" "$good_key" "$OUT"
grep -q "consecutive_failures: [1-9]" "$STATE/default.status" && pass "failures counted" || fail "status file"

# SIGHUP with a bad config keeps the old one; with a good one, switches.
backend_mode ok
cp "$CLAUDE_KEY_HELPER_CONFIG" "$T/good.toml"
echo 'this is not toml' >> "$CLAUDE_KEY_HELPER_CONFIG"
kill -HUP "$DAEMON_PID"
sleep 0.5
grep -q "reload refused" "$T/daemon.log" && pass "bad reload refused and logged" || fail "log: $(tail -3 "$T/daemon.log")"
kill -0 "$DAEMON_PID" && pass "daemon survives a bad reload" || fail "daemon died on bad reload"
"$R" signal --config "$T/good.toml" >/dev/null
case "$(sed -n 's/^credential: //p' "$STATE/default.cred")" in
  key-*) [ "$(sed -n 's/^credential: //p' "$STATE/default.cred")" != "$good_key" ] && pass "old config still serving after a bad reload" || fail "no refresh after bad reload" ;;
  *) fail "unexpected credential after bad reload" ;;
esac
export STATIC_TEST_KEY=sk-static-after-reload
printf '[profile.default]\nbackend = "static"\n[profile.default.static]\nenv = "STATIC_TEST_KEY"\n' > "$CLAUDE_KEY_HELPER_CONFIG"
# The daemon reads STATIC_TEST_KEY from its own environment: restart it with the variable.
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; rc=$?
expect_eq "SIGTERM exits 0" 0 "$rc"
[ ! -e "$STATE/default.sock" ] && pass "socket removed" || fail "socket left behind"
[ ! -e "$T/daemon.pid" ] && pass "pid file removed" || fail "pid file left behind"
cp "$T/good.toml" "$CLAUDE_KEY_HELPER_CONFIG"
start_daemon
printf '[profile.default]\nbackend = "static"\n[profile.default.static]\nenv = "STATIC_TEST_KEY"\n' > "$CLAUDE_KEY_HELPER_CONFIG"
kill -HUP "$DAEMON_PID"
for _ in $(seq 40); do grep -q "sk-static-after-reload" "$STATE/default.cred" 2>/dev/null && break; sleep 0.1; done
expect_eq "good reload switches backend and refreshes at once" "sk-static-after-reload" \
  "$(sed -n 's/^credential: //p' "$STATE/default.cred")"
grep -q "configuration reloaded" "$T/daemon.log" && pass "reload logged" || fail "reload not logged"
grep -q "sk-static-after-reload\|key-[0-9]" "$T/daemon.log" && fail "daemon log holds a credential" || pass "daemon log holds no credential"

# An edited config is picked up without a SIGHUP (polled; bounded wait, no timing window):
# a daemon left on the old config would keep republishing the old source while cron's
# `once` publishes the new one.
write_command_config 1h
for _ in $(seq 300); do
  case "$(sed -n 's/^credential: //p' "$STATE/default.cred")" in key-*) break ;; esac
  sleep 0.1
done
case "$(sed -n 's/^credential: //p' "$STATE/default.cred")" in
  key-*) pass "an edited config is reloaded without SIGHUP and its source published" ;;
  *) fail "30 s after the edit the daemon still publishes the old source: $(tail -3 "$T/daemon.log")" ;;
esac
grep -q "changed: reloading it" "$T/daemon.log" && pass "the reload on an edit is logged" || fail "no log of the edit"
# A config moved away is not "reloaded" as no config: a warning, the same profiles go on.
mv "$CLAUDE_KEY_HELPER_CONFIG" "$T/away.toml"
for _ in $(seq 300); do grep -q "is gone" "$T/daemon.log" && break; sleep 0.1; done
grep -q "is gone (No such file or directory): keeping the running configuration" "$T/daemon.log" &&
  pass "a vanished config is reported and not loaded" || fail "no warning for the vanished config: $(tail -3 "$T/daemon.log")"
kill -0 "$DAEMON_PID" && pass "daemon runs on without its config file" || fail "daemon died when its config went"
"$R" signal --config "$T/away.toml" >/dev/null 2>&1 || fail "the daemon no longer serves a refresh request"
case "$(sed -n 's/^credential: //p' "$STATE/default.cred")" in
  key-*) pass "the running configuration still publishes" ;;
  *) fail "the profile changed when its config went away" ;;
esac
mv "$T/away.toml" "$CLAUDE_KEY_HELPER_CONFIG"
kill -INT "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; rc=$?
expect_eq "SIGINT exits 0" 0 "$rc"

# signal with no daemon: a clear message, non-zero.
set +e
"$R" signal 2>"$T/signal.err"; rc=$?
set -e
expect_eq "signal without a daemon exits 69" 69 "$rc"
grep -q "once --force" "$T/signal.err" && pass "says what to run instead" || fail "signal: $(cat "$T/signal.err")"
finish

#!/bin/bash
# The helper hands out a credential only if it outlives the caller's TTL plus margin;
# otherwise it gets a fresh one (from the daemon, or by running `once` itself when no
# daemon runs), and when that fails it still prints the old one while it is valid
# (stale-while-error). Also: the wait is bounded when the backend hangs.
source "$(dirname "$0")/lib.sh"
make_command_backend
# A credential that lives no longer than the caller's TTL + margin is refetched at most once
# per min(half its life, force_min_interval) (issue 10, item 15): moving the last attempt
# back in P.status stands for waiting that long.
age_last_attempt() {
  [ ! -f "$STATE/default.status" ] ||
    sed -i "s/^last_attempt_at: .*/last_attempt_at: $(( $(date +%s) - 60 ))/" "$STATE/default.status"
}

# No daemon: the helper runs `once` itself.
write_command_config 20s
run_helper
expect_eq "first call fetches" "key-1" "$OUT"
CLAUDE_CODE_API_KEY_HELPER_TTL_MS=1000 CLAUDE_KEY_HELPER_MARGIN_MS=1000 run_helper
expect_eq "short TTL: cached credential is fresh enough" "key-1" "$OUT"
expect_eq "short TTL: no backend call" 1 "$(backend_calls)"
run_helper   # default TTL 300 s > 20 s lifetime: never fresh enough, but fetched just now
expect_eq "default TTL: too short-lived, fetched just now: served as it is" "key-1" "$OUT"
expect_eq "default TTL: no backend call within the rate limit" 1 "$(backend_calls)"
age_last_attempt
run_helper   # must refresh first
expect_eq "default TTL: too short-lived, refreshed" "key-2" "$OUT"

# Stale-while-error: the backend fails, the credential is valid but not fresh enough.
backend_mode fail
age_last_attempt
run_helper
expect_eq "stale-while-error exits 0" 0 "$RC"
expect_eq "stale-while-error prints the old credential" "key-2" "$OUT"
expect_eq "stale-while-error is silent" "" "$ERR"
grep -q "upstream said no" "$STATE/default.status" && pass "failure recorded in status" || fail "status: $(cat "$STATE/default.status")"

# A hanging backend: the helper answers within its bound (here 1 s) with the old credential.
backend_mode hang
"$CKH_REFRESHER" once --force --quiet >/dev/null 2>&1 || true   # times out after 2 s, sets backoff
rm -f "$STATE/default.status"                                     # forget the backoff
start=$(date +%s%N)
CLAUDE_KEY_HELPER_WAIT_MS=1000 run_helper
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "hanging backend: old credential still served" "key-2" "$OUT"
echo "hanging backend: helper answered in ${elapsed_ms} ms with a 1000 ms bound"
[ "$elapsed_ms" -lt 20000 ] || fail "helper blocked ${elapsed_ms} ms"

# With a daemon: the helper asks it over the socket and gets a new generation.
backend_mode ok
sleep 2.5   # let the orphaned `once` from the hang finish
age_last_attempt
before=$(backend_calls)
start_daemon
run_helper
expect_eq "daemon path: exit 0" 0 "$RC"
case "$OUT" in key-*) pass "daemon path prints a key" ;; *) fail "daemon path: $OUT" ;; esac
[ "$(backend_calls)" -gt "$before" ] && pass "daemon refreshed for the helper" || fail "daemon made no call"
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
finish

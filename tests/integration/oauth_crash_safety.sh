#!/bin/bash
# Crash safety of the anthropic-oauth refresh (refresher/backends/anthropic_oauth_backend.h:
# "Before a refresh request is sent, P.secret durably records that one is in flight; the
# rotated refresh token is durable in P.secret before the new access token is published").
# Until KILLS runs (default 100) were really killed: `once --force` is started and killed
# with SIGKILL after a random 0..KILL_MAX ms (calibrated from a few uninterrupted runs; runs
# that complete before the kill are counted apart); the fake token server
# answers each token request after 5 ms + a random 0..30 ms, so kills land before the
# request, while it is in flight, between the server's answer and the durable write, and
# after it. After each kill (and once every request the server received is decided) the
# ground truth comes from the fake (tests/fakes/anthropic_token_server.js):
#   - the refresh token now in P.secret is "current": nothing was lost. The next normal
#     `once --force` must succeed and rotate (the kill landed before the request reached the
#     server, or after the durable write);
#   - it is "spent" but a complete temp copy of P.secret holds the rotated token (the kill
#     landed while that copy was being written or fsynced): nothing is lost. The next
#     `once --force` must adopt the copy (refresher/temp_recovery.h) and rotate, with no
#     revocation;
#   - it is "spent" and no copy holds the new token: the server rotated and the answer died
#     with the process (between the server's answer and the first byte of the temp file
#     that was reserved for it). P.secret must still record the refresh in flight; the
#     next `once --force` must fail naming that exact condition, and `status` must name it
#     too. Its exit code: 77 (failed, nothing valid left) once the published 1-second access
#     token has expired — the first EXACT_77 (default 5) such cases wait for that and
#     require 77; later ones do not wait and require 77 or, while the published token is
#     provably still valid, 75 (main.cpp). Then a new family is made with the product's own
#     `login` (paste path), which must succeed at once, and the loop goes on;
#   - anything else (a corrupt P.secret or P.cred, a revoked or unknown token, a crash, a
#     refresh failing in the "current" case) fails the test, naming the iteration.
# No claude-code sink here: a kill while holding Claude Code's lock leaves its lock dir
# behind, and every next run would wait the 10 s until it is stale; the ordering under test
# (P.secret before anything else) is the same with or without the sink.
# Prints how many kills landed in each class and how many runs completed before the kill.
# Knobs: CKH_CRASH_KILLS (100: the fault matrix's kill9 kind covers the same ground with 20
# more; together they stay within CI's time budget), CKH_CRASH_EXACT_77 (5),
# CKH_CRASH_SECONDS (time budget, 300), CKH_KEEP_TMP=1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_oauth.sh"

KILLS=${CKH_CRASH_KILLS:-100}
EXACT_77=${CKH_CRASH_EXACT_77:-5}
MAX_SECONDS=${CKH_CRASH_SECONDS:-300}
DELAY_MS=5
JITTER_MS=30
START_TS=$EPOCHSECONDS
: >"$T/known-tokens"
chmod 600 "$T/known-tokens"
RUN_PID=
crash_cleanup() {
  [ -n "$RUN_PID" ] && kill -KILL "$RUN_PID" 2>/dev/null || true
  cleanup
}
trap crash_cleanup EXIT

start_token_server
control "{\"expires_in\": 1, \"delay_ms\": $DELAY_MS, \"delay_jitter_ms\": $JITTER_MS}"
write_oauth_config "$CLAUDE_KEY_HELPER_CONFIG" 'backoff_min = "1s"
backoff_max = "2s"'
SECRET="$STATE/max.secret"
CRED="$STATE/max.cred"
mkdir -p "$T/logs"

# Fast probes (no node): the state of a refresh token, the fake's counters.
state_of() {
  printf '%s' "$1" | curl -sS --noproxy '*' --max-time 10 -G --data-urlencode 'refresh_token@-' "$BASE/__token_status" |
    sed -n 's/.*"state":"\([a-z]*\)".*/\1/p'
}
stat1() { curl -sS --noproxy '*' --max-time 10 "$BASE/__stats" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
answered() { grep -c '"path":"/v1/oauth/token"' "$T/fake.log" 2>/dev/null || true; }
# Waits until the fake has decided every token request it received (a killed client's
# request is still processed by the fake, as by the real server).
# Sets RECEIVED to the number of token requests the fake received.
settle() {
  local _
  sleep 0.02
  for _ in $(seq 300); do
    RECEIVED=$(stat1 token_requests)
    if [ "$RECEIVED" = "$(answered)" ]; then
      sleep 0.02  # and nothing more arrives (a request still in the kernel's queue)
      [ "$RECEIVED" = "$(stat1 token_requests)" ] && [ "$RECEIVED" = "$(answered)" ] && return 0
    fi
    sleep 0.01
  done
  echo "FAIL: the fake did not decide its token requests (received $(stat1 token_requests), answered $(answered))" >&2
  exit 1
}
# The whole file, as the kv-lines format writes it: header, fields, "end".
well_formed() { # FILE MAGIC
  [ -f "$1" ] && head -n1 "$1" | grep -Eqx "$2 v[0-9]+" && [ "$(tail -n1 "$1")" = end ]
}
remember_secret_tokens() {
  { secret_field "$SECRET" refresh_token; secret_field "$SECRET" access_token; } >>"$T/known-tokens"
}

# login_by_paste: a new family through the product's own login (manual code#state path).
LOGINS=0
login_by_paste() {
  rm -f "$T/login.in" "$T/login.out" "$T/login.err"  # no stale "Waiting up to" from the last login
  mkfifo -m 600 "$T/login.in"
  "$CKH_REFRESHER" login --profile max --no-browser --timeout 20s <"$T/login.in" >"$T/login.out" 2>"$T/login.err" &
  local lp=$! url _ rc=0
  exec 8<>"$T/login.in"
  for _ in $(seq 1000); do grep -q "Waiting up to" "$T/login.err" && break; sleep 0.02; done
  url=$(grep -o "$BASE/oauth/authorize?[^ ]*redirect_uri=https%3A%2F%2Fplatform.claude.com%2Foauth%2Fcode%2Fcallback[^ ]*" "$T/login.err" | head -n1)
  if [ -z "$url" ]; then kill -KILL "$lp" 2>/dev/null || true; exec 8>&-; fail "login printed no manual URL: $(head -c 400 "$T/login.err")"; return 1; fi
  curl -sS --noproxy '*' --max-time 10 "$url" >"$T/paste"   # code#state: a secret, never printed
  cut -d'#' -f1 "$T/paste" >>"$T/known-tokens"
  { cat "$T/paste"; echo; } >&8
  wait "$lp" || rc=$?
  exec 8>&-
  cat "$T/login.out" "$T/login.err" >>"$T/logs/login.log"
  rm -f "$T/paste" "$T/login.in"
  remember_secret_tokens
  LOGINS=$((LOGINS + 1))
  [ "$rc" = 0 ] || { fail "login exited $rc: $(tail -c 400 "$T/login.err")"; return 1; }
}

login_by_paste
expect_eq "the login's refresh token is current" current "$(state_of "$(secret_field "$SECRET" refresh_token)")"

# Calibration: how long an uninterrupted forced refresh takes here (a sanitized build is
# slower): kills spread over 0..the median (+5 ms).
durations=()
for _ in 1 2 3 4 5 6 7; do
  t0=$(date +%s%3N)
  "$CKH_REFRESHER" once --force --quiet --profile max >>"$T/logs/runs.log" 2>&1
  durations+=($(( $(date +%s%3N) - t0 )))
done
remember_secret_tokens
median_ms=$(printf '%s\n' "${durations[@]}" | sort -n | sed -n 4p)
KILL_MAX_MS=$(( median_ms + 5 ))
[ "$KILL_MAX_MS" -gt 999 ] && KILL_MAX_MS=999
echo "calibration: uninterrupted once --force runs took ${durations[*]} ms; kills after 0..${KILL_MAX_MS} ms"

# ---- the kills ----------------------------------------------------------------------------
completed=0 before_request=0 marker_only=0 spent=0 adopted=0 saved=0 iterations=0 kills=0 waited_expiry_ms=0 exit77=0 exit75=0
fail_iteration() { fail "iteration $1: $2"; echo "counts so far: completed $completed, before the request $before_request (of which with the in-flight marker $marker_only), spent $spent, adopted $adopted, after the save $saved" >&2; exit 1; }
# Whether a complete temp copy of P.secret holds a current refresh token (it is adopted).
copy_is_current() {
  local f t
  for f in "$SECRET".tmp.*; do
    [ -f "$f" ] && well_formed "$f" claude-key-helper-oauth || continue
    t=$(secret_field "$f" refresh_token)
    printf '%s\n%s\n' "$t" "$(secret_field "$f" access_token)" >>"$T/known-tokens"
    [ "$(state_of "$t")" = current ] && return 0
  done
  return 1
}
i=0
while [ "$kills" -lt "$KILLS" ]; do
  if [ $((EPOCHSECONDS - START_TS)) -ge "$MAX_SECONDS" ]; then echo "time budget of ${MAX_SECONDS}s reached"; break; fi
  i=$((i + 1))
  iterations=$i
  before=$(secret_field "$SECRET" refresh_token)
  requests_before=$(answered)  # every earlier request was answered: its process completed
  kill_ms=$((RANDOM % (KILL_MAX_MS + 1)))
  "$CKH_REFRESHER" once --force --quiet --profile max >"$T/run.out" 2>"$T/run.err" &
  RUN_PID=$!
  sleep "$(printf '0.%03d' "$kill_ms")"
  kill -KILL "$RUN_PID" 2>/dev/null || true
  rc=0
  wait "$RUN_PID" 2>/dev/null || rc=$?
  RUN_PID=
  cat "$T/run.out" "$T/run.err" >>"$T/logs/runs.log"
  [ "$rc" = 0 ] || settle
  case "$rc" in
    0 | 137) ;;
    *) fail_iteration "$i" "the run exited $rc (not killed, not ok): $(head -c 400 "$T/run.err")" ;;
  esac
  well_formed "$SECRET" claude-key-helper-oauth || fail_iteration "$i" "P.secret is not a whole, well-formed file after the kill at ${kill_ms} ms"
  well_formed "$CRED" claude-key-helper-cred || fail_iteration "$i" "P.cred is not a whole, well-formed record after the kill at ${kill_ms} ms"
  after=$(secret_field "$SECRET" refresh_token)
  pending=$(secret_field "$SECRET" pending_refresh_since)
  printf '%s\n' "$after" >>"$T/known-tokens"
  state=$(state_of "$after")
  if [ "$rc" = 0 ]; then
    [ "$state" = current ] && [ "$after" != "$before" ] && [ "$pending" = none ] ||
      fail_iteration "$i" "a run that completed left P.secret with a $state token (changed: $([ "$after" != "$before" ] && echo yes || echo no), in flight: $pending)"
    completed=$((completed + 1))
    continue
  fi
  kills=$((kills + 1))
  case "$state" in
    current)
      if [ "$after" = "$before" ]; then
        [ "$RECEIVED" = "$requests_before" ] ||
          fail_iteration "$i" "the server received a request for a token that is still current"
        before_request=$((before_request + 1))
        [ "$pending" != none ] && marker_only=$((marker_only + 1))
      else
        [ "$pending" = none ] || fail_iteration "$i" "the new token was saved with a refresh still marked in flight"
        saved=$((saved + 1))
      fi
      rc=0
      "$CKH_REFRESHER" once --force --quiet --profile max >"$T/run.out" 2>"$T/run.err" || rc=$?
      cat "$T/run.out" "$T/run.err" >>"$T/logs/runs.log"
      [ "$rc" = 0 ] || fail_iteration "$i" "after a kill that lost nothing (token current), once --force exited $rc: $(head -c 400 "$T/run.err")"
      now_rt=$(secret_field "$SECRET" refresh_token)
      printf '%s\n' "$now_rt" "$(secret_field "$SECRET" access_token)" >>"$T/known-tokens"
      [ "$now_rt" != "$after" ] && [ "$(state_of "$now_rt")" = current ] && [ "$(secret_field "$SECRET" pending_refresh_since)" = none ] ||
        fail_iteration "$i" "the recovery refresh did not leave a new current token with nothing in flight"
      ;;
    spent)
      [ "$after" = "$before" ] || fail_iteration "$i" "P.secret holds a new token that is already spent"
      [ "$pending" != none ] || fail_iteration "$i" "the server rotated but P.secret does not record a refresh in flight (the marker was not durable before the request)"
      if copy_is_current; then
        adopted=$((adopted + 1))
        rc=0
        "$CKH_REFRESHER" once --force --quiet --profile max >"$T/run.out" 2>"$T/run.err" || rc=$?
        cat "$T/run.out" "$T/run.err" >>"$T/logs/runs.log"
        [ "$rc" = 0 ] || fail_iteration "$i" "a complete temp copy of the rotated state was not adopted: once --force exited $rc: $(head -c 400 "$T/run.err")"
        now_rt=$(secret_field "$SECRET" refresh_token)
        printf '%s\n' "$now_rt" "$(secret_field "$SECRET" access_token)" >>"$T/known-tokens"
        [ "$(state_of "$now_rt")" = current ] && [ "$(secret_field "$SECRET" pending_refresh_since)" = none ] ||
          fail_iteration "$i" "the refresh after adopting did not leave a current token with nothing in flight"
        continue
      fi
      spent=$((spent + 1))
      # Exit 77 is "refresh failed, nothing valid left"; 75 "failed, but the published
      # credential is still valid" (the published 1-second access token).
      exp=$(sed -n 's/^expires_at: //p' "$CRED")
      if [ "$spent" -le "$EXACT_77" ]; then
        w0=$(date +%s%3N)
        while [ "$EPOCHSECONDS" -le "$exp" ]; do sleep 0.05; done
        waited_expiry_ms=$((waited_expiry_ms + $(date +%s%3N) - w0))
      fi
      rc=0
      t_before=$EPOCHSECONDS
      "$CKH_REFRESHER" once --force --profile max >"$T/run.out" 2>"$T/run.err" || rc=$?
      t_after=$EPOCHSECONDS
      cat "$T/run.out" "$T/run.err" >>"$T/logs/runs.log"
      if [ "$exp" -le "$t_before" ]; then expected=77; elif [ "$exp" -gt "$t_after" ]; then expected=75; else expected="75 or 77"; fi
      case " $expected " in
        *" $rc "*) ;;
        *) fail_iteration "$i" "after a kill between the server's answer and the save, once --force exited $rc (expected $expected): $(head -c 400 "$T/run.err")" ;;
      esac
      [ "$rc" = 77 ] && exit77=$((exit77 + 1)) || exit75=$((exit75 + 1))
      grep -q "refresh failed (permanent)" "$T/run.err" ||
        fail_iteration "$i" "once --force did not report a permanent failure: $(head -c 400 "$T/run.err")"
      grep -q "interrupted refresh" "$T/run.err" && grep -q "between the token server's answer and saving it" "$T/run.err" ||
        fail_iteration "$i" "once --force did not name the interrupted refresh: $(head -c 400 "$T/run.err")"
      "$CKH_REFRESHER" status --profile max >"$T/status.out" 2>&1 || true
      cat "$T/status.out" >>"$T/logs/status.log"
      grep -q "interrupted refresh" "$T/status.out" && grep -q "between the token server's answer and saving it" "$T/status.out" ||
        fail_iteration "$i" "status does not name the interrupted refresh: $(head -c 600 "$T/status.out")"
      login_by_paste || fail_iteration "$i" "the new login failed"
      [ "$(state_of "$(secret_field "$SECRET" refresh_token)")" = current ] || fail_iteration "$i" "the new login's token is not current"
      ;;
    *)
      fail_iteration "$i" "P.secret holds a $state refresh token after the kill at ${kill_ms} ms (exit $rc)"
      ;;
  esac
done
echo "kills: $kills of $iterations runs (kill after 0..${KILL_MAX_MS} ms); $completed runs completed before the kill"
echo "  before the request reached the server (token still current): $before_request ($marker_only of them with the in-flight marker already durable)"
echo "  between the server's answer and the temp file's first byte (token spent, no copy): $spent"
echo "  while the answer's temp file was written or fsynced (token spent, complete copy adopted): $adopted"
echo "  after the durable write (new token current): $saved"
echo "  spent cases' checks: $exit77 exited 77 (nothing valid left; the first $EXACT_77 waited ${waited_expiry_ms} ms in all for that), $exit75 exited 75 (the published token still valid)"
echo "  logins: $LOGINS"

# ---- verdict ------------------------------------------------------------------------------
if [ "$kills" -ge "$KILLS" ]; then
  pass "$kills runs of once --force killed with kill -9 at a random point"
else
  fail "only $kills of $KILLS kills within ${MAX_SECONDS}s ($iterations runs)"
fi
if [ "$spent" -gt 0 ]; then
  [ "$exit77" -ge 1 ] && pass "exit 77 when nothing valid is left ($exit77 times)" || fail "no spent case ended in exit 77"
fi
[ "$before_request" -gt 0 ] && pass "some kills landed before the request ($before_request)" || fail "no kill landed before the request: calibration is off"
[ "$((spent + adopted + saved))" -gt 0 ] && pass "some kills landed after the server's answer ($spent spent, $adopted adopted, $saved saved)" || fail "no kill landed after the server's answer: calibration is off"
read -r revoked reuse < <(stats families_revoked reuse_events)
# Each spent case's check presented the spent token once: that (and only that) revoked its family.
expect_eq "revocations: exactly one per spent case (the check that named it)" "$spent $spent" "$revoked $reuse"
leftovers=$(find "$STATE" -name '*.tmp.*' | wc -l)
echo "temp files left in the state dir by kills: $leftovers"
grep -v '^$' "$T/known-tokens" | sort -u >"$T/known-tokens.sorted" && mv "$T/known-tokens.sorted" "$T/known-tokens"
leaks_before=$FAILURES
check_no_token_leak "$T"/logs/*.log "$T/fake.log" "$T/fake.out" "$T/fake.err"
[ "$FAILURES" = "$leaks_before" ] && pass "no token or code in any output or log ($(wc -l <"$T/known-tokens") known secrets checked)"
echo "summary: $iterations runs, $kills killed ($before_request before the request, $spent between answer and save, $adopted adopted, $saved after the save), $completed completed before the kill, $LOGINS logins, revocations $revoked, took $((EPOCHSECONDS - START_TS))s"
finish

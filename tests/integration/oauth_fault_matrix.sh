#!/bin/bash
# The kill/fault matrix of an anthropic-oauth refresh (issue 10, items 1-3) against the strict
# fake token server (tests/fakes/anthropic_token_server.js: a spent refresh token presented
# again revokes the whole family). Each kind disrupts `once --force` at least MATRIX_RUNS
# (default 20) times:
#   kill9    kill -9 after a random 0..(median run time) ms; short server delay, so kills land
#            before the request, during it, between the answer and the save, and after it;
#   sigterm, sigint (and a few sighup)  the signal while the request is in flight (or, one
#            run in three, at a random moment): `once` defers it, finishes the durable save
#            and exits 128+signal (143, 130, 129) — refresher/signal_deferral.h;
#   enospc   the state dir is a 64 KiB tmpfs (a private mount namespace); it is filled up
#            while the request is in flight (or, one run in five, at a random moment): the
#            answer goes into the room reserved before sending (state_writer.h), or nothing
#            is sent. One run in five the answer's fsync fails with ENOSPC (strace), on every
#            attempt (the writer gives up and keeps the temp copy, which the next run adopts)
#            or on the first two (a retry saves it). Every failure says "could not save: No
#            space left on device", on stderr and in `status`;
#   fsync    strace fault injection: alternately the fsync after the answer is delayed 2 s
#            and the run killed -9 as soon as the complete temp copy of P.secret is on disk
#            (the adoption of temp_recovery.h), and the run killed with SIGKILL injected at
#            the K-th fsync, K cycling over every fsync of a run.
# After each disruption the fake decides every request it received, then the ground truth:
#   - P.secret holds a current token, or a spent one plus a complete temp copy holding the
#     rotated (current) one: nothing is lost; the next `once --force` must succeed (adopting
#     the copy) and rotate, without any revocation;
#   - P.secret holds a spent token and no copy of the new one exists: the kill landed between
#     the server's answer and the first byte of the temp file (only kill -9 can do that). Then
#     P.secret must record the refresh in flight, the next `once --force` must fail naming the
#     interrupted refresh, and `status` must name it; that check is the one allowed
#     revocation. A new family is seeded and the matrix goes on.
# Zero revocations except those; the counts per kind are printed. Bounded: about 3 minutes on
# two idle cores. Knobs: CKH_MATRIX_RUNS (20), CKH_MATRIX_KINDS (all: "kill9 sigterm sigint
# sighup enospc fsync"), CKH_MATRIX_SECONDS (time budget, 420), CKH_KEEP_TMP=1.
# Needs strace and a private tmpfs (root, or unprivileged user namespaces); skips (77) only
# when neither a mount namespace nor strace can be had.
set -euo pipefail

# A private mount namespace for the tmpfs, entered before anything else is set up.
if [ -z "${CKH_MATRIX_IN_NS:-}" ]; then
  export CKH_MATRIX_IN_NS=1
  if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    exec unshare -m bash "$0" "$@"
  elif unshare -r -m true 2>/dev/null; then
    exec unshare -r -m bash "$0" "$@"
  fi
  echo "skipped: cannot make a private mount namespace for the tmpfs (needs root or user namespaces)"
  exit 77
fi
command -v strace >/dev/null 2>&1 || { echo "skipped: strace is not installed (install/deps.sh installs it)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "skipped: python3 is not installed (install/deps.sh installs it)"; exit 77; }

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_oauth.sh"

RUNS=${CKH_MATRIX_RUNS:-20}
MAX_SECONDS=${CKH_MATRIX_SECONDS:-420}
START_TS=$EPOCHSECONDS
SECRET="$STATE/max.secret"
RUN_PID=
matrix_cleanup() {
  [ -n "$RUN_PID" ] && kill -KILL "$RUN_PID" 2>/dev/null || true
  umount "$STATE" 2>/dev/null || true
  cleanup
}
trap matrix_cleanup EXIT

mkdir -p "$STATE" "$T/logs"
chmod 700 "$STATE"
mount -t tmpfs -o size=64k,mode=0700 ckh-matrix "$STATE" ||
  { echo "skipped: cannot mount a tmpfs in the private mount namespace"; exit 77; }
# LeakSanitizer cannot run under ptrace: runs under strace do without it (ASan stays on).
STRACE=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq)
"${STRACE[@]}" -o /dev/null -e trace=fsync true 2>/dev/null ||
  { echo "skipped: strace cannot trace here (ptrace refused)"; exit 77; }
: >"$T/known-tokens"
chmod 600 "$T/known-tokens"

start_token_server
write_oauth_config "$CLAUDE_KEY_HELPER_CONFIG" 'backoff_min = "1s"
backoff_max = "2s"'

# ---- probes (no token in any argv) --------------------------------------------------------
state_of() {
  printf '%s' "$1" | curl -sS --noproxy '*' --max-time 10 -G --data-urlencode 'refresh_token@-' "$BASE/__token_status" |
    sed -n 's/.*"state":"\([a-z]*\)".*/\1/p'
}
stat1() { curl -sS --noproxy '*' --max-time 10 "$BASE/__stats" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
answered() { grep -c '"path":"/v1/oauth/token"' "$T/fake.log" 2>/dev/null || true; }
# Waits until the fake has decided every token request it received (a killed client's
# request is still processed, as by the real server).
settle() {
  local _ received
  for _ in $(seq 500); do
    received=$(stat1 token_requests)
    if [ "$received" = "$(answered)" ]; then
      sleep 0.02
      [ "$received" = "$(stat1 token_requests)" ] && [ "$received" = "$(answered)" ] && return 0
    fi
    sleep 0.02
  done
  echo "FAIL: the fake did not decide its token requests" >&2
  exit 1
}
# A whole P.secret: header, fields, "end" (a reservation not filled yet holds zeros).
well_formed() { [ -f "$1" ] && head -n1 "$1" | grep -qx 'claude-key-helper-oauth v1' && tail -n1 "$1" | grep -qx end; }
remember() { [ -n "$1" ] && printf '%s\n' "$1" >>"$T/known-tokens"; return 0; }

# A new family, as a login would leave it (the fake's /__seed), written as P.secret.
seed_family() {
  (
    umask 077
    printf '{}' | fake_post /__seed | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
      const g=JSON.parse(s), now=Math.floor(Date.now()/1000);
      process.stdout.write(["claude-key-helper-oauth v1","refresh_token: "+g.refresh_token,
        "access_token: "+g.access_token,"expires_at: "+(now+g.expires_in),"scopes: "+g.scope,
        "subscription_type: ","rate_limit_tier: ","account_email: ","refresh_token_expires_at: none",
        "owns_claude_code_store: no","pending_refresh_since: none","store_refresh_token_fp: ","end",""].join("\n"))})' >"$SECRET.seed"
  )
  mv "$SECRET.seed" "$SECRET"
  remember "$(secret_field "$SECRET" refresh_token)"
  remember "$(secret_field "$SECRET" access_token)"
}

# ---- per-kind counters ----------------------------------------------------------------------
KINDS=${CKH_MATRIX_KINDS:-kill9 sigterm sigint sighup enospc fsync}
wanted() { [[ " $KINDS " == *" $1 "* ]]; }
declare -A runs completed before_request adopted saved lost exit_sig could_not_save
for k in setup $KINDS; do runs[$k]=0 completed[$k]=0 before_request[$k]=0 adopted[$k]=0 saved[$k]=0 lost[$k]=0 exit_sig[$k]=0 could_not_save[$k]=0; done
LOST_TOTAL=0

fail_now() { fail "$KIND run ${runs[$KIND]}: $1"; summary >&2; exit 1; }

# After a disrupted run: what P.secret and its temp copies hold. Sets AFTER, AFTER_STATE,
# PENDING, COPY_CURRENT (1: a complete temp copy holds a current token).
inspect() {
  settle
  well_formed "$SECRET" || fail_now "P.secret is not a whole, well-formed file"
  AFTER=$(secret_field "$SECRET" refresh_token)
  PENDING=$(secret_field "$SECRET" pending_refresh_since)
  remember "$AFTER"
  AFTER_STATE=$(state_of "$AFTER")
  COPY_CURRENT=0
  local f t
  for f in "$SECRET".tmp.*; do
    [ -f "$f" ] && well_formed "$f" || continue
    t=$(secret_field "$f" refresh_token)
    remember "$t"
    remember "$(secret_field "$f" access_token)"
    [ "$(state_of "$t")" = current ] && COPY_CURRENT=1
  done
  return 0
}

# Judges the disrupted run (inspect first) and runs the next `once --force`.
judge_and_recover() {
  local rc=0 now_rt
  [ "$RC" = 0 ] && AFTER_STATE="completed:$AFTER_STATE"  # counted as completed only
  case "$AFTER_STATE" in
    completed:current) ;;
    current)
      if [ "$AFTER" = "$BEFORE" ]; then
        before_request[$KIND]=$((before_request[$KIND] + 1))
      else
        [ "$PENDING" = none ] || fail_now "the new token was saved with a refresh still marked in flight"
        saved[$KIND]=$((saved[$KIND] + 1))
      fi
      ;;
    spent)
      [ "$AFTER" = "$BEFORE" ] || fail_now "P.secret holds a new token that is already spent"
      [ "$PENDING" != none ] || fail_now "the server rotated but P.secret does not record a refresh in flight"
      if [ "$COPY_CURRENT" = 1 ]; then
        adopted[$KIND]=$((adopted[$KIND] + 1))
      else
        # Lost between the answer and the temp file's first byte: only a kill can do that.
        case "$KIND" in kill9) ;; *) fail_now "the rotated token was lost (P.secret spent, no copy) by a $KIND disruption" ;; esac
        lost[$KIND]=$((lost[$KIND] + 1))
        LOST_TOTAL=$((LOST_TOTAL + 1))
        "$CKH_REFRESHER" once --force --profile max >"$T/run.out" 2>"$T/run.err" || rc=$?
        cat "$T/run.out" "$T/run.err" >>"$T/logs/runs.log"
        [ "$rc" = 77 ] || [ "$rc" = 75 ] || fail_now "after a lost answer, once --force exited $rc: $(head -c 300 "$T/run.err")"
        grep -q "interrupted refresh" "$T/run.err" && grep -q "between the token server's answer and saving it" "$T/run.err" ||
          fail_now "once --force did not name the interrupted refresh: $(head -c 300 "$T/run.err")"
        "$CKH_REFRESHER" status --profile max >"$T/status.out" 2>&1 || true
        cat "$T/status.out" >>"$T/logs/status.log"
        grep -q "interrupted refresh" "$T/status.out" || fail_now "status does not name the interrupted refresh"
        seed_family
        check_revocations
        return 0
      fi
      ;;
    *) fail_now "P.secret holds a $AFTER_STATE refresh token" ;;
  esac
  rc=0
  "$CKH_REFRESHER" once --force --quiet --profile max >"$T/run.out" 2>"$T/run.err" || rc=$?
  cat "$T/run.out" "$T/run.err" >>"$T/logs/runs.log"
  [ "$rc" = 0 ] || fail_now "after a disruption that lost nothing, once --force exited $rc: $(head -c 300 "$T/run.err")"
  now_rt=$(secret_field "$SECRET" refresh_token)
  remember "$now_rt"
  remember "$(secret_field "$SECRET" access_token)"
  [ "$now_rt" != "$AFTER" ] && [ "$(state_of "$now_rt")" = current ] && [ "$(secret_field "$SECRET" pending_refresh_since)" = none ] ||
    fail_now "the next refresh did not leave a new current token with nothing in flight"
  if compgen -G "$SECRET.tmp.*" >/dev/null; then fail_now "temp copies of P.secret are left after the next refresh"; fi
  check_revocations
}

check_revocations() {
  local revoked
  revoked=$(stat1 families_revoked)
  [ "$revoked" = "$LOST_TOTAL" ] || fail_now "the fake revoked $revoked famil(y/ies), $LOST_TOTAL allowed (answers lost to kill -9)"
}

# Waits (bounded) until the fake has received one more token request than $1.
wait_request() {
  local _
  for _ in $(seq 1000); do
    [ "$(stat1 token_requests)" -gt "$1" ] && return 0
    kill -0 "$RUN_PID" 2>/dev/null || return 1
    sleep 0.03
  done
  return 1
}

summary() {
  local k
  echo "fault matrix (runs: disrupted runs; completed: finished before the disruption; before: token unchanged, nothing spent;"
  echo "              saved: new token in P.secret; adopted: spent token + complete temp copy, adopted by the next run;"
  echo "              lost: answer lost between the server and the temp file's first byte — the only revocations)"
  for k in $KINDS; do
    printf '  %-7s runs %3d  completed %3d  before %3d  saved %3d  adopted %3d  lost %2d  exit-128+sig %3d  could-not-save %3d\n' \
      "$k" "${runs[$k]}" "${completed[$k]}" "${before_request[$k]}" "${saved[$k]}" "${adopted[$k]}" "${lost[$k]}" "${exit_sig[$k]}" "${could_not_save[$k]}"
  done
  echo "  revocations: $(stat1 families_revoked) (allowed: $LOST_TOTAL), reuse events: $(stat1 reuse_events), took $((EPOCHSECONDS - START_TS))s"
}

over_budget() { [ $((EPOCHSECONDS - START_TS)) -ge "$MAX_SECONDS" ]; }

KIND=setup
seed_family
"$CKH_REFRESHER" once --force --quiet --profile max >>"$T/logs/runs.log" 2>&1 || fail_now "the first refresh failed"

# ---- calibration: an undisturbed run's duration and its fsyncs ------------------------------
control '{"delay_ms": 5, "delay_jitter_ms": 30}'
durations=()
for _ in 1 2 3 4 5; do
  t0=$(date +%s%3N)
  "$CKH_REFRESHER" once --force --quiet --profile max >>"$T/logs/runs.log" 2>&1 || fail_now "calibration run failed"
  durations+=($(($(date +%s%3N) - t0)))
done
median_ms=$(printf '%s\n' "${durations[@]}" | sort -n | sed -n 3p)
KILL_MAX_MS=$((median_ms + 5))
"${STRACE[@]}" -o "$T/strace.cal" -e trace=fsync,connect "$CKH_REFRESHER" once --force --quiet --profile max >>"$T/logs/runs.log" 2>&1 ||
  fail_now "calibration: the run under strace failed: $(tail -c 300 "$T/logs/runs.log")"
FSYNCS=$(grep -c 'fsync(' "$T/strace.cal" || true)
# The fsync of the answer's temp file: the first one after connecting to the token server.
ANSWER_FSYNC=$(awk '/connect\(/ { print n + 1; exit } /fsync\(/ { n++ }' "$T/strace.cal")
echo "calibration: runs took ${durations[*]} ms (kills after 0..${KILL_MAX_MS} ms); $FSYNCS fsyncs per run, the answer's is #$ANSWER_FSYNC"
[ "$FSYNCS" -ge 4 ] && [ "${ANSWER_FSYNC:-0}" -ge 1 ] || fail_now "calibration: cannot find the run's fsyncs"

# A script's background jobs ignore SIGINT (no job control), and `once` keeps an inherited
# ignore; a person's Ctrl-C, systemd's SIGTERM reach a process that does not ignore them.
DEFAULT_SIGNALS=(python3 -c 'import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])')

start_run() { # [prefix command...]
  BEFORE=$(secret_field "$SECRET" refresh_token)
  REQUESTS_BEFORE=$(stat1 token_requests)
  "$@" "$CKH_REFRESHER" once --force --quiet --profile max >"$T/run.out" 2>"$T/run.err" &
  RUN_PID=$!
}
end_run() { # sets RC
  RC=0
  wait "$RUN_PID" 2>/dev/null || RC=$?
  RUN_PID=
  cat "$T/run.out" "$T/run.err" >>"$T/logs/runs.log"
  runs[$KIND]=$((runs[$KIND] + 1))
}

# ---- kill -9 at a random moment -----------------------------------------------------------
KIND=kill9
control '{"delay_ms": 5, "delay_jitter_ms": 30}'
while wanted kill9 && [ "${runs[kill9]}" -lt "$RUNS" ] && ! over_budget; do
  start_run
  sleep "$(printf '0.%03d' $((RANDOM % (KILL_MAX_MS + 1))))"
  kill -KILL "$RUN_PID" 2>/dev/null || true
  end_run
  if [ "$RC" = 0 ]; then completed[$KIND]=$((completed[$KIND] + 1)); fi
  [ "$RC" = 0 ] || [ "$RC" = 137 ] || fail_now "exited $RC: $(head -c 300 "$T/run.err")"
  inspect
  judge_and_recover
done

# ---- SIGTERM / SIGINT / SIGHUP: deferred until the save, then 128+signal ---------------------
control '{"delay_ms": 300, "delay_jitter_ms": 100}'
for spec in sigterm:TERM:143:$RUNS sigint:INT:130:$RUNS sighup:HUP:129:6; do
  IFS=: read -r KIND sig code count <<<"$spec"
  while wanted "$KIND" && [ "${runs[$KIND]}" -lt "$count" ] && ! over_budget; do
    start_run "${DEFAULT_SIGNALS[@]}"
    if [ $((runs[$KIND] % 3)) = 2 ]; then
      sleep "$(printf '0.%03d' $((RANDOM % (KILL_MAX_MS + 300))))"
    else
      wait_request "$REQUESTS_BEFORE" || true
      sleep "$(printf '0.%03d' $((RANDOM % 200)))"
    fi
    kill -"$sig" "$RUN_PID" 2>/dev/null || true
    end_run
    case "$RC" in
      0) completed[$KIND]=$((completed[$KIND] + 1)) ;;
      "$code") exit_sig[$KIND]=$((exit_sig[$KIND] + 1)) ;;
      *) fail_now "SIG$sig: exited $RC (expected $code): $(head -c 300 "$T/run.err")" ;;
    esac
    inspect
    # A signal that came after the process started (it was deferred): the refresh finished.
    [ "$AFTER_STATE" = current ] || fail_now "SIG$sig left P.secret with a $AFTER_STATE token"
    judge_and_recover
  done
done

# ---- ENOSPC: the state dir's tmpfs fills up ----------------------------------------------------
KIND=enospc
fill_disk() { dd if=/dev/zero of="$STATE/zz-filler" bs=4k 2>/dev/null || true; }
SAVE_ATTEMPTS=4  # refresher/state_writer.h: kSaveRetryWaits + 1
control '{"delay_ms": 200, "delay_jitter_ms": 50}'
while wanted enospc && [ "${runs[enospc]}" -lt "$RUNS" ] && ! over_budget; do
  case $((runs[$KIND] % 5)) in
    4)
      # The disk refuses the answer's own save: its fsync fails with ENOSPC (as a network or
      # thin-provisioned disk does), on every attempt (the writer gives up, keeps the temp
      # copy, the next run adopts it) or on the first two (the third attempt saves it).
      last=$((ANSWER_FSYNC + 1))
      [ $((runs[$KIND] / 5 % 2)) = 0 ] && last=$((ANSWER_FSYNC + SAVE_ATTEMPTS - 1))
      start_run "${STRACE[@]}" -o /dev/null -e trace=fsync -e "inject=fsync:error=ENOSPC:when=$ANSWER_FSYNC..$last"
      ;;
    2)
      start_run
      sleep "$(printf '0.%03d' $((RANDOM % (KILL_MAX_MS + 200))))"
      fill_disk
      ;;
    *)
      start_run
      wait_request "$REQUESTS_BEFORE" || true
      fill_disk
      ;;
  esac
  end_run
  if [ "$RC" != 0 ]; then
    "$CKH_REFRESHER" status --profile max >"$T/status.out" 2>&1 || true
    cat "$T/status.out" >>"$T/logs/status.log"
  fi
  rm -f "$STATE/zz-filler"
  case "$RC" in
    0) completed[$KIND]=$((completed[$KIND] + 1)) ;;
    69 | 75)
      grep -q "could not save: No space left on device" "$T/run.err" ||
        fail_now "a failed run did not say 'could not save: No space left on device': $(head -c 300 "$T/run.err")"
      # P.status says it too, unless writing P.status itself is what failed (a disk full
      # before the room was reserved).
      grep -q "could not save: No space left on device" "$T/status.out" || grep -q "max.status" "$T/run.err" ||
        fail_now "status does not say 'could not save: No space left on device': $(head -c 400 "$T/status.out")"
      could_not_save[$KIND]=$((could_not_save[$KIND] + 1))
      ;;
    *) fail_now "with a full disk, once --force exited $RC: $(head -c 300 "$T/run.err")" ;;
  esac
  inspect
  judge_and_recover
done

# ---- fsync delayed / killed through strace ------------------------------------------------------
KIND=fsync
control '{"delay_ms": 5, "delay_jitter_ms": 10}'
k=0
while wanted fsync && [ "${runs[fsync]}" -lt "$RUNS" ] && ! over_budget; do
  if [ $((runs[$KIND] % 2)) = 0 ]; then
    # The answer's fsync takes 2 s; kill -9 as soon as its temp file is complete.
    start_run "${STRACE[@]}" -o /dev/null -e trace=fsync -e "inject=fsync:delay_enter=2000000:when=$ANSWER_FSYNC"
    tracee=
    for _ in $(seq 1000); do
      tracee=${tracee:-$(pgrep -P "$RUN_PID" | head -n1 || true)}
      for f in "$SECRET".tmp.*; do
        if [ -f "$f" ] && well_formed "$f" && [ "$(secret_field "$f" refresh_token)" != "$BEFORE" ]; then
          [ -n "$tracee" ] && kill -KILL "$tracee" 2>/dev/null || true
          break 2
        fi
      done
      kill -0 "$RUN_PID" 2>/dev/null || break
      sleep 0.01
    done
  else
    # SIGKILL injected at the entry of the K-th fsync, K cycling over all of them.
    k=$((k % FSYNCS + 1))
    start_run "${STRACE[@]}" -o /dev/null -e trace=fsync -e "inject=fsync:signal=SIGKILL:when=$k"
  fi
  end_run
  case "$RC" in
    0) completed[$KIND]=$((completed[$KIND] + 1)) ;;
    137) ;;
    *) fail_now "under strace: exited $RC: $(head -c 300 "$T/run.err")" ;;
  esac
  inspect
  judge_and_recover
done

# ---- verdict ----------------------------------------------------------------------------------
summary
for k in $KINDS; do
  want=$RUNS
  [ "$k" = sighup ] && want=6
  [ "${runs[$k]}" -ge "$want" ] && pass "$k: ${runs[$k]} disrupted runs" || fail "$k: only ${runs[$k]} of $want runs within ${MAX_SECONDS}s"
done
if wanted fsync; then
  [ "${adopted[fsync]}" -ge 1 ] && pass "a complete temp copy of P.secret was adopted after a kill in its fsync (${adopted[fsync]} times)" ||
    fail "no run was killed with a complete temp copy of P.secret on disk"
fi
if wanted sigterm || wanted sigint; then
  [ $((exit_sig[sigterm] + exit_sig[sigint])) -ge 1 ] && pass "deferred signals ended in 143/130 after the save" || fail "no deferred signal"
fi
read -r revoked reuse < <(stats families_revoked reuse_events)
expect_eq "revocations: only the answers lost to kill -9 between the server and the temp file" "$LOST_TOTAL $LOST_TOTAL" "$revoked $reuse"
grep -v '^$' "$T/known-tokens" | sort -u >"$T/known-tokens.sorted" && mv "$T/known-tokens.sorted" "$T/known-tokens"
leaks_before=$FAILURES
check_no_token_leak "$T"/logs/*.log "$T/fake.log" "$T/fake.out" "$T/fake.err"
[ "$FAILURES" = "$leaks_before" ] && pass "no token in any output or log ($(wc -l <"$T/known-tokens") known tokens checked)"
finish

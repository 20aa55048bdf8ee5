#!/bin/bash
# The rotation race: many writers of ONE subscription token family, which the server rotates
# on every refresh and revokes as a whole when a spent refresh token is presented again
# (tests/fakes/anthropic_token_server.js, ../shared/ANTHROPIC_OAUTH.md). All of them share ONE
# Claude Code config dir (CLAUDE_CONFIG_DIR):
#   - 4 state dirs (s1..s4), each an `anthropic-oauth` profile "max" with sinks = ["claude-code"],
#     each served by its own `claude-key-refresher run` daemon (timer-driven: the fake issues
#     4-second tokens and refresh_before_expiry is larger, so the daemon is due every ~2 s);
#   - a `signal` loop (forced refreshes through the s1 daemon, with pauses so its timer fires
#     too; s2's daemon runs on its timer alone);
#   - `once --force --quiet` loops back to back: 1 on s1, 3 on s3, 3 on s4;
#   - SIMS (default 5) simulated Claude Code sessions (tests/fakes/claude_code_sim.js): Claude
#     Code's lock protocol (mkdir lock dir, touched, stale after 10 s), re-read of the store
#     under the lock, refresh with the store's refresh token when within Claude Code's 5-minute
#     window — with 4-second tokens that is every time they take the lock, the worst case —
#     and an atomic write keeping every other key.
# That is 17 concurrent actors. They run until the fake has rotated TARGET times (default
# 600; at least 500 required) and MIN_SECONDS (default 30) have passed, or MAX_SECONDS (150). Then every actor is stopped and the test
# proves:
#   - no family was revoked and no spent refresh token was ever presented (fake: reuse_events
#     == 0, families_revoked == 0, invalid_grant == 0);
#   - nothing was lost: the refresh token in Claude Code's store is the family's current one;
#     every P.secret holds the current token or one legitimately superseded (spent), with no
#     refresh left in flight; a final `once --force` on each profile succeeds, each leaving the
#     store and its P.secret on the new current token;
#   - no actor saw a permanent failure, a torn or invalid store, or a compromised lock;
#   - the store is still a 0600 regular file, valid JSON, the unrelated keys intact, and no
#     lock dir is left behind;
#   - no token appears in any log or output (fingerprints only).
# Prints the rotations per actor kind, the total, revocations and the duration.
# Knobs: CKH_RACE_TARGET, CKH_RACE_MIN, CKH_RACE_MIN_SECONDS, CKH_RACE_SECONDS, CKH_RACE_SIMS,
# CKH_KEEP_TMP=1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_oauth.sh"

TARGET=${CKH_RACE_TARGET:-600}
MIN_REFRESHES=${CKH_RACE_MIN:-500}
MIN_SECONDS=${CKH_RACE_MIN_SECONDS:-30}
MAX_SECONDS=${CKH_RACE_SECONDS:-150}
SIMS=${CKH_RACE_SIMS:-5}
EXPIRES_IN=4
ONCE_LOOPS=(1 0 3 3)  # once --force loops in s1..s4

ACT="$T/actors"
STOP="$T/stop"
PROBLEMS="$T/problems"
mkdir -p "$ACT"
: >"$PROBLEMS"
: >"$T/known-tokens"
chmod 600 "$T/known-tokens"
ACTOR_GROUPS=()  # every actor runs under setsid: its pid is its process group
DAEMON_GROUPS=()
race_cleanup() {
  local g _
  touch "$STOP" 2>/dev/null || true
  for g in "${ACTOR_GROUPS[@]}" "${DAEMON_GROUPS[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for g in "${ACTOR_GROUPS[@]}" "${DAEMON_GROUPS[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for g in "${ACTOR_GROUPS[@]}" "${DAEMON_GROUPS[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  cleanup
}
trap race_cleanup EXIT

START_TS=$EPOCHSECONDS
start_token_server
control "{\"expires_in\": $EXPIRES_IN}"
export CLAUDE_CONFIG_DIR="$T/claude"
mkdir -p -m 700 "$CLAUDE_CONFIG_DIR"
STORE_FILE="$CLAUDE_CONFIG_DIR/.credentials.json"
LOCK_DIR="$(realpath "$CLAUDE_CONFIG_DIR").lock"

# ---- seed one family into Claude Code's store ---------------------------------------------
printf '{}' | fake_post /__seed >"$T/seed.json"
jget access_token refresh_token <"$T/seed.json" >>"$T/known-tokens"
write_store "$STORE_FILE" <"$T/seed.json"
rm -f "$T/seed.json"
SEED_FP=$(fp "$(store_refresh_token "$STORE_FILE")")
pass "seeded one family into Claude Code's store (refresh token $SEED_FP)"

# ---- four profiles sharing the store ------------------------------------------------------
PROFILE_LINES='sinks = ["claude-code"]
refresh_before_expiry = "30s"
refresh_interval = "10s"
force_min_interval = "1s"
backoff_min = "1s"
backoff_max = "2s"'
for i in 1 2 3 4; do
  write_oauth_config "$T/cfg-daemon-s$i.toml" "$PROFILE_LINES" "user_agent = \"axios/1.8.4 ckh-race-daemon-s$i\""
  write_oauth_config "$T/cfg-once-s$i.toml" "$PROFILE_LINES" "user_agent = \"axios/1.8.4 ckh-race-once-s$i\""
  mkdir -p -m 700 "$T/s$i"
done
# on_profile I CMD...: runs the refresher as profile max of state dir sI (daemon config).
on_profile() {
  local i=$1; shift
  CLAUDE_KEY_HELPER_STATE_DIR="$T/s$i" CLAUDE_KEY_HELPER_CONFIG="$T/cfg-daemon-s$i.toml" "$CKH_REFRESHER" "$@"
}
for i in 1 2 3 4; do
  rc=0
  on_profile "$i" import-claude-code --profile max >"$ACT/import-s$i.out" 2>&1 || rc=$?
  expect_eq "import-claude-code on s$i" 0 "$rc"
  [ "$rc" = 0 ] || { cat "$ACT/import-s$i.out" >&2; exit 1; }
done
expect_eq "the store's token after the imports is current" current "$(token_state "$(store_refresh_token "$STORE_FILE")")"

# ---- actors -------------------------------------------------------------------------------
cat >"$T/once_loop.sh" <<'EOF'
#!/bin/bash
# once_loop NAME STATE_DIR CONFIG: `once --force --quiet` back to back until $STOP exists.
name=$1
export CLAUDE_KEY_HELPER_STATE_DIR=$2 CLAUDE_KEY_HELPER_CONFIG=$3
ok=0 transient=0 runs=0
while [ ! -e "$STOP" ]; do
  rc=0
  "$CKH_REFRESHER" once --force --quiet --profile max >"$ACT/$name.run.out" 2>"$ACT/$name.run.err" || rc=$?
  runs=$((runs + 1))
  cat "$ACT/$name.run.out" "$ACT/$name.run.err" >>"$ACT/$name.log"
  if [ "$rc" = 0 ] && [ ! -s "$ACT/$name.run.out" ]; then
    ok=$((ok + 1))
  elif { [ "$rc" = 75 ] || [ "$rc" = 69 ]; } && grep -q 'refresh failed (transient)' "$ACT/$name.run.err" \
       && ! grep -qE 'Sanitizer|runtime error' "$ACT/$name.run.err"; then
    transient=$((transient + 1))
  else
    printf '%s: run %d exited %d: %s\n' "$name" "$runs" "$rc" "$(head -c 400 "$ACT/$name.run.err" | tr '\n' ' ')" >>"$PROBLEMS"
    break
  fi
done
echo "$ok $transient" >"$ACT/$name.count"
EOF
cat >"$T/signal_loop.sh" <<'EOF'
#!/bin/bash
# signal_loop NAME STATE_DIR CONFIG: `signal` (a forced refresh by the daemon), random pauses.
name=$1
export CLAUDE_KEY_HELPER_STATE_DIR=$2 CLAUDE_KEY_HELPER_CONFIG=$3
ok=0 failed=0
while [ ! -e "$STOP" ]; do
  rc=0
  "$CKH_REFRESHER" signal --profile max >>"$ACT/$name.log" 2>&1 || rc=$?
  if [ "$rc" = 0 ]; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  [ $((RANDOM % 3)) = 0 ] && sleep 1
done
echo "$ok $failed" >"$ACT/$name.count"
EOF
chmod 700 "$T/once_loop.sh" "$T/signal_loop.sh"
export STOP ACT PROBLEMS CKH_REFRESHER

for i in 1 2 3 4; do
  CLAUDE_KEY_HELPER_STATE_DIR="$T/s$i" CLAUDE_KEY_HELPER_CONFIG="$T/cfg-daemon-s$i.toml" \
    setsid "$CKH_REFRESHER" run --pid-file "$T/s$i/daemon.pid" </dev/null >"$ACT/daemon-s$i.log" 2>&1 &
  DAEMON_GROUPS+=($!)
done
for i in 1 2 3 4; do
  for _ in $(seq 200); do [ -S "$T/s$i/max.sock" ] && [ -f "$T/s$i/daemon.pid" ] && break; sleep 0.05; done
  [ -S "$T/s$i/max.sock" ] && pass "daemon s$i is serving" || { fail "daemon s$i did not start: $(head -c 600 "$ACT/daemon-s$i.log")"; exit 1; }
done

RUN_START_MS=$(date +%s%3N)
BASE_ROTATIONS=$(stats refreshes_ok)
DEADLINE_MS=$((RUN_START_MS + (MAX_SECONDS + 60) * 1000))  # the sims' own hard stop
for n in $(seq "$SIMS"); do
  setsid node "$CLAUDE_CODE_SIM_JS" --config-dir "$CLAUDE_CONFIG_DIR" --token-url "$BASE/v1/oauth/token" \
    --summary "$ACT/sim$n.summary" --stop-file "$STOP" --deadline-ms "$DEADLINE_MS" --name "sim$n" \
    --seen-tokens "$T/known-tokens" --pause-ms 0,300 --user-agent "claude-code-sim/1.0 sim$n" \
    </dev/null >"$ACT/sim$n.log" 2>&1 &
  ACTOR_GROUPS+=($!)
done
for i in 1 2 3 4; do
  for k in $(seq "${ONCE_LOOPS[$((i - 1))]}"); do
    [ "${ONCE_LOOPS[$((i - 1))]}" = 0 ] && break
    setsid "$T/once_loop.sh" "once-s$i-$k" "$T/s$i" "$T/cfg-once-s$i.toml" </dev/null >/dev/null 2>&1 &
    ACTOR_GROUPS+=($!)
  done
done
setsid "$T/signal_loop.sh" signal-s1 "$T/s1" "$T/cfg-daemon-s1.toml" </dev/null >/dev/null 2>&1 &
ACTOR_GROUPS+=($!)
ACTORS=$(( ${#ACTOR_GROUPS[@]} + ${#DAEMON_GROUPS[@]} ))
echo "running $ACTORS concurrent actors: 4 daemons, 1 signal loop, $(( ${ONCE_LOOPS[0]} + ${ONCE_LOOPS[1]} + ${ONCE_LOOPS[2]} + ${ONCE_LOOPS[3]} )) once --force loops, $SIMS simulated Claude Code sessions; until $TARGET rotations and ${MIN_SECONDS}s, at most ${MAX_SECONDS}s"

# ---- the run ------------------------------------------------------------------------------
next_report=$((EPOCHSECONDS + 15))
stop_reason="time limit"
while :; do
  read -r rotations revoked reuse < <(stats refreshes_ok families_revoked reuse_events)
  rotations=$((rotations - BASE_ROTATIONS))
  if [ "$rotations" -ge "$TARGET" ] && [ $(( $(date +%s%3N) - RUN_START_MS )) -ge $((MIN_SECONDS * 1000)) ]; then
    stop_reason="target reached"
    break
  fi
  if [ "$revoked" != 0 ] || [ "$reuse" != 0 ]; then stop_reason="family revoked"; break; fi
  if [ -s "$PROBLEMS" ]; then stop_reason="an actor failed"; break; fi
  if [ $(( $(date +%s%3N) - RUN_START_MS )) -ge $((MAX_SECONDS * 1000)) ]; then break; fi
  if [ "$EPOCHSECONDS" -ge "$next_report" ]; then
    echo "  ... $(( ($(date +%s%3N) - RUN_START_MS) / 1000 ))s: $rotations rotations"
    next_report=$((EPOCHSECONDS + 15))
  fi
  sleep 1
done
RUN_MS=$(( $(date +%s%3N) - RUN_START_MS ))
echo "stopping ($stop_reason) after $((RUN_MS / 1000)).$(( (RUN_MS % 1000) / 100 ))s"

# ---- stop every actor: loops and sims finish their turn, daemons get SIGTERM ---------------
touch "$STOP"
stop_by=$((EPOCHSECONDS + 45))
for g in "${ACTOR_GROUPS[@]}"; do
  while kill -0 "$g" 2>/dev/null && [ "$EPOCHSECONDS" -lt "$stop_by" ]; do sleep 0.1; done
  if kill -0 "$g" 2>/dev/null; then fail "actor $g did not stop within 45 s"; kill -KILL -- "-$g" 2>/dev/null || true; fi
done
for g in "${DAEMON_GROUPS[@]}"; do kill -TERM "$g" 2>/dev/null || true; done
stop_by=$((EPOCHSECONDS + 40))
for i in 1 2 3 4; do
  g=${DAEMON_GROUPS[$((i - 1))]}
  while kill -0 "$g" 2>/dev/null && [ "$EPOCHSECONDS" -lt "$stop_by" ]; do sleep 0.1; done
  if kill -0 "$g" 2>/dev/null; then fail "daemon s$i did not stop within 40 s of SIGTERM"; kill -KILL -- "-$g" 2>/dev/null || true; fi
  rc=0
  wait "$g" || rc=$?
  expect_eq "daemon s$i exits 0 on SIGTERM" 0 "$rc"
done
wait "${ACTOR_GROUPS[@]}" 2>/dev/null || true
read -r ROTATIONS_ALL REVOKED REUSE INVALID < <(stats refreshes_ok families_revoked reuse_events invalid_grant)
ROTATIONS=$((ROTATIONS_ALL - BASE_ROTATIONS))

# ---- what happened, per actor kind (from the fake's log: fingerprints only) ----------------
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const kind = (ua) => !ua ? "?" : /ckh-race-daemon/.test(ua) ? "daemon" : /ckh-race-once/.test(ua) ? "once" : /claude-code-sim/.test(ua) ? "sim" : "other";
const rot = {}, bad = {};
for (const e of lines) {
  if (e.path !== "/v1/oauth/token") continue;
  const k = kind(e.user_agent);
  if (e.outcome === "rotated") rot[k] = (rot[k] || 0) + 1;
  else bad[k + ":" + e.outcome] = (bad[k + ":" + e.outcome] || 0) + 1;
}
console.log(`rotations by kind: daemons ${rot.daemon || 0}, once --force ${rot.once || 0}, Claude Code sims ${rot.sim || 0}` +
  (rot.other ? `, other ${rot.other}` : ""));
if (Object.keys(bad).length) console.log("other token answers: " + JSON.stringify(bad));
const reuse = lines.find((e) => e.outcome === "reuse_revoked" || e.outcome === "reuse");
if (reuse) {
  const spentBy = lines.find((e) => e.outcome === "rotated" && e.presented_fp === reuse.presented_fp);
  const issuedBy = lines.find((e) => e.issued_fp === reuse.presented_fp);
  console.log(`first reuse: ${reuse.user_agent} presented ${reuse.presented_fp} at ${reuse.ts_ms}; ` +
    `it was issued at ${issuedBy && issuedBy.ts_ms} to ${issuedBy && issuedBy.user_agent} and spent at ` +
    `${spentBy && spentBy.ts_ms} by ${spentBy && spentBy.user_agent}`);
}' "$T/fake.log" | tee "$T/kinds.txt"
DAEMON_DUE=$(cat "$ACT"/daemon-s?.log | grep -c 'due refresh: refreshed' || true)
DAEMON_FORCED=$(cat "$ACT"/daemon-s?.log | grep -c 'forced refresh: refreshed' || true)
echo "daemon refreshes (their logs): $DAEMON_DUE on the timer, $DAEMON_FORCED forced by signal"
once_ok=0 once_transient=0
for f in "$ACT"/once-*.count; do read -r a b <"$f"; once_ok=$((once_ok + a)); once_transient=$((once_transient + b)); done
echo "once --force runs: $once_ok succeeded, $once_transient failed transiently (lock contention)"
read -r sig_ok sig_failed <"$ACT/signal-s1.count" || { sig_ok="?"; sig_failed="?"; }
echo "signal runs: $sig_ok answered ok, $sig_failed not"
ADOPTIONS=$(cat "$ACT"/*.log | grep -c 'adopted it' || true)
echo "refresher runs that adopted a newer family from Claude Code's store: $ADOPTIONS"
node -e '
const fs = require("fs");
const t = {refreshes: 0, skipped_fresh: 0, iterations: 0, lock_timeouts: 0, lock_wait_ms_max: 0};
for (const f of process.argv.slice(1)) {
  const s = JSON.parse(fs.readFileSync(f, "utf8"));
  for (const k of Object.keys(t)) t[k] = k === "lock_wait_ms_max" ? Math.max(t[k], s[k]) : t[k] + s[k];
}
console.log(`Claude Code sims: ${t.refreshes} refreshes in ${t.iterations} turns, ${t.lock_timeouts} lock give-ups, longest lock wait ${t.lock_wait_ms_max} ms`);
' "$ACT"/sim*.summary

# ---- verdict ------------------------------------------------------------------------------
if [ -s "$PROBLEMS" ]; then
  fail "actors reported problems:"
  head -n 20 "$PROBLEMS" | cut -c1-400 | sed 's/^/    /' >&2
else
  pass "no once --force loop saw a permanent or unexpected failure"
fi
for n in $(seq "$SIMS"); do
  s="$ACT/sim$n.summary"
  if [ ! -s "$s" ]; then fail "sim$n wrote no summary: $(head -c 400 "$ACT/sim$n.log")"; continue; fi
  verdict=$(node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const bad = s.invalid_grant + s.parse_errors + s.store_missing + s.lock_compromised + (s.crashed ? 1 : 0);
    console.log(bad === 0 ? "ok" : `invalid_grant ${s.invalid_grant}, parse errors ${s.parse_errors}, store missing ${s.store_missing}, ` +
      `lock compromised ${s.lock_compromised}, crashed ${!!s.crashed}; first: ${s.first_problem}`)' "$s")
  if [ "$verdict" = ok ]; then
    pass "sim$n: no refused token, torn store or compromised lock"
  else
    fail "sim$n: $verdict"
  fi
done
if grep -hE 'refresh failed \((permanent|unsafe|corrupt|config|io)\)|Sanitizer|runtime error' "$ACT"/daemon-s?.log >"$T/daemon.problems"; then
  fail "daemons logged non-transient failures:"
  head -n 10 "$T/daemon.problems" | cut -c1-400 | sed 's/^/    /' >&2
else
  pass "no daemon logged a non-transient failure"
fi
expect_eq "no family revoked (fake: families_revoked)" 0 "$REVOKED"
expect_eq "no spent refresh token presented (fake: reuse_events)" 0 "$REUSE"
expect_eq "no refresh token refused (fake: invalid_grant)" 0 "$INVALID"
if [ "$ROTATIONS" -ge "$MIN_REFRESHES" ]; then
  pass "$ROTATIONS successful refreshes (at least $MIN_REFRESHES)"
else
  fail "only $ROTATIONS successful refreshes in $((RUN_MS / 1000)) s (at least $MIN_REFRESHES needed)"
fi
[ ! -e "$LOCK_DIR" ] && pass "no Claude Code lock dir left behind" || fail "Claude Code's lock dir $LOCK_DIR is left behind"

# The store: still a whole 0600 file, unrelated keys intact.
[ -f "$STORE_FILE" ] && [ ! -L "$STORE_FILE" ] && pass "the store is a regular file" || fail "the store is not a regular file"
expect_eq "the store is still 0600" 600 "$(stat -c %a "$STORE_FILE")"
check_store() {
  node -e '
const fs = require("fs");
let d;
try { d = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch (e) { console.log("not valid JSON"); process.exit(0); }
const o = d.claudeAiOauth || {};
const problems = [];
if (JSON.stringify(d.unrelatedTopLevel) !== JSON.stringify(JSON.parse(process.argv[2]))) problems.push("unrelatedTopLevel changed");
if (d.mcpServersLater !== "kept") problems.push("mcpServersLater changed");
if (JSON.stringify(o.someFutureField) !== "{\"v\":2}") problems.push("claudeAiOauth.someFutureField changed");
if (o.subscriptionType !== "max") problems.push("subscriptionType changed");
if (typeof o.accessToken !== "string" || !o.accessToken) problems.push("no accessToken");
if (typeof o.refreshToken !== "string" || !o.refreshToken) problems.push("no refreshToken");
if (!Number.isInteger(o.expiresAt) || o.expiresAt < 1e12) problems.push("expiresAt is not ms");
if (!Array.isArray(o.scopes) || o.scopes.length === 0) problems.push("scopes is not a non-empty array");
console.log(problems.length ? problems.join(", ") : "ok");' "$STORE_FILE" "$STORE_UNRELATED"
}
expect_eq "the store is valid JSON, unrelated keys intact, entry complete" ok "$(check_store)"

STORE_RT=$(store_refresh_token "$STORE_FILE")
printf '%s\n' "$STORE_RT" "$(jget claudeAiOauth.accessToken <"$STORE_FILE")" >>"$T/known-tokens"
expect_eq "the store's refresh token ($(fp "$STORE_RT")) is the family's current one" current "$(token_state "$STORE_RT")"
for i in 1 2 3 4; do
  sec="$T/s$i/max.secret"
  rt=$(secret_field "$sec" refresh_token)
  printf '%s\n' "$rt" "$(secret_field "$sec" access_token)" >>"$T/known-tokens"
  st=$(token_state "$rt")
  case "$st" in
    current|spent) pass "s$i's P.secret holds the current token or a superseded one ($st, $(fp "$rt"))" ;;
    *) fail "s$i's P.secret holds a $st refresh token ($(fp "$rt"))" ;;
  esac
  expect_eq "s$i: no refresh left in flight" none "$(secret_field "$sec" pending_refresh_since)"
  expect_eq "s$i: P.secret is 0600" 600 "$(stat -c %a "$sec")"
done

# A final forced refresh on each profile, one after the other: each must succeed.
for i in 1 2 3 4; do
  rc=0
  on_profile "$i" once --force --quiet --profile max >"$ACT/final-s$i.out" 2>&1 || rc=$?
  expect_eq "final once --force on s$i succeeds" 0 "$rc"
  [ "$rc" = 0 ] || sed 's/^/    /' "$ACT/final-s$i.out" | cut -c1-400 >&2
  rt=$(secret_field "$T/s$i/max.secret" refresh_token)
  srt=$(store_refresh_token "$STORE_FILE")
  printf '%s\n' "$rt" "$srt" >>"$T/known-tokens"
  expect_eq "s$i: P.secret and the store hold the same, current refresh token" "current $(fp "$rt")" "$(token_state "$srt") $(fp "$srt")"
done
read -r REVOKED2 REUSE2 < <(stats families_revoked reuse_events)
expect_eq "still no family revoked and no reuse after the final refreshes" "0 0" "$REVOKED2 $REUSE2"
expect_eq "the store is still valid with its unrelated keys after the final refreshes" ok "$(check_store)"

# No token in any log or output of the test.
grep -v '^$' "$T/known-tokens" | sort -u >"$T/known-tokens.sorted" && mv "$T/known-tokens.sorted" "$T/known-tokens"
echo "leak check: $(wc -l <"$T/known-tokens") known tokens against every log"
leaks_before=$FAILURES
check_no_token_leak "$ACT"/*.log "$ACT"/*.out "$ACT"/*.summary "$T/fake.log" "$T/fake.out" "$T/fake.err" "$T/kinds.txt"
[ "$FAILURES" = "$leaks_before" ] && pass "no token in any log or output"

TOTAL_S=$((EPOCHSECONDS - START_TS))
echo "summary: $ACTORS actors, $ROTATIONS refreshes in $((RUN_MS / 1000)).$(( (RUN_MS % 1000) / 100 ))s ($(tr '\n' ' ' <"$T/kinds.txt" | sed 's/rotations by kind: //; s/ *$//')), families revoked $REVOKED, reuse events $REUSE, test took ${TOTAL_S}s"
finish

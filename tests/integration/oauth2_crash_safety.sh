#!/bin/bash
# Crash safety of the oauth2 refresh-token rotation against the real OpenID provider
# (oidc-provider, tests/fakes/oidc; refresher/backends/oauth2_backend.h: "before the request,
# P.secret durably records that one is in flight ...; the rotated token is durable before
# the new access token is published"). oidc-provider rotates on every refresh and revokes
# the whole grant when a spent refresh token is presented again, so a lost rotation cannot
# hide. Until KILLS runs were really killed: `once --force` is started and killed with
# SIGKILL after a random 0..KILL_MAX ms (calibrated from uninterrupted runs). After each
# kill the provider's own events are the ground truth:
#   - the refresh token in P.secret was never redeemed at the provider (the kill landed
#     before the request, or after the durable write): the next `once --force` must succeed;
#   - it was redeemed, and a complete temp copy of P.secret holds its successor (the kill
#     landed while that copy was being written): the next `once --force` must adopt the copy
#     and succeed, with no reuse detected;
#   - it was redeemed and its successor exists nowhere (the kill landed between the
#     provider's answer and the first byte of the temp file): P.secret must still record the
#     refresh in flight, and the next `once --force` must fail naming "interrupted refresh";
#     a new device login follows and the loop goes on;
#   - anything else fails the test (a corrupt file, a success after a redeemed token with no
#     copy, a reuse the provider detected in any other case).
# The provider holds every token answer 40 ms after acting on it (/test/token-delay), so
# kills land in the lost-answer window often; the test requires at least one there and one
# before the request. Knobs: CKH_O2_CRASH_KILLS (20), CKH_O2_CRASH_SECONDS (time budget, 150), CKH_KEEP_TMP=1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_oidc.sh"

KILLS=${CKH_O2_CRASH_KILLS:-20}
BUDGET=${CKH_O2_CRASH_SECONDS:-150}
STARTED=$(date +%s)

start_oidc_provider 120
OUTS="$T/outs"; mkdir -p "$OUTS"
N=0
cat >"$CLAUDE_KEY_HELPER_CONFIG" <<EOF
[profile.person]
backend = "oauth2"
[profile.person.oauth2]
issuer = "$ISSUER"
client_id = "person"
grant = "device_code"
scope = "openid offline_access"
ca_cert = "$OIDC_CA"
EOF
login_device person
[ "$RC" = 0 ] || { fail "first login: $ERR"; finish; }

current_rt() { sed -n 's/^refresh_token: //p' "$STATE/person.secret"; }
redeemed() { # FP: did the provider grant a refresh for this refresh token?
  grep '"event":"grant.success"' "$OIDC_EVENTS" | grep '"grant_type":"refresh_token"' |
    grep -q "\"refresh_token_id\":\"$1\""
}
successor() { # FP: the fp of the token the provider rotated it to
  grep '"event":"grant.success"' "$OIDC_EVENTS" | grep "\"refresh_token_id\":\"$1\"" |
    head -1 | jget rotated_to
}
temp_holds() { # FP: a temp copy of P.secret in the state dir holds that refresh token
  local f
  for f in "$STATE"/person.secret.tmp.*; do
    [ -f "$f" ] || continue
    [ "$(fp "$(sed -n 's/^refresh_token: //p' "$f")")" = "$1" ] && return 0
  done
  return 1
}
once_force() {
  set +e
  "$CKH_REFRESHER" once --force --profile person >"$T/once.out" 2>"$T/once.err"
  RC=$?
  set -e
}

# Calibration: how long an uninterrupted run takes here.
total=0
for _ in 1 2 3; do
  t0=$(date +%s%N); once_force; t1=$(date +%s%N)
  [ "$RC" = 0 ] || fail "calibration run failed: $(cat "$T/once.err")"
  total=$((total + (t1 - t0) / 1000000))
done
# Every token answer is now held 40 ms after the provider rotated: about a third of the kills
# land in the window that loses the answer, so that case is hit, not hoped for.
oidc_hook "token-delay?ms=40"
KILL_MAX=$((total / 3 + 60))
echo "calibration: a forced refresh takes about $((total / 3)) ms (+40 ms held); kills land in 0..$KILL_MAX ms"

killed=0 completed=0 before=0 adopted=0 interrupted=0 i=0
reuse_expected=0
while ((killed < KILLS)) && (($(date +%s) - STARTED < BUDGET)); do
  i=$((i + 1))
  held=$(fp "$(current_rt)")
  "$CKH_REFRESHER" once --force --profile person >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%03d' $((RANDOM % KILL_MAX)))"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    killed=$((killed + 1))
  else
    wait "$pid" 2>/dev/null || true
    completed=$((completed + 1))
    continue
  fi
  # Ground truth, once the provider has decided whatever request was in flight.
  sleep 0.2
  now_rt=$(fp "$(current_rt)")
  if [ "$now_rt" != "$held" ] || ! redeemed "$held"; then
    # Not redeemed (or the rotation was saved before the kill): nothing may be lost.
    once_force
    if [ "$RC" != 0 ]; then fail "kill $i: the token in P.secret was current, yet: $(cat "$T/once.err")"; fi
    before=$((before + 1))
    continue
  fi
  next=$(successor "$held")
  if temp_holds "$next"; then
    once_force
    [ "$RC" = 0 ] || fail "kill $i: a temp copy held the rotated token, yet: $(cat "$T/once.err")"
    [ "$(fp "$(current_rt)")" != "$held" ] || fail "kill $i: the temp copy was not adopted"
    adopted=$((adopted + 1))
    continue
  fi
  # The answer died with the process: P.secret must say a refresh was in flight.
  grep -q '^pending_refresh_since: [0-9]' "$STATE/person.secret" \
    || fail "kill $i: the rotation was lost and P.secret does not record a refresh in flight"
  once_force
  [ "$RC" != 0 ] || fail "kill $i: a redeemed token with no copy refreshed again"
  grep -q "interrupted refresh" "$T/once.err" "$STATE/person.status" 2>/dev/null \
    || fail "kill $i: the failure does not name the interrupted refresh: $(cat "$T/once.err")"
  interrupted=$((interrupted + 1))
  reuse_expected=$((reuse_expected + 1))
  login_device person
  [ "$RC" = 0 ] || fail "kill $i: the new login failed: $ERR"
done
echo "kills: $killed (before the request or after the save: $before, temp copy adopted: $adopted, answer lost: $interrupted); runs that completed first: $completed; in $(($(date +%s) - STARTED)) s"
((killed >= 5)) || fail "only $killed kills landed in the time budget"
((interrupted >= 1)) || fail "no kill landed between the provider's rotation and the save: the test proved nothing about it"
((before >= 1)) || fail "no kill landed before the request or after the save"
expect_eq "the provider detected a reuse only for the lost answers" "$reuse_expected" \
  "$(oidc_stat refresh_token_reuse_detected)"
once_force
expect_eq "the family is alive at the end" 0 "$RC"
finish

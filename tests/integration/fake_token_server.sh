#!/bin/bash
# The fake Anthropic OAuth server (tests/fakes/anthropic_token_server.js) that the refresher's
# anthropic-oauth tests talk to behaves as ../shared/ANTHROPIC_OAUTH.md says, checked with curl:
# refresh rotates, a spent refresh token revokes its whole family, the token endpoint takes
# JSON only and requires client_id, the injected failures (429 + Retry-After, fail_next, edge
# 403 on User-Agent, garbage, 5 MB body, hang, 413) answer without processing the grant, the
# PKCE code flow (manual "code#state" page and loopback 302) checks verifier, state,
# redirect_uri and single use, the RFC 7636 Appendix B vector is accepted, expires_in only with
# scope user:inference, 16 concurrent refreshes with one token give exactly one rotation, the
# profile needs a live token and the beta header, no token or code reaches the fake's log or
# output, and SIGTERM ends it at once even with a hung request open.
# Stand-alone (needs only node and curl): prints fingerprints, never a token.
set -euo pipefail

command -v node >/dev/null 2>&1 || { echo "skipped: node is not installed"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skipped: curl is not installed"; exit 77; }
command -v sha256sum >/dev/null 2>&1 || { echo "skipped: sha256sum is not installed"; exit 77; }

FAKE="$(cd "$(dirname "$0")/.." && pwd)/fakes/anthropic_token_server.js"
CLIENT_ID=9d1c250a-e61b-44d9-88ed-5944d1962f5e
MANUAL_URI=https://platform.claude.com/oauth/code/callback
FULL_SCOPES="org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload"
UA="axios/1.8.4"

REDACT_SED='s/sk-ant-(oat|ort)01-[A-Za-z0-9_-]+/sk-ant-\101-<redacted>/g'
# shellcheck source=tests/integration/lib_checks.sh
source "$(dirname "$0")/lib_checks.sh"
private_tmp ckh-fake

# take_tokens [FILE]: ACC and REF from the token response in $BODY (or FILE), both recorded as
# secrets (redacted from every message, and looked for in the fake's log and output).
take_tokens() {
  { IFS= read -r ACC || true; IFS= read -r REF || true; } < <(if [ $# -gt 0 ]; then jget access_token refresh_token < "$1"; else jget access_token refresh_token <<<"$BODY"; fi)
  secret "$ACC"; secret "$REF"
}

start_fake fake "$FAKE"
SERVER_PID=${BG_PIDS[-1]}
PORT=$PORT_fake
B="http://127.0.0.1:$PORT"
pass "fake listening (port file written)"

# Requests. Bodies go through stdin, never argv. Each sets CODE and BODY (and $T/hdrs).
# post PATH JSON [curl args...]      POST with Content-Type: application/json
# post_raw PATH DATA [curl args...]  POST with whatever the curl args say
# get PATH [curl args...]
post_raw() {
  local path=$1 data=$2; shift 2
  CODE=$(printf '%s' "$data" | curl -sS -o "$T/body" -D "$T/hdrs" -w '%{http_code}' --max-time 10 \
    -X POST --data-binary @- "$@" "$B$path" || true)
  BODY=$(tr -d '\0' < "$T/body" 2>/dev/null || true)
}
post() { local path=$1 data=$2; shift 2; post_raw "$path" "$data" -H 'Content-Type: application/json' "$@"; }
get() {
  local path=$1; shift
  CODE=$(curl -sS -o "$T/body" -D "$T/hdrs" -w '%{http_code}' --max-time 10 "$@" "$B$path" || true)
  BODY=$(tr -d '\0' < "$T/body" 2>/dev/null || true)
}
header() { tr -d '\r' < "$T/hdrs" | sed -n "s/^$1: //Ip" | head -1; }
refresh() { # refresh TOKEN [curl args...]
  local t=$1; shift
  post /v1/oauth/token "{\"grant_type\":\"refresh_token\",\"refresh_token\":\"$t\",\"client_id\":\"$CLIENT_ID\"}" -A "$UA" "$@"
}
# token_state refresh_token|access_token TOKEN: the fake's view of it (query from stdin).
token_state() {
  printf '%s' "$2" | curl -sS --max-time 10 -G --data-urlencode "$1@-" "$B/__token_status" | jget state
}
stat_of() { curl -sS --max-time 10 "$B/__stats" | jget "$1"; }
control() { post /__control "$1"; [ "$CODE" = 200 ] || fail "control $1: $CODE $BODY"; }
b64url_random() { head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='; }
s256() { printf '%s' "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(require("crypto").createHash("sha256").update(s).digest("base64url")))'; }

FORMAT_ERR='{"type":"error","error":{"type":"invalid_request_error","message":"Invalid request format"}}'
GRANT_ERR='{"error":"invalid_grant","error_description":"Refresh token not found or invalid"}'
CODE_ERR='{"error":"invalid_grant","error_description":"Invalid authorization code"}'

# ---- seed and rotation ---------------------------------------------------------------------
expect_eq "stats start at zero" 0 "$(stat_of token_requests)"
post /__seed '{}'
expect_eq "seed answers 200" 200 "$CODE"
take_tokens; A1=$ACC R1=$REF
FAM1=$(curl -sS "$B/__issued" | jget issued.0.family)
case "$A1" in sk-ant-oat01-????????????????????????????????*) pass "seed access token is sk-ant-oat01-… ($(fp "$A1"))" ;; *) fail "seed access token shape" ;; esac
case "$R1" in sk-ant-ort01-????????????????????????????????*) pass "seed refresh token is sk-ant-ort01-… ($(fp "$R1"))" ;; *) fail "seed refresh token shape" ;; esac
{ read -r TT; read -r EI; read -r SC; read -r EM; read -r OU || true; } < <(jget token_type expires_in scope account.email_address organization.uuid <<<"$BODY")
expect_eq "seed token_type" Bearer "$TT"
expect_eq "seed expires_in defaults to 28800" 28800 "$EI"
expect_eq "seed scope is the full login scope" "$FULL_SCOPES" "$SC"
expect_eq "seed account email" user@example.com "$EM"
[ -n "$OU" ] && pass "seed has organization.uuid" || fail "no organization.uuid"
expect_eq "issued[0] is the seed's refresh-token fingerprint" "$(fp "$R1")" "$(curl -sS "$B/__issued?since=0" | jget issued.0.fingerprint)"

refresh "$R1"
expect_eq "refresh with the current token: 200" 200 "$CODE"
take_tokens; A2=$ACC R2=$REF
[ -n "$R2" ] && [ "$R2" != "$R1" ] && [ -n "$A2" ] && [ "$A2" != "$A1" ] \
  && pass "refresh rotated both tokens ($(fp "$R1") -> $(fp "$R2"))" || fail "refresh did not rotate: $BODY"
expect_eq "old refresh token is now spent" spent "$(token_state refresh_token "$R1")"
expect_eq "new refresh token is current" current "$(token_state refresh_token "$R2")"
expect_eq "old access token stays valid until expiry" valid "$(token_state access_token "$A1")"
expect_eq "unknown refresh token" unknown "$(token_state refresh_token sk-ant-ort01-nope)"
ISSUED=$(curl -sS "$B/__issued?since=1")
expect_eq "__issued?since=1 lists the rotation: fingerprint, index, family, via; next" \
  "$(fp "$R2") 1 $FAM1 refresh 2" "$(jget issued.0.fingerprint issued.0.index issued.0.family issued.0.via next <<<"$ISSUED" | paste -sd' ')"

# ---- profile ---------------------------------------------------------------------------------
printf 'header = "Authorization: Bearer %s"\n' "$A2" > "$T/auth.curlrc"   # keeps the token out of argv
get /api/oauth/profile -K "$T/auth.curlrc" -H 'anthropic-beta: oauth-2025-04-20'
expect_eq "profile with a live token: 200" 200 "$CODE"
expect_eq "profile organization_type" claude_max "$(jget organization.organization_type <<<"$BODY")"
expect_eq "profile rate_limit_tier" default_claude_max_20x "$(jget organization.rate_limit_tier <<<"$BODY")"
expect_eq "profile email" user@example.com "$(jget account.email <<<"$BODY")"
get /api/oauth/profile -K "$T/auth.curlrc"
expect_eq "profile without the beta header: 401" 401 "$CODE"
get /api/oauth/profile -H 'anthropic-beta: oauth-2025-04-20'
expect_eq "profile without a token: 401" 401 "$CODE"

# ---- reuse revokes the family ----------------------------------------------------------------
refresh "$R1"
expect_eq "reusing the spent refresh token: 400" 400 "$CODE"
expect_eq "reuse answers invalid_grant" "$GRANT_ERR" "$BODY"
expect_eq "the family's current refresh token is revoked" revoked "$(token_state refresh_token "$R2")"
expect_eq "the family's access token is revoked" revoked "$(token_state access_token "$A2")"
refresh "$R2"
expect_eq "the revoked family's newest refresh token no longer works" "400 $GRANT_ERR" "$CODE $BODY"
get /api/oauth/profile -K "$T/auth.curlrc" -H 'anthropic-beta: oauth-2025-04-20'
expect_eq "profile with a revoked access token: 401" 401 "$CODE"
expect_eq "stats reuse_events" 1 "$(stat_of reuse_events)"
expect_eq "stats families_revoked" 1 "$(stat_of families_revoked)"
refresh sk-ant-ort01-never-issued
expect_eq "unknown refresh token: invalid_grant" "400 $GRANT_ERR" "$CODE $BODY"

# ---- request format ----------------------------------------------------------------------------
post /__seed '{}'
take_tokens; R3=$REF
post_raw /v1/oauth/token "grant_type=refresh_token&refresh_token=$R3&client_id=$CLIENT_ID" \
  -H 'Content-Type: application/x-www-form-urlencoded' -A "$UA"
expect_eq "form-encoded body: 400 Invalid request format" "400 $FORMAT_ERR" "$CODE $BODY"
post /v1/oauth/token "{\"grant_type\":\"refresh_token\",\"refresh_token\":\"$R3\"}" -A "$UA"
expect_eq "missing client_id: 400 Invalid request format" "400 $FORMAT_ERR" "$CODE $BODY"
post /v1/oauth/token "{\"grant_type\":\"refresh_token\",\"refresh_token\":\"$R3\",\"client_id\":\"someone-else\"}" -A "$UA"
expect_eq "wrong client_id: 400 Invalid request format" "400 $FORMAT_ERR" "$CODE $BODY"
post /v1/oauth/token '{"grant_type":"refresh_token",' -A "$UA"
expect_eq "unparsable JSON: 400 Invalid request format" "400 $FORMAT_ERR" "$CODE $BODY"
expect_eq "stats rejected_format" 4 "$(stat_of rejected_format)"
expect_eq "rejected requests processed nothing" current "$(token_state refresh_token "$R3")"

# ---- injected failures -------------------------------------------------------------------------
control '{"rate_limit_next":2}'
refresh "$R3"
expect_eq "rate_limit_next: 429" 429 "$CODE"
expect_eq "429 Retry-After defaults to 7" 7 "$(header retry-after)"
expect_eq "429 body" '{"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}' "$BODY"
control '{"retry_after":3}'
refresh "$R3"
expect_eq "second rate-limited request: 429, Retry-After 3" "429 3" "$CODE $(header retry-after)"
expect_eq "rate-limited requests processed nothing" current "$(token_state refresh_token "$R3")"
control '{"fail_next":[{"status":500,"body":"{\"error\":\"boom\"}"},{"status":503,"body":"down","headers":{"Retry-After":"1","Content-Type":"text/plain"}}]}'
refresh "$R3"
expect_eq "fail_next[0]: 500 with its body" '500 {"error":"boom"}' "$CODE $BODY"
refresh "$R3"
expect_eq "fail_next[1]: 503, its body and headers" "503 down 1 text/plain" "$CODE $BODY $(header retry-after) $(header content-type)"
expect_eq "failed requests processed nothing" current "$(token_state refresh_token "$R3")"
control '{"required_user_agent":"^axios/1\\."}'
refresh "$R3" -A "claude-cli/2.1.7"
expect_eq "required_user_agent: other User-Agent gets 403" 403 "$CODE"
case "$(header content-type)" in text/html*) pass "403 is the edge's HTML page" ;; *) fail "403 content-type $(header content-type)" ;; esac
expect_eq "edge 403 processed nothing" current "$(token_state refresh_token "$R3")"
refresh "$R3"
expect_eq "matching User-Agent passes the edge and rotates" 200 "$CODE"
take_tokens; R4=$REF
control '{"required_user_agent":null,"garbage_next":1,"huge_next":1}'
refresh "$R4"
expect_eq "garbage_next: 200 that is not JSON" "200 <not json>" "$CODE $(jget x <<<"$BODY")"
refresh "$R4"
SIZE=$(stat -c %s "$T/body")
[ "$CODE" = 200 ] && [ "$SIZE" -ge 5000000 ] && pass "huge_next: 200 with $SIZE bytes" || fail "huge_next: $CODE $SIZE bytes"
BODY=
control '{"hang_next":1}'
set +e
printf '{"grant_type":"refresh_token","refresh_token":"%s","client_id":"%s"}' "$R4" "$CLIENT_ID" \
  | curl -sS -o /dev/null --max-time 1 -H 'Content-Type: application/json' -A "$UA" --data-binary @- "$B/v1/oauth/token" 2>/dev/null
rc=$?
set -e
expect_eq "hang_next: no answer (curl times out, exit 28)" 28 "$rc"
expect_eq "garbage, huge and hung requests processed nothing" current "$(token_state refresh_token "$R4")"
expect_eq "stats rate_limited / edge_403" "2 1" "$(stat_of rate_limited) $(stat_of edge_403)"

head -c 70000 /dev/zero | tr '\0' 'a' > "$T/big"
CODE=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' --data-binary @"$T/big" "$B/v1/oauth/token" || true)
expect_eq "body over 64 KiB: 413" 413 "$CODE"
get /nope
expect_eq "unknown path: 404 JSON" "404 not_found_error" "$CODE $(jget error.type <<<"$BODY")"
get /v1/oauth/token
expect_eq "GET on the token endpoint: 404" 404 "$CODE"
post /__control '{"expires_inn":5}'
expect_eq "unknown control field: 400" 400 "$CODE"

# ---- PKCE authorization code flow ------------------------------------------------------------
# authorize VERIFIER_CHALLENGE STATE REDIRECT_URI [SCOPE]
authorize() {
  get /oauth/authorize -G --data-urlencode code=true --data-urlencode "client_id=$CLIENT_ID" \
    --data-urlencode response_type=code --data-urlencode "redirect_uri=$3" \
    --data-urlencode "scope=${4:-$FULL_SCOPES}" --data-urlencode "code_challenge=$1" \
    --data-urlencode code_challenge_method=S256 --data-urlencode "state=$2"
}
exchange() { # exchange CODE VERIFIER STATE REDIRECT_URI [extra JSON members]
  post /v1/oauth/token "{\"grant_type\":\"authorization_code\",\"code\":\"$1\",\"redirect_uri\":\"$4\",\"client_id\":\"$CLIENT_ID\",\"code_verifier\":\"$2\",\"state\":\"$3\"${5:+,$5}}" -A "$UA"
}
V=$(b64url_random); C=$(s256 "$V"); S=$(b64url_random); secret "$V"
authorize "$C" "$S" "$MANUAL_URI"
expect_eq "authorize, manual redirect: 200 text/plain" "200 text/plain" "$CODE $(header content-type | cut -d';' -f1)"
PAGE=$BODY
AC=${PAGE%%#*}; secret "$AC"
expect_eq "the page shows exactly <code>#<state>" "$AC#$S" "$PAGE"
[ "${#AC}" -ge 32 ] && pass "code is random ($(fp "$AC"))" || fail "short code"
exchange "$AC" "$(b64url_random)" "$S" "$MANUAL_URI"
expect_eq "wrong verifier: invalid_grant" "400 $CODE_ERR" "$CODE $BODY"
exchange "$AC" "$V" "not-the-state" "$MANUAL_URI"
expect_eq "wrong state: invalid_grant" "400 $CODE_ERR" "$CODE $BODY"
exchange "$AC" "$V" "$S" "http://localhost:1/callback"
expect_eq "different redirect_uri: invalid_grant" "400 $CODE_ERR" "$CODE $BODY"
exchange "$AC" "$V" "$S" "$MANUAL_URI" '"expires_in":31536000'
expect_eq "expires_in with the full scope: 400 Invalid request format" "400 $FORMAT_ERR" "$CODE $BODY"
exchange "$AC" "$V" "$S" "$MANUAL_URI"
expect_eq "right verifier: 200" 200 "$CODE"
take_tokens; LR=$REF
expect_eq "login token has the authorized scope" "$FULL_SCOPES" "$(jget scope <<<"$BODY")"
expect_eq "login starts a family whose refresh token is current" current "$(token_state refresh_token "$LR")"
exchange "$AC" "$V" "$S" "$MANUAL_URI"
expect_eq "reused code: invalid_grant" "400 $CODE_ERR" "$CODE $BODY"

V=$(b64url_random); C=$(s256 "$V"); S=$(b64url_random); secret "$V"
LOOP="http://localhost:45871/callback"
authorize "$C" "$S" "$LOOP"
LOC=$(header location)
expect_eq "authorize, loopback redirect: 302" 302 "$CODE"
case "$LOC" in "$LOOP?code="*"&state=$S") pass "Location is <redirect_uri>?code=…&state=<state>" ;; *) fail "Location: $LOC" ;; esac
AC=${LOC#*\?code=}; AC=${AC%%&*}; secret "$AC"
exchange "$AC" "$V" "$S" "$LOOP"
expect_eq "loopback code exchanged: 200" 200 "$CODE"
take_tokens
authorize "$C" "$S" "http://127.0.0.1:45871/callback"
expect_eq "authorize, 127.0.0.1 loopback: 302" 302 "$CODE"
LOC=$(header location); AC=${LOC#*\?code=}; AC=${AC%%&*}; secret "$AC"

# RFC 7636 Appendix B.
S=$(b64url_random)
authorize E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM "$S" "$MANUAL_URI"
AC=${BODY%%#*}; secret "$AC"
exchange "$AC" dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk "$S" "$MANUAL_URI"
expect_eq "RFC 7636 Appendix B verifier/challenge accepted" 200 "$CODE"
take_tokens

# Inference-only scope may ask for a one-year token.
V=$(b64url_random); C=$(s256 "$V"); S=$(b64url_random); secret "$V"
authorize "$C" "$S" "$MANUAL_URI" user:inference
AC=${BODY%%#*}; secret "$AC"
exchange "$AC" "$V" "$S" "$MANUAL_URI" '"expires_in":31536000'
expect_eq "user:inference with expires_in 31536000" "200 31536000 user:inference" "$CODE $(jget expires_in <<<"$BODY") $(jget scope <<<"$BODY")"
take_tokens
expect_eq "stats codes_exchanged" 4 "$(stat_of codes_exchanged)"

# Bad authorize requests.
V=$(b64url_random); C=$(s256 "$V"); S=$(b64url_random)
get "/oauth/authorize?code=true&client_id=$CLIENT_ID&response_type=code&redirect_uri=$MANUAL_URI&scope=user:inference&code_challenge=$C&code_challenge_method=plain&state=$S"
expect_eq "authorize with method plain: 400" 400 "$CODE"
get "/oauth/authorize?code=true&client_id=$CLIENT_ID&response_type=code&redirect_uri=$MANUAL_URI&scope=user:inference&code_challenge=short&code_challenge_method=S256&state=$S"
expect_eq "authorize with a short challenge: 400" 400 "$CODE"
get "/oauth/authorize?code=true&client_id=other&response_type=code&redirect_uri=$MANUAL_URI&scope=user:inference&code_challenge=$C&code_challenge_method=S256&state=$S"
expect_eq "authorize with an unknown client: 400" 400 "$CODE"
get "/oauth/authorize?code=true&client_id=$CLIENT_ID&response_type=code&redirect_uri=https://evil.example/callback&scope=user:inference&code_challenge=$C&code_challenge_method=S256&state=$S"
expect_eq "authorize with a foreign redirect_uri: 400" 400 "$CODE"
get "/oauth/authorize?code=true&client_id=$CLIENT_ID&response_type=code&redirect_uri=$MANUAL_URI&scope=user:inference&code_challenge=$C&code_challenge_method=S256"
expect_eq "authorize without state: 400" 400 "$CODE"
get "/oauth/authorize?code=true&client_id=$CLIENT_ID&response_type=token&redirect_uri=$MANUAL_URI&scope=user:inference&code_challenge=$C&code_challenge_method=S256&state=$S"
expect_eq "authorize with response_type=token: 400" 400 "$CODE"

# ---- 16 concurrent refreshes with one refresh token ------------------------------------------
post /__seed '{"scope":"user:inference","expires_in":600}'
take_tokens; RC=$REF
expect_eq "seed with scope and expires_in" "600 user:inference" "$(jget expires_in <<<"$BODY") $(jget scope <<<"$BODY")"
REUSE0=$(stat_of reuse_events); REVOKED0=$(stat_of families_revoked)
control '{"delay_ms":20,"delay_jitter_ms":80}'
mkdir "$T/conc"
CLIENTS=()
start=$(date +%s%N)
for i in $(seq 16); do
  printf '{"grant_type":"refresh_token","refresh_token":"%s","client_id":"%s"}' "$RC" "$CLIENT_ID" \
    | curl -sS -o "$T/conc/$i.body" -w '%{http_code}\n' --max-time 20 -H 'Content-Type: application/json' \
      -A "$UA" --data-binary @- "$B/v1/oauth/token" > "$T/conc/$i.code" 2>/dev/null &
  CLIENTS+=($!)
done
wait "${CLIENTS[@]}" || true
ms=$(( ($(date +%s%N) - start) / 1000000 ))
control '{"delay_ms":0,"delay_jitter_ms":0}'
expect_eq "16 concurrent refreshes: exactly one 200 (${ms} ms)" 1 "$(cat "$T"/conc/*.code | grep -c '^200$' || true)"
expect_eq "the 15 others: 400" 15 "$(cat "$T"/conc/*.code | grep -c '^400$' || true)"
WIN=$(grep -l '^200$' "$T"/conc/*.code | head -1)
take_tokens "${WIN%.code}.body"; RN=$REF
expect_eq "the winner's new refresh token is revoked (the losers reused)" revoked "$(token_state refresh_token "$RN")"
expect_eq "15 reuse events" 15 "$(( $(stat_of reuse_events) - REUSE0 ))"
expect_eq "one family revoked" 1 "$(( $(stat_of families_revoked) - REVOKED0 ))"
grep -q '"outcome":"reuse_revoked"' "$T/fake.log" && pass "log has reuse_revoked" || fail "no reuse_revoked in the log"

# ---- reset -----------------------------------------------------------------------------------
control '{"reset":true}'
expect_eq "reset forgets tokens" unknown "$(token_state refresh_token "$R4")"
expect_eq "reset zeroes stats" "0 0" "$(stat_of token_requests) $(stat_of families)"

# ---- log and output hold no token or code ----------------------------------------------------
if node -e 'for (const l of require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n")) JSON.parse(l)' "$T/fake.log"; then
  pass "log is JSON lines ($(wc -l < "$T/fake.log") requests)"
else
  fail "log is not JSON lines"
fi
for o in rotated code_exchanged invalid_grant format rate_limited edge_403 injected hang seeded; do
  grep -q "\"outcome\":\"$o\"" "$T/fake.log" || fail "no outcome $o in the log"
done
pass "log names every outcome"
SECRETS=$(wc -l < "$T/secrets")
if grep -q -F -f "$T/secrets" "$T/fake.log" "$T/fake.out" "$T/fake.err"; then
  fail "a token or code leaked into the fake's log or output"
else
  pass "none of the $SECRETS tokens/codes is in the fake's log, stdout or stderr"
fi
grep -q 'sk-ant-' "$T/fake.log" && fail "sk-ant- in the log" || pass "no sk-ant- string in the log"

# ---- SIGTERM with a hung request open ----------------------------------------------------------
control '{"hang_next":1}'
printf '{}' | curl -sS -o /dev/null --max-time 20 -H 'Content-Type: application/json' --data-binary @- \
  "$B/v1/oauth/token" 2>/dev/null &
HUNG=$!
BG_PIDS+=($HUNG)
for _ in $(seq 100); do grep -q '"outcome":"hang"' <(tail -1 "$T/fake.log") && break; sleep 0.05; done
start=$(date +%s%N)
kill -TERM "$SERVER_PID"
set +e
wait "$SERVER_PID"; src=$?
wait "$HUNG"; crc=$?
set -e
SERVER_PID=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "SIGTERM: exit 0" 0 "$src"
[ "$ms" -lt 3000 ] && pass "SIGTERM ended the fake and the hung request in ${ms} ms (curl exit $crc)" \
  || fail "SIGTERM took ${ms} ms"
finish

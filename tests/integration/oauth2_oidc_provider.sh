#!/bin/bash
# The `oauth2` backend end to end against a real, certified OpenID provider: oidc-provider
# (pinned in tests/fakes/oidc; its clients, hooks and events in tests/fakes/oidc/README.md),
# over HTTPS with a throwaway CA, driven through the real binaries (`login`, `once`, `status`,
# `logout`, `claude-key-helper`). Every assertion about what the IdP saw comes from the
# provider's own events and counters, not from our logs.
#   1. client_credentials with client_secret_basic (0600 file), client_secret_post (variable)
#      and private_key_jwt (RS256 and ES256 keys, kid from the config); resource (RFC 8707);
#      expiry from expires_in; a token with life left is reused (no request) unless forced;
#   2. device login (RFC 8628) of a public client, the user's step through the provider's
#      own pages: verification URI, user code and the complete link shown; refresh token,
#      id token saved; publish = "id_token" publishes a JWT whose exp is the record's expiry;
#      a denied sign-in ends the login with "denied"; a confidential client's secret stored
#      with login --client-secret-stdin;
#   3. the rotation race: 16 workers x 3 `once --force` on one refresh-token family: every
#      run refreshed, no refresh token presented twice, no reuse detected, no grant revoked;
#      the saved refresh token is the provider's last rotation;
#   4. a spent refresh token (an old P.secret put back) is refused: permanent, says `login`;
#      logout revokes at the provider and removes the state;
#   5. a revoked client: invalid_client is a config error in status, the last good token is
#      still served by the helper; restoring the client recovers;
#   6. 503 with Retry-After from the token endpoint: transient, status says so;
#   7. discovery: RFC 8414 fallback works; a wrong issuer, no document, a garbage document, a
#      hanging document are clear errors; a cached document keeps working while discovery
#      is broken; no CA -> a TLS error;
#   8. token exchange (RFC 8693): a Kubernetes-style subject token file exchanged for a
#      gateway token, re-read on every refresh; a token from another key is refused;
#   9. no client secret, refresh token, subject token or private key in any output, log,
#      status or P.cred.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_oidc.sh"

STARTED=$(date +%s)

start_oidc_provider 120
pass "oidc-provider up at $ISSUER"

BASIC_SECRET=canary-client-secret-machine-basic-4f1c9a7e2b
POST_SECRET=canary-client-secret-machine-post-8d2e6b0c5a
CONF_SECRET=canary-client-secret-person-confidential-3b7d1f9e
WORKLOAD_SECRET=canary-client-secret-workload-6a0c4e8f2d1b
for s in "$BASIC_SECRET" "$POST_SECRET" "$CONF_SECRET" "$WORKLOAD_SECRET"; do secret "$s"; done
mkdir -p "$T/cfg"
(umask 077; printf '%s\n' "$BASIC_SECRET" >"$T/cfg/basic.secret"; printf '%s\n' "$WORKLOAD_SECRET" >"$T/cfg/workload.secret")
OUTS="$T/outs"; mkdir -p "$OUTS"

# A profile section: oauth2_profile NAME LINES...
: >"$CLAUDE_KEY_HELPER_CONFIG"
oauth2_profile() {
  local name=$1; shift
  {
    printf '[profile.%s]\nbackend = "oauth2"\n[profile.%s.oauth2]\n' "$name" "$name"
    printf 'ca_cert = "%s"\n' "$OIDC_CA"
    printf '%s\n' "$@"
    printf '\n'
  } >>"$CLAUDE_KEY_HELPER_CONFIG"
}
oauth2_profile ccb "issuer = \"$ISSUER\"" 'client_id = "machine-basic"' \
  "client_secret_file = \"$T/cfg/basic.secret\"" 'resource = "https://gateway.example/v1"'
oauth2_profile ccp "issuer = \"$ISSUER/\"" 'client_id = "machine-post"' 'client_auth = "client_secret_post"' \
  'client_secret_env = "CCP_SECRET"' 'scope = "gateway:invoke"'
oauth2_profile ccj_rs "issuer = \"$ISSUER\"" 'client_id = "machine-jwt"' \
  "private_key_file = \"$T/keys/client-rs.pem\"" 'key_id = "rs-1"'
oauth2_profile ccj_es "issuer = \"$ISSUER\"" 'client_id = "machine-jwt"' \
  "private_key_file = \"$T/keys/client-es.pem\"" 'key_id = "es-1"' 'signing_alg = "ES256"'
oauth2_profile person "issuer = \"$ISSUER\"" 'client_id = "person"' 'grant = "device_code"' \
  'scope = ["openid", "offline_access"]'
oauth2_profile denied "issuer = \"$ISSUER\"" 'client_id = "person"' 'grant = "device_code"' \
  'scope = "openid offline_access"'
oauth2_profile idtok "issuer = \"$ISSUER\"" 'client_id = "person"' 'grant = "device_code"' \
  'scope = "openid offline_access"' 'publish = "id_token"'
oauth2_profile conf "issuer = \"$ISSUER\"" 'client_id = "person-confidential"' 'grant = "device_code"' \
  'client_auth = "client_secret_basic"' 'scope = "openid offline_access"'
oauth2_profile exchange "token_endpoint = \"$ISSUER/token\"" 'client_id = "workload"' \
  'client_auth = "client_secret_post"' "client_secret_file = \"$T/cfg/workload.secret\"" \
  'grant = "token_exchange"' "subject_token_file = \"$T/cfg/k8s-token\"" 'audience = "claude-gateway"'
oauth2_profile rfc8414 "issuer = \"$ISSUER\"" 'client_id = "machine-basic"' "client_secret_file = \"$T/cfg/basic.secret\""
oauth2_profile wrongiss "issuer = \"$ISSUER\"" 'client_id = "machine-basic"' "client_secret_file = \"$T/cfg/basic.secret\""
oauth2_profile nodoc "issuer = \"$ISSUER/nowhere\"" 'client_id = "machine-basic"' "client_secret_file = \"$T/cfg/basic.secret\""
oauth2_profile garbage "issuer = \"$ISSUER\"" 'client_id = "machine-basic"' "client_secret_file = \"$T/cfg/basic.secret\""
oauth2_profile hang "issuer = \"$ISSUER\"" 'client_id = "machine-basic"' "client_secret_file = \"$T/cfg/basic.secret\"" \
  'timeout = "2s"'
# The same issuer without our CA: the system's store does not trust it.
sed -i '$d' "$CLAUDE_KEY_HELPER_CONFIG"
cat >>"$CLAUDE_KEY_HELPER_CONFIG" <<EOF
[profile.noca]
backend = "oauth2"
[profile.noca.oauth2]
issuer = "$ISSUER"
client_id = "machine-basic"
client_secret_file = "$T/cfg/basic.secret"
EOF
export CCP_SECRET="$POST_SECRET"

N=0
# once P [--force]: sets RC, OUT, ERR (kept in $OUTS for the leak checks).
once() {
  N=$((N + 1))
  set +e
  "$CKH_REFRESHER" once "${@:2}" --profile "$1" >"$OUTS/once.$N.out" 2>"$OUTS/once.$N.err"
  RC=$?
  set -e
  OUT=$(cat "$OUTS/once.$N.out"); ERR=$(cat "$OUTS/once.$N.err")
}
helper() { # P: H = the helper's stdout (kept), RC_H its exit code
  N=$((N + 1))
  set +e
  "$CKH_HELPER" --profile "$1" >"$OUTS/helper.$N.out" 2>"$OUTS/helper.$N.err"
  RC_H=$?
  set -e
  H=$(cat "$OUTS/helper.$N.out")
}
status_of() { # P FIELD...: fields of status --json's profile entry
  local p=$1
  shift
  N=$((N + 1))
  "$CKH_REFRESHER" status --json --profile "$p" >"$OUTS/status.$N.json" 2>/dev/null || true
  jget "${@/#/profiles.0.}" <"$OUTS/status.$N.json"
}
token_requests() { oidc_stat token_requests.total; }
# Refresh tokens the provider issued live only in P.secret: collect them for the leak checks.
harvest() { sed -n 's/^\(refresh_token\|client_secret\): \(..*\)$/\2/p' "$STATE"/*.secret 2>/dev/null | sort -u >>"$T/secrets" || true; }
has() { grep -qF -- "$2" <<<"$1"; }
record_field() { sed -n "s/^$2: //p" "$STATE/$1.cred"; }

# ---- 1. client_credentials ---------------------------------------------------------------------
"$CKH_REFRESHER" check-config >"$OUTS/check.out" 2>&1 || fail "check-config: $(cat "$OUTS/check.out")"
for p in ccb ccp ccj_rs ccj_es; do
  once "$p" --force
  expect_eq "client_credentials $p: once exits 0" 0 "$RC"
  helper "$p"; tok=$H
  expect_eq "client_credentials $p: helper exits 0" 0 "$RC_H"
  [ -n "$tok" ] || fail "client_credentials $p: helper printed nothing"
  secret "$tok"
  life=$(( $(record_field "$p" expires_at) - $(record_field "$p" fetched_at) ))
  expect_eq "client_credentials $p: expiry from expires_in (the provider's 120 s)" 120 "$life"
done
expect_eq "four client_credentials grants, all accepted by the provider" 4 \
  "$(oidc_stat token_success.by_grant_type.client_credentials)"
oidc_events | grep -q '"client_id":"machine-jwt".*"event":"grant.success"\|"event":"grant.success".*"client_id":"machine-jwt"' \
  || fail "private_key_jwt: no grant.success event for machine-jwt"
before=$(token_requests)
once ccb
expect_eq "a token with life left: once exits 0" 0 "$RC"
expect_eq "a token with life left is reused: no request to the provider" "$before" "$(token_requests)"
once ccb --force
expect_eq "forced: a new token is requested" $((before + 1)) "$(token_requests)"

# ---- 2. device login ---------------------------------------------------------------------------
login_device person
expect_eq "device login: exits 0" 0 "$RC"
has "$ERR" "$ISSUER/device" || fail "device login: no verification URI shown: $ERR"
has "$ERR" "user_code=" || fail "device login: verification_uri_complete not shown: $ERR"
has "$OUT" "logged in" || fail "device login: $OUT"
harvest
grep -q '^refresh_token: ..' "$STATE/person.secret" || fail "device login: no refresh token saved"
grep -q '^id_token: ey' "$STATE/person.secret" || fail "device login: no id token saved"
helper person; tok=$H; secret "$tok"
expect_eq "device login: the helper prints the access token" 0 "$RC_H"
expect_eq "device login: the provider approved one device code" 1 "$(oidc_stat device_codes.approved)"

login_device idtok
expect_eq "publish = id_token: login exits 0" 0 "$RC"
harvest
helper idtok; idt=$H; secret "$idt"
[[ $idt == ey*.*.* ]] || fail "publish = id_token: the helper does not print a JWT"
exp=$(printf '%s' "$idt" | cut -d. -f2 | tr '_-' '/+' | base64 -d 2>/dev/null | jget exp || true)
expect_eq "publish = id_token: the record's expiry is the ID token's exp" "$exp" "$(record_field idtok expires_at)"

login_device denied --deny
expect_eq "denied sign-in: login exits 77 (permanent)" 77 "$RC"
has "$ERR" "denied" || fail "denied sign-in: message: $ERR"
[ ! -e "$STATE/denied.secret" ] || fail "denied sign-in: state saved"

printf '%s\n' "$CONF_SECRET" >"$T/conf.stdin"
LOGIN_STDIN="$T/conf.stdin" LOGIN_ARGS=--client-secret-stdin login_device conf
expect_eq "confidential device client, secret from --client-secret-stdin: login exits 0" 0 "$RC"
harvest
grep -q "^client_secret: $CONF_SECRET\$" "$STATE/conf.secret" || fail "client secret not stored in the secret state"
once conf --force
expect_eq "confidential device client: refresh with the stored secret" 0 "$RC"

# Which profile `login`/`logout` act on without --profile: only those a person logs in to.
cat >"$T/one-login.toml" <<EOF
[profile.machine]
backend = "oauth2"
[profile.machine.oauth2]
issuer = "$ISSUER"
client_id = "machine-basic"
client_secret_file = "$T/cfg/basic.secret"
ca_cert = "$OIDC_CA"
[profile.laptop]
backend = "oauth2"
[profile.laptop.oauth2]
issuer = "$ISSUER"
client_id = "person"
grant = "device_code"
scope = "openid offline_access"
ca_cert = "$OIDC_CA"
EOF
N=$((N + 1))
set +e
"$CKH_REFRESHER" logout --config "$T/one-login.toml" >"$OUTS/logout.$N.out" 2>&1
RC=$?
set -e
expect_eq "logout without --profile: the one device-login profile is chosen" 0 "$RC"
has "$(cat "$OUTS/logout.$N.out")" "profile 'laptop': nothing to remove" ||
  fail "logout without --profile: $(cat "$OUTS/logout.$N.out")"
N=$((N + 1))
set +e
"$CKH_REFRESHER" login --config "$T/one-login.toml" --profile machine --no-browser </dev/null \
  >"$OUTS/login.$N.out" 2>&1
RC=$?
set -e
expect_eq "login of a client_credentials profile: a usage error" 64 "$RC"
has "$(cat "$OUTS/login.$N.out")" "no one to log in" || fail "login machine: $(cat "$OUTS/login.$N.out")"

# ---- 3. the rotation race ----------------------------------------------------------------------
pres_before=$(oidc_stat refresh_tokens_presented)
ok_before=$(oidc_stat token_success.by_grant_type.refresh_token)
race() {
  local w=$1 i rc
  for i in 1 2 3; do
    rc=0
    "$CKH_REFRESHER" once --force --profile person >"$OUTS/race.$w.$i.out" 2>"$OUTS/race.$w.$i.err" || rc=$?
    echo "$rc" >>"$T/race.rcs"
  done
}
: >"$T/race.rcs"
t0=$(date +%s%N)
RACERS=()
for w in $(seq 16); do race "$w" & RACERS+=($!); done
for p in "${RACERS[@]}"; do wait "$p" || true; done
t1=$(date +%s%N)
expect_eq "rotation race: 48 runs, all exit 0" "48 0" "$(sort "$T/race.rcs" | uniq -c | awk '{print $1, $2}' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "rotation race: the provider granted 48 refreshes" 48 \
  "$(( $(oidc_stat token_success.by_grant_type.refresh_token) - ok_before ))"
expect_eq "rotation race: 48 distinct refresh tokens presented" 48 \
  "$(( $(oidc_stat refresh_tokens_presented) - pres_before ))"
expect_eq "rotation race: no refresh token presented twice" 0 "$(oidc_stat refresh_tokens_presented_more_than_once)"
expect_eq "rotation race: no reuse detected" 0 "$(oidc_stat refresh_token_reuse_detected)"
expect_eq "rotation race: no grant revoked" 0 "$(oidc_stat grants_revoked)"
echo "rotation race: 48 runs in $(( (t1 - t0) / 1000000 )) ms"
harvest
last=$(oidc_events | grep '"grant_type":"refresh_token"' | grep '"rotated_to"' | tail -1 | jget rotated_to)
saved=$(fp "$(sed -n 's/^refresh_token: //p' "$STATE/person.secret")")
expect_eq "rotation race: P.secret holds the provider's last rotation" "$last" "$saved"

# ---- 4. a spent refresh token; logout ----------------------------------------------------------
cp -p "$STATE/idtok.secret" "$T/idtok.old"
once idtok --force
expect_eq "idtok refresh" 0 "$RC"
harvest
cp -p "$T/idtok.old" "$STATE/idtok.secret"
once idtok --force
expect_eq "spent refresh token: once exits 75 (the id token still valid)" 75 "$RC"
expect_eq "spent refresh token: permanent" permanent "$(status_of idtok error_class)"
has "$(status_of idtok last_error)" "login --profile idtok" || fail "spent refresh token: status does not say login: $(status_of idtok last_error)"
expect_eq "the provider saw the reuse (its own reuse detection)" 1 "$(oidc_stat refresh_token_reuse_detected)"
N=$((N + 1))
"$CKH_REFRESHER" logout --profile person >"$OUTS/logout.$N.out" 2>&1 || fail "logout: $(cat "$OUTS/logout.$N.out")"
has "$(cat "$OUTS/logout.$N.out")" "revoked at the IdP" || fail "logout did not revoke: $(cat "$OUTS/logout.$N.out")"
[ ! -e "$STATE/person.secret" ] && [ ! -e "$STATE/person.cred" ] || fail "logout left state behind"

# ---- 5. a revoked client -----------------------------------------------------------------------
once ccb --force
helper ccb; good=$H
oidc_hook "revoke-client?client_id=machine-basic"
once ccb --force
expect_eq "revoked client: once exits 75 (the last token still valid)" 75 "$RC"
expect_eq "revoked client: a config error" config "$(status_of ccb error_class)"
has "$(status_of ccb last_error)" "invalid_client" || fail "revoked client: $(status_of ccb last_error)"
helper ccb
expect_eq "revoked client: the helper still serves the last good token" "$good" "$H"
expect_eq "revoked client: helper exit" 0 "$RC_H"
oidc_hook "restore-client?client_id=machine-basic"
once ccb --force
expect_eq "restored client: once exits 0" 0 "$RC"

# ---- 6. 503 with Retry-After -------------------------------------------------------------------
oidc_hook "token-fault?status=503&count=1&retry_after=30"
once ccp --force
expect_eq "503: once exits 75" 75 "$RC"
expect_eq "503: transient" transient "$(status_of ccp error_class)"
has "$(status_of ccp last_error)" "503" || fail "503: $(status_of ccp last_error)"
ra=$(status_of ccp retry_after_until)
now=$(date +%s)
if [[ $ra =~ ^[0-9]+$ ]] && ((ra >= now + 15 && ra <= now + 40)); then
  pass "503: Retry-After (30 s) honoured"
else
  fail "503: Retry-After not honoured: retry_after_until=$ra, now=$now"
fi

# ---- 7. discovery ------------------------------------------------------------------------------
oidc_hook "discovery?mode=rfc8414-only"
once rfc8414 --force
expect_eq "RFC 8414 fallback: once exits 0" 0 "$RC"
oidc_events | grep -q '"path":"/.well-known/oauth-authorization-server"' || fail "RFC 8414 document not fetched"
oidc_hook "discovery?mode=wrong-issuer"
once wrongiss --force
expect_eq "wrong issuer: exit 78" 78 "$RC"
has "$ERR" "is for issuer \"https://evil.example\"" || fail "wrong issuer: $ERR"
oidc_hook "discovery?mode=404"
once nodoc --force   # an issuer path with no document under either name
expect_eq "no discovery document: exit 78" 78 "$RC"
has "$ERR" "no discovery document" || fail "no document: $ERR"
oidc_hook "discovery?mode=garbage"
# ccb's document is due for a new look (as if its max-age ran out) while discovery answers
# garbage (transient): the copy from before is used.
sed -i 's/^discovery_expires_at: .*/discovery_expires_at: 1/' "$STATE/ccb.secret"
requests_before=$(oidc_stat token_requests.total)
once ccb --force
expect_eq "a stale discovery document keeps working while discovery fails" 0 "$RC"
expect_eq "... and the token was asked for at the endpoint it names" $((requests_before + 1)) \
  "$(oidc_stat token_requests.total)"
has "$ERR" "discovery failed, using the endpoints found before" || fail "stale discovery: not said: $ERR"
once garbage --force
expect_eq "garbage discovery document: exit 69 (transient, nothing published)" 69 "$RC"
has "$ERR" "not a JSON object" || fail "garbage: $ERR"
oidc_hook "discovery?mode=slow"
once hang --force
expect_eq "hanging discovery (timeout 2s): exit 69" 69 "$RC"
oidc_hook "discovery?mode=normal"
once noca --force
expect_eq "no CA: exit 77" 77 "$RC"
has "$ERR" "certificate" || fail "no CA: $ERR"

# ---- 8. token exchange -------------------------------------------------------------------------
sub1=$(subject_token '{"iss":"https://k8s.example","sub":"system:serviceaccount:ai:agent","aud":"gateway-exchange"}' "$T/keys/k8s.pem")
secret "$sub1"
printf '%s\n' "$sub1" >"$T/cfg/k8s-token"
once exchange --force
expect_eq "token exchange: once exits 0" 0 "$RC"
helper exchange; xt=$H; secret "$xt"
oidc_events | grep '"event":"grant.success"' | grep -q '"subject":"system:serviceaccount:ai:agent"' \
  || fail "token exchange: the provider did not record the subject"
bad=$(subject_token '{"iss":"https://k8s.example","sub":"system:serviceaccount:ai:agent","aud":"gateway-exchange"}' "$T/keys/other.pem")
secret "$bad"
printf '%s\n' "$bad" >"$T/cfg/k8s-token"
once exchange --force
expect_eq "token exchange, subject token from another key: exit 75 (last token kept)" 75 "$RC"
expect_eq "token exchange refused: permanent" permanent "$(status_of exchange error_class)"
has "$(status_of exchange last_error)" "subject_token_file" || fail "exchange refusal: $(status_of exchange last_error)"
sub2=$(subject_token '{"iss":"https://k8s.example","sub":"system:serviceaccount:ai:agent2","aud":"gateway-exchange"}' "$T/keys/k8s.pem")
secret "$sub2"
printf '%s\n' "$sub2" >"$T/cfg/k8s-token"
once exchange --force
expect_eq "token exchange: the subject token file is read again on the next refresh" 0 "$RC"
oidc_events | grep '"event":"grant.success"' | grep -q '"subject":"system:serviceaccount:ai:agent2"' \
  || fail "token exchange: the new subject token was not used"

# ---- 9. leaks ----------------------------------------------------------------------------------
harvest
sed -n '2,$p' "$T/keys/client-rs.pem" | head -3 >>"$T/secrets"
sed -n '2p' "$T/keys/client-es.pem" >>"$T/secrets"
"$CKH_REFRESHER" status >"$OUTS/status.text" 2>&1 || true
leaks=0
while IFS= read -r s; do
  [ -n "$s" ] || continue
  for f in "$OUTS"/* "$STATE"/*.status "$STATE"/*.cred "$T/oidc.out" "$T/oidc.err" "$OIDC_EVENTS"; do
    [ -f "$f" ] || continue
    case "$f" in */helper.*.out) continue ;; esac  # the helper prints the credential: its job
    if [[ $f == *.cred ]] && grep -qxF "credential: $s" "$f"; then continue; fi
    if grep -qF -- "$s" "$f"; then
      fail "secret <fp:$(fp "$s")> leaked into $(basename "$f")"
      leaks=$((leaks + 1))
    fi
  done
done <"$T/secrets"
expect_eq "no secret in any output, status, log or record ($(wc -l <"$T/secrets") secrets checked)" 0 "$leaks"
echo "oauth2_oidc_provider: $(($(date +%s) - STARTED)) s"
finish

#!/bin/bash
# The fake HashiCorp Vault server (tests/fakes/vault_server.js) that the refresher's Vault
# backend tests talk to answers as its fixtures (tests/fakes/vault_fixtures/, HashiCorp's
# documented samples plus observed/) say, checked with curl over HTTPS against a throwaway CA
# from tests/fakes/make_test_ca.sh:
#   - KV v2 read: the full envelope with exactly the fixtures' keys, the secret at .data.data,
#     ?version=N, a missing path or version -> 404 {"errors":[]}, a soft-deleted and a destroyed
#     version -> 404 with the observed normal body (data.data null; deletion_time / destroyed);
#   - KV v1 read: .data, lease_duration from the ttl key (else 2764800);
#   - mount auto-detection through sys/internal/ui/mounts/<path>;
#   - tokens in X-Vault-Token or Authorization: Bearer; namespaces by header and by path prefix
#     (a token used outside its namespace -> 403, a secret of another namespace -> 404);
#     a missing policy -> 403; no, unknown or expired token -> 403 permission denied;
#   - AppRole login (fixture shape, lease_duration = token_ttl) then a read with the issued
#     token, wrong ids -> 400 "invalid role or secret ID"; a response-wrapped secret_id unwraps
#     once; Kubernetes login; lookup-self with the fixture's keys; renew-self extends the TTL
#     in real time (capped by max_ttl, with Vault's warning), non-renewable -> 400; an expired
#     login token -> 403 and a re-login works;
#   - sealed -> 503 "Vault is sealed", standby -> 500; the controls fail_next, status_next,
#     garbage_next, huge_next, hang_next, delay_ms, inject_path; /__stats counts and the header
#     values seen; the log is JSON lines without any token, id, JWT or secret value;
#   - the certificate verifies with --cacert for 127.0.0.1 and vault.test, and curl WITHOUT
#     --cacert (or for a name not in the certificate) refuses it; plain HTTP without --tls-*;
#     SIGTERM ends the fake at once with a hung request open;
#   - the fake's clock seam: frozen, every expiry and ttl is exact; advance_clock_ms moves it.
# Load: no check depends on a wall-clock window (the fake's clock is frozen from the start
# and advanced by the script; waits are for an event, with a generous bound; curl's
# --max-time values are bounds, never what is asserted), so it holds with every core busy.
# Stand-alone (needs node, curl, openssl): prints fingerprints, never a token or secret.
set -euo pipefail

command -v node >/dev/null 2>&1 || { echo "skipped: node is not installed"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skipped: curl is not installed"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "skipped: openssl is not installed"; exit 77; }
command -v sha256sum >/dev/null 2>&1 || { echo "skipped: sha256sum is not installed"; exit 77; }

FAKES="$(cd "$(dirname "$0")/.." && pwd)/fakes"
FAKE="$FAKES/vault_server.js"
FIX="$FAKES/vault_fixtures"

REDACT_SED='s/hvs\.[A-Za-z0-9]{8,}/hvs.<redacted>/g'
# shellcheck source=tests/integration/lib_checks.sh
source "$(dirname "$0")/lib_checks.sh"
private_tmp ckh-fake-vault

rnd() { printf '%s%s' "$1" "$(openssl rand -hex 12)"; }

# shape eq|sub FIXTURE PATH < json: "ok" when the object at PATH ("." = top) has exactly (eq) or
# at least (sub) the keys of the same object in the fixture; else what differs.
cat > "$T/shape.js" <<'EOF'
const fs = require('fs');
const [mode, fixture, p] = process.argv.slice(2);
let s = ''; process.stdin.on('data', (d) => s += d).on('end', () => {
  const at = (v) => { if (p !== '.') for (const k of p.split('.')) v = v == null ? undefined : v[k]; return v; };
  let body; try { body = JSON.parse(s); } catch (e) { return console.log('<not json>'); }
  const a = at(body), f = at(JSON.parse(fs.readFileSync(fixture, 'utf8')));
  if (a === null || typeof a !== 'object') return console.log(`no object at ${p}`);
  const ak = Object.keys(a), fk = Object.keys(f);
  const missing = fk.filter((k) => !ak.includes(k)), extra = ak.filter((k) => !fk.includes(k));
  if (missing.length || (mode === 'eq' && extra.length)) return console.log(`missing [${missing}] extra [${extra}]`);
  console.log('ok');
});
EOF
shape() { node "$T/shape.js" "$1" "$FIX/$2" "$3" <<<"$BODY"; }
# same_json FIXTURE < BODY: "same" when BODY is the fixture's JSON value.
same_json() {
  node -e 'const fs=require("fs");let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let a;try{a=JSON.parse(s)}catch(e){return console.log("<not json>")}
    console.log(JSON.stringify(a)===JSON.stringify(JSON.parse(fs.readFileSync(process.argv[1],"utf8")))?"same":"different: "+JSON.stringify(a))})' "$FIX/$1" <<<"$BODY"
}

# ---- certificates ----------------------------------------------------------------------------
start=$(date +%s%N)
bash "$FAKES/make_test_ca.sh" "$T/tls" vault.test > "$T/mkca.out" 2>&1 || { echo "FAIL: make_test_ca.sh: $(cat "$T/mkca.out")" >&2; exit 1; }
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "make_test_ca.sh is quiet" "" "$(cat "$T/mkca.out")"
expect_eq "make_test_ca.sh modes: keys 0600, certs 0644 (${ms} ms)" "600 600 644 644" \
  "$(stat -c %a "$T/tls/ca.key" "$T/tls/server.key" "$T/tls/ca.pem" "$T/tls/server.pem" | paste -sd' ')"
SAN=$(openssl x509 -in "$T/tls/server.pem" -noout -ext subjectAltName 2>/dev/null | tail -1 | tr -d ' ')
expect_eq "server certificate names localhost, 127.0.0.1 and vault.test" "DNS:localhost,IPAddress:127.0.0.1,DNS:vault.test" "$SAN"
openssl verify -CAfile "$T/tls/ca.pem" "$T/tls/server.pem" >/dev/null 2>&1 && pass "server certificate verifies against ca.pem" \
  || fail "server certificate does not verify"

# ---- start ---------------------------------------------------------------------------------
start_fake fake "$FAKE" --tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key"
SERVER_PID=${BG_PIDS[-1]}
PORT=$PORT_fake
B="https://127.0.0.1:$PORT"
[ -e "$T/fake.port.tmp" ] && fail "port.tmp left behind" || pass "fake listening on HTTPS (port file written atomically)"

# v METHOD PATH [curl args...]: one request. The token ($TOK; as Authorization: Bearer when
# BEARER=1) goes through a curl config file, the body ($DATA) through stdin: neither is in argv.
# X-Vault-Request: $XVR (default true; empty: not sent). Sets CODE, BODY and $T/hdrs.
v() {
  local method=$1 path=$2; shift 2
  : > "$T/auth.curlrc"
  if [ -n "${TOK:-}" ]; then
    if [ -n "${BEARER:-}" ]; then printf 'header = "Authorization: Bearer %s"\n' "$TOK" > "$T/auth.curlrc"
    else printf 'header = "X-Vault-Token: %s"\n' "$TOK" > "$T/auth.curlrc"; fi
  fi
  local args=(-sS -o "$T/body" -D "$T/hdrs" -w '%{http_code}' --max-time 60 --cacert "$T/tls/ca.pem" -X "$method" -K "$T/auth.curlrc")
  [ -n "${XVR-true}" ] && args+=(-H "X-Vault-Request: ${XVR-true}")
  [ -n "${DATA:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary @-)
  CODE=$(printf '%s' "${DATA:-}" | curl "${args[@]}" "$@" "$B$path" 2>"$T/curl.err" || true)
  BODY=$(tr -d '\0' < "$T/body" 2>/dev/null || true)
}
header() { tr -d '\r' < "$T/hdrs" | sed -n "s/^$1: //Ip" | head -1; }
control() { DATA=$1 TOK= v POST /__control; [ "$CODE" = 200 ] || fail "control $1: $CODE $BODY"; }
set_state() { DATA=$1 TOK= v POST /__state; [ "$CODE" = 200 ] || fail "state: $CODE $BODY"; }
stat_of() { curl -sS --max-time 60 --cacert "$T/tls/ca.pem" "$B/__stats" | jget "$@"; }
DENIED='{"errors":["permission denied"]}'
# wait_until SECONDS COMMAND...: true as soon as COMMAND succeeds, false after SECONDS (a
# bound for a loaded machine, not a window the check depends on).
wait_until() {
  local limit=$(( $(date +%s) + $1 )); shift
  until "$@"; do [ "$(date +%s)" -lt "$limit" ] || return 1; sleep 0.1; done
}
# The fake's clock stands still from here on: ttls and expiry move only by advance_clock_ms.
control '{"freeze_clock":true}'
GET_CLOCK() { DATA= TOK= v GET /__control; jget clock.frozenAtMs <<<"$BODY"; }
FROZEN_AT=$(GET_CLOCK)
[[ $FROZEN_AT =~ ^[0-9]{13}$ ]] && pass "the fake's clock is frozen" || fail "freeze_clock: $FROZEN_AT"

# ---- state ---------------------------------------------------------------------------------
ROOT=$(rnd hvs.root);    secret "$ROOT"
NSTOK=$(rnd hvs.ns);     secret "$NSTOK"
NOPOL=$(rnd hvs.nopol);  secret "$NOPOL"
NARROW=$(rnd hvs.narr);  secret "$NARROW"
FIXED=$(rnd hvs.fixed);  secret "$FIXED"
KEY1=$(rnd sk-ant-api03-v1-); KEY2=$(rnd sk-ant-api03-v2-); KEY3=$(rnd sk-ant-api03-v3-)
KEYNS=$(rnd sk-ant-api03-ns-); KEYV1=$(rnd sk-ant-api03-kv1-); KEYDEL=$(rnd sk-ant-api03-del-)
for s in "$KEY1" "$KEY2" "$KEY3" "$KEYNS" "$KEYV1" "$KEYDEL"; do secret "$s"; done
ROLE_ID=$(rnd role-); SECRET_ID=$(rnd sid-); WROLE_ID=$(rnd wrole-); WSID=$(rnd wsid-)
WRAP1=$(rnd hvs.wrap1); WRAP2=$(rnd hvs.wrap2); WSID2=$(rnd wsid2-)
for s in "$ROLE_ID" "$SECRET_ID" "$WROLE_ID" "$WSID" "$WRAP1" "$WRAP2" "$WSID2"; do secret "$s"; done
b64u() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
JWT="$(b64u '{"alg":"RS256","kid":"test"}').$(b64u '{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"ai","kubernetes.io/serviceaccount/service-account.name":"claude-sa","kubernetes.io/serviceaccount/service-account.uid":"0b1e0a43-4c1f-4d4b-9d51-3c3f6d6a8f00","sub":"system:serviceaccount:ai:claude-sa"}').$(b64u "sig-$(openssl rand -hex 16)")"
secret "$JWT"

set_state "{
  \"namespace\": \"team-a/\",
  \"policies\": {\"narrow\": [\"secret/data/app/*\"]},
  \"tokens\": {\"$ROOT\": {\"ttl\": 600}, \"$NSTOK\": {\"ttl\": 600, \"namespace\": \"team-a\"},
               \"$NOPOL\": {\"ttl\": 600, \"policies\": [\"default\"]}, \"$NARROW\": {\"ttl\": 600, \"policies\": [\"narrow\"]},
               \"$FIXED\": {\"ttl\": 600, \"renewable\": false}},
  \"secrets\": {
    \"secret/app/claude\": {\"custom_metadata\": {\"owner\": \"ci\"}, \"versions\": [
        {\"data\": {\"api_key\": \"$KEY1\"}}, {\"data\": {\"api_key\": \"$KEY2\"}}, {\"data\": {\"api_key\": \"$KEY3\"}}]},
    \"secret/app/deleted\": {\"versions\": [{\"data\": {\"api_key\": \"$KEYDEL\"}}, {\"data\": null, \"deleted\": true}]},
    \"secret/app/destroyed\": {\"versions\": [{\"data\": {\"api_key\": \"$KEYDEL\"}, \"destroyed\": true}]},
    \"secret/app/later\": {\"versions\": [{\"data\": {\"api_key\": \"$KEYDEL\"}, \"deletion_time\": \"2999-01-01T00:00:00Z\"}]},
    \"secret/other/claude\": {\"data\": {\"api_key\": \"$KEYDEL\"}},
    \"kv1/app/claude\": {\"data\": {\"api_key\": \"$KEYV1\", \"ttl\": \"1h\"}},
    \"kv1/app/nottl\": {\"data\": {\"api_key\": \"$KEYV1\"}}
  }
}"
set_state "{\"secrets\": {\"secret/app/claude\": {\"namespace\": \"team-a/\", \"data\": {\"api_key\": \"$KEYNS\"}}}}"
pass "state loaded (tokens $(fp "$ROOT") $(fp "$NSTOK") $(fp "$NOPOL") $(fp "$NARROW") $(fp "$FIXED"))"

# ---- KV v2 ---------------------------------------------------------------------------------
TOK=$ROOT v GET /v1/secret/data/app/claude
expect_eq "KV v2 read: 200" 200 "$CODE"
expect_eq "KV v2 envelope has exactly the observed full envelope's keys" ok "$(shape eq observed/kv-v2-read-full-envelope.response.json .)"
expect_eq "KV v2 .data has the documented keys (data, metadata)" ok "$(shape eq kv-v2-read.response.json data)"
expect_eq "KV v2 .data.metadata has exactly the documented keys" ok "$(shape eq kv-v2-read.response.json data.metadata)"
expect_eq "KV v2 secret at .data.data = latest version" "$KEY3 3 0 false  {\"owner\":\"ci\"} null null" \
  "$(jget data.data.api_key data.metadata.version lease_duration data.metadata.destroyed data.metadata.deletion_time data.metadata.custom_metadata auth wrap_info <<<"$BODY" | paste -sd' ')"
[[ $(jget data.metadata.created_time <<<"$BODY") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z$ ]] \
  && pass "created_time is RFC 3339 with nanoseconds" || fail "created_time $(jget data.metadata.created_time <<<"$BODY")"
expect_eq "content-type application/json" application/json "$(header content-type)"
TOK=$ROOT v GET '/v1/secret/data/app/claude?version=1'
expect_eq "KV v2 ?version=1: that version" "200 $KEY1 1" "$CODE $(jget data.data.api_key data.metadata.version <<<"$BODY" | paste -sd' ')"
TOK=$ROOT v GET '/v1/secret/data/app/claude?version=0'
expect_eq "KV v2 ?version=0: latest" "200 3" "$CODE $(jget data.metadata.version <<<"$BODY")"
TOK=$ROOT BEARER=1 v GET /v1/secret/data/app/claude
expect_eq "Authorization: Bearer works like X-Vault-Token" "200 $KEY3" "$CODE $(jget data.data.api_key <<<"$BODY")"
TOK=$ROOT v GET '/v1/secret/data/app/claude?version=9'
expect_eq "KV v2 version above current: 404 {\"errors\":[]}" "404 same" "$CODE $(same_json observed/kv-v2-read-missing.404.response.json)"
TOK=$ROOT v GET '/v1/secret/data/app/claude?version=x'
expect_eq "KV v2 ?version=x: 400 errors" "400 1" "$CODE $(jget errors.length <<<"$BODY")"
TOK=$ROOT v GET /v1/secret/data/app/nothing
expect_eq "KV v2 missing path: 404 exactly the observed {\"errors\":[]}" "404 same" "$CODE $(same_json observed/kv-v2-read-missing.404.response.json)"
TOK=$ROOT v GET /v1/secret/data/app/deleted
expect_eq "KV v2 soft-deleted version: 404" 404 "$CODE"
expect_eq "soft-deleted body has the observed fixture's keys" ok "$(shape eq observed/kv-v2-read-soft-deleted.404.response.json .)"
expect_eq "soft-deleted metadata has the observed fixture's keys" ok "$(shape eq observed/kv-v2-read-soft-deleted.404.response.json data.metadata)"
DT=$(jget data.metadata.deletion_time <<<"$BODY")
expect_eq "soft-deleted: data.data null, destroyed false, version 2" "null false 2" "$(jget data.data data.metadata.destroyed data.metadata.version <<<"$BODY" | paste -sd' ')"
[ -n "$DT" ] && pass "soft-deleted: metadata.deletion_time set ($DT)" || fail "soft-deleted: no deletion_time"
TOK=$ROOT v GET '/v1/secret/data/app/deleted?version=1'
expect_eq "the version before the deleted one still reads" "200 $KEYDEL" "$CODE $(jget data.data.api_key <<<"$BODY")"
TOK=$ROOT v GET /v1/secret/data/app/destroyed
expect_eq "KV v2 destroyed version: 404, no deletion_time, data.data null, destroyed true" "404  null true" \
  "$CODE $(jget data.metadata.deletion_time data.data data.metadata.destroyed <<<"$BODY" | paste -sd' ')"
expect_eq "destroyed body has the observed 404 body's keys" ok "$(shape eq observed/kv-v2-read-soft-deleted.404.response.json .)"
TOK=$ROOT v GET /v1/secret/data/app/later
expect_eq "deletion_time in the future: still 200 with it set" "200 2999-01-01T00:00:00Z" "$CODE $(jget data.metadata.deletion_time <<<"$BODY")"
TOK=$ROOT v GET /v1/secret/app/claude
expect_eq "v2 mount without data/: 404 unsupported path" "404 [\"1 error occurred:\\n\\t* unsupported path\\n\\n\"]" "$CODE $(jget errors <<<"$BODY")"
TOK=$ROOT v GET /v1/nomount/data/x
expect_eq "no such mount: 404 no handler" '404 ["no handler for route \"nomount/data/x\". route entry not found."]' "$CODE $(jget errors <<<"$BODY")"
TOK=$ROOT DATA='{"data":{"x":"y"}}' v POST /v1/secret/data/app/claude
expect_eq "KV write: 405 {\"errors\":[]}" '405 {"errors":[]}' "$CODE $BODY"

# ---- KV v1 ---------------------------------------------------------------------------------
TOK=$ROOT v GET /v1/kv1/app/claude
expect_eq "KV v1 read: 200, lease_id \"\", secret at .data, lease_duration 3600 from ttl \"1h\"" "200  $KEYV1 3600 false" \
  "$CODE $(jget lease_id data.api_key lease_duration renewable <<<"$BODY" | paste -sd' ')"
expect_eq "KV v1 has the documented keys" ok "$(shape sub kv-v1-read.response.json .)"
expect_eq "KV v1 is the full envelope" ok "$(shape eq observed/kv-v2-read-full-envelope.response.json .)"
TOK=$ROOT v GET /v1/kv1/app/nottl
expect_eq "KV v1 without ttl: lease_duration 2764800" "200 2764800" "$CODE $(jget lease_duration <<<"$BODY")"
TOK=$ROOT v GET /v1/kv1/app/missing
expect_eq "KV v1 missing: 404 {\"errors\":[]}" "404 same" "$CODE $(same_json observed/kv-v2-read-missing.404.response.json)"

# ---- mount detection -------------------------------------------------------------------------
TOK=$ROOT v GET /v1/sys/internal/ui/mounts/secret
expect_eq "mounts/secret: kv, options.version 2, path secret/" '200 kv {"version":"2"} secret/' \
  "$CODE $(jget data.type data.options data.path <<<"$BODY" | paste -sd' ')"
TOK=$ROOT v GET /v1/sys/internal/ui/mounts/secret/app/claude
expect_eq "mounts/<mount>/<path> answers for the mount" '200 secret/ 2' "$CODE $(jget data.path data.options.version <<<"$BODY" | paste -sd' ')"
TOK=$ROOT v GET /v1/sys/internal/ui/mounts/kv1/app/claude
expect_eq "mounts/kv1: options.version 1" '200 kv1/ 1' "$CODE $(jget data.path data.options.version <<<"$BODY" | paste -sd' ')"
TOK=$ROOT v GET /v1/sys/internal/ui/mounts/nomount
expect_eq "mounts/<unknown>: 403 preflight" '403 ["preflight capability check returned 403, please ensure client'"'"'s policies grant access to path \"nomount/\""]' "$CODE $(jget errors <<<"$BODY")"
TOK= v GET /v1/sys/internal/ui/mounts/secret
expect_eq "mounts/<path> without a token: 403 permission denied" "403 $DENIED" "$CODE $BODY"
TOK=$NOPOL v GET /v1/sys/internal/ui/mounts/secret
expect_eq "mounts/<path> with a token without policy on it: 403" 403 "$CODE"

# ---- tokens, policies, namespaces -------------------------------------------------------------
TOK= v GET /v1/secret/data/app/claude
expect_eq "no token: 403, exactly the permission-denied fixture" "403 same" "$CODE $(same_json observed/permission-denied.403.response.json)"
TOK=hvs.not-a-token v GET /v1/secret/data/app/claude
expect_eq "unknown token: 403 permission denied" "403 $DENIED" "$CODE $BODY"
TOK=$NOPOL v GET /v1/secret/data/app/claude
expect_eq "token without the policy: 403 permission denied" "403 $DENIED" "$CODE $BODY"
TOK=$NARROW v GET /v1/secret/data/app/claude
expect_eq "narrow policy secret/data/app/*: app/claude readable" 200 "$CODE"
TOK=$NARROW v GET /v1/secret/data/other/claude
expect_eq "narrow policy: other/claude 403" 403 "$CODE"
TOK=$NSTOK v GET /v1/secret/data/app/claude -H 'X-Vault-Namespace: team-a'
expect_eq "namespace header team-a: the namespace's secret" "200 $KEYNS" "$CODE $(jget data.data.api_key <<<"$BODY")"
TOK=$NSTOK v GET /v1/team-a/secret/data/app/claude
expect_eq "namespace as path prefix /v1/team-a/secret/...: same secret" "200 $KEYNS" "$CODE $(jget data.data.api_key <<<"$BODY")"
TOK=$NSTOK v GET /v1/secret/data/app/claude
expect_eq "namespaced token without the namespace: 403" "403 $DENIED" "$CODE $BODY"
TOK=$ROOT v GET /v1/secret/data/app/claude -H 'X-Vault-Namespace: team-a/'
expect_eq "root-namespace token in team-a: 403" "403 $DENIED" "$CODE $BODY"
TOK=$NSTOK v GET /v1/secret/data/app/claude -H 'X-Vault-Namespace: team-b'
expect_eq "unknown namespace team-b: 403" 403 "$CODE"
TOK=$NSTOK v GET /v1/secret/data/app/deleted -H 'X-Vault-Namespace: team-a'
expect_eq "a root-namespace secret read in team-a: 404 {\"errors\":[]}" '404 {"errors":[]}' "$CODE $BODY"
TOK=$NSTOK v GET /v1/team-a/sys/internal/ui/mounts/secret
expect_eq "mount detection inside the namespace" "200 secret/" "$CODE $(jget data.path <<<"$BODY")"

# ---- lookup-self, renew-self, expiry -------------------------------------------------------------
TOK=$ROOT v GET /v1/auth/token/lookup-self
expect_eq "lookup-self: 200" 200 "$CODE"
expect_eq "lookup-self .data has exactly the fixture's keys" ok "$(shape eq token-lookup-self.response.json data)"
expect_eq "lookup-self ttl of a 600 s token, clock frozen: 600" 600 "$(jget data.ttl <<<"$BODY")"
control '{"advance_clock_ms":5500}'
expect_eq "GET /__control: the frozen clock moved 5500 ms" "$((FROZEN_AT + 5500))" "$(GET_CLOCK)"
TOK=$ROOT v GET /v1/auth/token/lookup-self
expect_eq "lookup-self ttl is the remaining time (5.5 s later: 594)" 594 "$(jget data.ttl <<<"$BODY")"
[[ $(jget data.expire_time <<<"$BODY") =~ ^[0-9-]{10}T[0-9:]{8}\.[0-9]{9}(Z|[+-][0-9]{2}:[0-9]{2})$ ]] \
  && pass "expire_time is RFC 3339 with nanoseconds and offset" || fail "expire_time $(jget data.expire_time <<<"$BODY")"
control '{"time_offset_minutes":-240}'
TOK=$ROOT v GET /v1/auth/token/lookup-self
[[ $(jget data.expire_time <<<"$BODY") == *-04:00 ]] && pass "time_offset_minutes -240: expire_time ends -04:00 like the fixture" \
  || fail "offset: $(jget data.expire_time <<<"$BODY")"
control '{"time_offset_minutes":0}'
TOK=$FIXED DATA='{"increment":"1h"}' v POST /v1/auth/token/renew-self
expect_eq "renew-self of a non-renewable token: 400 lease is not renewable" '400 {"errors":["lease is not renewable"]}' "$CODE $BODY"

# Expiry on the fake's clock: SHORT (ttl 2) is left alone, RENEW (ttl 2, max_ttl 10) is
# renewed, the AppRole token (token_ttl 2) is used once; 3.5 s later only RENEW still works.
SHORT=$(rnd hvs.short); RENEW=$(rnd hvs.renew); secret "$SHORT"; secret "$RENEW"
set_state "{\"tokens\": {\"$SHORT\": {\"ttl\": 2}, \"$RENEW\": {\"ttl\": 2, \"max_ttl\": 10}},
  \"approle\": [{\"role_id\": \"$ROLE_ID\", \"secret_id\": \"$SECRET_ID\", \"token_ttl\": 2},
               {\"role_id\": \"$WROLE_ID\", \"role_name\": \"wrapped\", \"token_ttl\": 60, \"wrapped_secret_id\": {\"token\": \"$WRAP1\", \"secret_id\": \"$WSID\"}}],
  \"wrapped\": {\"$WRAP2\": {\"data\": {\"secret_id\": \"$WSID2\"}}}}"
TOK=$RENEW DATA='{"increment":"1h"}' v POST /v1/auth/token/renew-self
LD=$(jget auth.lease_duration <<<"$BODY")
expect_eq "renew-self: 200" 200 "$CODE"
expect_eq "renew-self .auth has the fixture's keys" ok "$(shape sub token-renew-self.response.json auth)"
expect_eq "renew-self increment 1h is capped by max_ttl 10 (lease_duration)" 10 "$LD"
[[ $(jget warnings.0 <<<"$BODY") == 'TTL of "1h0m0s" exceeded the effective max_ttl of "'*'"; TTL value is capped accordingly' ]] \
  && pass "capped renewal carries Vault's warning" || fail "warning: $(jget warnings <<<"$BODY")"
expect_eq "renew-self returns the same token, renewable" "$RENEW true" "$(jget auth.client_token auth.renewable <<<"$BODY" | paste -sd' ')"
DATA="{\"role_id\":\"$ROLE_ID\",\"secret_id\":\"$SECRET_ID\"}" TOK= v POST /v1/auth/approle/login
expect_eq "AppRole login without a token header: 200" 200 "$CODE"
AT=$(jget auth.client_token <<<"$BODY"); secret "$AT"
expect_eq "AppRole login has the fixture's keys (top level)" ok "$(shape sub approle-login.response.json .)"
expect_eq "AppRole login is the full envelope" ok "$(shape eq observed/kv-v2-read-full-envelope.response.json .)"
expect_eq "AppRole login .auth has the fixture's keys" ok "$(shape sub approle-login.response.json auth)"
expect_eq "AppRole login: lease_duration = token_ttl 2, renewable, data null" "2 true null 0" \
  "$(jget auth.lease_duration auth.renewable data lease_duration <<<"$BODY" | paste -sd' ')"
[[ $AT == hvs.* ]] && pass "issued token is hvs.… ($(fp "$AT"))" || fail "issued token shape"
TOK=$AT v GET /v1/secret/data/app/claude
expect_eq "read with the AppRole token: 200" "200 $KEY3" "$CODE $(jget data.data.api_key <<<"$BODY")"
DATA="{\"role_id\":\"$ROLE_ID\",\"secret_id\":\"wrong\"}" TOK= v POST /v1/auth/approle/login
expect_eq "AppRole wrong secret_id: 400 invalid role or secret ID" '400 {"errors":["invalid role or secret ID"]}' "$CODE $BODY"
DATA="{\"role_id\":\"nope\",\"secret_id\":\"$SECRET_ID\"}" TOK= v POST /v1/auth/approle/login
expect_eq "AppRole unknown role_id: the same 400" '400 {"errors":["invalid role or secret ID"]}' "$CODE $BODY"
DATA="{\"role_id\":\"$ROLE_ID\"}" TOK= v POST /v1/auth/approle/login
expect_eq "AppRole without secret_id: 400 missing secret_id" '400 {"errors":["missing secret_id"]}' "$CODE $BODY"

control '{"advance_clock_ms":3500}'
TOK=$SHORT v GET /v1/secret/data/app/claude
expect_eq "token past its ttl: 403 permission denied" "403 same" "$CODE $(same_json observed/permission-denied.403.response.json)"
TOK=$SHORT v GET /v1/auth/token/lookup-self
expect_eq "lookup-self with the expired token: 403" 403 "$CODE"
TOK=$SHORT v POST /v1/auth/token/renew-self
expect_eq "renew-self with the expired token: 403 permission denied" "403 $DENIED" "$CODE $BODY"
TOK=$RENEW v GET /v1/secret/data/app/claude
expect_eq "the renewed token outlived its original ttl: 200" 200 "$CODE"
TOK=$RENEW v GET /v1/auth/token/lookup-self
expect_eq "lookup-self after renewal: ttl 10 - 3.5 s = 6" 6 "$(jget data.ttl <<<"$BODY")"
TOK=$AT v GET /v1/secret/data/app/claude
expect_eq "the AppRole token expired after token_ttl: 403" "403 $DENIED" "$CODE $BODY"
DATA="{\"role_id\":\"$ROLE_ID\",\"secret_id\":\"$SECRET_ID\"}" TOK= v POST /v1/auth/approle/login
AT2=$(jget auth.client_token <<<"$BODY"); secret "$AT2"
TOK=$AT2 v GET /v1/secret/data/app/claude
expect_eq "re-login gives a fresh token that reads" "200 $KEY3" "$CODE $(jget data.data.api_key <<<"$BODY")"
[ "$AT2" != "$AT" ] && pass "the new token differs ($(fp "$AT") -> $(fp "$AT2"))" || fail "same token issued twice"
TOK=$AT2 v POST /v1/auth/token/renew-self
expect_eq "renew-self without a body: the token's own ttl (2)" "200 2 null" "$CODE $(jget auth.lease_duration warnings <<<"$BODY" | paste -sd' ')"

# ---- response wrapping -------------------------------------------------------------------------
TOK=$WRAP1 v POST /v1/sys/wrapping/unwrap
expect_eq "unwrap of the wrapped secret_id: 200" 200 "$CODE"
expect_eq "unwrapped secret_id" "$WSID" "$(jget data.secret_id <<<"$BODY")"
[ -n "$(jget data.secret_id_accessor <<<"$BODY")" ] && [ -n "$(jget data.secret_id_ttl <<<"$BODY")" ] \
  && pass "unwrap carries secret_id_accessor and secret_id_ttl" || fail "unwrap data: $(jget data <<<"$BODY")"
TOK=$WRAP1 v POST /v1/sys/wrapping/unwrap
expect_eq "second unwrap: 400 wrapping token is not valid or does not exist" '400 {"errors":["wrapping token is not valid or does not exist"]}' "$CODE $BODY"
DATA="{\"role_id\":\"$WROLE_ID\",\"secret_id\":\"$WSID\"}" TOK= v POST /v1/auth/approle/login
W_AT=$(jget auth.client_token <<<"$BODY"); secret "$W_AT"
expect_eq "login with the unwrapped secret_id: 200, token_ttl 60" "200 60" "$CODE $(jget auth.lease_duration <<<"$BODY")"
DATA="{\"token\":\"$WRAP2\"}" TOK=$ROOT v POST /v1/sys/wrapping/unwrap
expect_eq "unwrap with the wrapping token in the body" "200 $WSID2" "$CODE $(jget data.secret_id <<<"$BODY")"

# ---- Kubernetes ----------------------------------------------------------------------------------
set_state "{\"kubernetes\": {\"role\": \"claude\", \"jwt\": \"$JWT\", \"token_ttl\": 60}}"
DATA="{\"role\":\"claude\",\"jwt\":\"$JWT\"}" TOK= v POST /v1/auth/kubernetes/login
K_AT=$(jget auth.client_token <<<"$BODY"); secret "$K_AT"
expect_eq "Kubernetes login: 200, lease_duration 60, renewable" "200 60 true" "$CODE $(jget auth.lease_duration auth.renewable <<<"$BODY" | paste -sd' ')"
expect_eq "Kubernetes login .auth has the fixture's keys" ok "$(shape sub approle-login.response.json auth)"
expect_eq "Kubernetes metadata from the JWT claims" "claude claude-sa ai" \
  "$(jget auth.metadata.role auth.metadata.service_account_name auth.metadata.service_account_namespace <<<"$BODY" | paste -sd' ')"
TOK=$K_AT v GET /v1/secret/data/app/claude
expect_eq "read with the Kubernetes token" 200 "$CODE"
DATA="{\"role\":\"claude\",\"jwt\":\"${JWT}x\"}" TOK= v POST /v1/auth/kubernetes/login
expect_eq "Kubernetes login with another JWT: 403 permission denied" "403 $DENIED" "$CODE $BODY"
DATA="{\"role\":\"nope\",\"jwt\":\"$JWT\"}" TOK= v POST /v1/auth/kubernetes/login
expect_eq "Kubernetes unknown role: 400 invalid role name" '400 {"errors":["invalid role name \"nope\""]}' "$CODE $BODY"
DATA='{"role":"claude"}' TOK= v POST /v1/auth/kubernetes/login
expect_eq "Kubernetes without jwt: 400 missing jwt" '400 {"errors":["missing jwt"]}' "$CODE $BODY"

# ---- sealed, standby, injected failures ---------------------------------------------------------
control '{"sealed":true}'
TOK=$ROOT v GET /v1/secret/data/app/claude
expect_eq "sealed: 503 Vault is sealed" '503 {"errors":["Vault is sealed"]}' "$CODE $BODY"
DATA="{\"role_id\":\"$ROLE_ID\",\"secret_id\":\"$SECRET_ID\"}" TOK= v POST /v1/auth/approle/login
expect_eq "sealed: login 503 too" 503 "$CODE"
control '{"sealed":false,"standby":true}'
TOK=$ROOT v GET /v1/secret/data/app/claude
expect_eq "standby: 500 local node not active" '500 {"errors":["local node not active but active cluster node not found"]}' "$CODE $BODY"
control '{"standby":false}'
TOK=$ROOT v GET /v1/secret/data/app/claude
expect_eq "unsealed again: 200" 200 "$CODE"

control '{"fail_next":[{"status":502,"body":"<html>bad gateway</html>","headers":{"Content-Type":"text/html","Retry-After":"3"}},{"status":429,"body":{"errors":["rate limit quota exceeded"]}}]}'
TOK=$ROOT v GET /v1/secret/data/app/claude
expect_eq "fail_next[0]: 502, its body and headers" "502 <html>bad gateway</html> text/html 3" "$CODE $BODY $(header content-type) $(header retry-after)"
TOK=$ROOT v GET /v1/secret/data/app/claude
expect_eq "fail_next[1]: 429 with a JSON body" '429 {"errors":["rate limit quota exceeded"]}' "$CODE $BODY"
control '{"status_next":{"status":500,"count":2}}'
TOK=$ROOT v GET /v1/secret/data/app/claude; c1="$CODE $BODY"
TOK=$ROOT v GET /v1/secret/data/app/claude; c2=$CODE
TOK=$ROOT v GET /v1/secret/data/app/claude; c3=$CODE
expect_eq "status_next 500 x2, then normal" '500 {"errors":["internal server error"]} 500 200' "$c1 $c2 $c3"
control '{"status_next":{"status":500,"count":1},"inject_path":"^/v1/auth/"}'
TOK=$ROOT v GET /v1/secret/data/app/claude; c1=$CODE
DATA="{\"role_id\":\"$ROLE_ID\",\"secret_id\":\"$SECRET_ID\"}" TOK= v POST /v1/auth/approle/login
expect_eq "inject_path ^/v1/auth/: KV read untouched, login gets the 500" "200 500" "$c1 $CODE"
control '{"inject_path":null,"garbage_next":1,"huge_next":1}'
TOK=$ROOT v GET /v1/secret/data/app/claude
expect_eq "garbage_next: 200 whose body is not JSON" "200 <not json>" "$CODE $(jget x <<<"$BODY")"
TOK=$ROOT v GET /v1/secret/data/app/claude
SIZE=$(stat -c %s "$T/body")
[ "$CODE" = 200 ] && [ "$SIZE" -ge 5000000 ] && pass "huge_next: 200 with $SIZE bytes" || fail "huge_next: $CODE $SIZE bytes"
BODY=
control '{"delay_ms":400}'
start=$(date +%s%N)
TOK=$ROOT v GET /v1/secret/data/app/claude
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$CODE" = 200 ] && [ "$ms" -ge 400 ] && pass "delay_ms 400: answered after ${ms} ms" || fail "delay_ms: $CODE after ${ms} ms"
control '{"delay_ms":0,"hang_next":1}'
# Event-based: the fake logs the request as hung, and the client still has no answer.
curl -sS -o /dev/null --max-time 120 --cacert "$T/tls/ca.pem" "$B/v1/sys/internal/ui/mounts/secret" 2>/dev/null &
HUNG=$!
BG_PIDS+=($HUNG)
hung_logged() { grep -q '"outcome":"hang"' "$T/fake.log"; }
wait_until 60 hung_logged && pass "hang_next: the fake took the request and did not answer" || fail "hang_next: no hang logged"
kill -0 "$HUNG" 2>/dev/null && pass "hang_next: the client is still waiting" || fail "hang_next: the client got an answer or gave up"
kill "$HUNG" 2>/dev/null || true
wait "$HUNG" 2>/dev/null || true
TOK=$ROOT v GET /v1/secret/data/app/claude
expect_eq "after the hang: normal again" 200 "$CODE"

# ---- TLS ------------------------------------------------------------------------------------------
set +e
curl -sS -o /dev/null --max-time 60 "$B/__stats" 2>"$T/curl.err"; rc=$?
set -e
[ "$rc" = 60 ] && pass "curl without --cacert refuses the certificate (exit 60)" || fail "curl without --cacert: exit $rc $(cat "$T/curl.err")"
CODE=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 60 --cacert "$T/tls/ca.pem" --resolve "vault.test:$PORT:127.0.0.1" "https://vault.test:$PORT/__stats" || true)
expect_eq "https://vault.test verifies (a SERVER_NAME of make_test_ca.sh)" 200 "$CODE"
set +e
curl -sS -o /dev/null --max-time 60 --cacert "$T/tls/ca.pem" --resolve "other.test:$PORT:127.0.0.1" "https://other.test:$PORT/__stats" 2>/dev/null; rc=$?
set -e
[ "$rc" = 60 ] && pass "a name not in the certificate is refused (exit 60)" || fail "other.test: exit $rc"

# ---- stats -----------------------------------------------------------------------------------------
XVR= TOK=$ROOT v GET /v1/secret/data/app/claude -H 'X-Vault-Namespace;'
STATS=$(curl -sS --max-time 60 --cacert "$T/tls/ca.pem" "$B/__stats")
sj() { jget "$@" <<<"$STATS"; }
[ "$(sj kv2_reads)" -ge 20 ] && [ "$(sj kv1_reads)" -eq 3 ] && pass "stats: kv2_reads $(sj kv2_reads), kv1_reads 3" || fail "stats reads: $(sj kv2_reads) $(sj kv1_reads)"
expect_eq "stats: logins approle/kubernetes, renewals, unwraps" "3 1 2 2" "$(sj logins.approle logins.kubernetes renewals unwraps | paste -sd' ')"
expect_eq "stats: failures (approle, kubernetes, renew refused, unwrap)" "3 3 1 1" \
  "$(sj login_failures.approle login_failures.kubernetes renew_refused unwrap_failures | paste -sd' ')"
expect_eq "stats: soft-deleted / destroyed reads" "1 1" "$(sj reads_deleted reads_destroyed | paste -sd' ')"
[ "$(sj forbidden_403)" -ge 15 ] && pass "stats: $(sj forbidden_403) answers 403" || fail "stats 403: $(sj forbidden_403)"
expect_eq "stats: sealed 503s, standby 500s, injected, garbage, huge, hung" "2 1 5 1 1 1" "$(sj sealed_503 standby_500 injected garbage huge hung | paste -sd' ')"
expect_eq "stats: X-Vault-Namespace values seen" '{"<absent>":true,"team-a":true,"team-a/":true,"team-b":true,"":true}' \
  "$(sj x_vault_namespace | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);const r={};for(const k of ["<absent>","team-a","team-a/","team-b",""]) r[k]=o[k]>0;console.log(JSON.stringify(r))})')"
expect_eq "stats: X-Vault-Request true and absent both recorded" "true true" \
  "$(sj x_vault_request | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);console.log(o["true"]>0, o["<absent>"]>=1)})')"
[ "$(sj token_header.bearer)" -ge 1 ] && pass "stats: token header kinds $(sj token_header)" || fail "stats token_header"
VT=$(sj valid_tokens)
SUMMARY=$(curl -sS --max-time 60 --cacert "$T/tls/ca.pem" "$B/__state")
VS=$(jget tokens <<<"$SUMMARY" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).filter(t=>t.valid).length))')
# 5 long-lived state tokens, RENEW (until 10 s), AT2 (until 5.5 s), and the Kubernetes and
# wrapped-AppRole tokens (60 s from 3.5 s); SHORT and the first AppRole token have expired.
expect_eq "stats: valid tokens at 3.5 s on the fake's clock (GET /__state agrees)" "9 9" "$VT $VS"
control '{"advance_clock_ms":7000}'
expect_eq "stats: 7 valid tokens at 10.5 s (RENEW and AT2 expired)" 7 "$(stat_of valid_tokens)"
if grep -q -F -f "$T/secrets" <<<"$STATS"; then fail "a secret leaked into /__stats"; else pass "/__stats holds no token or secret"; fi
if grep -q -F -f "$T/secrets" <<<"$SUMMARY"; then fail "a secret leaked into GET /__state"; else pass "GET /__state holds no token or secret"; fi
expect_eq "GET /__state lists the renewed token by fingerprint" 1 \
  "$(jget tokens <<<"$SUMMARY" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).filter(t=>t.fp===process.argv[1]&&t.renewals===1).length))' "$(fp "$RENEW")")"

# ---- bad controls, reset ----------------------------------------------------------------------------
DATA='{"sealedd":true}' TOK= v POST /__control
expect_eq "unknown control field: 400" 400 "$CODE"
DATA='{"tokens":{"x":{"ttl":-1}}}' TOK= v POST /__state
expect_eq "bad state: 400, nothing changed" 400 "$CODE"
control '{"reset":true}'
TOK=$ROOT v GET /v1/secret/data/app/claude
expect_eq "control reset forgets tokens: 403" 403 "$CODE"
expect_eq "control reset zeroes stats" 1 "$(stat_of requests)"

# ---- log and output hold no secret ------------------------------------------------------------------
if node -e 'for (const l of require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n")) JSON.parse(l)' "$T/fake.log"; then
  pass "log is JSON lines ($(wc -l < "$T/fake.log") requests)"
else
  fail "log is not JSON lines"
fi
grep -q "\"token_fp\":\"$(fp "$ROOT")\"" "$T/fake.log" && grep -q '"token_sent":true' "$T/fake.log" \
  && pass "log records token_sent and the token's fingerprint" || fail "log lacks token_sent/token_fp"
for o in ok not_found deleted destroyed no_token bad_token expired_token namespace_mismatch unknown_namespace no_policy \
         invalid_credentials not_renewable bad_wrapping_token injected status_next garbage huge hang sealed standby; do
  grep -q "\"outcome\":\"$o\"" "$T/fake.log" || fail "no outcome $o in the log"
done
pass "log names every outcome"
grep -q '"x_vault_request":"true"' "$T/fake.log" && pass "log records X-Vault-Request" || fail "log lacks X-Vault-Request"
if grep -q -F -f "$T/secrets" "$T/fake.log" "$T/fake.out" "$T/fake.err"; then
  fail "a token, id, JWT or secret leaked into the fake's log or output"
else
  pass "none of the $(wc -l < "$T/secrets") tokens/ids/secrets is in the fake's log, stdout or stderr"
fi

# ---- plain HTTP, bad arguments, missing fixtures ----------------------------------------------------
node "$FAKE" --port-file "$T/port2" >/dev/null 2>&1 &
P2=$!; BG_PIDS+=($P2)
port2_written() { [ -s "$T/port2" ]; }
wait_until 60 port2_written || fail "the plain-HTTP fake did not start"
CODE=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 60 "http://127.0.0.1:$(cat "$T/port2")/__stats" || true)
expect_eq "without --tls-cert/--tls-key: plain HTTP" 200 "$CODE"
kill -TERM "$P2"; wait "$P2" || true
set +e
node "$FAKE" --port-file "$T/port3" --tls-cert "$T/tls/server.pem" >/dev/null 2>&1; rc=$?
mkdir "$T/nofix"; cp "$FAKE" "$(dirname "$FAKE")/fake_server_lib.js" "$T/nofix/"
node "$T/nofix/vault_server.js" --port-file "$T/port4" >/dev/null 2>&1; rc2=$?
set -e
expect_eq "--tls-cert without --tls-key: usage error 64" 64 "$rc"
expect_eq "without its fixture files the fake refuses to start (70)" 70 "$rc2"

# ---- SIGTERM with a hung request open ----------------------------------------------------------------
control '{"hang_next":1}'
curl -sS -o /dev/null --max-time 120 --cacert "$T/tls/ca.pem" "$B/v1/secret/data/app/claude" 2>/dev/null &
HUNG=$!
BG_PIDS+=($HUNG)
last_hung() { grep -q '"outcome":"hang"' <(tail -1 "$T/fake.log"); }
wait_until 60 last_hung || fail "the second hang was not logged"
start=$(date +%s%N)
kill -TERM "$SERVER_PID"
set +e
wait "$SERVER_PID"; src=$?
wait "$HUNG"; crc=$?
set -e
SERVER_PID=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "SIGTERM: exit 0" 0 "$src"
# At once: well before the hung client's own 120 s limit (10 s is a bound for a loaded machine).
[ "$ms" -lt 10000 ] && pass "SIGTERM ended the fake and the hung request in ${ms} ms (curl exit $crc)" || fail "SIGTERM took ${ms} ms"
finish

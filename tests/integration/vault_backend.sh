#!/bin/bash
# The `vault` backend end to end against the fake Vault (tests/fakes/vault_server.js) over
# HTTPS with a throwaway CA (tests/fakes/make_test_ca.sh), driven through the real binaries
# (`claude-key-refresher once --force`, `status`, `claude-key-helper`):
#   1. token auth from VAULT_TOKEN, token_file and ~/.vault-token reads a KV v2 field; the
#      helper prints exactly that value; X-Vault-Request and X-Vault-Namespace are sent; a
#      wrong namespace fails;
#   2. KV v1, KV version auto-detection (v1 and v2 mounts), `version = N`;
#   3. permanent errors (missing field -> the existing field names, soft-deleted, destroyed,
#      missing path, permission denied), each in `status` and in the helper's error, naming
#      mount, path and field, never a value;
#   4. transient errors (sealed 503, 500, 429): exit 75/69, Vault's errors text in status,
#      success after unsealing;
#   5. a garbage body, a 5 MB body, a hung request (timeout 2s): transient, no crash, the
#      published key kept;
#   6. TLS: no CA -> "TLS certificate verification failed"; VAULT_CACERT; tls_server_name;
#      tls_skip_verify works and warns;
#   7. a renewable 3 s token (max_ttl 30 s) is renewed and outlives its first TTL;
#   8. AppRole (files 0600): login, read, re-login after expiry; a wrapped secret_id works
#      once, the reused wrapping token fails clearly;
#   9. Kubernetes login and read;
#  10. no Vault token (nor role/secret id, JWT, wrapping token) in any output, log, status or
#      P.cred; P.secret is 0600.
# Tokens and values the test compares are printed as fingerprints (fp), not as themselves.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v node >/dev/null 2>&1 || { echo "skipped: node is not installed"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skipped: curl is not installed"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "skipped: openssl is not installed"; exit 77; }
command -v sha256sum >/dev/null 2>&1 || { echo "skipped: sha256sum is not installed"; exit 77; }
FAKES="$CKH_TESTS_DIR/fakes"
export no_proxy='*' NO_PROXY='*'
unset VAULT_ADDR VAULT_TOKEN VAULT_NAMESPACE VAULT_CACERT VAULT_CAPATH VAULT_TLS_SERVER_NAME \
  VAULT_SKIP_VERIFY VAULT_CLIENT_CERT VAULT_CLIENT_KEY || true
STARTED=$(date +%s)

TOKENS="$T/tokens"   # Vault tokens, ids, JWT, wrapping tokens: never anywhere
VALUES="$T/values"   # secret values: only in the helper's stdout and P.cred
OUTS="$T/outs"       # every file the tools wrote to (stdout, stderr, status)
: >"$TOKENS"; : >"$VALUES"; mkdir -p "$OUTS"
rnd() { printf '%s%s' "$1" "$(openssl rand -hex 12)"; }
token() { local t; t=$(rnd "$1"); printf '%s\n' "$t" >>"$TOKENS"; printf '%s' "$t"; }
value() { local v; v=$(rnd "$1"); printf '%s\n' "$v" >>"$VALUES"; printf '%s' "$v"; }
# Tokens issued by logins live only in P.secret: collect them for the leak checks.
harvest() { sed -n 's/^token: //p' "$STATE"/*.secret 2>/dev/null | sort -u >>"$TOKENS" || true; }
has() { grep -qF -- "$2" <<<"$1"; }   # has TEXT NEEDLE

# ---- certificates and the fake -----------------------------------------------------------------
bash "$FAKES/make_test_ca.sh" "$T/tls" vault.test >"$T/mkca.out" 2>&1 \
  || { echo "FAIL: make_test_ca.sh: $(cat "$T/mkca.out")" >&2; exit 1; }
CA="$T/tls/ca.pem"
start_fake fake "$FAKES/vault_server.js" --tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key"
PORT=$PORT_fake
B="https://127.0.0.1:$PORT"

# fake API (bodies via stdin, never argv)
fake_post() { # PATH JSON
  local code
  code=$(printf '%s' "$2" | curl -sS -o "$T/fake.resp" -w '%{http_code}' --max-time 10 --cacert "$CA" \
    -H 'Content-Type: application/json' --data-binary @- "$B$1" 2>&1) || true
  [ "$code" = 200 ] || fail "fake $1: $code $(head -c 300 "$T/fake.resp" 2>/dev/null)"
}
control() { fake_post /__control "$1"; }
set_state() { fake_post /__state "$1"; }
stats() { curl -sS --max-time 10 --cacert "$CA" "$B/__stats" | jget "$@"; }
token_info() { # FIELD TOKEN: a field of the token's entry in GET /__state (found by fingerprint)
  curl -sS --max-time 10 --cacert "$CA" "$B/__state" | node -e '
    let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s).tokens.find((x)=>x.fp===process.argv[2]);
      console.log(t===undefined ? "<none>" : String(t[process.argv[1]]))})' "$1" "$(fp "$2")"
}

# ---- tools ------------------------------------------------------------------------------------
N=0
# once P: `once --force --profile P`; sets RC, OUT, ERR. Extra environment as a prefix
# (VAULT_TOKEN=... once P), so that no token is ever in an argv.
once() {
  local p=$1
  N=$((N + 1))
  set +e
  timeout 60 "$CKH_REFRESHER" once --force --profile "$p" <&9 >"$OUTS/once.$N.out" 2>"$OUTS/once.$N.err"
  RC=$?
  set -e
  OUT=$(cat "$OUTS/once.$N.out"); ERR=$(cat "$OUTS/once.$N.err")
  harvest
  if has "$ERR" "Sanitizer" || has "$ERR" "runtime error:" || [ "$RC" -ge 128 ]; then
    fail "once --profile $p crashed (exit $RC): $(head -c 600 <<<"$ERR")"
  fi
}
status_of() { # P: sets ST (the `status --profile P` output)
  N=$((N + 1))
  "$CKH_REFRESHER" status --profile "$1" <&9 >"$OUTS/status.$N.out" 2>&1 || true
  ST=$(cat "$OUTS/status.$N.out")
}
helper() { # P: the helper; sets RC, OUT (kept out of OUTS: it is the key), ERR
  local p=$1
  N=$((N + 1))
  set +e
  OUT=$(timeout 60 "$CKH_HELPER" --profile "$p" <&9 2>"$OUTS/helper.$N.err")
  RC=$?
  set -e
  ERR=$(cat "$OUTS/helper.$N.err")
  harvest
  printf '%s\n' "$OUT" >"$T/helper.$N.stdout"
}
# expect_key P VALUE WHAT: the helper prints exactly VALUE (compared by fingerprint).
expect_key() {
  helper "$1"
  if [ "$RC" = 0 ] && [ "$OUT" = "$2" ] && [ -z "$ERR" ]; then pass "$3"
  else fail "$3: helper exit $RC, printed $( [ -n "$OUT" ] && fp "$OUT" || echo nothing) (want $(fp "$2")), stderr: $ERR"; fi
}
no_values_in() { # WHAT TEXT: no secret value in TEXT
  if grep -qF -f "$VALUES" <<<"$2"; then fail "$1 contains a secret value"; else pass "$1 shows no secret value"; fi
}

# ---- fake state ----------------------------------------------------------------------------------
ROOT=$(token hvs.root)       # policies default+claude (everything)
NSTOK=$(token hvs.ns)        # a token of namespace team-a
NARROW=$(token hvs.narrow)   # may read secret/data/app/claude only
ENVTOK=$(token hvs.env); FILETOK=$(token hvs.file); HOMETOK=$(token hvs.home)
RENEW=$(token hvs.renew)     # ttl 3 s, max_ttl 30 s, renewable
ROLE_ID=$(token role-); SECRET_ID=$(token sid-)
WROLE_ID=$(token wrole-); WSID=$(token wsid-); WRAP=$(token hvs.wrap)
b64u() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
JWT="$(b64u '{"alg":"RS256","kid":"t"}').$(b64u '{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"ai","kubernetes.io/serviceaccount/service-account.name":"claude-sa","sub":"system:serviceaccount:ai:claude-sa"}').$(b64u "sig-$(openssl rand -hex 16)")"
printf '%s\n' "$JWT" >>"$TOKENS"
KEY1=$(value sk-ant-api03-one-); KEY2=$(value sk-ant-api03-two-); KEY3=$(value sk-ant-api03-three-)
KEYNS=$(value sk-ant-api03-ns-); KEYV1=$(value sk-ant-api03-kv1-); KEYLEG=$(value sk-ant-api03-legacy-)
ORG=$(value org-); OLD=$(value sk-ant-api03-old-)

set_state "{
  \"namespace\": \"team-a/\",
  \"mounts\": {\"legacy\": 1},
  \"policies\": {\"narrow\": [\"secret/data/app/claude\"]},
  \"tokens\": {\"$ROOT\": {\"ttl\": 3600}, \"$NSTOK\": {\"ttl\": 3600, \"namespace\": \"team-a/\"},
               \"$NARROW\": {\"ttl\": 3600, \"policies\": [\"narrow\"]},
               \"$ENVTOK\": {\"ttl\": 3600}, \"$FILETOK\": {\"ttl\": 3600}, \"$HOMETOK\": {\"ttl\": 3600}},
  \"secrets\": {
    \"secret/app/claude\": {\"versions\": [{\"data\": {\"api_key\": \"$KEY1\"}}, {\"data\": {\"api_key\": \"$KEY2\"}},
                                         {\"data\": {\"api_key\": \"$KEY3\", \"org_id\": \"$ORG\"}}]},
    \"secret/app/nofield\": {\"versions\": [{\"data\": {\"token\": \"$OLD\", \"org_id\": \"$ORG\"}}]},
    \"secret/app/deleted\": {\"versions\": [{\"data\": {\"api_key\": \"$OLD\"}}, {\"data\": null, \"deleted\": true}]},
    \"secret/app/destroyed\": {\"versions\": [{\"data\": {\"api_key\": \"$OLD\"}, \"destroyed\": true}]},
    \"secret/app/private\": {\"versions\": [{\"data\": {\"api_key\": \"$OLD\"}}]},
    \"kv1/app/claude\": {\"data\": {\"api_key\": \"$KEYV1\", \"ttl\": \"1h\"}},
    \"legacy/app/claude\": {\"data\": {\"api_key\": \"$KEYLEG\"}}
  },
  \"approle\": [{\"role_id\": \"$ROLE_ID\", \"role_name\": \"claude\", \"secret_id\": \"$SECRET_ID\",
                 \"token_ttl\": 3, \"renewable\": false},
                {\"role_id\": \"$WROLE_ID\", \"role_name\": \"wrapped\", \"secret_id\": \"$WSID\",
                 \"token_ttl\": 600, \"wrapped_secret_id\": {\"token\": \"$WRAP\", \"secret_id\": \"$WSID\", \"ttl\": 300}}],
  \"kubernetes\": {\"role\": \"claude\", \"jwt\": \"$JWT\", \"token_ttl\": 600}
}"
set_state "{\"secrets\": {\"secret/app/claude\": {\"namespace\": \"team-a/\", \"data\": {\"api_key\": \"$KEYNS\"}}}}"

# Credential files the refresher reads (0600 where they are secrets; the JWT is public).
mkdir -m 700 "$T/creds"
put() { (umask 077; printf '%s\n' "$2" >"$T/creds/$1"); }
put file.token "$FILETOK"; put narrow.token "$NARROW"; put root.token "$ROOT"; put ns.token "$NSTOK"
put renew.token "$RENEW"
put role-id "$ROLE_ID"; put secret-id "$SECRET_ID"; put wrole-id "$WROLE_ID"; put wrapped-secret-id "$WRAP"
printf '%s\n' "$JWT" >"$T/creds/k8s.jwt"; chmod 644 "$T/creds/k8s.jwt"

# ---- config: one profile per case -----------------------------------------------------------------
: >"$CLAUDE_KEY_HELPER_CONFIG"
profile() { # NAME [vault lines...]: address and ca_cert unless a line says "noca"
  local name=$1 ca=1 line; shift
  {
    printf '[profile.%s]\nbackend = "vault"\nbackoff_min = "1s"\n[profile.%s.vault]\naddress = "%s"\n' "$name" "$name" "$B"
    for line in "$@"; do [ "$line" = noca ] && ca=0 || printf '%s\n' "$line"; done
    [ $ca = 1 ] && printf 'ca_cert = "%s"\n' "$CA"
    echo
  } >>"$CLAUDE_KEY_HELPER_CONFIG"
}
APP='path = "app/claude"'; API='field = "api_key"'
profile envtok "$APP" "$API" 'kv_version = 2'
profile filetok "$APP" "$API" 'kv_version = 2' "token_file = \"$T/creds/file.token\""
profile hometok "$APP" "$API" 'kv_version = 2'
profile ns "$APP" "$API" 'kv_version = 2' 'namespace = "team-a"' "token_file = \"$T/creds/ns.token\""
profile wrongns "$APP" "$API" 'kv_version = 2' 'namespace = "team-b"' "token_file = \"$T/creds/ns.token\""
profile kv1 'mount = "kv1"' "$APP" "$API" 'kv_version = 1' "token_file = \"$T/creds/root.token\""
profile detect1 'mount = "legacy"' "$APP" "$API" "token_file = \"$T/creds/root.token\""
profile detect2 "$APP" "$API" "token_file = \"$T/creds/root.token\""
profile ver1 "$APP" "$API" 'version = 1' "token_file = \"$T/creds/root.token\""
profile nofield 'path = "app/nofield"' "$API" 'kv_version = 2' "token_file = \"$T/creds/root.token\""
profile deleted 'path = "app/deleted"' "$API" 'kv_version = 2' "token_file = \"$T/creds/root.token\""
profile destroyed 'path = "app/destroyed"' "$API" 'kv_version = 2' "token_file = \"$T/creds/root.token\""
profile missing 'path = "app/nothing-here"' "$API" 'kv_version = 2' "token_file = \"$T/creds/root.token\""
profile denied 'path = "app/private"' "$API" 'kv_version = 2' "token_file = \"$T/creds/narrow.token\""
profile flaky "$APP" "$API" 'kv_version = 2' "token_file = \"$T/creds/root.token\""
profile fresh "$APP" "$API" 'kv_version = 2' "token_file = \"$T/creds/root.token\""
profile slow "$APP" "$API" 'kv_version = 2' 'timeout = "2s"' "token_file = \"$T/creds/root.token\""
profile noca noca "$APP" "$API" 'kv_version = 2' "token_file = \"$T/creds/root.token\""
profile sni "$APP" "$API" 'kv_version = 2' 'tls_server_name = "vault.test"' "token_file = \"$T/creds/root.token\""
profile badsni "$APP" "$API" 'kv_version = 2' 'tls_server_name = "other.test"' "token_file = \"$T/creds/root.token\""
profile insecure noca "$APP" "$API" 'kv_version = 2' 'tls_skip_verify = true' "token_file = \"$T/creds/root.token\""
profile capath noca "$APP" "$API" 'kv_version = 2' "ca_path = \"$T/tls/hashed\"" "token_file = \"$T/creds/root.token\""
profile capathenv noca "$APP" "$API" 'kv_version = 2' "token_file = \"$T/creds/root.token\""
profile skipenv noca "$APP" "$API" 'kv_version = 2' "token_file = \"$T/creds/root.token\""
profile renew "$APP" "$API" 'kv_version = 2' "token_file = \"$T/creds/renew.token\""
profile approle "$APP" "$API" 'kv_version = 2' 'auth = "approle"' \
  "role_id_file = \"$T/creds/role-id\"" "secret_id_file = \"$T/creds/secret-id\""
profile wrapped "$APP" "$API" 'kv_version = 2' 'auth = "approle"' 'secret_id_wrapped = true' \
  "role_id_file = \"$T/creds/wrole-id\"" "secret_id_file = \"$T/creds/wrapped-secret-id\""
profile k8s "$APP" "$API" 'kv_version = 2' 'auth = "kubernetes"' 'kubernetes_role = "claude"' \
  "kubernetes_jwt_file = \"$T/creds/k8s.jwt\""
"$CKH_REFRESHER" check-config >"$OUTS/check-config.out" 2>&1 && pass "check-config accepts every vault profile" \
  || fail "check-config: $(cat "$OUTS/check-config.out")"

# ---- 1. token auth, headers, namespaces -----------------------------------------------------------
echo "--- 1. token auth, headers, namespaces"
VAULT_TOKEN=$ENVTOK once envtok
expect_eq "VAULT_TOKEN: once --force exits 0" 0 "$RC"
expect_key envtok "$KEY3" "VAULT_TOKEN: the helper prints exactly the latest KV v2 value"
expect_eq "VAULT_TOKEN: the fake saw that token (lookup-self and read)" 2 \
  "$(grep -c "\"token_fp\":\"$(fp "$ENVTOK")\"" "$T/fake.log" || true)"
expect_eq "without namespace: no X-Vault-Namespace header" null \
  "$(grep '"endpoint":"kv2_read"' "$T/fake.log" | head -1 | jget namespace_header)"
once filetok
expect_eq "token_file: once --force exits 0" 0 "$RC"
expect_key filetok "$KEY3" "token_file: the helper prints the value"
grep -q "\"token_fp\":\"$(fp "$FILETOK")\"" "$T/fake.log" && pass "token_file: the fake saw the file's token" \
  || fail "token_file: the file's token was not used"
(umask 077; printf '%s\n' "$HOMETOK" >"$HOME/.vault-token")
once hometok
expect_eq "~/.vault-token: once --force exits 0" 0 "$RC"
expect_key hometok "$KEY3" "~/.vault-token: the helper prints the value"
grep -q "\"token_fp\":\"$(fp "$HOMETOK")\"" "$T/fake.log" && pass "~/.vault-token: the fake saw that token" \
  || fail "~/.vault-token was not used"
rm -f "$HOME/.vault-token"
xvr=$(stats x_vault_request | jget '<absent>' true | paste -sd' ')
expect_eq "every Vault request carried X-Vault-Request: true" " $(stats requests)" "$xvr"
once ns
expect_eq "namespace: once --force exits 0" 0 "$RC"
expect_key ns "$KEYNS" "namespace = \"team-a\": the helper prints the namespace's secret, not root's"
last=$(grep '"endpoint":"kv2_read"' "$T/fake.log" | tail -1 | jget namespace_header namespace | paste -sd' ')
expect_eq "namespace: the read carried X-Vault-Namespace: team-a" "team-a team-a/" "$last"
once wrongns
[ "$RC" != 0 ] && pass "wrong namespace: once --force fails (exit $RC)" || fail "wrong namespace succeeded"
status_of wrongns
has "$ST" "403" && has "$ST" "permission denied" \
  && pass "wrong namespace: status shows Vault's 403 permission denied: $(grep 'last error' <<<"$ST" | sed 's/^ *//')" \
  || fail "wrong namespace status: $ST"
[ ! -e "$STATE/wrongns.cred" ] && pass "wrong namespace: nothing published" || fail "wrong namespace published a key"
n=$(stats x_vault_namespace | jget team-b)
[ "${n:-0}" -ge 1 ] && pass "the wrong namespace was sent as X-Vault-Namespace: team-b" || fail "no X-Vault-Namespace: team-b seen"

# ---- 2. KV v1, detection, version ------------------------------------------------------------------
echo "--- 2. KV v1, detection, version"
once kv1
expect_eq "KV v1 (kv_version = 1): once exits 0" 0 "$RC"
expect_key kv1 "$KEYV1" "KV v1: the helper prints the v1 value"
exp=$(sed -n 's/^expires_at: //p' "$STATE/kv1.cred"); fetched=$(sed -n 's/^fetched_at: //p' "$STATE/kv1.cred")
expect_eq "KV v1: the lease_duration (ttl 1h) sets the expiry" 3600 "$((exp - fetched))"
lookups0=$(stats mounts_lookups)
once detect1
expect_eq "auto-detected v1 mount: once exits 0" 0 "$RC"
expect_key detect1 "$KEYLEG" "auto-detected v1 mount (legacy): the helper prints the value"
once detect2
expect_eq "auto-detected v2 mount: once exits 0" 0 "$RC"
expect_key detect2 "$KEY3" "auto-detected v2 mount (secret): the helper prints the value"
expect_eq "detection asked sys/internal/ui/mounts once per profile" $((lookups0 + 2)) "$(stats mounts_lookups)"
grep -q '^kv_version: 1$' "$STATE/detect1.secret" && grep -q '^kv_version: 2$' "$STATE/detect2.secret" \
  && pass "the detected versions are remembered in P.secret (1 and 2)" || fail "kv_version not remembered"
once detect2
expect_eq "a second read does not detect again" $((lookups0 + 2)) "$(stats mounts_lookups)"
once ver1
expect_eq "version = 1: once exits 0" 0 "$RC"
expect_key ver1 "$KEY1" "version = 1: the helper prints version 1's value, not the latest"
grep '"path":"/v1/secret/data/app/claude"' "$T/fake.log" | grep -q '"version":"1"' \
  && pass "version = 1 was asked as ?version=1" || fail "no ?version=1 request in the fake's log"

# ---- 3. permanent errors ---------------------------------------------------------------------------
echo "--- 3. permanent errors"
# permanent P WHAT NEEDLE...: nothing published yet; the helper runs `once` itself and fails;
# its one-line error and `status` both carry every NEEDLE; no secret value in either.
permanent() {
  local p=$1 what=$2 n miss=; shift 2
  [ ! -e "$STATE/$p.cred" ] || fail "$what: a key was published before the test"
  helper "$p"
  [ -e "$STATE/$p.status" ] && pass "$what: the helper ran the refresh itself" || fail "$what: the helper did not refresh"
  [ "$RC" != 0 ] && [ -z "$OUT" ] && pass "$what: the helper fails (exit $RC) and prints no key" \
    || fail "$what: helper exit $RC, stdout $( [ -n "$OUT" ] && echo non-empty || echo empty)"
  for n in "$@"; do has "$ERR" "$n" || miss="$miss [$n]"; done
  [ -z "$miss" ] && pass "$what: the helper's error says so: $ERR" || fail "$what: helper error lacks$miss: $ERR"
  [ "$(wc -l <<<"$ERR")" = 1 ] && [ "${#ERR}" -lt 500 ] && pass "$what: the helper's error is one line < 500 bytes" \
    || fail "$what: helper error is $(wc -l <<<"$ERR") lines, ${#ERR} bytes"
  status_of "$p"
  miss=
  for n in "$@"; do has "$ST" "$n" || miss="$miss [$n]"; done
  [ -z "$miss" ] && pass "$what: status shows it" || fail "$what: status lacks$miss: $ST"
  has "$ST" permanent && pass "$what: status classes it permanent" || fail "$what: not permanent in status: $ST"
  no_values_in "$what: helper error and status" "$ERR$ST"
  once "$p"
  expect_eq "$what: once --force exits 77 (the backend refused)" 77 "$RC"
}
permanent nofield "missing field" "secret/app/nofield" "'api_key'" "fields: token, org_id"
permanent deleted "soft-deleted version" "secret/app/deleted" "'api_key'" "version 2" "deleted"
permanent destroyed "destroyed version" "secret/app/destroyed" "'api_key'" "version 1" "destroyed"
permanent missing "missing path" "secret/app/nothing-here" "'api_key'" "no secret"
permanent denied "permission denied" "secret/app/private" "'api_key'" "permission denied" "secret/data/app/private"

# ---- 4. transient errors -------------------------------------------------------------------------
echo "--- 4. transient errors"
once flaky
expect_eq "transient: a key is published first" 0 "$RC"
control '{"sealed": true}'
once flaky
expect_eq "sealed (503) with a valid key published: exit 75" 75 "$RC"
status_of flaky
has "$ST" "Vault is sealed" && has "$ST" 503 && pass "sealed: status shows 503 and Vault's text" || fail "sealed status: $ST"
has "$ST" transient && pass "sealed: status classes it transient" || fail "sealed: not transient: $ST"
expect_key flaky "$KEY3" "sealed: the helper still prints the published key"
once fresh
expect_eq "sealed with nothing published: exit 69" 69 "$RC"
control '{"sealed": false, "inject_path": "^/v1/secret/", "status_next": {"status": 500, "count": 1, "errors": ["backend storage unreachable (test 4)"]}}'
once flaky
expect_eq "500: exit 75" 75 "$RC"
status_of flaky
has "$ST" "backend storage unreachable (test 4)" && has "$ST" 500 \
  && pass "500: status shows Vault's errors text" || fail "500 status: $ST"
control '{"fail_next": [{"status": 429, "body": {"errors": ["request path \"secret/data/app/claude\": rate limit quota exceeded"]}}]}'
once flaky
expect_eq "429: exit 75" 75 "$RC"
status_of flaky
has "$ST" "rate limit quota exceeded" && has "$ST" 429 && has "$ST" transient \
  && pass "429: status shows Vault's errors text, transient" || fail "429 status: $ST"
control '{"status_next": {"status": 500, "count": 1}}'
once fresh
expect_eq "500 with nothing published: exit 69" 69 "$RC"
control '{"inject_path": null}'
once flaky
expect_eq "after unsealing, once --force succeeds" 0 "$RC"
status_of flaky
if has "$ST" "Vault is sealed" || has "$ST" "rate limit"; then fail "the old error is still in status: $ST"
else pass "the error is cleared from status"; fi
once fresh
expect_eq "after unsealing, the never-published profile succeeds too" 0 "$RC"

# ---- 5. garbage, oversized, hung -----------------------------------------------------------------
echo "--- 5. garbage, oversized, hung"
once slow
expect_eq "a key is published for the slow profile" 0 "$RC"
gen0=$(sed -n 's/^generation: //p' "$STATE/slow.cred")
control '{"inject_path": "^/v1/secret/", "garbage_next": 1}'
once slow
expect_eq "garbage body: exit 75" 75 "$RC"
status_of slow
has "$ST" "not a JSON object" && has "$ST" transient && pass "garbage body: status says the answer is not JSON (transient)" \
  || fail "garbage status: $ST"
expect_key slow "$KEY3" "garbage body: the previously published key is kept"
control '{"huge_next": 1}'
once slow
expect_eq "5 MB body: exit 75" 75 "$RC"
status_of slow
has "$ST" "larger than" && has "$ST" transient && pass "5 MB body: transient error in status: $(grep 'last error' <<<"$ST" | sed 's/^ *//')" \
  || fail "huge status: $ST"
expect_key slow "$KEY3" "5 MB body: the previously published key is kept"
control '{"hang_next": 1}'
t0=$(date +%s%N)
once slow
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "hung request: exit 75" 75 "$RC"
[ "$ms" -ge 1900 ] && [ "$ms" -lt 8000 ] && pass "hung request: gave up after ${ms} ms (timeout 2s)" || fail "hung request took ${ms} ms"
status_of slow
(has "$ST" "timed out" || has "$ST" "timeout") && has "$ST" transient && pass "hung request: status says it timed out" \
  || fail "hang status: $ST"
expect_key slow "$KEY3" "hung request: the previously published key is kept"
expect_eq "no new generation was published by the failures" "$gen0" "$(sed -n 's/^generation: //p' "$STATE/slow.cred")"
control '{"inject_path": null}'
expect_eq "the fake counted one garbage, one huge, one hung answer" "1 1 1" "$(stats garbage huge hung | paste -sd' ')"

# ---- 6. TLS -------------------------------------------------------------------------------------
echo "--- 6. TLS"
once noca
[ "$RC" != 0 ] && has "$ERR$(status_of noca; echo "$ST")" "TLS certificate verification failed" \
  && pass "no ca_cert: fails with TLS certificate verification failed (exit $RC)" || fail "no ca_cert: exit $RC $ERR $ST"
[ ! -e "$STATE/noca.cred" ] && pass "no ca_cert: nothing published" || fail "no ca_cert published a key"
VAULT_CACERT=$CA once noca
expect_eq "VAULT_CACERT instead of ca_cert: exit 0" 0 "$RC"
expect_key noca "$KEY3" "VAULT_CACERT: the helper prints the value"
# A hashed CA directory (openssl rehash), as ca_path and as VAULT_CAPATH.
mkdir -p "$T/tls/hashed"; cp "$CA" "$T/tls/hashed/test-ca.pem"
openssl rehash "$T/tls/hashed" >/dev/null 2>&1 || c_rehash "$T/tls/hashed" >/dev/null 2>&1 || true
once capath
expect_eq "ca_path (a hashed CA directory): exit 0" 0 "$RC"
expect_key capath "$KEY3" "ca_path: the helper prints the value"
VAULT_CAPATH="$T/tls/hashed" once capathenv
expect_eq "VAULT_CAPATH instead of ca_path: exit 0" 0 "$RC"
# Vault's CLI honours VAULT_SKIP_VERIFY; the refresher does not (only tls_skip_verify does).
VAULT_SKIP_VERIFY=true once skipenv
[ "$RC" != 0 ] && has "$ERR$(status_of skipenv; echo "$ST")" "TLS certificate verification failed" \
  && pass "VAULT_SKIP_VERIFY=true is ignored: verification still fails without a CA (exit $RC)" \
  || fail "VAULT_SKIP_VERIFY=true: exit $RC $ERR"
[ ! -e "$STATE/skipenv.cred" ] && pass "VAULT_SKIP_VERIFY=true: nothing published" || fail "VAULT_SKIP_VERIFY published a key"
once sni
expect_eq "tls_server_name = vault.test with https://127.0.0.1: exit 0" 0 "$RC"
once badsni
[ "$RC" != 0 ] && has "$ERR$(status_of badsni; echo "$ST")" "TLS certificate verification failed" \
  && pass "tls_server_name = other.test (not in the certificate) fails verification: the name is used" \
  || fail "tls_server_name other.test: exit $RC $ERR $ST"
once insecure
expect_eq "tls_skip_verify = true without a CA: exit 0" 0 "$RC"
has "$ERR" "verification is OFF" && pass "tls_skip_verify: the refresher warns (verification is OFF)" \
  || fail "tls_skip_verify: no warning in stderr: $ERR"
expect_key insecure "$KEY3" "tls_skip_verify: the helper prints the value"
once insecure
has "$ERR" "verification is OFF" && pass "tls_skip_verify: the warning comes again at the next start" \
  || fail "tls_skip_verify: no warning at the second start: $ERR"
"$CKH_REFRESHER" status --profile insecure --json <&9 >"$OUTS/status.json.out" 2>&1 || true

# ---- 7. token renewal ------------------------------------------------------------------------------
echo "--- 7. token renewal"
# The token is created now: its 3 s run from here.
set_state "{\"tokens\": {\"$RENEW\": {\"ttl\": 3, \"max_ttl\": 30, \"renewable\": true}}}"
ren0=$(stats renewals)
t0=$(date +%s)
rcs=""
for i in $(seq 9); do
  once renew
  rcs="$rcs${rcs:+ }$RC"
  if [ "$RC" != 0 ] && [ -z "${first_err:-}" ]; then status_of renew; first_err="run $i: $(grep 'last error' <<<"$ST" | sed 's/^ *//')"; fi
  [ "$i" = 9 ] || sleep 1
done
elapsed=$(( $(date +%s) - t0 ))
status_of renew
[ "$rcs" = "0 0 0 0 0 0 0 0 0" ] && pass "renewal: nine reads over ${elapsed} s all succeed" \
  || fail "renewal: once --force exits [$rcs]; first failure: ${first_err:-}"
[ "$elapsed" -ge 7 ] && pass "renewal: the reads spanned ${elapsed} s > the 3 s TTL" || fail "renewal loop took only ${elapsed} s"
ren=$(( $(stats renewals) - ren0 ))
[ "$ren" -ge 2 ] && pass "renewal: the fake saw $ren renew-self calls" || fail "renewal: $ren renew-self calls"
expect_eq "renewal: the token is still valid after $elapsed s" true "$(token_info valid "$RENEW")"
expect_eq "renewal: the helper prints the value" 0 "$(helper renew; echo "$RC")"

# ---- 8. AppRole ----------------------------------------------------------------------------------
echo "--- 8. AppRole"
logins0=$(stats logins.approle)
once approle
expect_eq "AppRole: login and read, exit 0" 0 "$RC"
expect_key approle "$KEY3" "AppRole: the helper prints the value"
expect_eq "AppRole: one login" $((logins0 + 1)) "$(stats logins.approle)"
grep -q '^auth: approle$' "$STATE/approle.secret" && pass "AppRole: P.secret holds an approle token" || fail "AppRole P.secret"
atok=$(sed -n 's/^token: //p' "$STATE/approle.secret")
once wrapped
expect_eq "wrapped secret_id: unwrap, login and read, exit 0" 0 "$RC"
expect_eq "wrapped secret_id: one unwrap" 1 "$(stats unwraps)"
expect_key wrapped "$KEY3" "wrapped secret_id: the helper prints the value"
logins1=$(stats logins.approle)
for _ in $(seq 60); do [ "$(token_info valid "$atok")" = false ] && break; sleep 0.2; done
expect_eq "AppRole: the first token (token_ttl 3 s, not renewable) has expired at the fake" false "$(token_info valid "$atok")"
once approle
expect_eq "AppRole: after the token expired, once --force succeeds" 0 "$RC"
expect_eq "AppRole: it logged in again (2 logins for the profile)" $((logins1 + 1)) "$(stats logins.approle)"
atok2=$(sed -n 's/^token: //p' "$STATE/approle.secret")
[ -n "$atok2" ] && [ "$atok2" != "$atok" ] && pass "AppRole: P.secret holds the new token ($(fp "$atok") -> $(fp "$atok2"))" \
  || fail "AppRole: the token in P.secret did not change"
expect_key approle "$KEY3" "AppRole: after the re-login the helper prints the value"
# The wrapped profile's token is revoked (removed at the fake): the next read must log in again,
# with the same, already used wrapping token.
wtok=$(sed -n 's/^token: //p' "$STATE/wrapped.secret")
set_state "{\"tokens\": {\"$wtok\": null}}"
once wrapped
[ "$RC" != 0 ] && pass "wrapped secret_id reused: once --force fails (exit $RC)" || fail "a used wrapping token worked again"
status_of wrapped
has "$ST" "wrapping token is not valid or does not exist" && has "$ST" "works once" \
  && pass "wrapped secret_id reused: status says the wrapping token is spent and works once" || fail "reused wrap status: $ST"
expect_eq "wrapped secret_id reused: the fake refused the unwrap" 1 "$(stats unwrap_failures)"

# ---- 9. Kubernetes --------------------------------------------------------------------------------
echo "--- 9. Kubernetes"
once k8s
expect_eq "Kubernetes: login and read, exit 0" 0 "$RC"
expect_eq "Kubernetes: one login" 1 "$(stats logins.kubernetes)"
expect_key k8s "$KEY3" "Kubernetes: the helper prints the value"

# ---- 10. no token anywhere; modes ---------------------------------------------------------------
echo "--- 10. no token anywhere; modes"
harvest
sort -u -o "$TOKENS" "$TOKENS"
leaks=
for f in "$OUTS"/* "$T"/helper.*.stdout "$STATE"/*.status "$STATE"/*.cred "$T/fake.log" "$T/fake.out" "$T/fake.err"; do
  [ -f "$f" ] || continue
  grep -qF -f "$TOKENS" "$f" && leaks="$leaks $(basename "$f")"
done
[ -z "$leaks" ] && pass "no Vault token, id, JWT or wrapping token in any output, status, P.cred or the fake's log ($(wc -l <"$TOKENS") checked)" \
  || fail "a token appears in:$leaks"
leaks=
for f in "$OUTS"/* "$STATE"/*.status; do
  grep -qF -f "$VALUES" "$f" && leaks="$leaks $(basename "$f")"
done
[ -z "$leaks" ] && pass "no secret value in any refresher output, status or helper error" || fail "a secret value appears in:$leaks"
bad=
for f in "$STATE"/*.secret; do [ "$(stat -c %a "$f")" = 600 ] || bad="$bad $(basename "$f"):$(stat -c %a "$f")"; done
[ -z "$bad" ] && pass "every P.secret is 0600 ($(find "$STATE" -maxdepth 1 -name '*.secret' | wc -l) files)" || fail "P.secret modes:$bad"
grep -q "^token: " "$STATE/envtok.secret" && pass "the Vault token is kept in P.secret" || fail "no token in P.secret"

echo "took $(( $(date +%s) - STARTED )) s"
finish

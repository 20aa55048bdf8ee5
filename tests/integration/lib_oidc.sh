# shellcheck shell=bash
# The real OpenID provider for the oauth2 tests (sourced, not a test): oidc-provider, pinned in
# tests/fakes/oidc (setup.sh installs it into the build dir), served over HTTPS with a
# throwaway CA, with the clients and hooks tests/fakes/oidc/README.md describes.
# Needs $T and start-up helpers from lib.sh / lib_checks.sh.
#
#   start_oidc_provider [AT_TTL]  (exits 77 without node, curl or openssl) NM, OIDC_CA, ISSUER, OIDC_EVENTS; keys in $T/keys
#                                 (client-rs.pem, client-es.pem: machine-jwt's keys; k8s.pem:
#                                 the subject token issuer's; other.pem: nobody's). Exits 77
#                                 ("skipped: ...") when npm or the registry is unavailable.
#   oidc_hook PATH?QUERY          POST to a /test/ hook; fails the script on a non-200
#   oidc_stat FIELD...            fields of GET /test/stats (jget paths)
#   oidc_events                   the provider's events (JSON lines) on stdout
#   subject_token CLAIMS_JSON KEY [TTL]  a JWT signed as the Kubernetes issuer would sign it
#   approve_device CODE [--deny]  the user's step of the device flow, through the provider's
#                                 own pages
#   login_device P [approve args] `claude-key-refresher login --profile P` in the background
#                                 ($LOGIN_ARGS added, stdin from $LOGIN_STDIN), the code it
#                                 shows approved (or denied); sets RC, OUT, ERR (files kept
#                                 in $OUTS, numbered by $N)

OIDC_DIR="$CKH_TESTS_DIR/fakes/oidc"

start_oidc_provider() {
  local at_ttl=${1:-120} rc tool
  for tool in node curl openssl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool is not installed"; exit 77; }
  done
  export no_proxy='*' NO_PROXY='*'
  set +e
  NM=$(CKH_SOURCE_DIR="$CKH_SOURCE_DIR" bash "$OIDC_DIR/setup.sh" 2>"$T/oidc-setup.err")
  rc=$?
  set -e
  if [ "$rc" = 77 ]; then echo "$NM"; exit 77; fi
  if [ "$rc" != 0 ] || [ ! -d "$NM" ]; then
    echo "FAIL: tests/fakes/oidc/setup.sh exited $rc: $NM" >&2
    tail -5 "$T/oidc-setup.err" >&2
    exit 1
  fi
  bash "$CKH_TESTS_DIR/fakes/make_test_ca.sh" "$T/tls" >"$T/mkca.out" 2>&1 \
    || { echo "FAIL: make_test_ca.sh: $(cat "$T/mkca.out")" >&2; exit 1; }
  OIDC_CA="$T/tls/ca.pem"
  mkdir -p "$T/keys" "$T/jwks"
  (
    umask 077
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/keys/client-rs.pem" 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/keys/client-es.pem" 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/keys/k8s.pem" 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/keys/other.pem" 2>/dev/null
  )
  node "$OIDC_DIR/pem_to_jwks.js" --node-modules "$NM" --pem "$T/keys/client-rs.pem" --kid rs-1 >"$T/jwks/rs.json"
  node "$OIDC_DIR/pem_to_jwks.js" --node-modules "$NM" --pem "$T/keys/client-es.pem" --kid es-1 >"$T/jwks/es.json"
  node -e 'const fs=require("fs");const a=JSON.parse(fs.readFileSync(process.argv[1])),b=JSON.parse(fs.readFileSync(process.argv[2]));
    process.stdout.write(JSON.stringify({keys:[...a.keys,...b.keys]}))' "$T/jwks/rs.json" "$T/jwks/es.json" \
    >"$T/jwks/machine-jwt.jwks.json"
  node "$OIDC_DIR/pem_to_jwks.js" --node-modules "$NM" --pem "$T/keys/k8s.pem" --kid k8s-1 \
    >"$T/jwks/subject-issuer.jwks.json"
  OIDC_EVENTS="$T/oidc-events.jsonl"
  node "$OIDC_DIR/server.js" --node-modules "$NM" --port-file "$T/oidc.port" --events "$OIDC_EVENTS" \
    --tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key" --jwks-dir "$T/jwks" \
    --at-ttl "$at_ttl" >"$T/oidc.out" 2>"$T/oidc.err" &
  BG_PIDS+=($!)
  local _
  for _ in $(seq 1200); do [ -s "$T/oidc.port" ] && break; sleep 0.05; done
  [ -s "$T/oidc.port" ] || { echo "FAIL: oidc-provider did not start: $(tail -5 "$T/oidc.err")" >&2; exit 1; }
  ISSUER="https://127.0.0.1:$(cat "$T/oidc.port")"
}

oidc_hook() {
  local code
  code=$(curl -sS -o "$T/hook.resp" -w '%{http_code}' --max-time 10 --cacert "$OIDC_CA" -X POST \
    "$ISSUER/test/$1" 2>&1) || true
  [ "$code" = 200 ] || { echo "FAIL: hook $1: $code $(head -c 300 "$T/hook.resp")" >&2; exit 1; }
}
oidc_stat() { curl -sS --max-time 10 --cacert "$OIDC_CA" "$ISSUER/test/stats" | jget "$@"; }
oidc_events() { cat "$OIDC_EVENTS"; }

subject_token() { # CLAIMS KEY [TTL]
  node "$OIDC_DIR/sign_jwt.js" --node-modules "$NM" --key "$2" --kid k8s-1 --alg ES256 \
    --claims "$1" --ttl "${3:-600}"
}

approve_device() { # CODE [--deny]
  node "$OIDC_DIR/approve_device.js" --node-modules "$NM" --issuer "$ISSUER" --ca "$OIDC_CA" \
    --user-code "$1" "${@:2}"
}

# login_device P [approve args...]: runs `login` in the background, approves (or denies) the
# code it shows through the provider's pages; sets RC and ERR of the login.
login_device() {
  local p=$1 code _
  shift
  N=$((N + 1))
  local out="$OUTS/login.$N.out" err="$OUTS/login.$N.err"
  "$CKH_REFRESHER" login --profile "$p" --no-browser --timeout 5m ${LOGIN_ARGS:-} <"${LOGIN_STDIN:-/dev/null}" >"$out" 2>"$err" &
  local pid=$!
  for _ in $(seq 600); do grep -q 'enter the code: ' "$err" && break; sleep 0.1; done
  code=$(sed -n 's/.*enter the code: \([A-Z0-9-]*\)$/\1/p' "$err")
  if [ -z "$code" ]; then
    fail "login $p: no user code shown: $(cat "$err")"
    kill "$pid" 2>/dev/null || true
    set +e; wait "$pid"; RC=$?; set -e
    OUT=$(cat "$out"); ERR=$(cat "$err")
    return
  fi
  approve_device "$code" "$@" >"$OUTS/approve.$N.out" 2>&1 || fail "approve $p: $(cat "$OUTS/approve.$N.out")"
  set +e; wait "$pid"; RC=$?; set -e
  OUT=$(cat "$out"); ERR=$(cat "$err")
}

# shellcheck shell=bash
# shellcheck disable=SC2034  # variables for the tests that source this file
# Shared set-up for the anthropic-oauth integration tests that drive the refresher against
# the fake token server (tests/fakes/anthropic_token_server.js). Sourced after lib.sh (which
# gives $T, $STATE, BG_PIDS, pass/fail/expect_eq); not a test itself (files named lib*.sh are
# not run by ctest).
# Rules kept here for every caller: no token in any argv (tokens go to curl and node through
# stdin or files), nothing printed but fingerprints (first 12 hex of sha256).

command -v node >/dev/null 2>&1 || { echo "skipped: node is not installed"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skipped: curl is not installed"; exit 77; }
command -v sha256sum >/dev/null 2>&1 || { echo "skipped: sha256sum is not installed"; exit 77; }
command -v setsid >/dev/null 2>&1 || { echo "skipped: setsid (util-linux) is not installed"; exit 77; }

OAUTH_TESTS_DIR=${CKH_TESTS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FAKE_SERVER_JS="$OAUTH_TESTS_DIR/fakes/anthropic_token_server.js"
CLAUDE_CODE_SIM_JS="$OAUTH_TESTS_DIR/fakes/claude_code_sim.js"
OAUTH_CLIENT_ID=9d1c250a-e61b-44d9-88ed-5944d1962f5e
export no_proxy='*' NO_PROXY='*'
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy CLAUDE_CONFIG_DIR || true

# start_token_server: the fake token server on 127.0.0.1; sets FAKE_PID, PORT, BASE. Its log
# (JSON lines, fingerprints only) is $T/fake.log; its output $T/fake.out and $T/fake.err.
start_token_server() {
  start_fake fake "$FAKE_SERVER_JS"
  FAKE_PID=${BG_PIDS[-1]}
  PORT=$PORT_fake
  BASE="http://127.0.0.1:$PORT"
}

# fake_post PATH < JSON: prints the answer's body.
fake_post() { curl -sS --noproxy '*' --max-time 20 -X POST -H 'Content-Type: application/json' --data-binary @- "$BASE$1"; }
fake_get() { curl -sS --noproxy '*' --max-time 20 "$BASE$1"; }
control() { printf '%s' "$1" | fake_post /__control >/dev/null; }

# stats FIELD...: the fake's /__stats fields, space-separated.
stats() { fake_get /__stats | jget "$@" | paste -sd' '; }

# token_state TOKEN: current|spent|revoked|unknown for a refresh token (token through stdin).
token_state() {
  printf '%s' "$1" | curl -sS --noproxy '*' --max-time 20 -G --data-urlencode 'refresh_token@-' "$BASE/__token_status" | jget state
}
# secret_field FILE FIELD: one field of a P.secret file (empty when absent).
secret_field() { sed -n "s/^$2: //p" "$1" 2>/dev/null | head -n1; }

# write_oauth_config FILE [extra profile lines] [extra anthropic-oauth lines]: profile "max".
write_oauth_config() {
  cat >"$1" <<EOF
[profile.max]
backend = "anthropic-oauth"
${2:-}
[profile.max.anthropic-oauth]
token_url = "$BASE/v1/oauth/token"
authorize_url = "$BASE/oauth/authorize"
${3:-}
EOF
}

# write_store FILE < token-response JSON: a Claude Code .credentials.json holding that family
# (expiresAt in ms, scopes as an array, subscriptionType "max") plus unrelated keys that must
# survive every write. 0600.
STORE_UNRELATED='{"keep":["a",1,true,null],"nested":{"x":"y"}}'
write_store() {
  ( umask 077
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const g=JSON.parse(s);
      const doc={unrelatedTopLevel:JSON.parse(process.argv[1]),claudeAiOauth:{accessToken:g.access_token,
        refreshToken:g.refresh_token,expiresAt:Date.now()+g.expires_in*1000,scopes:g.scope.split(" "),
        subscriptionType:"max",rateLimitTier:"default_claude_max_20x",someFutureField:{"v":2}},
        mcpServersLater:"kept"};
      process.stdout.write(JSON.stringify(doc,null,2)+"\n")})' "$STORE_UNRELATED" >"$1.tmp" )
  mv "$1.tmp" "$1"
  chmod 600 "$1"
}
# store_refresh_token FILE: the claudeAiOauth.refreshToken of a store (for the test only).
store_refresh_token() { jget claudeAiOauth.refreshToken <"$1"; }

# check_no_token_leak FILE...: fails when a token-shaped string, or any token listed in
# $T/known-tokens, appears in one of the files. Prints file names and fingerprints only.
check_no_token_leak() {
  local f
  grep -v '^$' "$T/known-tokens" 2>/dev/null >"$T/known-tokens.patterns" || true
  for f in "$@"; do
    [ -f "$f" ] || continue
    if grep -qE 'sk-ant-o(at|rt)01-' "$f"; then
      fail "a token-shaped string appears in $(basename "$f")"
    fi
    if [ -s "$T/known-tokens.patterns" ] && grep -qF -f "$T/known-tokens.patterns" "$f"; then
      fail "a known token appears in $(basename "$f")"
    fi
  done
  return 0
}

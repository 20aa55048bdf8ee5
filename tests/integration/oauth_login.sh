#!/bin/bash
# The anthropic-oauth profile end to end against the fake token server
# (tests/fakes/anthropic_token_server.js, which follows ../shared/ANTHROPIC_OAUTH.md):
#   - `login` by pasting code#state (manual redirect) and through the loopback listener
#     (the browser's redirect to http://localhost:<port>/callback), PKCE checked by the fake;
#   - a wrong state is refused on both paths and nothing is exchanged;
#   - --inference-only asks for user:inference alone;
#   - `once --force` rotates (the new refresh token is in P.secret, the old one is spent);
#   - invalid_grant -> exit 77 and a status that says to log in; 429 -> backoff honouring
#     Retry-After, which holds back `once --force` too; the edge's 403 -> its text in status;
#   - import-claude-code + the claude-code sink: Claude Code's store follows each rotation,
#     other keys kept, 0600; logout --claude-code removes exactly the entry;
#   - no token, code or verifier appears in any output or in the refresher's argv.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v node >/dev/null 2>&1 || { echo "skipped: node is not installed"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skipped: curl is not installed"; exit 77; }
FAKE="$CKH_TESTS_DIR/fakes/anthropic_token_server.js"
export no_proxy='*' NO_PROXY='*'

start_fake fake "$FAKE"
PORT=$PORT_fake
BASE="http://127.0.0.1:$PORT"
export CLAUDE_CONFIG_DIR="$T/claude"
mkdir -p -m 700 "$CLAUDE_CONFIG_DIR"
write_config() { # extra profile lines
  cat >"$CLAUDE_KEY_HELPER_CONFIG" <<EOF
[profile.max]
backend = "anthropic-oauth"
backoff_min = "1s"
$1
[profile.max.anthropic-oauth]
token_url = "$BASE/v1/oauth/token"
authorize_url = "$BASE/oauth/authorize"
EOF
}
write_config ""
control() { curl -s -X POST -H 'Content-Type: application/json' --data-binary @- "$BASE/__control" >/dev/null; }
stat_of() { curl -s "$BASE/__stats" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }
secret_field() { sed -n "s/^$1: //p" "$STATE/max.secret"; }
token_state() { # refresh token -> current|spent|revoked|unknown (token via a curl config file, not argv)
  printf 'url = "%s/__token_status?refresh_token=%s"\n' "$BASE" "$1" >"$T/curl.cfg"
  curl -s -K "$T/curl.cfg" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).state))'
  rm -f "$T/curl.cfg"
}
SEEN="$T/seen-secrets"  # every token/code the test saw, checked against all outputs at the end
: >"$SEEN"
remember() { [ -n "$1" ] && printf '%s\n' "$1" >>"$SEEN"; }

# Runs `login` in the background with stdin from a FIFO the test writes to.
start_login() { # extra args...
  rm -f "$T/login.in" "$T/login.out" "$T/login.err"
  mkfifo "$T/login.in"
  sleep 60 >"$T/login.in" &  # keeps the FIFO open: EOF only when we say so
  HOLD_PID=$!
  BG_PIDS+=($HOLD_PID)
  "$CKH_REFRESHER" login --profile max ${BROWSER_FLAG---no-browser} "$@" <"$T/login.in" >"$T/login.out" 2>"$T/login.err" &
  LOGIN_PID=$!
  BG_PIDS+=($LOGIN_PID)
  for _ in $(seq 100); do grep -q "Waiting up to" "$T/login.err" 2>/dev/null && break; sleep 0.1; done
  MANUAL_URL=$(grep -o "$BASE/oauth/authorize?[^ ]*redirect_uri=https%3A[^ ]*" "$T/login.err" | head -n1)
  AUTO_URL=$(grep -o "$BASE/oauth/authorize?[^ ]*redirect_uri=http%3A%2F%2Flocalhost[^ ]*" "$T/login.err" | head -n1)
  # The refresher's own command line never carries a secret.
  tr '\0' ' ' </proc/$LOGIN_PID/cmdline >"$T/login.argv" 2>/dev/null || true
}
paste_line() { printf '%s\n' "$1" >"$T/login.in"; }
end_login() { # sets rc to login's exit code
  rc=0
  wait "$LOGIN_PID" || rc=$?
  kill "$HOLD_PID" 2>/dev/null || true
}

# --- 1. login by paste (manual redirect) -------------------------------------------------
start_login --timeout 20s
[ -n "$MANUAL_URL" ] && [ -n "$AUTO_URL" ] && pass "login printed the manual and the loopback URLs" \
  || fail "login did not print both URLs: $(head -c 600 "$T/login.err")"
case "$MANUAL_URL" in *code_challenge_method=S256*"state="*) pass "the authorize URL asks for S256 with a state" ;;
  *) fail "authorize URL lacks S256/state" ;; esac
pasted=$(curl -s "$MANUAL_URL")
remember "${pasted%%#*}"
paste_line "${pasted%%#*}#not-this-login-state"
sleep 0.5
grep -q "Refused: that code belongs to another login" "$T/login.err" \
  && pass "a pasted code with another state is refused" || fail "wrong pasted state not refused"
expect_eq "nothing was exchanged for the refused paste" 0 "$(stat_of codes_exchanged)"
paste_line "$pasted"
end_login
expect_eq "login by paste exits 0" 0 "$rc"
grep -q "logged in as user@example.com" "$T/login.out" && pass "login says who is logged in" \
  || fail "login output: $(cat "$T/login.out")"
expect_eq "one code exchanged" 1 "$(stat_of codes_exchanged)"
[ "$(stat -c %a "$STATE/max.secret")" = 600 ] && pass "P.secret is 0600" || fail "P.secret mode $(stat -c %a "$STATE/max.secret")"
access1=$(secret_field access_token); refresh1=$(secret_field refresh_token)
remember "$access1"; remember "$refresh1"
helper_out=$(CLAUDE_KEY_HELPER_STATE_DIR="$STATE" "$CKH_HELPER" --profile max </dev/null)
[ "$helper_out" = "$access1" ] && pass "the helper prints the logged-in access token" || fail "helper printed another value"
expect_eq "the login's refresh token is current at the server" current "$(token_state "$refresh1")"
if grep -qF -f "$SEEN" "$T/login.argv" 2>/dev/null; then fail "a secret is in login's argv"; else pass "login's argv holds no secret"; fi

# --- 2. login through the loopback listener ------------------------------------------------
start_login --timeout 20s
callback=$(curl -s -o /dev/null -w '%{redirect_url}' "$AUTO_URL")
callback=${callback/localhost/127.0.0.1}
wrong=$(printf '%s' "$callback" | sed -E 's/state=[^&]*/state=forged/')
# The callback URLs carry a code: to curl through a config file, never argv (as everywhere).
curl_url() { printf 'url = "%s"\n' "$1" >"$T/curl.cfg"; shift; curl -s -K "$T/curl.cfg" "$@"; rm -f "$T/curl.cfg"; }
code=$(curl_url "$wrong" -o /dev/null -w '%{http_code}')
expect_eq "a callback with a forged state is refused" 400 "$code"
page=$(curl_url "$callback")
case "$page" in *"Logged in"*) pass "the browser sees the success page" ;; *) fail "callback page: ${page:0:200}" ;; esac
end_login
expect_eq "login through the loopback exits 0" 0 "$rc"
expect_eq "two codes exchanged in all" 2 "$(stat_of codes_exchanged)"
access2=$(secret_field access_token); refresh2=$(secret_field refresh_token)
remember "$access2"; remember "$refresh2"
[ "$access2" != "$access1" ] && pass "the second login replaced the tokens" || fail "tokens unchanged after login"

# --- 3. a wrong state only, then the timeout: nothing exchanged ---------------------------
start_login --timeout 3s --inference-only
case "$MANUAL_URL" in *"scope=user%3Ainference&"*) pass "--inference-only asks for user:inference alone" ;;
  *) fail "--inference-only scope: $MANUAL_URL" ;; esac
paste_line "abc#forged"
end_login
[ "$rc" != 0 ] && pass "login with only a forged code fails ($rc)" || fail "login with a forged code succeeded"
expect_eq "still two codes exchanged" 2 "$(stat_of codes_exchanged)"
expect_eq "a failed login keeps the saved tokens" "$refresh2" "$(secret_field refresh_token)"

# --- 4. refresh rotates --------------------------------------------------------------------
"$CKH_REFRESHER" once --force --quiet --profile max
refresh3=$(secret_field refresh_token); remember "$refresh3"; remember "$(secret_field access_token)"
[ "$refresh3" != "$refresh2" ] && pass "once --force rotated the refresh token" || fail "no rotation"
expect_eq "the old refresh token is spent" spent "$(token_state "$refresh2")"
expect_eq "the new refresh token is current" current "$(token_state "$refresh3")"

# --- 5. 429 honours Retry-After; the edge's 403 is reported -------------------------------
echo '{"rate_limit_next": 1, "retry_after": 90}' | control
rc=0; "$CKH_REFRESHER" once --force --quiet --profile max || rc=$?
expect_eq "a 429 leaves the still-valid token published (exit 75)" 75 "$rc"
backoff=$(sed -n 's/^backoff_until: //p' "$STATE/max.status")
now=$(date +%s)
[ $((backoff - now)) -ge 85 ] && pass "backoff honours Retry-After (>= 90 s)" || fail "backoff ends in $((backoff - now)) s"
expect_eq "the 429 did not spend the refresh token" current "$(token_state "$refresh3")"
# A forced refresh waits for it too (issue 10, item 14): four more `once --force` reach no
# server, and each says why.
requests=$(stat_of token_requests)
for _ in 1 2 3 4; do
  rc=0; "$CKH_REFRESHER" once --force --profile max 2>"$T/once.err" || rc=$?
  [ "$rc" = 75 ] || fail "once --force during the Retry-After: exit $rc"
done
expect_eq "once --force during the Retry-After reaches no server" "$requests" "$(stat_of token_requests)"
grep -q "the server asked to wait until .* (Retry-After); not retried" "$T/once.err" \
  && pass "and says so" || fail "once --force during the Retry-After: $(cat "$T/once.err")"
# The 90 s are over: moved back in P.status rather than waited for.
sed -i 's/^retry_after_until: .*/retry_after_until: none/' "$STATE/max.status"
echo '{"required_user_agent": "^claude-cli/"}' | control
rc=0; "$CKH_REFRESHER" once --force --quiet --profile max || rc=$?
expect_eq "the edge's 403 -> exit 75" 75 "$rc"
"$CKH_REFRESHER" status --profile max >"$T/status.out" 2>&1 || true
grep -q "403" "$T/status.out" && grep -q "user_agent" "$T/status.out" \
  && pass "status reports the 403 and points at user_agent" || fail "status after 403: $(cat "$T/status.out")"
echo '{"required_user_agent": null}' | control

# --- 6. invalid_grant: exit 77, status says to log in --------------------------------------
echo '{"fail_next": [{"status": 400, "body": "{\"error\":\"invalid_grant\",\"error_description\":\"Refresh token not found or invalid\"}"}]}' | control
rc=0; "$CKH_REFRESHER" once --force --quiet --profile max 2>"$T/once.err" || rc=$?
[ "$rc" = 75 ] || [ "$rc" = 77 ] && pass "invalid_grant fails the refresh ($rc)" || fail "invalid_grant exit $rc"
"$CKH_REFRESHER" status --profile max >"$T/status.out" 2>&1 || true
grep -q "claude-key-refresher login --profile max" "$T/status.out" \
  && pass "status says to run claude-key-refresher login" || fail "status after invalid_grant: $(cat "$T/status.out")"

# --- 7. import-claude-code and the sink ----------------------------------------------------
seed=$(curl -s -X POST -H 'Content-Type: application/json' -d '{}' "$BASE/__seed")
node -e '
  const s = JSON.parse(process.argv[1]);
  const store = {otherTool: {keep: [1, "two", null]}, claudeAiOauth: {
    accessToken: s.access_token, refreshToken: s.refresh_token,
    expiresAt: Date.now() + s.expires_in * 1000, scopes: s.scope.split(" "),
    subscriptionType: "max", rateLimitTier: "default_claude_max_20x"}};
  require("fs").writeFileSync(process.argv[2], JSON.stringify(store), {mode: 0o644});
' "$seed" "$CLAUDE_CONFIG_DIR/.credentials.json"
seed_refresh=$(node -e 'console.log(JSON.parse(process.argv[1]).refresh_token)' "$seed")
remember "$seed_refresh"; remember "$(node -e 'console.log(JSON.parse(process.argv[1]).access_token)' "$seed")"
"$CKH_REFRESHER" import-claude-code --profile max >"$T/import.out" 2>&1 \
  && pass "import-claude-code adopts Claude Code's login" || fail "import: $(cat "$T/import.out")"
expect_eq "P.secret holds the imported family" "$(fp "$seed_refresh")" "$(fp "$(secret_field refresh_token)")"
expect_eq "the profile now owns Claude Code's store" yes "$(secret_field owns_claude_code_store)"
"$CKH_REFRESHER" once --force --quiet --profile max
new_refresh=$(secret_field refresh_token); remember "$new_refresh"; remember "$(secret_field access_token)"
store_refresh=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).claudeAiOauth.refreshToken)' "$CLAUDE_CONFIG_DIR/.credentials.json")
expect_eq "the store follows the rotation" "$(fp "$new_refresh")" "$(fp "$store_refresh")"
expect_eq "the imported token is spent" spent "$(token_state "$seed_refresh")"
node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const o = j.claudeAiOauth;
  const ok = JSON.stringify(j.otherTool) === JSON.stringify({keep: [1, "two", null]}) &&
    Array.isArray(o.scopes) && typeof o.expiresAt === "number" && o.expiresAt > Date.now() &&
    o.subscriptionType === "max" && o.rateLimitTier === "default_claude_max_20x";
  process.exit(ok ? 0 : 1);' "$CLAUDE_CONFIG_DIR/.credentials.json" \
  && pass "other keys, scopes array, expiresAt ms, subscriptionType and rateLimitTier kept" \
  || fail "the store lost a key or a field after the sink wrote it"
expect_eq "the store is 0600 after our write" 600 "$(stat -c %a "$CLAUDE_CONFIG_DIR/.credentials.json")"
[ ! -e "$T/claude.lock" ] && pass "Claude Code's lock dir is released" || fail "lock dir left behind"

# --- 8. logout --claude-code ---------------------------------------------------------------
"$CKH_REFRESHER" logout --profile max --claude-code >"$T/logout.out" 2>&1 && pass "logout exits 0" || fail "logout: $(cat "$T/logout.out")"
[ ! -e "$STATE/max.secret" ] && [ ! -e "$STATE/max.cred" ] && pass "logout removed P.secret and P.cred" || fail "logout left files"
node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1]));
  process.exit(!("claudeAiOauth" in j) && j.otherTool ? 0 : 1);' "$CLAUDE_CONFIG_DIR/.credentials.json" \
  && pass "logout --claude-code removed only claudeAiOauth" || fail "the store after logout is wrong"
rc=0; "$CKH_HELPER" --profile max </dev/null >"$T/helper.out" 2>"$T/helper.err" || rc=$?
[ "$rc" != 0 ] && grep -q "login --profile max" "$T/helper.err" \
  && pass "after logout the helper says to log in ($rc)" || fail "helper after logout: rc $rc $(cat "$T/helper.err")"

# --- 9. a fresh login with the sink replaces an older family in the store ------------------
# The store's family expires later than the login's (a day against 8 h): the login still wins,
# because it is the newer one; that family is left alone (not spent), Claude Code's to drop.
write_config 'sinks = ["claude-code"]'
seed=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"expires_in":86400}' "$BASE/__seed")
node -e '
  const s = JSON.parse(process.argv[1]);
  const store = {claudeAiOauth: {accessToken: s.access_token, refreshToken: s.refresh_token,
    expiresAt: Date.now() + s.expires_in * 1000, scopes: s.scope.split(" ")}};
  require("fs").writeFileSync(process.argv[2], JSON.stringify(store), {mode: 0o600});
' "$seed" "$CLAUDE_CONFIG_DIR/.credentials.json"
old_refresh=$(node -e 'console.log(JSON.parse(process.argv[1]).refresh_token)' "$seed")
remember "$old_refresh"; remember "$(node -e 'console.log(JSON.parse(process.argv[1]).access_token)' "$seed")"
start_login --timeout 20s
pasted=$(curl -s "$MANUAL_URL"); remember "${pasted%%#*}"
paste_line "$pasted"
end_login
expect_eq "login with the sink on exits 0" 0 "$rc"
login_refresh=$(secret_field refresh_token); remember "$login_refresh"; remember "$(secret_field access_token)"
[ "$(fp "$login_refresh")" != "$(fp "$old_refresh")" ] && pass "P.secret keeps the new login, not the store's family" \
  || fail "the login was replaced by the older family in Claude Code's store"
store_refresh=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).claudeAiOauth.refreshToken)' "$CLAUDE_CONFIG_DIR/.credentials.json")
expect_eq "the store now holds the login's family" "$(fp "$login_refresh")" "$(fp "$store_refresh")"
expect_eq "the older family was not used" current "$(token_state "$old_refresh")"

# --- 10. the browser: opened only with a display, and only without --no-browser ------------
mkdir -p "$T/bin"
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >>"%s"\n' "$T/xdg-open.args" >"$T/bin/xdg-open"
chmod 755 "$T/bin/xdg-open"
: >"$T/xdg-open.args"
export DISPLAY=:99 PATH="$T/bin:$PATH"
BROWSER_FLAG="" start_login --timeout 20s
for _ in $(seq 50); do [ -s "$T/xdg-open.args" ] && break; sleep 0.1; done
expect_eq "with a display, login runs xdg-open once with one argument" 1 "$(wc -l <"$T/xdg-open.args")"
expect_eq "xdg-open gets the authorize URL that redirects to the loopback listener" "$AUTO_URL" "$(cat "$T/xdg-open.args")"
paste_line "$(curl -s "$MANUAL_URL")"
end_login
expect_eq "login with the browser opened, completed by paste: exit 0" 0 "$rc"
remember "$(secret_field refresh_token)"; remember "$(secret_field access_token)"
if grep -qF -f "$SEEN" "$T/xdg-open.args"; then fail "a code or token reached xdg-open"; else pass "xdg-open's argument holds no code or token"; fi
: >"$T/xdg-open.args"
start_login --timeout 20s
paste_line "$(curl -s "$MANUAL_URL")"
end_login
expect_eq "--no-browser with a display: exit 0 and xdg-open never ran" "0 0" "$rc $(wc -l <"$T/xdg-open.args")"
remember "$(secret_field refresh_token)"; remember "$(secret_field access_token)"
unset DISPLAY

# --- no secret anywhere in what the tools printed or logged --------------------------------
leaks=0
for f in "$T"/login.out "$T"/login.err "$T"/status.out "$T"/once.err "$T"/import.out "$T"/logout.out \
         "$T"/helper.err "$T"/fake.log "$T"/fake.out "$T"/fake.err "$STATE"/max.status; do
  [ -f "$f" ] || continue
  if grep -qF -f "$SEEN" "$f"; then fail "a token or code appears in $(basename "$f")"; leaks=$((leaks + 1)); fi
done
[ "$leaks" = 0 ] && pass "no token or code in any output, status or log ($(wc -l <"$SEEN") secrets checked)"
finish

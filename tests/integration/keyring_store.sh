#!/bin/bash
# secret_store = "keyring" against a real Secret Service: gnome-keyring-daemon on a private
# session bus (dbus-run-session), its login keyring made and unlocked from a test password on
# stdin, with the strict fake token server (tests/fakes/anthropic_token_server.js: it rotates
# the refresh token on every refresh and revokes the family when a spent one comes back).
# Proves (refresher/secret_store.h, refresher/keyring/keyring.h):
#   - import-claude-code writes the family to the keyring, not to P.secret; the item carries
#     the documented attributes and label (`secret-tool search` finds it); status says where;
#   - round trip: a forced refresh rotates the token in the item;
#   - the rotation race: 16 concurrent `once --force` with the keyring store: no revocation,
#     no reuse, the item ends on the current token;
#   - the keyring locked while a refresh is in flight: the rotated token is not lost (P.secret,
#     0600), the new credential is published, status says "the keyring is locked: unlock it,
#     or set secret_store = "file""; unlocked, the next refresh moves it back and wipes P.secret;
#   - the keyring daemon killed while a refresh is in flight: the same, then back;
#   - locked with the state only in the keyring: the refresh fails transiently saying so, the
#     last good credential stays published;
#   - migration both ways on the next (unforced) refresh, the old copy removed; logout deletes
#     the item;
#   - no refresh token in any file under the state dir or the config dir, nor in the daemon's
#     /proc/PID/environ or cmdline, nor in any output.
# Skips (77) when gnome-keyring, dbus-run-session, secret-tool or python3-dbus are missing.
set -euo pipefail
for tool in gnome-keyring-daemon dbus-run-session dbus-update-activation-environment secret-tool dbus-send; do
  command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool is not installed (tests/deps.sh installs it)"; exit 77; }
done
/usr/bin/python3 -c 'import dbus' 2>/dev/null || { echo "skipped: python3-dbus is not installed"; exit 77; }
# A private session bus for this test alone: the keyring and every refresher talk over it.
if [ -z "${CKH_KEYRING_BUS:-}" ]; then
  exec dbus-run-session -- env CKH_KEYRING_BUS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_oauth.sh"
unset XDG_RUNTIME_DIR  # gnome-keyring keeps its control socket under $HOME/.cache then
# A keyring the bus starts on demand (a refresher asking after the daemon was killed) must
# live in the test's HOME too, never in the real one.
dbus-update-activation-environment HOME="$HOME" XDG_DATA_HOME="$HOME/.local/share" \
  XDG_CACHE_HOME="$HOME/.cache" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" 2>>"$T/gkd.err" ||
  { fail "dbus-update-activation-environment failed: $(tail -c 300 "$T/gkd.err")"; finish; }

KEYRING_PASSWORD="ckh-test-$RANDOM$RANDOM"
keyring_pid() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null |
    awk '/uint32/ {print $2}'
}
# start_keyring: (re)starts the daemon, the login keyring unlocked with the test password.
start_keyring() {
  local out
  out=$(printf '%s' "$KEYRING_PASSWORD" | gnome-keyring-daemon --replace --unlock --components=secrets 2>>"$T/gkd.err") ||
    { fail "gnome-keyring-daemon did not start: $(tail -c 400 "$T/gkd.err")"; finish; }
  eval "$out"
  for _ in $(seq 100); do [ -n "$(keyring_pid)" ] && return 0; sleep 0.1; done
  fail "no Secret Service on the bus after starting gnome-keyring-daemon"
  finish
}
lock_keyring() {
  /usr/bin/python3 - <<'PY'
import dbus
bus = dbus.SessionBus()
service = dbus.Interface(bus.get_object("org.freedesktop.secrets", "/org/freedesktop/secrets"),
                         "org.freedesktop.Secret.Service")
service.Lock([service.ReadAlias("default")])
PY
}
kill_keyring() {
  local pid
  pid=$(keyring_pid)
  [ -n "$pid" ] && kill -KILL "$pid"
  for _ in $(seq 100); do [ -z "$(keyring_pid)" ] && return 0; sleep 0.1; done
}
# item_state: the item's content as the refresher wrote it, into $T/item (0600; never printed).
item_state() {
  (umask 077 && secret-tool lookup application claude-key-helper profile max state_dir "$STATE" >"$T/item" 2>/dev/null) || : >"$T/item"
}
item_refresh_token() { item_state; sed -n 's/^refresh_token: //p' "$T/item" | head -n1; }
generation() { sed -n 's/^generation: //p' "$STATE/max.cred" 2>/dev/null; }
# remember TOKEN: a refresh token seen, for the leak checks at the end.
remember() { [ -n "$1" ] && printf '%s\n' "$1" | tee -a "$T/refresh-tokens" >>"$T/known-tokens"; return 0; }
refresher() { "$CKH_REFRESHER" "$@"; }
# wait_for_token_requests N: until the fake has seen N token requests (bounded).
wait_for_token_requests() {
  for _ in $(seq 300); do [ "$(stats token_requests)" -ge "$1" ] && return 0; sleep 0.1; done
  fail "the refresh's token request never reached the fake"
}

: >"$T/known-tokens"
: >"$T/refresh-tokens"
chmod 600 "$T/known-tokens" "$T/refresh-tokens"
start_keyring
pass "gnome-keyring-daemon (pid $(keyring_pid)) serves a private session bus, login keyring unlocked"
start_token_server
control '{"expires_in": 3600}'
export CLAUDE_CONFIG_DIR="$T/claude"
mkdir -p -m 700 "$CLAUDE_CONFIG_DIR"
printf '{}' | fake_post /__seed >"$T/seed.json"
jget access_token refresh_token <"$T/seed.json" >>"$T/known-tokens"
write_store "$CLAUDE_CONFIG_DIR/.credentials.json" <"$T/seed.json"
rm -f "$T/seed.json"
CONFIG_LINES='secret_store = "keyring"
refresh_before_expiry = "10m"
force_min_interval = "1s"
backoff_min = "1s"
backoff_max = "2s"'
write_oauth_config "$CLAUDE_KEY_HELPER_CONFIG" "$CONFIG_LINES"

# ---- import writes to the keyring -------------------------------------------------------------
rc=0
refresher import-claude-code --profile max >"$T/import.out" 2>&1 || rc=$?
expect_eq "import-claude-code with secret_store = keyring" 0 "$rc"
[ "$rc" = 0 ] || { cat "$T/import.out" >&2; finish; }
grep -q "the tokens are in the keyring" "$T/import.out" && pass "import says the tokens are in the keyring" || fail "import: $(cat "$T/import.out")"
[ ! -e "$STATE/max.secret" ] && pass "no P.secret: the family is in the keyring" || fail "P.secret exists after an import into the keyring"
[ -f "$STATE/max.keyring" ] && pass "P.keyring marks the item" || fail "no P.keyring marker"
rt=$(item_refresh_token); remember "$rt"
expect_eq "the item holds the family's current refresh token" current "$(token_state "$rt")"
secret-tool search --all application claude-key-helper >"$T/search.txt" 2>&1 || true
grep -q "^label = claude-key-helper: long-lived secrets of profile 'max'" "$T/search.txt" && pass "the item's label names the profile" || fail "label: $(grep label "$T/search.txt")"
grep -q "^attribute.state_dir = $STATE\$" "$T/search.txt" && grep -q '^attribute.profile = max$' "$T/search.txt" &&
  pass "the item's attributes: application, profile, state_dir" || fail "attributes: $(grep attribute "$T/search.txt")"
sed -n '/^\(label\|attribute\)/p' "$T/search.txt" >"$T/search.shown"  # what the closing note quotes
refresher status --profile max >"$T/status.txt" 2>&1 || true
grep -q 'secret: *in the keyring' "$T/status.txt" && pass "status: the secret is in the keyring" || fail "status: $(cat "$T/status.txt")"

# ---- round trip: a forced refresh rotates the token in the item -------------------------------
gen=$(generation)
refresher once --force --quiet --profile max >"$T/once1.out" 2>&1 || fail "once --force: $(cat "$T/once1.out")"
rt2=$(item_refresh_token); remember "$rt2"
[ "$rt2" != "$rt" ] && pass "the forced refresh rotated the token in the item" || fail "the item's token did not change"
expect_eq "the item's token is current" current "$(token_state "$rt2")"
expect_eq "the refresh published the next generation" "$((gen + 1))" "$(generation)"
[ ! -e "$STATE/max.secret" ] && pass "still no P.secret" || fail "a P.secret appeared"

# ---- the rotation race: 16 concurrent once --force ----------------------------------------------
start_ms=$(date +%s%3N)
racers=()
for i in $(seq 16); do
  ( for _ in 1 2 3; do
      r=0; refresher once --force --quiet --profile max >>"$T/race-$i.out" 2>&1 || r=$?
      echo "$r" >>"$T/race-$i.rc"
    done ) &
  racers+=($!)
done
wait "${racers[@]}"
race_ms=$(( $(date +%s%3N) - start_ms ))
bad=$(cat "$T"/race-*.rc | grep -cvE '^(0|69|75)$' || true)
expect_eq "16 x 3 concurrent once --force: every run succeeded or failed transiently (0/69/75)" 0 "$bad"
read -r revoked reuse invalid < <(stats families_revoked reuse_events invalid_grant)
expect_eq "rotation race: no family revoked, no reuse, no invalid_grant" "0 0 0" "$revoked $reuse $invalid"
rt3=$(item_refresh_token); remember "$rt3"
expect_eq "after the race the item holds the current token" current "$(token_state "$rt3")"
echo "rotation race: 48 runs in $race_ms ms, $(cat "$T"/race-*.rc | grep -c '^0$') refreshed"

# ---- the keyring locked while a refresh is in flight -------------------------------------------
control '{"delay_ms": 4000}'
gen=$(generation)
before=$(stats token_requests)
refresher once --force --quiet --profile max >"$T/locked-once.out" 2>&1 &
once_pid=$!
wait_for_token_requests $((before + 1))
lock_keyring
rc=0; wait "$once_pid" || rc=$?
control '{"delay_ms": 0}'
expect_eq "a refresh whose keyring locked meanwhile still succeeds" 0 "$rc"
[ -f "$STATE/max.secret" ] && pass "the rotated token went to P.secret" || fail "no P.secret after the locked save"
expect_eq "P.secret is 0600" 600 "$(stat -c %a "$STATE/max.secret" 2>/dev/null)"
rt4=$(secret_field "$STATE/max.secret" refresh_token); remember "$rt4"
expect_eq "P.secret holds the current token: nothing lost" current "$(token_state "$rt4")"
expect_eq "the new credential is published" "$((gen + 1))" "$(generation)"
refresher status --profile max >"$T/status-locked.txt" 2>&1 || true
grep -qF 'warning:       the keyring is locked: unlock it, or set secret_store = "file"' "$T/status-locked.txt" &&
  pass "status: the keyring is locked, what to do" || fail "status: $(cat "$T/status-locked.txt")"
grep -q "secret: *in $STATE/max.secret" "$T/status-locked.txt" && pass "status: the secret is in P.secret for now" || fail "status: $(cat "$T/status-locked.txt")"
# Still locked: refreshes go on from P.secret.
refresher once --force --quiet --profile max >"$T/locked-2.out" 2>&1 || fail "once --force while locked: $(cat "$T/locked-2.out")"
rt5=$(secret_field "$STATE/max.secret" refresh_token); remember "$rt5"
expect_eq "while locked, P.secret follows the rotation" current "$(token_state "$rt5")"
# Unlocked: the next refresh moves it back, P.secret wiped.
start_keyring
refresher once --force --quiet --profile max >"$T/unlocked.out" 2>&1 || fail "once after unlocking: $(cat "$T/unlocked.out")"
[ ! -e "$STATE/max.secret" ] && pass "unlocked: P.secret is gone" || fail "P.secret still there after unlocking"
rt5b=$(item_refresh_token); remember "$rt5b"
expect_eq "unlocked: the item holds the current token" current "$(token_state "$rt5b")"
refresher status --profile max >"$T/status-unlocked.txt" 2>&1 || true
grep -q 'the keyring is locked' "$T/status-unlocked.txt" && fail "status still warns after the move" || pass "status: the warning is gone"

# ---- the keyring daemon killed while a refresh is in flight -------------------------------------
control '{"delay_ms": 4000}'
before=$(stats token_requests)
refresher once --force --quiet --profile max >"$T/killed-once.out" 2>&1 &
once_pid=$!
wait_for_token_requests $((before + 1))
kill_keyring
rc=0; wait "$once_pid" || rc=$?
control '{"delay_ms": 0}'
expect_eq "a refresh whose keyring daemon died meanwhile still succeeds" 0 "$rc"
rt6=$(secret_field "$STATE/max.secret" refresh_token); remember "$rt6"
expect_eq "the rotated token is in P.secret, current" current "$(token_state "$rt6")"
grep -q 'warning: .*keyring' <(refresher status --profile max 2>&1) && pass "status names the keyring problem" || fail "status has no keyring warning"
start_keyring
refresher once --force --quiet --profile max >"$T/restarted.out" 2>&1 || fail "once after restarting the keyring: $(cat "$T/restarted.out")"
[ ! -e "$STATE/max.secret" ] && pass "the restarted keyring took the state back" || fail "P.secret still there"

# ---- locked with the state only in the keyring --------------------------------------------------
gen=$(generation)
cred_before=$(sha256sum "$STATE/max.cred" | cut -c1-64)
lock_keyring
rc=0
refresher once --force --profile max >"$T/locked-read.out" 2>&1 || rc=$?
[ "$rc" != 0 ] && pass "a refresh that cannot read the locked keyring fails (exit $rc)" || fail "it succeeded"
grep -qF 'the keyring is locked: unlock it, or set secret_store = "file"' "$T/locked-read.out" &&
  pass "its message says the keyring is locked and what to do" || fail "message: $(cat "$T/locked-read.out")"
expect_eq "the last good credential stays published" "$cred_before" "$(sha256sum "$STATE/max.cred" | cut -c1-64)"
grep -q 'the keyring is locked' <(refresher status --profile max 2>&1) && pass "status says so" || fail "status does not say it"
start_keyring

# ---- migration both ways: a changed secret_store makes the profile due, nothing rotates ----------
rt_moving=$(item_refresh_token); remember "$rt_moving"
write_oauth_config "$CLAUDE_KEY_HELPER_CONFIG" "${CONFIG_LINES/keyring/file}"
refresher once --quiet --profile max >"$T/to-file.out" 2>&1 || fail "once after secret_store = file: $(cat "$T/to-file.out")"
[ -f "$STATE/max.secret" ] && pass "secret_store = file: P.secret holds the state" || fail "no P.secret after moving to file"
[ ! -e "$STATE/max.keyring" ] && pass "the marker is gone" || fail "P.keyring still there"
expect_eq "the keyring item is deleted" "" "$(item_refresh_token)"
rt7=$(secret_field "$STATE/max.secret" refresh_token); remember "$rt7"
expect_eq "P.secret holds the same current token (moved, nothing rotated)" "current $(fp "$rt_moving")" "$(token_state "$rt7") $(fp "$rt7")"
write_oauth_config "$CLAUDE_KEY_HELPER_CONFIG" "$CONFIG_LINES"
refresher once --quiet --profile max >"$T/to-keyring.out" 2>&1 || fail "once after secret_store = keyring: $(cat "$T/to-keyring.out")"
[ ! -e "$STATE/max.secret" ] && pass "secret_store = keyring: P.secret is wiped and gone" || fail "P.secret still there"
expect_eq "the item holds the same current token (moved, nothing rotated)" "current $(fp "$rt7")" "$(r=$(item_refresh_token); echo "$(token_state "$r") $(fp "$r")")"

# ---- a daemon: its environment and command line hold no token -----------------------------------
refresher run --pid-file "$T/daemon.pid" >"$T/daemon.log" 2>&1 &
daemon=$!
BG_PIDS+=("$daemon")
for _ in $(seq 200); do [ -S "$STATE/max.sock" ] && break; sleep 0.05; done
refresher signal --profile max >"$T/signal.out" 2>&1 || fail "signal: $(cat "$T/signal.out")"
rt8=$(item_refresh_token); remember "$rt8"
tr '\0' '\n' <"/proc/$daemon/environ" >"$T/daemon.environ"
tr '\0' ' ' <"/proc/$daemon/cmdline" >"$T/daemon.cmdline"
kill -TERM "$daemon"; wait "$daemon" || true

# Before logout (which removes P.cred): P.cred holds the access token, never a refresh token;
# no other file there or in the config holds any token.
[ -s "$T/refresh-tokens" ] && grep -qF -f "$T/refresh-tokens" "$STATE/max.cred" && fail "a refresh token in P.cred"
mapfile -t state_files < <(find "$STATE" "$XDG_CONFIG_HOME" "$CLAUDE_KEY_HELPER_CONFIG" -type f ! -name max.cred 2>/dev/null)
check_no_token_leak "${state_files[@]}"

# ---- logout deletes the item ---------------------------------------------------------------------
refresher logout --profile max >"$T/logout.out" 2>&1 || fail "logout: $(cat "$T/logout.out")"
grep -q 'the saved tokens in the keyring item' "$T/logout.out" && pass "logout names the keyring item it deleted" || fail "logout: $(cat "$T/logout.out")"
expect_eq "after logout no item is left" "" "$(item_refresh_token)"
[ ! -e "$STATE/max.keyring" ] && [ ! -e "$STATE/max.secret" ] && pass "after logout no marker and no P.secret" || fail "state left after logout"

# ---- no refresh token anywhere it does not belong ------------------------------------------------
rm -f "$T/item"
mapfile -t state_files < <(find "$STATE" "$XDG_CONFIG_HOME" "$CLAUDE_KEY_HELPER_CONFIG" -type f 2>/dev/null)
leaks_before=$FAILURES
check_no_token_leak "${state_files[@]}" "$T"/*.out "$T/daemon.log" "$T/daemon.environ" "$T/daemon.cmdline" "$T/status"*.txt "$T/fake.log"
[ "$FAILURES" = "$leaks_before" ] && pass "no refresh token in the state dir, the config, the daemon's environ/cmdline or any output ($(wc -l <"$T/known-tokens") tokens checked)"
echo "what secret-tool search shows for the item:"; sed 's/^/    /' "$T/search.shown"
finish

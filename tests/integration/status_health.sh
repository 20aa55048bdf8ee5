#!/usr/bin/env bash
# `status` for monitoring (issue 11, items 6, 11, 13): its exit code is the worst profile's
# health (0 ok, 75 stale, 69 unavailable, 77 refused, 78 config) and `status --json` says
# the same per profile; the JSON stays valid (and valid UTF-8) when a backend's stderr holds
# bytes that are not UTF-8; every time shown is RFC 3339 UTC, never raw unix seconds.
source "$(dirname "$0")/lib.sh"
R="$CKH_REFRESHER"

make_command_backend
write_command_config 1h
# A backend whose stderr is not UTF-8 (\xff\xfe, a lone continuation byte, a cut sequence).
cat > "$T/backend/binary-stderr.sh" <<'SCRIPT'
#!/bin/sh
printf 'upstream \377\376 said \200 no \342\202\n' >&2
exit 3
SCRIPT
chmod +x "$T/backend/binary-stderr.sh"

# status_rc ARGS...: runs status, sets OUT and RC.
status_rc() {
  set +e
  OUT=$("$R" status "$@" 2>"$T/status.err")
  RC=$?
  set -e
}
json_field() { # expression over the parsed JSON (p = first profile, j = whole document)
  printf '%s' "$OUT" | python3 -c "import json,sys; j=json.load(sys.stdin); p=j['profiles'][0]; print($1)"
}
no_unix_seconds() { # what text: no 9-11 digit number (a unix time) in it
  if printf '%s' "$2" | grep -Eq '(^|[^0-9])[0-9]{9,11}([^0-9]|$)'; then
    fail "$1 shows raw unix seconds: $2"
  else
    pass "$1 shows no raw unix seconds"
  fi
}

# --- nothing fetched yet: unavailable (69)
status_rc
expect_eq "no credential yet: status exits 69" 69 "$RC"
status_rc --json
expect_eq "no credential yet: --json exits 69" 69 "$RC"
expect_eq "no credential yet: health unavailable" "unavailable 69 unavailable 69" \
  "$(json_field "p['health'], p['exit_code'], j['health'], j['exit_code']")"

# --- fetched: ok (0)
"$R" once --quiet
status_rc
expect_eq "valid credential: status exits 0" 0 "$RC"
case "$OUT" in *"health:        ok"*) pass "text says health ok" ;; *) fail "status text: $OUT" ;; esac
if printf '%s' "$OUT" | grep -Eq 'fetched: +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z \('; then
  pass "status shows RFC 3339 UTC times with a relative form"
else
  fail "status times: $OUT"
fi
no_unix_seconds "status text" "$OUT"
status_rc --json
expect_eq "valid credential: --json health ok, exit 0" "ok 0 0" "$(json_field "p['health'], p['exit_code'], j['exit_code']")"
json_field "p['credential']['fetched_at_utc']" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
  && pass "--json carries fetched_at_utc in RFC 3339" || fail "fetched_at_utc: $OUT"

# --- the backend fails with non-UTF-8 stderr while the credential is valid: stale (75)
sed -i "s|fetch.sh|binary-stderr.sh|" "$CLAUDE_KEY_HELPER_CONFIG"
set +e
"$R" once --force 2>/dev/null
set -e
status_rc --json
expect_eq "served stale: status --json exits 75" 75 "$RC"
printf '%s' "$OUT" | PYTHONIOENCODING=utf-8:strict python3 -m json.tool >/dev/null 2>"$T/jsontool.err" \
  && pass "status --json with non-UTF-8 backend stderr parses (python3 -m json.tool)" \
  || fail "status --json is not valid JSON: $(cat "$T/jsontool.err")"
printf '%s' "$OUT" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 \
  && pass "status --json is valid UTF-8" || fail "status --json is not valid UTF-8"
expect_eq "the invalid bytes became U+FFFD" "True stale" \
  "$(json_field "'\ufffd' in p['last_error'], p['health']")"
status_rc
expect_eq "served stale: status exits 75" 75 "$RC"
case "$OUT" in *"health:        stale (exit 75)"*) pass "text says stale" ;; *) fail "status text: $OUT" ;; esac

# backing off: the message shows the time as RFC 3339, not unix seconds
set +e
err=$("$R" once 2>&1 >/dev/null)
set -e
case "$err" in *backing\ off*) no_unix_seconds "once's backoff message" "$err" ;; *) pass "once retried at once (no backoff message)" ;; esac

# --- no valid credential and a transient failure: unavailable (69)
rm -f "$STATE/default.cred"
status_rc --json
expect_eq "transient failure, nothing valid: 69 unavailable" "69 unavailable" "$RC $(json_field "p['health']")"

# --- a permanent failure (output that is not one token): refused (77)
cat > "$T/backend/bad.sh" <<'SCRIPT'
#!/bin/sh
echo "two words"
SCRIPT
chmod +x "$T/backend/bad.sh"
sed -i "s|binary-stderr.sh|bad.sh|" "$CLAUDE_KEY_HELPER_CONFIG"
set +e
"$R" once --force 2>/dev/null
set -e
status_rc --json
expect_eq "permanent failure, nothing valid: 77 refused" "77 refused" "$RC $(json_field "p['health']")"
status_rc
expect_eq "permanent failure: status text exits 77" 77 "$RC"

# --- two profiles: the worst wins (refused 77 over ok)
cat >> "$CLAUDE_KEY_HELPER_CONFIG" <<CONF
[profile.good]
backend = "command"
[profile.good.command]
argv = ["$T/backend/fetch.sh"]
CONF
"$R" once --quiet --profile good
status_rc --json
expect_eq "worst profile wins: 77" "77 refused" "$RC $(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["health"])')"
status_rc --profile good
expect_eq "the good profile alone: 0" 0 "$RC"

# --- a broken configuration: config (78)
echo 'this is not toml = = =' >> "$CLAUDE_KEY_HELPER_CONFIG"
status_rc
expect_eq "broken config: status exits 78" 78 "$RC"

finish

#!/bin/bash
# Issue 11 items 2 and 4, end to end: fixing the cause of a permanent error helps at once.
# A static key file that does not exist fails `once` (77) and cron's `once` (no terminal)
# does not retry the same state; creating the file makes the next `once` work at once
# (not after the 5-minute backoff). Pointing the profile at another file is served at once
# (the record's source fingerprint); a person's `once` (a terminal, through script(1))
# retries a permanent error where cron's keeps waiting, and that message names once --force.
source "$(dirname "$0")/lib.sh"
R="$CKH_REFRESHER"
mkdir -m 700 "$T/keys"
write_static_config() {
  printf '[profile.default]\nbackend = "static"\n[profile.default.static]\nfile = "%s"\n' "$1" \
    >"$CLAUDE_KEY_HELPER_CONFIG"
}
cron_once() {  # as cron or a timer runs it: no terminal anywhere
  set +e
  "$R" once --profile default </dev/null >"$T/once.out" 2>"$T/once.err"
  RC=$?
  set -e
}

write_static_config "$T/keys/a"
cron_once
expect_eq "missing key file: once exits 77" 77 "$RC"
grep -q "does not exist" "$T/once.err" && pass "says the file does not exist" || fail "once: $(cat "$T/once.err")"
cron_once
expect_eq "unchanged: cron's once still 77" 77 "$RC"
grep -q "not retried until" "$T/once.err" && grep -q "once --force --profile default" "$T/once.err" \
  && pass "unchanged: held back, names once --force" || fail "once: $(cat "$T/once.err")"

# The fix: create the file. The very next once works, no backoff to wait out.
printf 'sk-ant-key-a\n' >"$T/keys/a"
chmod 600 "$T/keys/a"
cron_once
expect_eq "file created: once works at once" 0 "$RC"
run_helper
expect_eq "the helper serves the new key" "sk-ant-key-a" "$OUT"

# Item 4: the profile now points at another file: due at once, not after refresh_interval.
printf 'sk-ant-key-b\n' >"$T/keys/b"
chmod 600 "$T/keys/b"
write_static_config "$T/keys/b"
cron_once
expect_eq "another key file: once refreshes at once" 0 "$RC"
grep -q "refreshed" "$T/once.out" && pass "once says refreshed" || fail "once: $(cat "$T/once.out")"
run_helper
expect_eq "the helper serves the other file's key" "sk-ant-key-b" "$OUT"

# A person's once retries a permanent error; cron's keeps the stop.
write_static_config "$T/keys/c"
cron_once
expect_eq "missing c: 75 (b is still valid)" 75 "$RC"
cron_once
grep -q "not retried until" "$T/once.err" && pass "cron's once holds back" || fail "once: $(cat "$T/once.err")"
if command -v script >/dev/null 2>&1 && script -qec true /dev/null </dev/null >/dev/null 2>&1; then
  script -qec "'$R' once --profile default" /dev/null </dev/null >"$T/person.out" 2>&1 || true
  grep -q "does not exist" "$T/person.out" && ! grep -q "not retried until" "$T/person.out" \
    && pass "a person's once (terminal) retries at once" || fail "person: $(cat "$T/person.out")"
else
  echo "note: script(1) cannot open a terminal here; the person path is covered by unit tests"
fi
run_helper
expect_eq "meanwhile the helper still serves b" "sk-ant-key-b" "$OUT"
finish

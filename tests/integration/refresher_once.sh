#!/bin/bash
# `claude-key-refresher once` for cron and timers: refreshes only when due unless --force,
# exit 0 fresh / 75 failed but the old credential is still valid / 69 failed with nothing
# valid (transient) / 77 permanent failure / 78 config; single-flight with re-read; the
# backend of an explicit --force is never skipped; check-config reports positions.
source "$(dirname "$0")/lib.sh"
make_command_backend
write_command_config 1h
R="$CKH_REFRESHER"

set +e
"$R" once --quiet; rc=$?
set -e
expect_eq "first once refreshes, exit 0" 0 "$rc"
expect_eq "one backend call" 1 "$(backend_calls)"
out=$("$R" once)
expect_eq "not due: no backend call" 1 "$(backend_calls)"
case "$out" in *"up to date"*) pass "says up to date" ;; *) fail "once output: $out" ;; esac
"$R" once --force --quiet
expect_eq "--force calls the backend" 2 "$(backend_calls)"

backend_mode fail
set +e
"$R" once --force 2>"$T/once.err"; rc=$?
set -e
expect_eq "failure with a valid credential exits 75" 75 "$rc"
grep -q "still valid" "$T/once.err" && pass "says the old one is still valid" || fail "once stderr: $(cat "$T/once.err")"
expect_eq "failure keeps the published credential" "key-2" "$(sed -n 's/^credential: //p' "$STATE/default.cred")"

# Nothing valid left: transient failure exits 69.
rm "$STATE/default.cred"
set +e
"$R" once --force 2>/dev/null; rc=$?
set -e
expect_eq "transient failure with nothing valid exits 69" 69 "$rc"

# A permanent failure (the command prints something that is not a token) exits 77.
cat > "$T/backend/bad.sh" <<'SCRIPT'
#!/bin/sh
echo "two words"
SCRIPT
chmod +x "$T/backend/bad.sh"
sed -i "s|fetch.sh|bad.sh|" "$CLAUDE_KEY_HELPER_CONFIG"
set +e
"$R" once --force 2>/dev/null; rc=$?
set -e
expect_eq "permanent failure with nothing valid exits 77" 77 "$rc"

# Config errors exit 78 and name file:line:column.
printf '[profile.default]\nbackend = "command"\nrefresh_intervl = "4m"\n[profile.default.command]\nargv = ["/bin/true"]\n' > "$CLAUDE_KEY_HELPER_CONFIG"
set +e
"$R" once 2>"$T/once.err"; rc=$?
"$R" check-config 2>"$T/check.err"; check_rc=$?
set -e
expect_eq "bad config: once exits 78" 78 "$rc"
expect_eq "bad config: check-config exits 78" 78 "$check_rc"
grep -q "config.toml:3:1: .*refresh_intervl.*did you mean 'refresh_interval'" "$T/check.err" \
  && pass "check-config names file:line:column and the fix" || fail "check-config: $(cat "$T/check.err")"

# No config file, ANTHROPIC_API_KEY set: the default profile is static on it.
rm "$CLAUDE_KEY_HELPER_CONFIG"
unset CLAUDE_KEY_HELPER_CONFIG  # only the default location may be absent (a named file must exist)
export ANTHROPIC_API_KEY=sk-ant-default-profile-key
"$R" once --force --quiet
run_helper
expect_eq "no config + ANTHROPIC_API_KEY: helper prints it" "$ANTHROPIC_API_KEY" "$OUT"
"$R" check-config | grep -q "static backend on ANTHROPIC_API_KEY" && pass "check-config explains the default" || fail "check-config default"

# Help for every subcommand.
for sub in run once signal status check-config; do
  "$R" "$sub" --help | grep -q -- "--profile" && pass "$sub --help" || fail "$sub --help"
done
set +e
"$R" frobnicate 2>/dev/null; rc=$?
set -e
expect_eq "unknown subcommand exits 64" 64 "$rc"
finish

#!/bin/bash
# Issue 11, items 5 and 12, through the real binary:
# - a config named by --config or CLAUDE_KEY_HELPER_CONFIG that does not exist is an error
#   (exit 78, the path named) for every command, even with ANTHROPIC_API_KEY set; only the
#   default location may be absent;
#   and the helper's message carries its hint once (item 14);
# - check-config --probe reports every problem of every profile (missing key file, unset
#   variable, program not found, group-readable token file, closed endpoint), exit 78, in
#   text and in valid JSON, and a typo in `backend` does not hide its section's problems.
# The TLS side of the probe (a verified handshake, a wrong CA) is covered by the unit test
# "config probe: an endpoint must complete a verified TLS handshake".
source "$(dirname "$0")/lib.sh"
R=$CKH_REFRESHER
export ANTHROPIC_API_KEY=sk-ant-api03-named-config-test
typo="$T/typo.toml"

# --- item 5: a named config must exist --------------------------------------------------------
for cmd in once status check-config run signal login logout import-claude-code; do
  for how in option variable; do
    rc=0
    if [ "$how" = option ]; then
      env -u CLAUDE_KEY_HELPER_CONFIG timeout 30 "$R" "$cmd" --config "$typo" </dev/null \
        >"$T/out" 2>"$T/err" || rc=$?
      named_by="--config"
    else
      CLAUDE_KEY_HELPER_CONFIG="$typo" timeout 30 "$R" "$cmd" </dev/null >"$T/out" 2>"$T/err" || rc=$?
      named_by="CLAUDE_KEY_HELPER_CONFIG"
    fi
    expect_eq "$cmd with a missing config named by $named_by exits 78" 78 "$rc"
    grep -qF "$typo: the configuration file named by $named_by does not exist" "$T/err" \
      && pass "$cmd names the missing path and who named it" \
      || fail "$cmd ($how): $(cat "$T/err")"
  done
done
# The helper, which runs `once` for it, says so too, with its hint once (not once from
# `once` and again from the helper).
run_helper_rc=0
CLAUDE_KEY_HELPER_CONFIG="$typo" timeout 30 "$CKH_HELPER" </dev/null >"$T/out" 2>"$T/err" || run_helper_rc=$?
[ "$run_helper_rc" != 0 ] && grep -qF "$typo" "$T/err" && pass "the helper names the missing config" \
  || fail "helper with a missing named config: rc $run_helper_rc $(cat "$T/err")"
expect_eq "the helper's message has its check-config hint once" 1 \
  "$(grep -o "claude-key-refresher check-config" "$T/err" | wc -l | tr -d ' ')"
# The default location may be absent: the default static profile on ANTHROPIC_API_KEY.
env -u CLAUDE_KEY_HELPER_CONFIG "$R" check-config >"$T/out" 2>&1 \
  && grep -q "static backend on ANTHROPIC_API_KEY" "$T/out" \
  && pass "no config at the default location: the default profile" \
  || fail "default location: $(cat "$T/out")"

# --- item 12: check-config --probe ------------------------------------------------------------
unset ANTHROPIC_API_KEY
printf 's.vault-token-canary\n' >"$T/vault-token"
chmod 640 "$T/vault-token"
cat >"$CLAUDE_KEY_HELPER_CONFIG" <<EOF
[profile.keyfile]
backend = "static"
[profile.keyfile.static]
file = "$T/no-such-key"

[profile.envkey]
backend = "static"
[profile.envkey.static]
env = "CKH_PROBE_NOT_SET"

[profile.cmd]
backend = "command"
[profile.cmd.command]
argv = ["ckh-no-such-program-anywhere"]

[profile.vault]
backend = "vault"
[profile.vault.vault]
address = "https://127.0.0.1:1"
path = "claude"
field = "key"
token_file = "$T/vault-token"
EOF
chmod 600 "$CLAUDE_KEY_HELPER_CONFIG"
"$R" check-config >/dev/null 2>&1 && pass "without --probe the syntax alone is fine" \
  || fail "check-config without --probe failed"
rc=0
timeout 60 "$R" check-config --probe >"$T/probe.out" 2>"$T/probe.err" || rc=$?
expect_eq "check-config --probe with problems exits 78" 78 "$rc"
for expected in "profile 'keyfile': static key file" "$T/no-such-key" \
  "profile 'envkey': environment variable CKH_PROBE_NOT_SET is not set" \
  "profile 'cmd': command argv[0]: " \
  "profile 'vault': Vault token_file $T/vault-token is readable by others (mode 0640); run: chmod 600" \
  "profile 'vault': Vault address https://127.0.0.1:1 does not answer" \
  "5 problem(s) in $CLAUDE_KEY_HELPER_CONFIG"; do
  grep -qF -- "$expected" "$T/probe.err" && pass "probe reports: $expected" \
    || fail "probe misses '$expected': $(cat "$T/probe.err")"
done
grep -q "vault-token-canary" "$T/probe.err" "$T/probe.out" && fail "the probe printed a secret" \
  || pass "no secret in the probe's output"
rc=0
timeout 60 "$R" check-config --probe --json >"$T/probe.json" 2>/dev/null || rc=$?
expect_eq "check-config --probe --json exits 78" 78 "$rc"
python3 - "$T/probe.json" <<'PY' && pass "--probe --json is valid JSON with 5 problems and ok false" || fail "json: $(cat "$T/probe.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["ok"] is False, doc
assert len(doc["problems"]) == 5, doc["problems"]
assert [p["name"] for p in doc["profiles"]] == ["cmd", "envkey", "keyfile", "vault"], doc
PY

# Fixed, the probe passes (the endpoint is left out: a reachable one is the unit test's).
printf 'sk-ant-api03-probe-key\n' >"$T/key" && chmod 600 "$T/key"
chmod 600 "$T/vault-token"
cat >"$CLAUDE_KEY_HELPER_CONFIG" <<EOF
[profile.keyfile]
backend = "static"
[profile.keyfile.static]
file = "$T/key"

[profile.cmd]
backend = "command"
[profile.cmd.command]
argv = ["true"]
EOF
"$R" check-config --probe >"$T/probe.out" 2>&1 && pass "a sound configuration passes the probe" \
  || fail "probe of a sound config: $(cat "$T/probe.out")"

# A typo in `backend` no longer hides its section's problems.
printf '[profile.a]\nbackend = "comand"\n[profile.a.command]\nargv = 5\ntimout = "2s"\n' \
  >"$CLAUDE_KEY_HELPER_CONFIG"
rc=0
"$R" check-config 2>"$T/check.err" || rc=$?
expect_eq "unknown backend: exit 78" 78 "$rc"
grep -q "unknown backend \"comand\".*did you mean \"command\"" "$T/check.err" \
  && grep -q "'argv' in \[profile.a.command\]" "$T/check.err" \
  && grep -q "unknown key 'timout' in \[profile.a.command\]" "$T/check.err" \
  && pass "the backend section's problems are reported with the unknown backend" \
  || fail "unknown backend hides problems: $(cat "$T/check.err")"
finish

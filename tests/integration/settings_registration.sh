#!/usr/bin/env bash
# Integration test of install/claude-code-settings.py (apiKeyHelper registration in Claude
# Code's settings.json). Checks: the merge keeps every other key and their order; a backup
# is made; invalid JSON and non-objects are refused with nothing written (checksums before
# and after, no backup, no manifest); a repeated register changes nothing (no 2nd backup);
# a symlinked settings.json stays a symlink and its target is updated; the TTL goes into
# env as a string next to the other env keys; CLAUDE_CONFIG_DIR is honoured; unregister
# restores the prior value or absence, and leaves a value changed since alone; the mode of
# an existing file is kept, a new file is 0600; the ttl-for rule.
# Needs python3 only (no binaries). Run by ctest (label integration); exit 77 = skipped.
set -euo pipefail

src=${CKH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
tool=$src/install/claude-code-settings.py
command -v python3 >/dev/null 2>&1 || { echo "skipped: python3 is not installed"; exit 77; }
# The interpreter itself: a version-manager shim costs a quarter second per start.
py=$(python3 -c 'import sys; print(sys.executable)')

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home XDG_STATE_HOME=$tmp/state
unset CLAUDE_CONFIG_DIR CLAUDE_KEY_HELPER_STATE_DIR XDG_CONFIG_HOME
mkdir -p "$HOME/.claude"
settings=$HOME/.claude/settings.json
manifest=$XDG_STATE_HOME/claude-key-helper/claude-code-settings.json
HELPER="/opt/ckh/bin/claude-key-helper --profile default"
TTL=CLAUDE_CODE_API_KEY_HELPER_TTL_MS

passed=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passed=$((passed + 1)); echo "ok - $*"; }
ckh() { "$py" "$tool" "$@"; }
# pyval FILE EXPR: evaluate a Python expression over the JSON object d in FILE
pyval() { "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
expect() {  # expect WHAT ACTUAL EXPECTED
  [ "$2" = "$3" ] || fail "$1: got [$2], expected [$3]"
}
backups() { find "$(dirname "$1")" -maxdepth 1 -name "$(basename "$1").bak-*" | wc -l; }
tree_sum() { (cd "$tmp" && find . -type f -o -type l | sort | xargs -r sha256sum; find . | sort) | sha256sum; }

# --- merge keeps keys and order, backup made, mode kept ------------------------------------
cat >"$settings" <<'EOF'
{
    "model": "opus",
    "permissions": {"allow": ["Bash(ls)"], "deny": []},
    "apiKeyHelper": "/old/helper",
    "env": {"FOO": "bar", "ZED": "1"},
    "zzz": [1, 2.5, null, true]
}
EOF
chmod 0640 "$settings"
before=$(pyval "$settings" 'json.dumps({k: v for k, v in d.items() if k != "apiKeyHelper"})')
ckh register --helper-command "$HELPER" >/dev/null
expect "apiKeyHelper" "$(pyval "$settings" 'd["apiKeyHelper"]')" "$HELPER"
expect "key order" "$(pyval "$settings" 'list(d)')" "['model', 'permissions', 'apiKeyHelper', 'env', 'zzz']"
expect "other keys" "$(pyval "$settings" 'json.dumps({k: v for k, v in d.items() if k != "apiKeyHelper"})')" "$before"
expect "backups" "$(backups "$settings")" 1
bak=$(find "$HOME/.claude" -name 'settings.json.bak-*')
expect "backup content" "$(pyval "$bak" 'd["apiKeyHelper"]')" /old/helper
expect "backup mode" "$(stat -c %a "$bak")" 600
expect "kept mode" "$(stat -c %a "$settings")" 640
[ -f "$manifest" ] || fail "no manifest at $manifest"
expect "manifest mode" "$(stat -c %a "$manifest")" 600
ok "merge keeps other keys and their order, backs up, keeps the mode"

# --- idempotent -----------------------------------------------------------------------------
sum1=$(sha256sum "$settings")
out=$(ckh register --helper-command "$HELPER")
expect "second register output" "$(grep -c 'nothing changed' <<<"$out")" 1
expect "unchanged file" "$(sha256sum "$settings")" "$sum1"
expect "no second backup" "$(backups "$settings")" 1
ok "a second identical register changes nothing and makes no backup"

# --- unregister restores the previous value -------------------------------------------------
ckh unregister >/dev/null
expect "restored apiKeyHelper" "$(pyval "$settings" 'd["apiKeyHelper"]')" /old/helper
expect "restored order" "$(pyval "$settings" 'list(d)')" "['model', 'permissions', 'apiKeyHelper', 'env', 'zzz']"
expect "restored others" "$(pyval "$settings" 'json.dumps({k: v for k, v in d.items() if k != "apiKeyHelper"})')" "$before"
[ ! -e "$manifest" ] || fail "the manifest outlives its last registration"
cp -p "$settings" "$tmp/settings.keep"
printf '{"b":2,   "a" : [1,2]}' >"$settings"
sum0=$(sha256sum <"$settings")
ckh register --helper-command "$HELPER" --ttl-ms 5000 >/dev/null
ckh unregister >/dev/null
expect "byte for byte" "$(sha256sum <"$settings")" "$sum0"
mv -f "$tmp/settings.keep" "$settings"
ok "unregister restores the replaced value, and the original bytes when nothing else changed"

# --- TTL as a string in env, other env keys kept; unregister removes exactly it ------------
ckh register --helper-command "$HELPER" --ttl-ms 15000 >/dev/null
expect "ttl type" "$(pyval "$settings" 'type(d["env"]["'$TTL'"]).__name__')" str
expect "ttl" "$(pyval "$settings" 'd["env"]["'$TTL'"]')" 15000
expect "env keys" "$(pyval "$settings" 'list(d["env"])')" "['FOO', 'ZED', '$TTL']"
ckh register --helper-command "$HELPER" --ttl-ms 20000 >/dev/null
expect "ttl updated" "$(pyval "$settings" 'd["env"]["'$TTL'"]')" 20000
ckh unregister >/dev/null
expect "env after unregister" "$(pyval "$settings" 'json.dumps(d["env"])')" '{"FOO": "bar", "ZED": "1"}'
expect "helper after re-register+unregister" "$(pyval "$settings" 'd["apiKeyHelper"]')" /old/helper
ok "TTL set as a string beside other env keys; re-register keeps the original previous value"

# previous TTL value restored; env created by register removed again
printf '{"env": {"%s": "1000"}}\n' "$TTL" >"$settings"
ckh register --helper-command "$HELPER" --ttl-ms 42000 >/dev/null
ckh unregister >/dev/null
expect "previous ttl restored" "$(pyval "$settings" 'json.dumps(d)')" "{\"env\": {\"$TTL\": \"1000\"}}"
printf '{"a": 1}\n' >"$settings"
ckh register --helper-command "$HELPER" --ttl-ms 42000 >/dev/null
expect "env created" "$(pyval "$settings" 'list(d)')" "['a', 'apiKeyHelper', 'env']"
ckh unregister >/dev/null
expect "env and helper removed" "$(pyval "$settings" 'json.dumps(d)')" '{"a": 1}'
# register without --ttl-ms withdraws the TTL an earlier register set
ckh register --helper-command "$HELPER" --ttl-ms 42000 >/dev/null
ckh register --helper-command "$HELPER" >/dev/null
expect "ttl withdrawn" "$(pyval "$settings" 'json.dumps(d)')" "{\"a\": 1, \"apiKeyHelper\": \"$HELPER\"}"
ckh unregister >/dev/null
expect "clean after withdraw" "$(pyval "$settings" 'json.dumps(d)')" '{"a": 1}'
ok "previous TTL restored, created env removed, TTL withdrawn by a register without it"

# --- unregister leaves a value the user changed since alone ----------------------------------
printf '{"a": 1}\n' >"$settings"
ckh register --helper-command "$HELPER" --ttl-ms 9000 >/dev/null
"$py" - "$settings" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["apiKeyHelper"] = "my-own-helper"
d["env"]["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"] = "123"
json.dump(d, open(sys.argv[1], "w"))
EOF
out=$(ckh unregister)
expect "user value kept" "$(pyval "$settings" 'd["apiKeyHelper"]')" my-own-helper
expect "user ttl kept" "$(pyval "$settings" 'd["env"]["'$TTL'"]')" 123
grep -q 'changed since registration' <<<"$out" || fail "unregister did not say it left the value alone: $out"
ok "unregister leaves a user-changed value alone and says so"

# --- absent before: unregister removes the key; a file it created is removed ------------------
printf '{"theme": "dark"}\n' >"$settings"
ckh register --helper-command "$HELPER" >/dev/null
ckh unregister >/dev/null
expect "absent again" "$(pyval "$settings" 'json.dumps(d)')" '{"theme": "dark"}'
rm -rf "$HOME/.claude"
ckh register --helper-command "$HELPER" >/dev/null
expect "new file mode" "$(stat -c %a "$settings")" 600
expect "new dir mode" "$(stat -c %a "$HOME/.claude")" 700
expect "new file content" "$(pyval "$settings" 'json.dumps(d)')" "{\"apiKeyHelper\": \"$HELPER\"}"
ckh unregister >/dev/null
[ ! -e "$HOME/.claude" ] || fail "unregister left the settings file/dir it had created"
mkdir -p "$HOME/.claude"
ok "unregister restores absence; a created file is 0600 and removed again"

# --- invalid JSON / non-object refused, nothing written ---------------------------------------
for bad in '{"a": 1,' '[1, 2]' '"text"' '42' 'null' '{"a": NaN}' $'\xff\xfe{}'; do
  printf '%s' "$bad" >"$settings"
  before=$(tree_sum)
  if err=$(ckh register --helper-command "$HELPER" 2>&1 >/dev/null); then
    fail "register accepted settings.json = $bad"
  fi
  expect "refusal is one line ($bad)" "$(printf '%s\n' "$err" | wc -l)" 1
  grep -q 'nothing was changed' <<<"$err" || fail "refusal does not say nothing changed: $err"
  expect "nothing written for $bad" "$(tree_sum)" "$before"
done
printf '{"env": "oops"}' >"$settings"
before=$(tree_sum)
if ckh register --helper-command "$HELPER" --ttl-ms 9000 2>/dev/null; then fail "accepted env string"; fi
expect "nothing written for a non-object env" "$(tree_sum)" "$before"
ok "invalid JSON, non-objects and a non-object env are refused with nothing written"

# --- symlinked settings.json: kept, target updated --------------------------------------------
mkdir -p "$tmp/dotfiles"
printf '{"model": "sonnet"}\n' >"$tmp/dotfiles/claude-settings.json"
chmod 0644 "$tmp/dotfiles/claude-settings.json"
rm -f "$settings"
ln -s "$tmp/dotfiles/claude-settings.json" "$settings"
ckh register --helper-command "$HELPER" >/dev/null
[ -L "$settings" ] || fail "settings.json is no longer a symlink"
expect "link target" "$(readlink "$settings")" "$tmp/dotfiles/claude-settings.json"
expect "target updated" "$(pyval "$tmp/dotfiles/claude-settings.json" 'json.dumps(d)')" \
  "{\"model\": \"sonnet\", \"apiKeyHelper\": \"$HELPER\"}"
expect "target mode kept" "$(stat -c %a "$tmp/dotfiles/claude-settings.json")" 644
ckh unregister >/dev/null
[ -L "$settings" ] || fail "unregister replaced the symlink"
expect "target restored" "$(pyval "$tmp/dotfiles/claude-settings.json" 'json.dumps(d)')" '{"model": "sonnet"}'
ok "a symlinked settings.json stays a symlink; its target is updated and restored"

# --- CLAUDE_CONFIG_DIR and --config-dir ----------------------------------------------------------
rm -f "$settings"
mkdir -p "$tmp/cc"
printf '{"x": true}\n' >"$tmp/cc/settings.json"
CLAUDE_CONFIG_DIR=$tmp/cc ckh register --helper-command "$HELPER" >/dev/null
expect "CLAUDE_CONFIG_DIR used" "$(pyval "$tmp/cc/settings.json" 'd["apiKeyHelper"]')" "$HELPER"
[ ! -e "$settings" ] || fail "$settings written although CLAUDE_CONFIG_DIR is set"
expect "path" "$(CLAUDE_CONFIG_DIR=$tmp/cc ckh path)" "$tmp/cc/settings.json"
mkdir -p "$tmp/other"
ckh register --config-dir "$tmp/other" --helper-command "$HELPER" >/dev/null
expect "--config-dir used" "$(pyval "$tmp/other/settings.json" 'd["apiKeyHelper"]')" "$HELPER"
CLAUDE_CONFIG_DIR=$tmp/cc ckh unregister >/dev/null
expect "CLAUDE_CONFIG_DIR restored" "$(pyval "$tmp/cc/settings.json" 'json.dumps(d)')" '{"x": true}'
expect "other registration kept" "$(pyval "$manifest" 'list(d["registrations"])')" "['$tmp/other/settings.json']"
ckh unregister --config-dir "$tmp/other" >/dev/null
ok "CLAUDE_CONFIG_DIR and --config-dir choose the settings file; registrations are per file"

# --- unregister --remove-backups: only register's own backups, each named ---------------------
mkdir -p "$tmp/rb"
rbs=$tmp/rb/settings.json
printf '{"model": "opus"}\n' >"$rbs"
rb_sum=$(sha256sum <"$rbs")
printf '{"mine": 1}\n' >"$rbs.bak-19990101-000000"   # the user's own backup
ckh register --config-dir "$tmp/rb" --helper-command "$HELPER" >/dev/null
ckh register --config-dir "$tmp/rb" --helper-command "$HELPER --x" >/dev/null
ours=$(find "$tmp/rb" -name 'settings.json.bak-2*' | sort)
expect "two registrations, two backups" "$(printf '%s\n' "$ours" | grep -c .)" 2
out=$(ckh unregister --config-dir "$tmp/rb" --remove-backups)
expect "restored byte for byte" "$(sha256sum <"$rbs")" "$rb_sum"
expect "only the user's backup is left" "$(find "$tmp/rb" -name 'settings.json.bak-*')" "$rbs.bak-19990101-000000"
for b in $ours; do
  grep -qF "removed the backup $b" <<<"$out" || fail "unregister did not name $b: $out"
done
# A value changed since registration: it stays, and so do the backups.
ckh register --config-dir "$tmp/rb" --helper-command "$HELPER" >/dev/null
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["apiKeyHelper"]="/mine"; json.dump(d, open(sys.argv[1],"w"))' "$rbs"
out=$(ckh unregister --config-dir "$tmp/rb" --remove-backups)
expect "a changed value keeps the backups" "$(find "$tmp/rb" -name 'settings.json.bak-2*' | grep -c .)" 1
grep -q 'kept the backups' <<<"$out" || fail "unregister did not say it kept the backups: $out"
ok "unregister --remove-backups removes register's backups only, naming each; keeps them when a value changed"

# --- the TTL rule ---------------------------------------------------------------------------
for pair in null: 3600: 630: 629:299500 600:285000 60:15000 40:5000 10:5000; do
  expect "ttl-for ${pair%%:*}" "$(ckh ttl-for --lifetime-seconds "${pair%%:*}")" "${pair#*:}"
done
if ckh ttl-for --lifetime-seconds -5 2>/dev/null; then fail "ttl-for accepted -5"; fi
# refresh_before_expiry B, when given, replaces L/2 when smaller (the default 600 s never does)
for triple in 3600:600: 3600:60:45000 60:30:15000 60:20:5000 600:600:285000 null:60:; do
  IFS=: read -r l b want <<<"$triple"
  expect "ttl-for $l before $b" "$(ckh ttl-for --lifetime-seconds "$l" --refresh-before-expiry-seconds "$b")" "$want"
done
ok "ttl-for: none when unknown or >= 630 s, else max(5000, (L/2 - 15) * 1000)"

echo "$passed passed, 0 failed"

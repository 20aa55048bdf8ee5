#!/usr/bin/env bash
# What a new user meets on the first install (issue 11, items 1 and 14), installing from the
# existing build dir (CKH_BUILD_DIR; --no-deps --no-build) into temp HOME/PREFIX/XDG dirs,
# without systemd (CKH_INSTALL_NO_SYSTEMD=1). Each user starts with a settings.json that
# works (a subscription login: no apiKeyHelper) and must never end with a broken one:
#   A. no config, ANTHROPIC_API_KEY unset: exit 1, settings.json byte for byte as it was (no
#      backup), no config written, no refresher started, and the output names what to run
#      (the API-key rerun, --subscription, the example config) with the real rerun command;
#   B. an anthropic-oauth profile whose Claude Code is logged in: the installer adopts that
#      login (the claude-code sink: P.secret owns the store), never sets apiKeyHelper, exit 0;
#      with no Claude Code login: exit 1, settings.json untouched, it says to log in;
#   C. a profile whose `once` fails (a missing key file): exit 1, settings.json untouched;
#   D. ANTHROPIC_API_KEY set: the config holds only the active profile plus a pointer to the
#      example; the helper is registered; the PATH line printed for bash, run for real, puts
#      PREFIX/bin on an interactive bash's PATH (zsh and fish lines checked as text); the
#      printed crontab line, run through sh as cron would (HOME, a bare PATH, no XDG
#      variables), refreshes THIS install's state dir and logs where the message says; the
#      "undo" line names the installed uninstall.sh, which removes the settings.json backups
#      the installer made (a backup that is not the installer's stays) and names each file
#      it removes.
# Exit 77 ("skipped: ...") when the binaries are not built.
set -euo pipefail

src=${CKH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${CKH_BUILD_DIR:-}
if [ -z "$build" ] || [ ! -f "$build/cmake_install.cmake" ]; then
  echo "skipped: no configured build dir (CKH_BUILD_DIR=$build)"; exit 77
fi
if [ ! -x "$build/claude-key-helper" ] || [ ! -x "$build/claude-key-refresher" ]; then
  echo "skipped: the binaries are not built in $build"; exit 77
fi
command -v python3 >/dev/null 2>&1 || { echo "skipped: python3 is not installed"; exit 77; }
# shellcheck source=tests/integration/lib_checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_checks.sh"
private_tmp ckh-installer
py=$(python3 -c 'import sys; print(sys.executable)')
pyval() { "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
stop_refreshers() {
  local pf
  for pf in "$T"/*/state/claude-key-helper/refresher.pid; do
    [ -f "$pf" ] && kill -KILL "$(tr -dc 0-9 <"$pf")" 2>/dev/null || true
  done
}
trap 'stop_refreshers; cleanup' EXIT

setup_user() {  # setup_user NAME: a fresh user under $T/NAME, its Claude Code working
  local root=$T/$1
  mkdir -p "$root/home/.claude"
  export HOME=$root/home XDG_CONFIG_HOME=$root/config XDG_STATE_HOME=$root/state
  export PREFIX=$root/prefix CKH_INSTALL_NO_SYSTEMD=1 SHELL=/bin/bash
  unset CLAUDE_CONFIG_DIR CLAUDE_KEY_HELPER_CONFIG CLAUDE_KEY_HELPER_STATE_DIR \
        CLAUDE_KEY_HELPER_PROFILE CLAUDE_CODE_API_KEY_HELPER_TTL_MS ANTHROPIC_API_KEY || true
  state=$XDG_STATE_HOME/claude-key-helper
  config=$XDG_CONFIG_HOME/claude-key-helper/config.toml
  settings=$HOME/.claude/settings.json
  printf '{\n  "model": "opus",\n  "env": {"FOO": "1"}\n}\n' >"$settings"
  settings_sum=$(sha256sum <"$settings")
  out=$root/install.out
}
install_run() {  # install_run [args]: sets rc; output in $out
  rc=0
  bash "$src/install/install.sh" --no-deps --no-build --build-dir "$build" "$@" >"$out" 2>&1 || rc=$?
}
settings_untouched() {  # settings_untouched WHAT
  expect_eq "$1: settings.json byte for byte as it was" "$settings_sum" "$(sha256sum <"$settings")"
  expect_eq "$1: no settings.json backup" 0 \
    "$(find "$HOME/.claude" -name 'settings.json.bak-*' | wc -l | tr -d ' ')"
}
says() {  # says WHAT TEXT: the install output holds TEXT
  if grep -qF -- "$2" "$out"; then pass "$1"; else fail "$1: no [$2] in: $(cat "$out")"; fi
}

# ================= A. no config, no key =======================================================
setup_user noconfig
install_run
expect_eq "A: no config and no key: exit 1" 1 "$rc"
settings_untouched A
[ ! -e "$config" ] && pass "A: no config written" || fail "A: a config was written: $(cat "$config")"
[ ! -e "$state/refresher.pid" ] && pass "A: no refresher started" || fail "A: a refresher was started"
says "A: says settings.json was left alone" "settings.json was left as it was"
says "A: the API-key way" "export ANTHROPIC_API_KEY && $src/install/install.sh --no-deps"
says "A: the subscription way" "--subscription"
says "A: the example config" "$PREFIX/share/doc/claude-key-helper/config.example.toml"

# ================= B. a subscription (anthropic-oauth) ========================================
write_oauth_config() {
  mkdir -p "$(dirname "$config")"
  # The token endpoint is a closed port: nothing here may need the network.
  cat >"$config" <<'EOF'
[profile.default]
backend = "anthropic-oauth"
sinks = ["claude-code"]
[profile.default.anthropic-oauth]
token_url = "http://127.0.0.1:9/v1/oauth/token"
EOF
}
setup_user oauth
write_oauth_config
access="sk-ant-oat01-canary-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
refresh="sk-ant-ort01-canary-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
secret "$access"; secret "$refresh"
"$py" - "$HOME/.claude/.credentials.json" "$access" "$refresh" <<'EOF'
import json, os, sys, time
store = {"claudeAiOauth": {"accessToken": sys.argv[2], "refreshToken": sys.argv[3],
         "expiresAt": int((time.time() + 8 * 3600) * 1000), "scopes": ["user:inference"],
         "subscriptionType": "max"}}
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, json.dumps(store).encode())
os.close(fd)
EOF
settings_sum=$(sha256sum <"$settings")
install_run
expect_eq "B: subscription profile with Claude Code logged in: exit 0" 0 "$rc"
[ "$rc" = 0 ] || echo "$(redact "$(cat "$out")")" >&2
settings_untouched B
grep -qx 'owns_claude_code_store: yes' "$state/default.secret" 2>/dev/null &&
  pass "B: Claude Code's login adopted, the claude-code sink is on" ||
  fail "B: the profile does not own Claude Code's store"
says "B: says the sink keeps Claude Code's login fresh" "claude-code sink"
grep -rlF -e "$access" -e "$refresh" "$out" "$state"/*.log 2>/dev/null &&
  fail "B: a token appears in the output or a log" || pass "B: no token in the output or logs"
stop_refreshers

setup_user oauth-nologin
write_oauth_config
SHELL=/usr/bin/fish install_run
cp "$out" "$T/path-fish.out"
expect_eq "B: subscription profile without any login: exit 1" 1 "$rc"
settings_untouched "B (no login)"
says "B: says to log in" "login --profile default"

# ================= C. once fails ================================================================
setup_user oncefails
mkdir -p "$(dirname "$config")"
printf '[profile.default]\nbackend = "static"\n[profile.default.static]\nfile = "%s"\n' \
  "$T/oncefails/missing-key" >"$config"
SHELL=/bin/zsh install_run
cp "$out" "$T/path-zsh.out"
expect_eq "C: a profile whose once fails: exit 1" 1 "$rc"
settings_untouched C
says "C: names the failing command" "once --profile default failed"
stop_refreshers

# ================= D. a static key ==============================================================
setup_user static
canary="sk-ant-canary-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
secret "$canary"
foreign_backup=$settings.bak-19990101-000000
cp "$settings" "$foreign_backup"
ANTHROPIC_API_KEY=$canary install_run
expect_eq "D: a static key: exit 0" 0 "$rc"
[ "$rc" = 0 ] || echo "$(redact "$(cat "$out")")" >&2
expect_eq "D: apiKeyHelper registered" "$PREFIX/bin/claude-key-helper --profile default" \
  "$(pyval "$settings" 'd.get("apiKeyHelper")')"
# Only the active profile: one [profile.*] header pair, no commented-out example lines.
expect_eq "D: the config's sections" "[profile.default] [profile.default.static]" \
  "$(grep -o '^\[[^]]*\]' "$config" | tr '\n' ' ' | sed 's/ $//')"
grep -q '^# *\[profile' "$config" && fail "D: the config holds commented-out example profiles" ||
  pass "D: no commented-out example profiles in the config"
grep -qF "$PREFIX/share/doc/claude-key-helper/config.example.toml" "$config" &&
  [ -f "$PREFIX/share/doc/claude-key-helper/config.example.toml" ] &&
  pass "D: the config points at the installed example" || fail "D: no pointer to the example: $(cat "$config")"
expect_eq "D: the config has at most 12 lines" yes "$([ "$(wc -l <"$config")" -le 12 ] && echo yes || echo no)"

# --- the PATH line, for real in bash; as text for zsh and fish --------------------------------
path_line=$(grep -A1 'is not in your PATH' "$out" | tail -n 1 | sed 's/^    //')
[ -n "$path_line" ] && pass "D: a PATH line is printed" || fail "D: no PATH line: $(cat "$out")"
(cd "$HOME" && env -i HOME="$HOME" PATH=/usr/bin:/bin TERM=dumb bash -c "${path_line% && exec bash}") ||
  fail "D: the printed PATH line failed: $path_line"
found=$(cd "$HOME" && env -i HOME="$HOME" PATH=/usr/bin:/bin TERM=dumb bash -ic 'command -v claude-key-refresher' 2>/dev/null </dev/null || true)
expect_eq "D: after the printed line, an interactive bash finds claude-key-refresher" \
  "$PREFIX/bin/claude-key-refresher" "$found"
for sh in zsh fish; do  # printed by runs B (fish) and C (zsh) above
  line=$(grep -A1 'is not in your PATH' "$T/path-$sh.out" | tail -n 1)
  case "$sh:$line" in
    zsh:*'>> ~/.zshrc'*|fish:*"fish_add_path $T/oauth-nologin/prefix/bin"*) pass "D: the PATH line for $sh" ;;
    *) fail "D: the PATH line for $sh: [$line]" ;;
  esac
done

# --- the crontab line, run as cron runs it ------------------------------------------------------
cron_line=$(grep -A3 'crontab -e' "$out" | grep '^    \*/4 ' | sed 's/^    //')
[ -n "$cron_line" ] && pass "D: a crontab line is printed" || fail "D: no crontab line: $(cat "$out")"
says "D: the message says where cron's log goes" "log: $state/cron.log"
stop_refreshers
rm -f "$state/default.cred"
# cron: the five time fields go, "\%" becomes "%", and sh runs the rest with cron's bare env.
cron_cmd=$(printf '%s\n' "$cron_line" | sed -E 's/^([^ ]+ +){5}//; s/\\%/%/g')
crc=0
(cd "$HOME" && env -i HOME="$HOME" LOGNAME=nobody PATH=/usr/bin:/bin SHELL=/bin/sh /bin/sh -c "$cron_cmd") || crc=$?
expect_eq "D: the crontab command exits 0" 0 "$crc"
[ -f "$state/default.cred" ] && pass "D: the crontab command refreshed this install's state dir" ||
  fail "D: no credential in $state after the crontab command ($cron_cmd)"
[ -f "$state/cron.log" ] && pass "D: the crontab command logs to $state/cron.log" ||
  fail "D: no $state/cron.log"

# --- undo: the installed uninstall.sh, the backups ----------------------------------------------
undo=$(sed -n 's/^install: undo: \([^ ]*\).*/\1/p' "$out")
expect_eq "D: the undo line names the installed uninstall.sh" \
  "$PREFIX/share/claude-key-helper/uninstall.sh" "$undo"
backups=$(find "$HOME/.claude" -name 'settings.json.bak-*' ! -name "${foreign_backup##*/}")
[ -n "$backups" ] && pass "D: the installer made a settings.json backup" || fail "D: no backup made"
urc=0
bash "$undo" >"$T/uninstall.out" 2>&1 || urc=$?
expect_eq "D: uninstall exits 0" 0 "$urc"
expect_eq "D: settings.json restored" "$settings_sum" "$(sha256sum <"$settings")"
for b in $backups; do
  [ ! -e "$b" ] && pass "D: uninstall removed the backup ${b##*/}" || fail "D: backup $b left"
  grep -qF "removed the backup $b" "$T/uninstall.out" && pass "D: uninstall says it removed ${b##*/}" ||
    fail "D: uninstall did not name $b: $(cat "$T/uninstall.out")"
done
[ -f "$foreign_backup" ] && pass "D: a backup that is not the installer's stays" || fail "D: uninstall removed $foreign_backup"
expect_eq "D: no other backup left behind" "$foreign_backup" "$(find "$HOME/.claude" -name 'settings.json.bak-*')"
for f in "$PREFIX/bin/claude-key-helper" "$PREFIX/bin/claude-key-refresher"; do
  grep -qxF "uninstall: removed $f" "$T/uninstall.out" && pass "D: uninstall names $f" ||
    fail "D: uninstall does not say it removed $f"
done
[ ! -e "$PREFIX" ] && pass "D: PREFIX is gone" || fail "D: PREFIX left: $(find "$PREFIX" | head -5)"
leaks=$(grep -rlF -- "$canary" "$T" | grep -vxF -e "$XDG_CONFIG_HOME/claude-key-helper/anthropic-api-key" \
        -e "$state/default.cred" -e "$T/secrets" || true)
[ -z "$leaks" ] && pass "D: the key is only in the key file and the cache" || fail "D: the key leaked into: $leaks"

finish

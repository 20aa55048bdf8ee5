#!/usr/bin/env bash
# Integration test of install/install.sh and install/uninstall.sh, in temp HOME, PREFIX and
# XDG dirs, installing from the existing build dir (CKH_BUILD_DIR; --no-deps --no-build).
# Part 1, no systemd (test hook CKH_INSTALL_NO_SYSTEMD=1), ANTHROPIC_API_KEY = a canary:
#   the binaries land in PREFIX/bin; the config and the 0600 key file are written; the
#   background refresher runs (pid file names a live claude-key-refresher); settings.json
#   has apiKeyHelper and keeps its other keys; the registered command, run as Claude Code
#   runs it (/bin/sh -c, without ANTHROPIC_API_KEY), prints the canary; a second install
#   changes nothing (same refresher, no new settings backup, no duplicate manifest lines);
#   uninstall stops the refresher, removes the binaries and PREFIX, restores settings.json
#   byte for byte, keeps config and key; uninstall --purge removes them and the state dir.
#   The canary never appears in any output, log, argv, or file but the key file and the
#   credential cache.
# Part 2, a user systemd (a fake systemctl on PATH that records its calls), ANTHROPIC_API_KEY
#   set (without a working profile nothing is started: installer_first_run.sh): the units land
#   in ~/.config/systemd/user with PREFIX substituted (and verify, where systemd-analyze
#   exists), the service is enabled and restarted; uninstall disables and removes them.
# Exit 77 ("skipped: ...") when the binaries are not built.
set -euo pipefail

src=${CKH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${CKH_BUILD_DIR:-}
if [ -z "$build" ] || [ ! -f "$build/cmake_install.cmake" ]; then
  echo "skipped: no configured build dir (CKH_BUILD_DIR=$build)"; exit 77
fi
if [ ! -x "${CKH_HELPER:-}" ] || [ ! -x "${CKH_REFRESHER:-}" ]; then
  echo "skipped: the binaries are not built (CKH_HELPER, CKH_REFRESHER)"; exit 77
fi
command -v python3 >/dev/null 2>&1 || { echo "skipped: python3 is not installed"; exit 77; }
# The interpreter itself: a version-manager shim costs a quarter second per start.
py=$(python3 -c 'import sys; print(sys.executable)')

tmp=$(mktemp -d)
cleanup() {
  local pf pid
  for pf in "$tmp"/*/state/claude-key-helper/refresher.pid; do
    [ -f "$pf" ] || continue
    pid=$(tr -dc 0-9 <"$pf")
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
  done
  [ -z "${refresher_pid:-}" ] || kill -KILL "$refresher_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.out; do [ -f "$f" ] && { echo "--- $f" >&2; sed 's/sk-ant-canary[A-Za-z0-9-]*/<CANARY>/g' "$f" >&2; }; done; exit 1; }
ok() { passed=$((passed + 1)); echo "ok - $*"; }
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], expected [$3]"; }
pyval() { "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

setup_env() {  # setup_env NAME: a fresh user under $tmp/NAME
  local root=$tmp/$1
  mkdir -p "$root/home/.claude"
  export HOME=$root/home XDG_CONFIG_HOME=$root/config XDG_STATE_HOME=$root/state
  export PREFIX=$root/prefix
  unset CLAUDE_CONFIG_DIR CLAUDE_KEY_HELPER_CONFIG CLAUDE_KEY_HELPER_STATE_DIR \
        CLAUDE_KEY_HELPER_PROFILE CLAUDE_CODE_API_KEY_HELPER_TTL_MS ANTHROPIC_API_KEY \
        CKH_INSTALL_NO_SYSTEMD
  state=$XDG_STATE_HOME/claude-key-helper
  config=$XDG_CONFIG_HOME/claude-key-helper/config.toml
  keyfile=$XDG_CONFIG_HOME/claude-key-helper/anthropic-api-key
  settings=$HOME/.claude/settings.json
  # A prior settings.json in the layout the registration tool writes, so that restoring it
  # can be checked byte for byte.
  python3 -c 'import json,sys; open(sys.argv[1],"w").write(json.dumps({"model": "opus", "apiKeyHelper": "/old/helper --x", "env": {"FOO": "1"}, "permissions": {"allow": []}}, indent=2) + "\n")' "$settings"
  chmod 0644 "$settings"
  settings_sum=$(sha256sum <"$settings")
}
install_run() {  # install_run OUTFILE [args]
  local out=$1; shift
  bash "$src/install/install.sh" --no-deps --no-build --build-dir "$build" "$@" >"$out" 2>&1 ||
    fail "install.sh $* exited $?"
}

# ================= Part 1: no systemd, ANTHROPIC_API_KEY set ==================================
setup_env nosystemd
canary="sk-ant-canary-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export ANTHROPIC_API_KEY=$canary CKH_INSTALL_NO_SYSTEMD=1
install_run "$tmp/install1.out"

for b in claude-key-helper claude-key-refresher; do
  [ -x "$PREFIX/bin/$b" ] || fail "$PREFIX/bin/$b not installed"
done
[ -f "$PREFIX/share/claude-key-helper/claude-code-settings.py" ] || fail "share files not installed"
ok "binaries and share files installed into PREFIX"

[ -f "$keyfile" ] || fail "no key file $keyfile"
expect "key file mode" "$(stat -c %a "$keyfile")" 600
[ "$(cat "$keyfile")" = "$canary" ] || fail "the key file does not hold ANTHROPIC_API_KEY"
[ -f "$config" ] || fail "no config $config"
grep -qxF "file = \"$keyfile\"" "$config" || fail "the config does not read the key file"
grep -qx '\[profile.default\]' "$config" || fail "the config has no default profile"
env -u ANTHROPIC_API_KEY "$PREFIX/bin/claude-key-refresher" check-config >/dev/null 2>&1 ||
  fail "the written config does not pass check-config"
grep -qi 'does not inherit\|environment' "$tmp/install1.out" || fail "install did not explain the key file"
ok "key file (0600) and a config reading it written; the output says why"

pidfile=$state/refresher.pid
[ -f "$pidfile" ] || fail "no pid file $pidfile"
refresher_pid=$(tr -dc 0-9 <"$pidfile")
kill -0 "$refresher_pid" 2>/dev/null || fail "the refresher (pid $refresher_pid) is not alive"
case "$(readlink "/proc/$refresher_pid/exe")" in
  "$PREFIX/bin/claude-key-refresher") ;;
  *) fail "pid $refresher_pid is not the installed refresher: $(readlink "/proc/$refresher_pid/exe")" ;;
esac
if tr '\0' ' ' <"/proc/$refresher_pid/cmdline" | grep -qF "$canary"; then fail "canary in argv"; fi
ok "the background refresher runs from PREFIX/bin (pid file alive)"

helper_cmd=$(pyval "$settings" 'd["apiKeyHelper"]')
expect "apiKeyHelper" "$helper_cmd" "$PREFIX/bin/claude-key-helper --profile default"
expect "other keys kept" "$(pyval "$settings" 'list(d)')" "['model', 'apiKeyHelper', 'env', 'permissions']"
expect "env kept, no TTL for a static key" "$(pyval "$settings" 'json.dumps(d["env"])')" '{"FOO": "1"}'
# As Claude Code runs it: /bin/sh -c, stdin open, its own environment (here without the key).
got=""
for _ in $(seq 20); do
  got=$(cd / && env -u ANTHROPIC_API_KEY timeout 30 /bin/sh -c "$helper_cmd" 2>/dev/null </dev/null) || true
  [ "$got" = "$canary" ] && break
  sleep 0.5
done
[ "$got" = "$canary" ] || fail "the registered helper printed ${#got} characters, not the canary"
ok "settings.json registered; the registered helper command prints the key"

# --- a second install is harmless ---------------------------------------------------------
backups_before=$(find "$HOME/.claude" -name 'settings.json.bak-*' | wc -l)
install_run "$tmp/install2.out"
expect "same refresher" "$(tr -dc 0-9 <"$pidfile")" "$refresher_pid"
expect "no new backup" "$(find "$HOME/.claude" -name 'settings.json.bak-*' | wc -l)" "$backups_before"
expect "duplicate manifest lines" "$(sort "$state/install-manifest.txt" | uniq -d | wc -l)" 0
expect "key file untouched" "$(cat "$keyfile")" "$canary"
ok "a second install keeps the refresher, the settings and the manifest as they were"

# --- the canary leaks nowhere -------------------------------------------------------------
leaks=$(grep -rlF -- "$canary" "$tmp" | grep -vxF -e "$keyfile" -e "$state/default.cred" || true)
[ -z "$leaks" ] || fail "the key appears in: $leaks"
ok "the key is only in the key file and the credential cache (not in output, logs, config)"

grep -q "run 'unset ANTHROPIC_API_KEY'" "$tmp/install1.out" ||
  fail "install did not say that a set ANTHROPIC_API_KEY wins over the helper"

# --- a rerun with a corrected key replaces the key file it wrote ----------------------------
canary2="sk-ant-canary-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
ANTHROPIC_API_KEY=$canary2 install_run "$tmp/install3.out"
[ "$(cat "$keyfile")" = "$canary2" ] || fail "a rerun with a new ANTHROPIC_API_KEY kept the old key"
expect "key file mode after the rerun" "$(stat -c %a "$keyfile")" 600
got=$(cd / && env -u ANTHROPIC_API_KEY timeout 30 /bin/sh -c "$helper_cmd" 2>/dev/null </dev/null) || true
[ "$got" = "$canary2" ] || fail "after the rerun the helper printed ${#got} characters, not the new key"
if grep -rlF -- "$canary2" "$tmp" | grep -vxF -e "$keyfile" -e "$state/default.cred"; then
  fail "the new key leaked"
fi
ok "a rerun with a corrected ANTHROPIC_API_KEY replaces the key file the installer wrote"

# A key file the user edited since is theirs: a rerun with yet another key leaves it alone.
canary3="sk-ant-canary-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$canary3" >"$keyfile"
ANTHROPIC_API_KEY="sk-ant-other-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
  install_run "$tmp/install4.out"
[ "$(cat "$keyfile")" = "$canary3" ] || fail "a rerun replaced a key file the user had edited"
grep -q "was changed since the install wrote it" "$tmp/install4.out" ||
  fail "the rerun did not say why it kept the edited key file"
ok "a key file edited by the user is kept by a rerun"

# --- uninstall ------------------------------------------------------------------------------
bash "$src/install/uninstall.sh" >"$tmp/uninstall.out" 2>&1 || fail "uninstall.sh exited $?"
for _ in $(seq 50); do kill -0 "$refresher_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$refresher_pid" 2>/dev/null; then fail "the refresher still runs after uninstall"; fi
refresher_pid=""
[ ! -e "$pidfile" ] || fail "the pid file outlived the refresher"
[ ! -e "$PREFIX" ] || fail "PREFIX still exists: $(find "$PREFIX" | head -5)"
expect "settings.json restored" "$(sha256sum <"$settings")" "$settings_sum"
if [ ! -f "$config" ] || [ ! -f "$keyfile" ]; then fail "uninstall without --purge removed config or key"; fi
grep -q 'stopped the background refresher' "$tmp/uninstall.out" || fail "uninstall did not say it stopped the refresher"
ok "uninstall: refresher stopped, binaries and PREFIX gone, settings.json byte for byte back"

bash "$src/install/uninstall.sh" --purge >"$tmp/purge.out" 2>&1 || fail "uninstall.sh --purge exited $?"
[ ! -e "$keyfile" ] || fail "--purge kept the key file"
[ ! -e "$config" ] || fail "--purge kept the unchanged config"
[ ! -e "$state" ] || fail "--purge kept the state dir"
expect "settings.json still restored" "$(sha256sum <"$settings")" "$settings_sum"
if grep -rlF -e "$canary" -e "$canary2" "$tmp"; then fail "the key is still somewhere after --purge"; fi
ok "uninstall --purge removes the key file, the config it wrote and the state dir"

# ================= Part 2: a user systemd (fake systemctl) ====================================
setup_env systemd
fakebin=$tmp/systemd/fakebin
mkdir -p "$fakebin"
cat >"$fakebin/systemctl" <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >>"$CKH_FAKE_SYSTEMCTL_LOG"
exit 0
EOF
chmod +x "$fakebin/systemctl"
export CKH_FAKE_SYSTEMCTL_LOG=$tmp/systemd/systemctl.log
ANTHROPIC_API_KEY=sk-ant-systemd-path PATH=$fakebin:$PATH install_run "$tmp/install-systemd.out"
units=$XDG_CONFIG_HOME/systemd/user
for u in claude-key-refresher.service claude-key-refresher-once.service claude-key-refresher-once.timer; do
  [ -f "$units/$u" ] || fail "unit $u not installed"
done
grep -qxF "ExecStart=$PREFIX/bin/claude-key-refresher run" "$units/claude-key-refresher.service" ||
  fail "the service does not run PREFIX/bin: $(grep ExecStart "$units/claude-key-refresher.service")"
grep -qxF "ExecStart=$PREFIX/bin/claude-key-refresher once" "$units/claude-key-refresher-once.service" ||
  fail "the once service does not run PREFIX/bin"
for call in "--user daemon-reload" "--user enable claude-key-refresher.service" \
            "--user restart claude-key-refresher.service"; do
  grep -qxF -- "$call" "$CKH_FAKE_SYSTEMCTL_LOG" || fail "install did not run systemctl $call"
done
[ ! -e "$state/refresher.pid" ] || fail "a background refresher was started although systemd runs"
grep -qx '\[profile.default.static\]' "$config" || fail "no config with the key file written"
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -m 0700 "$tmp/systemd/runtime"
  out=$(cd "$units" && XDG_RUNTIME_DIR=$tmp/systemd/runtime systemd-analyze --user verify \
        claude-key-refresher.service claude-key-refresher-once.service \
        claude-key-refresher-once.timer 2>&1) || fail "installed units do not verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify complained: $out"
fi
ok "with a user systemd: units installed for PREFIX, service enabled and restarted"

PATH=$fakebin:$PATH bash "$src/install/uninstall.sh" >"$tmp/uninstall-systemd.out" 2>&1 ||
  fail "uninstall.sh exited $?"
grep -qxF -- "--user disable --now claude-key-refresher.service" "$CKH_FAKE_SYSTEMCTL_LOG" ||
  fail "uninstall did not disable the service"
for u in claude-key-refresher.service claude-key-refresher-once.service claude-key-refresher-once.timer; do
  [ ! -e "$units/$u" ] || fail "unit $u left behind"
done
[ ! -e "$PREFIX" ] || fail "PREFIX left behind"
expect "settings.json restored (systemd)" "$(sha256sum <"$settings")" "$settings_sum"
ok "uninstall with a user systemd: service disabled, units and binaries removed"

# ================= Part 3: an existing config with short-lived credentials ====================
setup_env shortlived
mkdir -p "$XDG_CONFIG_HOME/claude-key-helper"
cat >"$config" <<'EOF'
[profile.gw]
backend = "command"
refresh_before_expiry = "30s"
[profile.gw.command]
argv = ["/bin/echo", "short-lived-token"]
ttl = "1m"
EOF
config_sum=$(sha256sum <"$config")
# The state dir is one of the user's, there before the install: --purge may remove only
# the refresher's files from it.
export CLAUDE_KEY_HELPER_STATE_DIR=$tmp/shortlived/my-state
state=$CLAUDE_KEY_HELPER_STATE_DIR
mkdir -m 0700 "$state"
echo "mine" >"$state/notes.txt"
for f in build.lock notes.status gw.txt daemon.reload; do echo "mine" >"$state/$f"; done
CLAUDE_KEY_HELPER_PROFILE=gw install_run "$tmp/install-short.out" --no-start
# A rerun finds its own manifest in the dir: the dir must stay the user's all the same.
CLAUDE_KEY_HELPER_PROFILE=gw install_run "$tmp/install-short2.out" --no-start
grep -q "^statedir" "$state/install-manifest.txt" && fail "a rerun recorded the user's state dir as the installer's"
# Files of a profile added to the config after the install go too.
printf '\n[profile.later]\nbackend = "command"\n[profile.later.command]\nargv = ["/bin/echo", "later-token"]\n' >>"$config"
config_sum=$(sha256sum <"$config")
env -u ANTHROPIC_API_KEY "$PREFIX/bin/claude-key-refresher" once --profile later >/dev/null 2>&1 ||
  fail "once for the profile added later failed"
[ -f "$state/later.cred" ] || fail "once wrote no later.cred"
expect "config untouched" "$(sha256sum <"$config")" "$config_sum"
expect "apiKeyHelper for gw" "$(pyval "$settings" 'd["apiKeyHelper"]')" "$PREFIX/bin/claude-key-helper --profile gw"
# 60 s credentials refreshed when 30 s are left; the helper needs TTL + 15 s -> 15 s.
expect "TTL for 1m credentials" "$(pyval "$settings" 'd["env"]["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"]')" 15000
expect "env kept" "$(pyval "$settings" 'd["env"]["FOO"]')" 1
[ ! -e "$state/refresher.pid" ] || fail "--no-start started a refresher"
bash "$src/install/uninstall.sh" --purge >"$tmp/uninstall-short.out" 2>&1 || fail "uninstall.sh --purge exited $?"
expect "user config kept by --purge" "$(sha256sum <"$config")" "$config_sum"
for f in notes.txt build.lock notes.status gw.txt daemon.reload; do
  [ "$(cat "$state/$f" 2>/dev/null)" = mine ] || fail "--purge removed $f, a file of the user's own state dir"
done
left=$(cd "$state" && ls -A | grep -vx -e notes.txt -e build.lock -e notes.status -e gw.txt -e daemon.reload || true)
[ -z "$left" ] || fail "--purge left the refresher's files in the user's state dir: $left"
unset CLAUDE_KEY_HELPER_STATE_DIR
expect "settings.json restored (TTL)" "$(sha256sum <"$settings")" "$settings_sum"
ok "an existing config and state dir are kept (even by --purge); short-lived credentials get a fitting TTL"

# ================= The example config =============================================================
example=$src/install/config.example.toml
if env -u ANTHROPIC_API_KEY CLAUDE_KEY_HELPER_CONFIG="$example" "$CKH_REFRESHER" check-config >/dev/null 2>&1; then
  fail "the all-commented example config configures something"
fi
json=$(ANTHROPIC_API_KEY=sk-ant-example CLAUDE_KEY_HELPER_CONFIG="$example" "$CKH_REFRESHER" check-config --json) ||
  fail "the example config with ANTHROPIC_API_KEY set does not behave as no config: $json"
expect "example = no config" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print([(p["name"], p["backend"]) for p in d["profiles"]])' "$json")" "[('default', 'static')]"
# Every option it documents is real: uncommented (with one of env/file), it is valid.
mkdir -p "$HOME/.config/claude-key-helper"
printf 'k' >"$HOME/.config/claude-key-helper/anthropic-api-key"
chmod 0600 "$HOME/.config/claude-key-helper/anthropic-api-key"
sed -E -e '/^# env = /d' -e 's/^# (\[|[a-z_]+ = )/\1/' "$example" >"$tmp/example-uncommented.toml"
CLAUDE_KEY_HELPER_CONFIG=$tmp/example-uncommented.toml "$CKH_REFRESHER" check-config >"$tmp/example.out" 2>&1 ||
  fail "the uncommented example config is invalid: $(cat "$tmp/example.out")"
ok "the example config behaves as no config; uncommented, every option in it is valid"

echo "$passed passed, 0 failed"

#!/usr/bin/env bash
# Integration test of the refresher's service definitions (install/systemd, install/cron,
# install/launchd) and install/render-units.sh:
# - the shipped systemd user units, and the units rendered for an unusual prefix (spaces,
#   quotes, %, $), pass `systemd-analyze --user verify` with nothing printed; verify is
#   pointed at real binaries (the built claude-key-refresher copied into the prefix), and
#   fails when the binary is missing (so the check is real);
# - the once service is a oneshot running `once`; the timer fires every 4 minutes;
# - the plist (shipped and rendered) is well-formed (plistlib) with RunAtLoad, KeepAlive,
#   ProgramArguments [.../claude-key-refresher, run] and a log in ~/Library/Logs;
# - the crontab holds one line, every 4 minutes, and running its command runs `once`.
# Exit 77 ("skipped: ...") when systemd-analyze is missing, after the other checks ran.
set -euo pipefail

src=${CKH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
render=$src/install/render-units.sh
command -v python3 >/dev/null 2>&1 || { echo "skipped: python3 is not installed"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passed=$((passed + 1)); echo "ok - $*"; }
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], expected [$3]"; }

# The refresher to point the units at: the built one when there is one.
refresher=${CKH_REFRESHER:-}
if [ -z "$refresher" ] || [ ! -x "$refresher" ]; then
  echo "note: no built claude-key-refresher (CKH_REFRESHER); using a stand-in executable"
  refresher=/bin/true
fi

home=$tmp/home
weird="$tmp/pre fix/100%\$HOME"     # blanks, a specifier, a literal $
quoted="$tmp/it's \"q\""             # fine for cron and launchd; systemd refuses quotes
mkdir -p "$home/.local/bin" "$weird/bin" "$quoted/bin"
cp "$refresher" "$home/.local/bin/claude-key-refresher"
cp "$refresher" "$weird/bin/claude-key-refresher"
"$render" --prefix "$home/.local" --home "$home" --out "$tmp/default"
"$render" --prefix "$weird" --home "$home" --out "$tmp/weird"
"$render" --prefix "$quoted" --home "$home" --out "$tmp/quoted" --only cron --only launchd
if err=$("$render" --prefix "$quoted" --out "$tmp/no" --only systemd 2>&1); then
  fail "render-units accepted a prefix with quotes for systemd"
fi
grep -q 'quotes' <<<"$err" || fail "unclear refusal: $err"
[ ! -e "$tmp/no" ] || fail "render-units wrote something although it refused"

# --- rendering --------------------------------------------------------------------------------
for f in systemd/claude-key-refresher.service systemd/claude-key-refresher-once.service \
         systemd/claude-key-refresher-once.timer cron/claude-key-refresher.crontab; do
  cmp -s "$src/install/$f" "$tmp/default/${f#*/}" || fail "rendering for ~/.local changed $f"
done
want="ExecStart=\"$tmp/pre fix/100%%\$HOME/bin/claude-key-refresher\" run"
grep -qxF -- "$want" "$tmp/weird/claude-key-refresher.service" ||
  fail "ExecStart not escaped: $(grep ExecStart "$tmp/weird/claude-key-refresher.service")"
want="ExecReload=\"$tmp/pre fix/100%%\$HOME/bin/claude-key-refresher\" reload --pid \$MAINPID"
grep -qxF -- "$want" "$tmp/weird/claude-key-refresher.service" ||
  fail "ExecReload not rendered: $(grep ExecReload "$tmp/weird/claude-key-refresher.service")"
ok "render-units: the shipped files are the ~/.local rendering; other prefixes are escaped; quotes refused for systemd"

# --- unit contents ------------------------------------------------------------------------------
svc=$src/install/systemd/claude-key-refresher.service
once=$src/install/systemd/claude-key-refresher-once.service
timer=$src/install/systemd/claude-key-refresher-once.timer
grep -qx 'ExecStart=%h/.local/bin/claude-key-refresher run' "$svc" || fail "service ExecStart"
grep -qx 'Restart=on-failure' "$svc" || fail "service Restart"
# Issue 11 item 7: notify with a watchdog, and a reload that waits for the daemon's answer
# (systemd 252 has no Type=notify-reload; `kill -HUP` returns before the daemon reloaded).
grep -qx 'Type=notify' "$svc" || fail "service Type=notify"
grep -qx 'NotifyAccess=main' "$svc" || fail "service NotifyAccess=main"
grep -qE '^WatchdogSec=[1-9]' "$svc" || fail "service WatchdogSec"
grep -qx 'ExecReload=%h/.local/bin/claude-key-refresher reload --pid $MAINPID' "$svc" ||
  fail "service ExecReload: $(grep ExecReload "$svc")"
! grep -qE '^ExecReload=.*kill' "$svc" || fail "service still reloads with kill"
grep -qx 'UMask=0077' "$svc" || fail "service UMask"
grep -qx 'NoNewPrivileges=yes' "$svc" || fail "service NoNewPrivileges"
grep -qx 'WantedBy=default.target' "$svc" || fail "service WantedBy"
grep -qx 'Type=oneshot' "$once" || fail "once Type"
grep -qx 'ExecStart=%h/.local/bin/claude-key-refresher once' "$once" || fail "once ExecStart"
grep -qx 'OnUnitActiveSec=4min' "$timer" || fail "timer interval"
grep -qx 'OnBootSec=1min' "$timer" || fail "timer OnBootSec"
grep -qx 'Persistent=true' "$timer" || fail "timer Persistent"
grep -qx 'Unit=claude-key-refresher-once.service' "$timer" || fail "timer Unit"
ok "service runs 'run' (notify, watchdog, waiting reload, restart on failure, umask 0077), once is a oneshot, timer every 4 min"

# --- launchd plist ----------------------------------------------------------------------------
python3 - "$src/install/launchd/com.github.claude-key-helper.refresher.plist" \
  "$tmp/weird/com.github.claude-key-helper.refresher.plist" "$weird" "$home" \
  "$tmp/quoted/com.github.claude-key-helper.refresher.plist" "$quoted" <<'EOF'
import plistlib, sys
shipped, rendered, prefix, home, rendered2, prefix2 = sys.argv[1:]
for path, bindir, logs in ((shipped, "@BINDIR@", "@HOME@/Library/Logs/"),
                           (rendered, prefix + "/bin", home + "/Library/Logs/"),
                           (rendered2, prefix2 + "/bin", home + "/Library/Logs/")):
    with open(path, "rb") as f:
        p = plistlib.load(f)
    assert p["Label"] == "com.github.claude-key-helper.refresher", p["Label"]
    assert p["RunAtLoad"] is True and p["KeepAlive"] is True, p
    assert p["ProgramArguments"] == [bindir + "/claude-key-refresher", "run"], p["ProgramArguments"]
    assert p["StandardErrorPath"].startswith(logs), p["StandardErrorPath"]
    assert p["StandardErrorPath"].endswith(".log"), p["StandardErrorPath"]
with open(rendered, "rb") as f:
    assert b"<string>@" not in f.read(), "placeholder left in the rendered plist"
EOF
if command -v xmllint >/dev/null 2>&1; then
  xmllint --noout "$src/install/launchd/com.github.claude-key-helper.refresher.plist"
fi
ok "launchd plist well-formed: RunAtLoad, KeepAlive, run, log in ~/Library/Logs"

# --- crontab: one line, every 4 minutes, running `once` -----------------------------------------
cat >"$tmp/fake-refresher" <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >>"$CKH_FAKE_LOG"
echo "fake refresher ran" >&2
EOF
chmod +x "$tmp/fake-refresher"
for tab in "$src/install/cron/claude-key-refresher.crontab" "$tmp/weird/claude-key-refresher.crontab" \
           "$tmp/quoted/claude-key-refresher.crontab"; do
  lines=$(grep -v '^[[:space:]]*#' "$tab" | grep -c '[^[:space:]]' || true)
  expect "crontab entries in $tab" "$lines" 1
  line=$(grep -v '^[[:space:]]*#' "$tab" | grep '[^[:space:]]')
  read -r m h dom mon dow cmd <<<"$line"
  expect "schedule" "$m $h $dom $mon $dow" "*/4 * * * *"
  # As cron does: \% becomes %, and the rest goes to /bin/sh with a minimal environment.
  cmd=${cmd//\\%/%}
  cronhome=$tmp/cronhome
  rm -rf "$cronhome" "$tmp/fake.log"
  mkdir -p "$cronhome/.local/bin"
  cp "$tmp/fake-refresher" "$cronhome/.local/bin/claude-key-refresher"
  cp "$tmp/fake-refresher" "$weird/bin/claude-key-refresher"
  cp "$tmp/fake-refresher" "$quoted/bin/claude-key-refresher"
  env -i HOME="$cronhome" PATH=/usr/bin:/bin SHELL=/bin/sh CKH_FAKE_LOG="$tmp/fake.log" /bin/sh -c "$cmd"
  expect "arguments the crontab line passes" "$(cat "$tmp/fake.log")" "once"
  log=$cronhome/.local/state/claude-key-helper/cron.log
  expect "cron log" "$(cat "$log")" "fake refresher ran"
  expect "cron log mode" "$(stat -c %a "$log")" 600
  expect "state dir mode" "$(stat -c %a "$cronhome/.local/state/claude-key-helper")" 700
done
cp "$refresher" "$weird/bin/claude-key-refresher"
ok "crontab: one line every 4 minutes; running it runs 'claude-key-refresher once'"

# --- systemd-analyze verify ---------------------------------------------------------------------
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "$passed passed, 0 failed"
  echo "skipped: systemd-analyze is not installed (the other checks passed)"
  exit 77
fi
runtime=$tmp/runtime
mkdir -m 0700 "$runtime"
verify() {  # verify DIR: all three units in DIR; prints what systemd-analyze said
  (cd "$1" && HOME=$home XDG_RUNTIME_DIR=$runtime SYSTEMD_LOG_COLOR=0 \
    systemd-analyze --user verify claude-key-refresher.service \
    claude-key-refresher-once.service claude-key-refresher-once.timer 2>&1)
}
for dir in "$src/install/systemd" "$tmp/weird"; do
  if ! out=$(verify "$dir"); then fail "systemd-analyze verify failed in $dir: $out"; fi
  [ -z "$out" ] || fail "systemd-analyze verify complained about $dir: $out"
done
rm "$weird/bin/claude-key-refresher"
if out=$(verify "$tmp/weird"); then
  fail "systemd-analyze verify passed although the binary is missing: $out"
fi
grep -q 'claude-key-refresher' <<<"$out" || fail "unexpected verify failure: $out"
ok "systemd-analyze --user verify: shipped and rendered units clean; a missing binary is caught"

echo "$passed passed, 0 failed"

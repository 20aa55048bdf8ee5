#!/usr/bin/env bash
# The shipped systemd user units, run for real under a private `systemd --user` (item 7 of
# issue 11). Checks:
# - claude-key-refresher.service is Type=notify: `systemctl --user start` returns once the
#   daemon said READY=1, and it is active; its socket is in $XDG_RUNTIME_DIR/claude-key-helper/
#   (0700), not in the state dir;
# - the helper gets a credential through that daemon (no `once` fallback possible);
# - `systemctl --user reload` waits for the daemon: it succeeds with a good config (the daemon
#   has finished the reload when it returns) and FAILS with a broken one, while the daemon
#   keeps running (same pid) and serving the previous config;
# - the watchdog (WatchdogSec=10s in a drop-in) fires when the daemon is stopped with SIGSTOP,
#   and systemd restarts it;
# - `systemctl --user stop` is clean (status 0, socket and reload file removed);
# - claude-key-refresher-once.service runs `once` successfully, and the timer starts it.
# Outside systemd: a daemon started without $XDG_RUNTIME_DIR (nohup, cron) listens in the state
# dir, and a helper run with $XDG_RUNTIME_DIR set (Claude Code) still reaches it; a daemon whose
# runtime dir is removed (logind, at logout) listens again, in the state dir when $XDG_RUNTIME_DIR
# itself is gone, and keeps serving.
#
# How: a container is not booted with systemd (`systemd --user` refuses when
# /run/systemd/system is missing), so the test re-runs itself in a private mount namespace
# (unshare -m, or unshare -rm without root) with a tmpfs on /run/systemd holding that marker;
# XDG_RUNTIME_DIR, HOME and the XDG dirs are private temp dirs. On a host booted with systemd
# it runs the manager directly. Exit 77 only when systemd itself is not installed.
set -euo pipefail

: "${CKH_HELPER:?run through ctest (CKH_HELPER unset)}"
: "${CKH_REFRESHER:?run through ctest (CKH_REFRESHER unset)}"
src=${CKH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

manager=""
for candidate in /lib/systemd/systemd /usr/lib/systemd/systemd; do
  [ -x "$candidate" ] && { manager=$candidate; break; }
done
if [ -z "$manager" ] || ! command -v systemctl >/dev/null 2>&1; then
  echo "skipped: systemd is not installed"
  exit 77
fi

if [ "${CKH_SYSTEMD_NS:-}" != 1 ] && [ ! -d /run/systemd/system ]; then
  unshare_args=(-m)
  [ "$(id -u)" = 0 ] || unshare_args=(-r -m)
  # shellcheck disable=SC2016  # expanded by the inner shell
  exec env CKH_SYSTEMD_NS=1 unshare "${unshare_args[@]}" bash -c '
    set -e
    if [ -d /run/systemd ]; then mount -t tmpfs -o mode=0755 tmpfs /run/systemd
    else mount -t tmpfs -o mode=0755 tmpfs /run; fi
    mkdir -p /run/systemd/system
    exec bash "$0"' "${BASH_SOURCE[0]}"
fi

# shellcheck source=tests/integration/lib_checks.sh
source "$src/tests/integration/lib_checks.sh"
private_tmp ckh-sd
unset CLAUDE_KEY_HELPER_STATE_DIR CLAUDE_KEY_HELPER_CONFIG ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN \
  CLAUDE_KEY_REFRESHER CLAUDE_KEY_HELPER_PROFILE NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID \
  DBUS_SESSION_BUS_ADDRESS MAINPID JOURNAL_STREAM || true
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_STATE_HOME=$T/home/.local/state
export XDG_RUNTIME_DIR=$T/run SYSTEMD_LOG_COLOR=0 SYSTEMD_PAGER=cat
mkdir -p "$HOME/.local/bin" "$XDG_CONFIG_HOME/claude-key-helper" "$XDG_CONFIG_HOME/systemd/user"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
state=$XDG_STATE_HOME/claude-key-helper
rundir=$XDG_RUNTIME_DIR/claude-key-helper
cp "$CKH_REFRESHER" "$HOME/.local/bin/claude-key-refresher"
cp "$CKH_HELPER" "$HOME/.local/bin/claude-key-helper"
refresher=$HOME/.local/bin/claude-key-refresher
helper=$HOME/.local/bin/claude-key-helper

# The shipped units as the installer renders them for ~/.local, plus a test drop-in: a short
# watchdog and quick restarts (the watchdog still gets 10 s: no tighter window here).
units=$XDG_CONFIG_HOME/systemd/user
"$src/install/render-units.sh" --prefix "$HOME/.local" --home "$HOME" --out "$units" --only systemd
mkdir -p "$units/claude-key-refresher.service.d" "$units/claude-key-refresher-once.timer.d"
# ExecStopPost records how each run ended ($SERVICE_RESULT: success, watchdog, ...).
printf '[Service]\nWatchdogSec=10s\nRestartSec=1s\nTimeoutAbortSec=3s\nExecStopPost=/bin/sh -c %s\n' \
  "'echo \"\$SERVICE_RESULT \$EXIT_CODE \$EXIT_STATUS\" >>$T/results'" \
  >"$units/claude-key-refresher.service.d/test.conf"
printf '[Timer]\nOnActiveSec=1s\n' >"$units/claude-key-refresher-once.timer.d/test.conf"

key1=sk-ant-sdtest-$RANDOM$RANDOM-one key2=sk-ant-sdtest-$RANDOM$RANDOM-two
secret "$key1"
secret "$key2"
(umask 077 && printf '%s\n' "$key1" >"$T/key1" && printf '%s\n' "$key2" >"$T/key2")
config=$XDG_CONFIG_HOME/claude-key-helper/config.toml
write_config() {  # write_config KEYFILE
  printf '[profile.default]\nbackend = "static"\n[profile.default.static]\nfile = "%s"\n' "$1" \
    >"$config.tmp"
  mv "$config.tmp" "$config"
}
write_config "$T/key1"

sc() { timeout 120 systemctl --user --no-pager "$@"; }
prop() { sc show -p "$2" --value "$1"; }
# poll_until SECONDS COMMAND...: true once COMMAND succeeds (a generous bound, not a window).
poll_until() {
  local until=$((SECONDS + $1))
  shift
  while ((SECONDS < until)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
# The helper as Claude Code runs it, unable to run `once` itself: only a daemon can answer.
helper_via_daemon() {
  rm -f "$state/default.cred"
  set +e
  OUT=$(CLAUDE_KEY_REFRESHER=/nonexistent/claude-key-refresher timeout 60 "$helper" </dev/null 2>"$T/helper.err")
  RC=$?
  set -e
}

manager_pid=""
stop_manager() {
  if [ -n "$manager_pid" ] && kill -0 "$manager_pid" 2>/dev/null; then
    local main
    main=$(prop claude-key-refresher.service MainPID 2>/dev/null || echo 0)
    [ "${main:-0}" = 0 ] || kill -CONT "$main" 2>/dev/null || true
    kill -TERM "$manager_pid" 2>/dev/null || true
    poll_until 30 bash -c "! kill -0 $manager_pid" || kill -KILL "$manager_pid" 2>/dev/null || true
  fi
  manager_pid=""
}
trap 'stop_manager; cleanup' EXIT

# --- outside systemd: a daemon without XDG_RUNTIME_DIR, a helper with it -----------------------
env -u XDG_RUNTIME_DIR "$refresher" run 2>"$T/nohup-daemon.log" &
nohup_pid=$!
BG_PIDS+=("$nohup_pid")
poll_until 60 test -S "$state/default.sock" ||
  fail "a daemon started without XDG_RUNTIME_DIR does not listen in the state dir: $(cat "$T/nohup-daemon.log")"
helper_via_daemon
expect_eq "a helper with XDG_RUNTIME_DIR reaches a daemon started without it (exit)" 0 "$RC"
expect_eq "... and prints the key" "$key1" "$OUT"
kill -TERM "$nohup_pid"
wait "$nohup_pid" || fail "the daemon started without XDG_RUNTIME_DIR did not stop cleanly"

# --- a runtime subdir that breaks the state-dir rule (0755) is not used, by either binary -----
mkdir -m 0755 "$rundir"
"$refresher" run 2>"$T/unsafe-daemon.log" &
unsafe_pid=$!
BG_PIDS+=("$unsafe_pid")
poll_until 60 test -S "$state/default.sock" ||
  fail "with an unsafe runtime dir the daemon does not listen in the state dir: $(cat "$T/unsafe-daemon.log")"
[ ! -e "$rundir/default.sock" ] && pass "no socket in a 0755 runtime dir" || fail "a socket in a 0755 runtime dir"
grep -q 'using the state dir for the sockets instead' "$T/unsafe-daemon.log" &&
  pass "the daemon says why: $(grep -m1 'using the state dir' "$T/unsafe-daemon.log" | cut -c1-160)" ||
  fail "no warning about the unsafe runtime dir: $(cat "$T/unsafe-daemon.log")"
helper_via_daemon
expect_eq "the helper skips the unsafe runtime dir and reaches the daemon" "0 $key1" "$RC $OUT"
kill -TERM "$unsafe_pid"
wait "$unsafe_pid" || fail "that daemon did not stop cleanly"
rm -rf "$rundir"

# --- two state dirs in one session (another XDG_STATE_HOME): the second does not take the
# first's runtime socket, and neither takes it back from the other ---------------------------
WATCHDOG_USEC=2000000 "$refresher" run 2>"$T/first.log" &
first_pid=$!
BG_PIDS+=("$first_pid")
poll_until 60 test -S "$rundir/default.sock" || fail "first daemon: $(cat "$T/first.log")"
first_sock=$(stat -c %i "$rundir/default.sock" 2>/dev/null)
other=$T/other-state
WATCHDOG_USEC=2000000 XDG_STATE_HOME=$other "$refresher" run 2>"$T/second.log" &
second_pid=$!
BG_PIDS+=("$second_pid")
poll_until 60 test -S "$other/claude-key-helper/default.sock" ||
  fail "the second state dir's daemon does not listen in its state dir: $(cat "$T/second.log")"
sleep 3  # several rounds of both loops (0.5 s each)
expect_eq "the first daemon's runtime socket is left alone" "$first_sock" "$(stat -c %i "$rundir/default.sock" 2>/dev/null)"
kill -0 "$first_pid" && kill -0 "$second_pid" && pass "both daemons run" || fail "a daemon exited"
kill -TERM "$first_pid" "$second_pid"
wait "$first_pid" || fail "first daemon exit"
wait "$second_pid" || fail "second daemon exit"

# --- the runtime dir taken away under a daemon (logind at the end of the last session) -------
# WATCHDOG_USEC without NOTIFY_SOCKET: nothing is sent, but the workers look every 0.5 s.
WATCHDOG_USEC=2000000 "$refresher" run 2>"$T/rt-daemon.log" &
rt_pid=$!
BG_PIDS+=("$rt_pid")
poll_until 60 test -S "$rundir/default.sock" ||
  fail "a daemon with XDG_RUNTIME_DIR does not listen in it: $(cat "$T/rt-daemon.log")"
rm -rf "$rundir"
if poll_until 60 test -S "$rundir/default.sock"; then
  pass "the runtime dir's socket removed: the daemon listens there again"
else
  fail "the daemon did not listen again after its runtime dir was removed: $(tail -3 "$T/rt-daemon.log")"
fi
rm -rf "$XDG_RUNTIME_DIR"
if poll_until 60 test -S "$state/default.sock"; then
  pass "\$XDG_RUNTIME_DIR itself removed: the daemon falls back to the state dir"
else
  fail "no fallback to the state dir: $(tail -3 "$T/rt-daemon.log")"
fi
mkdir -m 0700 "$XDG_RUNTIME_DIR"  # the next login's, empty
helper_via_daemon
expect_eq "a helper of the next session reaches it (exit)" 0 "$RC"
kill -0 "$rt_pid" 2>/dev/null && pass "the daemon kept running" || fail "the daemon exited: $(tail -3 "$T/rt-daemon.log")"
kill -TERM "$rt_pid"
wait "$rt_pid" || fail "that daemon did not stop cleanly"

# --- the user manager -------------------------------------------------------------------------
"$manager" --user >"$T/manager.log" 2>&1 &
manager_pid=$!
poll_until 60 systemctl --user is-system-running ||
  { fail "systemd --user did not come up: $(tail -20 "$T/manager.log")"; finish; }
pass "systemd --user runs ($(systemctl --version | head -1)), is-system-running: $(sc is-system-running || true)"

if ! out=$(sc start claude-key-refresher.service 2>&1); then
  fail "systemctl --user start failed: $out $(sc status claude-key-refresher.service 2>&1 | tail -15)"
  finish
fi
expect_eq "started: active right when start returns (READY=1)" active "$(sc is-active claude-key-refresher.service || true)"
expect_eq "Type" notify "$(prop claude-key-refresher.service Type)"
expect_eq "NotifyAccess" main "$(prop claude-key-refresher.service NotifyAccess)"
expect_eq "WatchdogUSec (drop-in)" 10s "$(prop claude-key-refresher.service WatchdogUSec)"
sc status claude-key-refresher.service | sed -n '1,4p' | sed 's/^/    /'
main1=$(prop claude-key-refresher.service MainPID)
[ -S "$rundir/default.sock" ] && pass "the socket is in \$XDG_RUNTIME_DIR/claude-key-helper" ||
  fail "no socket in $rundir: $(ls -la "$rundir" "$state" 2>&1)"
expect_eq "the runtime dir's mode" 700 "$(stat -c %a "$rundir" 2>/dev/null)"
[ ! -e "$state/default.sock" ] && pass "no socket in the state dir" || fail "a socket in the state dir too"

helper_via_daemon
expect_eq "the helper gets a credential through the service (exit)" 0 "$RC"
expect_eq "... the key of the config" "$key1" "$OUT"

# --- reload: waits, succeeds with a good config ----------------------------------------------
write_config "$T/key2"
if out=$(sc reload claude-key-refresher.service 2>&1); then
  pass "systemctl --user reload with a good config succeeds"
else
  fail "reload with a good config failed: $out"
fi
progress=$rundir/daemon.$main1.reload
grep -qx 'finished: 1' "$progress" 2>/dev/null && grep -qx 'result: ok' "$progress" &&
  pass "the daemon had finished the reload when systemctl returned" ||
  fail "reload returned before the daemon finished it: $(cat "$progress" 2>&1)"
expect_eq "active after the reload" active "$(sc is-active claude-key-refresher.service || true)"
helper_via_daemon
expect_eq "after the reload the helper gets the new config's key" "$key2" "$OUT"

# --- reload: fails with a broken config, the daemon keeps serving ------------------------------
printf '[profile.default]\nbackend = "statik"\n' >"$config"
if out=$(sc reload claude-key-refresher.service 2>&1); then
  fail "systemctl --user reload succeeded with a broken config: $out"
else
  pass "systemctl --user reload with a broken config fails: $(head -1 <<<"$out")"
fi
expect_eq "still active after the refused reload" active "$(sc is-active claude-key-refresher.service || true)"
expect_eq "same daemon (no restart)" "$main1" "$(prop claude-key-refresher.service MainPID)"
grep -qx 'result: refused' "$progress" && grep -q 'statik' "$progress" &&
  pass "the daemon recorded why it refused" || fail "reload file: $(cat "$progress" 2>&1)"
helper_via_daemon
expect_eq "the daemon keeps serving the previous config" "$key2" "$OUT"
write_config "$T/key2"

# --- the watchdog ----------------------------------------------------------------------------
restarts0=$(prop claude-key-refresher.service NRestarts)
kill -STOP "$main1"
watchdog_fired() { grep -q '^watchdog ' "$T/results"; }
restarted() {
  local now
  now=$(prop claude-key-refresher.service MainPID)
  [ "$now" != 0 ] && [ "$now" != "$main1" ] && [ "$(sc is-active claude-key-refresher.service)" = active ]
}
if poll_until 90 watchdog_fired; then
  pass "the watchdog fired for the stopped daemon (SERVICE_RESULT EXIT_CODE EXIT_STATUS: $(grep -m1 '^watchdog ' "$T/results"))"
else
  fail "no watchdog timeout within 90 s of SIGSTOP (WatchdogSec=10s)"
fi
if poll_until 90 restarted; then
  pass "systemd restarted the service (NRestarts $restarts0 -> $(prop claude-key-refresher.service NRestarts))"
else
  fail "the service did not come back after the watchdog: $(sc status claude-key-refresher.service 2>&1 | head -5)"
fi
kill -0 "$main1" 2>/dev/null && fail "the stopped daemon is still there" || pass "the stopped daemon is gone"
main2=$(prop claude-key-refresher.service MainPID)
sleep 12  # longer than WatchdogSec: a daemon that is not stopped is fed and stays up
expect_eq "a running daemon is not killed by its watchdog" "$main2" "$(prop claude-key-refresher.service MainPID)"

# --- stop ----------------------------------------------------------------------------------------
if out=$(sc stop claude-key-refresher.service 2>&1); then pass "systemctl --user stop"; else fail "stop: $out"; fi
expect_eq "stopped cleanly (Result)" success "$(prop claude-key-refresher.service Result)"
expect_eq "exit status" 0 "$(prop claude-key-refresher.service ExecMainStatus)"
[ ! -e "$rundir/default.sock" ] && [ ! -e "$rundir/daemon.$main2.reload" ] &&
  pass "socket and reload file removed" || fail "left behind: $(ls -la "$rundir")"

# --- the once service and its timer ----------------------------------------------------------------
if out=$(sc start claude-key-refresher-once.service 2>&1); then
  pass "claude-key-refresher-once.service ran: $(prop claude-key-refresher-once.service Result)"
else
  fail "once.service failed: $out $(sc status claude-key-refresher-once.service 2>&1 | tail -5)"
fi
exited_at=$(prop claude-key-refresher-once.service ExecMainExitTimestampMonotonic)
sc start claude-key-refresher-once.timer || fail "the timer did not start"
once_ran_again() {
  local now
  now=$(prop claude-key-refresher-once.service ExecMainExitTimestampMonotonic)
  [ "$now" != "$exited_at" ] && [ "$(prop claude-key-refresher-once.service Result)" = success ]
}
if poll_until 60 once_ran_again; then
  pass "the timer started claude-key-refresher-once.service (Result success)"
else
  fail "the timer did not run the once service: $(sc list-timers --all 2>&1 | head -5)"
fi
sc list-timers --all 2>&1 | grep claude-key || true
sc stop claude-key-refresher-once.timer || true

results=$(cut -d' ' -f1,2 "$T/results" 2>/dev/null | paste -sd'|')
expect_eq "how each run of the service ended (SERVICE_RESULT EXIT_CODE)" "watchdog killed|success exited" "$results"
stop_manager
finish

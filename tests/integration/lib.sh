# Shared set-up for integration tests (sourced, not a test itself: ctest runs only the
# files without a leading "lib"... see tests/CMakeLists.txt). Gives each test a private
# HOME, XDG dirs and state dir, a command-backend script whose behaviour the test steers
# through files, and assertion helpers that print what failed. Everything a test starts in
# the background is killed on exit.
set -euo pipefail

: "${CKH_HELPER:?run through ctest (CKH_HELPER unset)}"
: "${CKH_REFRESHER:?run through ctest (CKH_REFRESHER unset)}"

# shellcheck source=tests/integration/lib_checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_checks.sh"
private_tmp ckh-it
export HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" XDG_STATE_HOME="$T/home/.local/state"
export CLAUDE_KEY_HELPER_STATE_DIR="$T/state"
export CLAUDE_KEY_HELPER_CONFIG="$T/config.toml"
export CLAUDE_KEY_REFRESHER="$CKH_REFRESHER"
unset ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN CLAUDE_CODE_ENTRYPOINT CLAUDE_CODE_API_KEY_HELPER_TTL_MS \
  CLAUDE_KEY_HELPER_PROFILE CLAUDE_KEY_HELPER_WAIT_MS CLAUDE_KEY_HELPER_MARGIN_MS JOURNAL_STREAM NOTIFY_SOCKET || true
mkdir -p "$HOME"
STATE="$CLAUDE_KEY_HELPER_STATE_DIR"

# A command backend steered by files in $T/backend/: "mode" is ok|fail|hang|echo-secret;
# each successful call prints key-<n> with n from "counter"; calls are logged to "calls".
make_command_backend() {
  mkdir -p "$T/backend"
  echo ok > "$T/backend/mode"
  echo 0 > "$T/backend/counter"
  : > "$T/backend/calls"
  cat > "$T/backend/fetch.sh" <<SCRIPT
#!/bin/bash
dir="$T/backend"
echo "call \$(date +%s%N)" >> "\$dir/calls"
case "\$(cat "\$dir/mode")" in
  fail) echo "upstream said no (503)" >&2; exit 3 ;;
  hang) sleep 60 ;;
  echo-secret) echo "token \$(cat "\$dir/last") rejected" >&2; exit 2 ;;
esac
n=\$(( \$(cat "\$dir/counter") + 1 ))
echo "\$n" > "\$dir/counter"
echo "key-\$n" > "\$dir/last"
echo "key-\$n"
SCRIPT
  chmod +x "$T/backend/fetch.sh"
}
backend_mode() { echo "$1" > "$T/backend/mode"; }
backend_calls() { wc -l < "$T/backend/calls" | tr -d ' '; }

# write_command_config TTL [extra profile lines...]
write_command_config() {
  local ttl=$1; shift
  {
    echo '[profile.default]'
    echo 'backend = "command"'
    for line in "$@"; do echo "$line"; done
    echo '[profile.default.command]'
    echo "argv = [\"$T/backend/fetch.sh\"]"
    echo 'timeout = "2s"'
    [ "$ttl" != none ] && echo "ttl = \"$ttl\""
  } > "$CLAUDE_KEY_HELPER_CONFIG"
}

# Claude Code never closes the helper's stdin: a FIFO held open read-write here gives the
# helper a stdin that never reaches EOF, so a helper that read it would hang (and time out).
mkfifo "$T/stdin.fifo"
exec 9<>"$T/stdin.fifo"

# Runs the helper with stdin held open (as Claude Code does) and a bound on time.
# Sets OUT, ERR, RC.
run_helper() {
  set +e
  OUT=$(timeout 30 "$CKH_HELPER" "$@" <&9 2>"$T/helper.err")
  RC=$?
  set -e
  ERR=$(cat "$T/helper.err")
}

# Starts the daemon in the background; waits until it answers.
start_daemon() {
  "$CKH_REFRESHER" run --pid-file "$T/daemon.pid" "$@" 2>>"$T/daemon.log" &
  BG_PIDS+=($!)
  DAEMON_PID=$!
  for _ in $(seq 1200); do  # a bound (60 s) for a loaded machine; returns when ready
    [ -S "$STATE/default.sock" ] && [ -f "$T/daemon.pid" ] && return 0
    sleep 0.05
  done
  fail "daemon did not start: $(cat "$T/daemon.log")"
  return 1
}

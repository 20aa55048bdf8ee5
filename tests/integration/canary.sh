#!/usr/bin/env bash
# Proves that a secret never leaks anywhere but where it belongs (the helper's stdout on
# success, P.cred, P.secret): DESIGN.md "never any part of a secret", backend.h, text.h
# redact(), command_backend's stderr redaction, the child-environment scrubbing.
#
# Canaries sharing one random token R are planted as:
#   - ANTHROPIC_API_KEY, the static backend of profile "anth" (a well-known secret name);
#   - CKH_CUSTOM_KEY, the static backend of profile "custom" (a configured secret name);
#   - the output of the command backend of profile "default", which, depending on a mode
#     file, succeeds, or fails while echoing the canary to stderr (and stdout), hangs past
#     its timeout, prints two tokens, or is killed by a signal.
# Every path that prints or logs is then driven: check-config (text, JSON), once (success,
# every failure, --helper-request replies), status (text, JSON) before and after failures,
# the helper's success (stdout checked equal to the key, then set aside) and failure paths
# (expired after ttl "2s", backoff, corrupt, unsafe mode, symlink), the daemon's stderr log
# (timer refreshes, signal, helper requests through the socket), signal's output.
# While the command backend runs it records its parent's argv, its own argv, a `ps -eo
# args` snapshot (the argv of every process, helper and refresher included) and its own
# environment (which must hold neither ANTHROPIC_API_KEY's nor CKH_CUSTOM_KEY's value).
# Finally every captured file and every state-dir file other than *.cred and *.secret is
# searched for any 10-character piece of R; a hit fails the test, naming file:line only.
set -euo pipefail

helper=${CKH_HELPER:?CKH_HELPER must name claude-key-helper (set by ctest)}
refresher=${CKH_REFRESHER:?CKH_REFRESHER must name claude-key-refresher (set by ctest)}
command -v ps >/dev/null || { echo "skipped: ps (procps) not installed"; exit 77; }

tmp=$(mktemp -d)
daemon=
cleanup() {
  if [[ -n $daemon ]]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
  if [[ ${CKH_KEEP_TMP:-} == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_STATE_HOME="$tmp/home/.local/state"
export CLAUDE_KEY_HELPER_STATE_DIR="$tmp/state" CLAUDE_KEY_HELPER_CONFIG="$tmp/config.toml"
export CLAUDE_KEY_REFRESHER="$refresher" CLAUDE_KEY_HELPER_WAIT_MS=8000
export CKH_CANARY_CONTROL=visible  # proves the child's environment was captured
unset CLAUDE_KEY_HELPER_PROFILE CLAUDE_CODE_ENTRYPOINT CLAUDE_CODE_API_KEY_HELPER_TTL_MS \
  CLAUDE_KEY_HELPER_MARGIN_MS ANTHROPIC_AUTH_TOKEN JOURNAL_STREAM NOTIFY_SOCKET
mkdir -p "$HOME"
state="$tmp/state"
captured="$tmp/captured"   # everything in here must be free of the canary
mkdir -p "$captured"

# The canaries. Never put one on a command line (it would show in ps): builtins only.
R=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
canary_env="sk-ant-CANARY-$R-env"
canary_custom="sk-ant-CANARY-$R-custom"
canary_cmd="sk-ant-CANARY-$R-cmd"
export ANTHROPIC_API_KEY=$canary_env CKH_CUSTOM_KEY=$canary_custom
printf '%s\n' "$canary_cmd" >"$tmp/canary.cmd"
# Search patterns: every 10-character window of R (catches partial echoes too).
for ((i = 0; i + 10 <= ${#R}; i++)); do printf '%s\n' "${R:i:10}"; done >"$tmp/patterns"

cat >"$tmp/command.sh" <<EOF
#!/usr/bin/env bash
# The command backend. Records what a snooping process could see, then acts per mode.
dir='$tmp'
cap="\$dir/captured"
read -r mode <"\$dir/mode"
read -r canary <"\$dir/canary.cmd"
tr '\0' ' ' </proc/\$PPID/cmdline >"\$cap/argv-parent.\$\$"
tr '\0' ' ' </proc/\$\$/cmdline >"\$cap/argv-self.\$\$"
ps -eo pid,ppid,args >"\$cap/ps-snapshot.\$\$"
env >"\$cap/child-env.\$\$"
case \$mode in
  ok) printf '%s\n' "\$canary" ;;
  fail-stderr) printf 'authentication failed: token %s was rejected\n' "\$canary" >&2; exit 1 ;;
  fail-both) printf '%s\n' "\$canary"; printf 'error: could not use %s\n' "\$canary" >&2; exit 3 ;;
  timeout) printf 'hanging while holding %s\n' "\$canary" >&2; sleep 30 ;;
  invalid) printf '%s %s\n' "\$canary" "\$canary" ;;
  signal) printf 'dying with %s\n' "\$canary" >&2; kill -KILL \$\$ ;;
esac
EOF
chmod 700 "$tmp/command.sh"
set_mode() { printf '%s\n' "$1" >"$tmp/mode"; }
set_mode ok

cat >"$tmp/config.toml" <<EOF
[profile.default]
backend = "command"
refresh_before_expiry = "1s"
backoff_min = "1s"
backoff_max = "1s"
[profile.default.command]
argv = ["$tmp/command.sh"]
timeout = "2s"
ttl = "2s"

[profile.anth]
backend = "static"
[profile.anth.static]
env = "ANTHROPIC_API_KEY"

[profile.custom]
backend = "static"
[profile.custom.static]
env = "CKH_CUSTOM_KEY"
EOF

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
step=0

# run <label> <expect: ok|fail|N> <command...>: stdout and stderr into $captured.
run() {
  local label=$1 expect=$2 rc=0
  shift 2
  step=$((step + 1))
  local base
  base="$captured/$(printf '%02d' "$step")-$label"
  "$@" >"$base.out" 2>"$base.err" </dev/null || rc=$?
  case $expect in
    ok) ((rc == 0)) || fail "$label: exited $rc, expected success (stderr in ${base#"$tmp"/}.err)" ;;
    fail) ((rc != 0)) || fail "$label: succeeded, expected a failure" ;;
    # status: its exit code is the worst profile's health (status_health.sh tests it); not a crash
    any) ((rc < 64 || (rc >= 69 && rc <= 78))) || fail "$label: exited $rc" ;;
    *) ((rc == expect)) || fail "$label: exited $rc, expected $expect" ;;
  esac
  last_base=$base
}

# helper_ok <label> <profile> <expected key>: its stdout is the secret, so it is compared
# and kept out of $captured; its stderr must be empty.
helper_ok() {
  local label=$1 profile=$2 expected=$3 rc=0 out
  step=$((step + 1))
  local err
  err="$captured/$(printf '%02d' "$step")-$label.err"
  "$helper" --profile "$profile" >"$tmp/helper-stdout" 2>"$err" </dev/null || rc=$?
  out=
  IFS= read -r -d '' out <"$tmp/helper-stdout" || true
  ((rc == 0)) || fail "$label: helper exited $rc"
  [[ $out == "$expected"$'\n' ]] || fail "$label: helper did not print the expected key"
  [[ ! -s $err ]] || fail "$label: helper wrote to stderr on success"
}

wait_expired() {  # the default profile's credential (ttl 2s) is past its expiry
  sleep 3
}

# ---- successes ----------------------------------------------------------------------------
run check-config ok "$refresher" check-config
run check-config-json ok "$refresher" check-config --json
run once-all ok "$refresher" once
helper_ok helper-default default "$canary_cmd"
helper_ok helper-anth anth "$canary_env"
helper_ok helper-custom custom "$canary_custom"
# As Claude Code runs it: the helper then remembers what it served in callers/.
CLAUDE_CODE_ENTRYPOINT=cli helper_ok helper-as-claude-code anth "$canary_env"
run status any "$refresher" status
run status-json any "$refresher" status --json

# ---- command failures that echo the canary --------------------------------------------------
set_mode fail-stderr
run once-force-fail-stderr fail "$refresher" once --force --profile default
run helper-request-fail ok "$refresher" once --profile default --helper-request "refresh reason=forced seen=1 need_until=0"
grep -q '^failed transient ' "$last_base.out" || fail "helper-request-fail: the reply is not a transient failure"
wait_expired
export CLAUDE_CODE_API_KEY_HELPER_TTL_MS=1000 CLAUDE_KEY_HELPER_MARGIN_MS=0
run helper-expired-backoff 75 "$helper" --profile default
sleep 1.5  # past the 1 s backoff: the next request reaches the backend
run helper-expired-fetch 75 "$helper" --profile default
[[ ! -s $last_base.out ]] || fail "helper-expired-fetch: printed something on stdout while failing"
run status-after-failure any "$refresher" status
run status-json-after-failure any "$refresher" status --json
set_mode fail-both
run once-force-fail-both fail "$refresher" once --force --profile default
sleep 1.5
run helper-fail-both 75 "$helper" --profile default
set_mode timeout
run once-force-timeout fail "$refresher" once --force --profile default
set_mode invalid
run once-force-invalid fail "$refresher" once --force --profile default
set_mode signal
run once-force-signal fail "$refresher" once --force --profile default
run status-after-all-failures any "$refresher" status --json

# ---- static backend failures ----------------------------------------------------------------
ANTHROPIC_API_KEY="bad $canary_env" run static-env-invalid fail "$refresher" once --force --profile anth
CKH_CUSTOM_KEY="$canary_custom"$'\t'"x" run static-custom-invalid fail "$refresher" once --force --profile custom
run status-static any "$refresher" status

# ---- the daemon -------------------------------------------------------------------------------
set_mode fail-stderr
"$refresher" run 2>"$captured/daemon-stderr.log" >"$captured/daemon-stdout.log" &
daemon=$!
for _ in $(seq 150); do
  [[ -S $state/default.sock ]] && break
  sleep 0.1
done
[[ -S $state/default.sock ]] || fail "the daemon did not start listening"
run signal-failing fail "$refresher" signal --profile default
sleep 1.5
run helper-via-daemon-failing 75 "$helper" --profile default
set_mode ok
sleep 1.5
run signal-ok ok "$refresher" signal --profile default
helper_ok helper-via-daemon-ok default "$canary_cmd"
set_mode fail-both
sleep 3  # timer refreshes (ttl 2s, refresh_before_expiry 1s) fail and are logged
set_mode timeout
sleep 3
kill -TERM "$daemon"
daemon_rc=0
wait "$daemon" || daemon_rc=$?
daemon=
((daemon_rc == 0)) || fail "the daemon exited $daemon_rc on SIGTERM"
grep -q 'refresh failed' "$captured/daemon-stderr.log" || fail "the daemon logged no failed refresh: its failure path was not exercised"

# ---- refused caches -----------------------------------------------------------------------------
set_mode ok
now=$(date +%s)
printf 'claude-key-helper-cred v1\ngeneration: 99\nbackend: command\nsource: x\nfetched_at: %s\nexpires_at: none\ncredential: %s %s\nend\n' \
  "$now" "$canary_cmd" "$canary_cmd" >"$state/default.cred.new"
chmod 600 "$state/default.cred.new"
mv -f "$state/default.cred.new" "$state/default.cred"
run helper-corrupt 65 "$helper" --profile default
run status-corrupt any "$refresher" status
run once-replaces-corrupt ok "$refresher" once --profile default
chmod 644 "$state/default.cred"
run helper-unsafe-mode 77 "$helper" --profile default
run status-unsafe any "$refresher" status --json
printf 'claude-key-helper-cred v1\ngeneration: 5\nbackend: command\nsource: x\nfetched_at: %s\nexpires_at: none\ncredential: %s\nend\n' \
  "$now" "$canary_cmd" >"$tmp/elsewhere.cred"
chmod 600 "$tmp/elsewhere.cred"
rm -f "$state/default.cred"
ln -s "$tmp/elsewhere.cred" "$state/default.cred"
run helper-symlink 77 "$helper" --profile default
run once-replaces-symlink ok "$refresher" once --force --profile default

# ---- collect the state dir (all but the files that hold secrets by design) ----------------------
mkdir -p "$captured/state"
while IFS= read -r -d '' file; do
  case $file in *.cred | *.secret) continue ;; esac
  [[ -S $file ]] && continue
  relative=${file#"$state"/}
  mkdir -p "$captured/state/$(dirname "$relative")"
  cp -P "$file" "$captured/state/$relative" 2>/dev/null || true
  # Temp files and unexpected names are suspicious in themselves: list them.
  echo "$relative" >>"$captured/state-files.txt"
done < <(find "$state" \( -type f -o -type l \) -print0)

# ---- positive controls: the capture really happened ----------------------------------------------
shopt -s nullglob
argv_parent=("$captured"/argv-parent.*)
ps_snapshots=("$captured"/ps-snapshot.*)
child_envs=("$captured"/child-env.*)
shopt -u nullglob
((${#argv_parent[@]} >= 5)) || fail "the command backend ran only ${#argv_parent[@]} time(s): paths were not exercised"
grep -q 'claude-key-refresher' "${argv_parent[@]}" /dev/null || fail "no captured parent argv names claude-key-refresher"
grep -q 'helper-request' "${ps_snapshots[@]}" /dev/null || fail "no ps snapshot caught a helper-started refresher (--helper-request)"
grep -q 'claude-key-refresher run' "${ps_snapshots[@]}" /dev/null || fail "no ps snapshot caught the daemon"
grep -q '^CKH_CANARY_CONTROL=visible$' "${child_envs[@]}" /dev/null || fail "the child's environment was not captured"
grep -q '^callers/' "$captured/state-files.txt" || fail "the helper wrote no caller memory: that path was not exercised"
# The scrubbing is what keeps the canary out of child-env.*; say so precisely if it fails.
if grep -lE '^(ANTHROPIC_API_KEY|CKH_CUSTOM_KEY)=' "${child_envs[@]}" /dev/null >/dev/null; then
  fail "the command child inherited ANTHROPIC_API_KEY or CKH_CUSTOM_KEY (another profile's secret)"
fi
# The checker itself finds a planted canary.
mkdir -p "$tmp/selftest"
printf 'x %s y\n' "${canary_cmd:0:30}" >"$tmp/selftest/planted"
grep -rqF -f "$tmp/patterns" "$tmp/selftest" || fail "the canary search does not find a planted canary"

# ---- the search ----------------------------------------------------------------------------------
files=$(find "$captured" -type f | wc -l)
if grep -rnF -f "$tmp/patterns" "$captured" >"$tmp/hits" 2>/dev/null; then
  hits=$(wc -l <"$tmp/hits")
  fail "the canary (or a 10+ byte piece of it) leaked in $hits line(s); locations (content withheld):"
  cut -d: -f1,2 "$tmp/hits" | sed "s|^$captured/|    |" | sort -u
fi

echo "canary: searched $files captured files ($step driven steps, ${#argv_parent[@]} backend runs with argv/ps/env snapshots)"
if ((failures)); then
  echo "canary: $failures check(s) failed"
  exit 1
fi
echo "canary: no piece of any canary outside the helper's stdout, P.cred and P.secret"

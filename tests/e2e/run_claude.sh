#!/usr/bin/env bash
# Runs the REAL Claude Code client headless (`claude -p PROMPT`, stdin /dev/null) against
# tests/e2e/mock_api.js, exactly as /work/shared/CLAUDE_CODE.md describes, inside a private
# network namespace (`unshare -n`, loopback only) so nothing can leave the machine. Used by
# the scenario scripts (see CMakeLists.txt); not a test by itself.
#
#   run_claude.sh --dir DIR [--runs N] [--parallel] [--prompt P] [--ttl-ms MS] [--mock-config FILE]
#
# DIR must exist; the caller has already set up the refresher's config and state dir and
# exports CLAUDE_KEY_HELPER_CONFIG and CLAUDE_KEY_HELPER_STATE_DIR. This script:
#   - makes DIR/home the HOME of Claude Code and writes DIR/home/.claude/settings.json with
#     the PROJECT'S OWN registration code (install/claude-code-settings.py register), the
#     helper command being DIR/helper-shim.sh --profile default: a shim that appends one
#     line per run to DIR/helper-runs.log (ms timestamp, pid, parent pid, claude's pid: the
#     parent of the `sh -c` that runs the shim) and then execs
#     $CKH_HELPER with the same arguments (exec keeps the helper's view of its caller);
#   - runs, inside ONE `unshare -n` (brought-up lo): the mock (port 0, port written to
#     DIR/mock.port, log DIR/mock.log, config --mock-config, default DIR/mock-config.json)
#     and then N times `timeout 120 claude -p PROMPT </dev/null` (one after the other, or
#     all at once with --parallel) with
#     ANTHROPIC_BASE_URL=http://127.0.0.1:<port> and the non-essential traffic switched off;
#   - leaves per run i (1-based): DIR/run-i.out, run-i.err, run-i.rc, run-i.ms (wall time).
# Exit: 0 when every run was made (the runs' own exit codes are in run-i.rc, for the
# scenario to judge), 77 with "skipped: <reason>" when a prerequisite is missing (no network
# namespace, no node, Claude Code not installable), 1 otherwise.
#
# Environment: CKH_HELPER, CKH_REFRESHER, CKH_SOURCE_DIR, CKH_BUILD_DIR (as ctest sets them);
# CKH_CLAUDE = a claude binary to use instead of the one tests/e2e/setup.sh installs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
now_ms() { date +%s%3N; }

if [[ ${1:-} == --inside ]]; then
  # ---- inside the network namespace -------------------------------------------------
  shift
  dir=$1 runs=$2 prompt=$3 mock_config=$4 claude=$5 parallel=$6
  ip link set lo up
  mock_pid=
  trap '[[ -n $mock_pid ]] && kill "$mock_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
  rm -f "$dir/mock.port"
  (cd "$dir/work" && exec node "$here/mock_api.js" --port-file "$dir/mock.port" \
     --log "$dir/mock.log" --config "$mock_config") 2>"$dir/mock.err" &
  mock_pid=$!
  for _ in $(seq 200); do [[ -s $dir/mock.port ]] && break; sleep 0.05; done
  [[ -s $dir/mock.port ]] || { echo "FAIL: the mock did not start: $(head -c 400 "$dir/mock.err")"; exit 1; }
  port=$(cat "$dir/mock.port")
  # No route out of here: prove it cheaply (anything but loopback is unreachable).
  if ip route get 1.1.1.1 >/dev/null 2>&1; then echo "FAIL: the namespace has a route out"; exit 1; fi
  run_one() {
    local i=$1 start rc=0
    start=$(now_ms)
    (cd "$dir/work" && HOME="$dir/home" ANTHROPIC_BASE_URL="http://127.0.0.1:$port" \
       CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 \
       DISABLE_ERROR_REPORTING=1 timeout 120 "$claude" -p "$prompt" \
       </dev/null >"$dir/run-$i.out" 2>"$dir/run-$i.err") || rc=$?
    echo "$rc" >"$dir/run-$i.rc"
    echo $(( $(now_ms) - start )) >"$dir/run-$i.ms"
  }
  if [[ $parallel == 1 ]]; then
    pids=()
    for ((i = 1; i <= runs; i++)); do run_one "$i" & pids+=($!); done
    wait "${pids[@]}"
  else
    for ((i = 1; i <= runs; i++)); do run_one "$i"; done
  fi
  exit 0
fi

# ---- outside: arguments, prerequisites, registration ------------------------------------
dir='' runs=1 prompt="say hi" ttl_ms='' mock_config='' parallel=0
while (($#)); do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --ttl-ms) ttl_ms=$2; shift 2 ;;
    --mock-config) mock_config=$2; shift 2 ;;
    --parallel) parallel=1; shift ;;
    *) echo "usage: run_claude.sh --dir DIR [--runs N] [--parallel] [--prompt P] [--ttl-ms MS] [--mock-config FILE]" >&2; exit 64 ;;
  esac
done
[[ -n $dir && -d $dir ]] || { echo "FAIL: run_claude.sh needs --dir of an existing directory" >&2; exit 64; }
dir=$(cd "$dir" && pwd)
: "${CKH_HELPER:?CKH_HELPER must name the built claude-key-helper}"
: "${CKH_REFRESHER:?CKH_REFRESHER must name the built claude-key-refresher}"
: "${CLAUDE_KEY_HELPER_STATE_DIR:?the scenario must export CLAUDE_KEY_HELPER_STATE_DIR}"
: "${CLAUDE_KEY_HELPER_CONFIG:?the scenario must export CLAUDE_KEY_HELPER_CONFIG}"
src=${CKH_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
helper=$(readlink -f "$CKH_HELPER")
refresher=$(readlink -f "$CKH_REFRESHER")

command -v node >/dev/null || { echo "skipped: node is not installed (needed for the mock API)"; exit 77; }
command -v ip >/dev/null || { echo "skipped: ip (iproute2) is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 is not installed (claude-code-settings.py)"; exit 77; }
# A private network namespace: as root `unshare -n`; otherwise try a user namespace too.
unshare_cmd=()
if unshare -n true 2>/dev/null; then
  unshare_cmd=(unshare -n)
elif unshare -rn true 2>/dev/null; then
  unshare_cmd=(unshare -rn)
else
  echo "skipped: cannot create a network namespace (unshare -n and unshare -rn are not permitted)"
  exit 77
fi

if [[ -n ${CKH_CLAUDE:-} ]]; then
  claude=$CKH_CLAUDE
else
  rc=0
  claude=$("$here/setup.sh") || rc=$?
  if (( rc != 0 )); then echo "$claude" | tail -n 1; exit "$rc"; fi
fi
[[ -x $claude ]] || { echo "FAIL: claude binary $claude is not executable"; exit 1; }

mkdir -p "$dir/home" "$dir/work"
echo "A file for the mock's read-only tool_use turns." >"$dir/work/README.txt"
chmod 700 "$dir/home"
[[ -n $mock_config ]] || mock_config="$dir/mock-config.json"
[[ -f $mock_config ]] || echo '{}' >"$mock_config"
: >"$dir/helper-runs.log"

# The logging shim Claude Code runs. The state dir, config and refresher are pinned here so
# that the helper finds them whatever environment Claude Code gives it.
cat >"$dir/helper-shim.sh" <<EOF
#!/bin/bash
caller=\$PPID
case "\$(cat /proc/\$caller/comm 2>/dev/null)" in
  sh|dash|bash) caller=\$(awk '{print \$4}' /proc/\$caller/stat 2>/dev/null) ;;
esac
printf '%s pid=%s ppid=%s claude=%s\n' "\$(date +%s%3N)" "\$\$" "\$PPID" "\$caller" >>'$dir/helper-runs.log'
export CLAUDE_KEY_HELPER_STATE_DIR='$CLAUDE_KEY_HELPER_STATE_DIR'
export CLAUDE_KEY_HELPER_CONFIG='$CLAUDE_KEY_HELPER_CONFIG'
export CLAUDE_KEY_REFRESHER='$refresher'
exec '$helper' "\$@"
EOF
chmod 700 "$dir/helper-shim.sh"

# Registration with the project's own code, into the temp home only.
reg=(python3 "$src/install/claude-code-settings.py" register
     --helper-command "$dir/helper-shim.sh --profile default"
     --config-dir "$dir/home/.claude" --manifest "$dir/registration-manifest.json")
[[ -n $ttl_ms ]] && reg+=(--ttl-ms "$ttl_ms")
"${reg[@]}" >"$dir/register.out" 2>&1 || { echo "FAIL: registration failed: $(cat "$dir/register.out")"; exit 1; }
grep -q '"apiKeyHelper"' "$dir/home/.claude/settings.json" \
  || { echo "FAIL: settings.json has no apiKeyHelper after registration"; exit 1; }

# Everything in the namespace: the mock, then the runs; bounded as a whole.
rc=0
timeout $((runs * 130 + 30)) "${unshare_cmd[@]}" bash "$here/run_claude.sh" --inside \
  "$dir" "$runs" "$prompt" "$mock_config" "$claude" "$parallel" || rc=$?
if (( rc != 0 )); then echo "FAIL: the namespace wrapper exited $rc"; exit 1; fi
for ((i = 1; i <= runs; i++)); do
  [[ -f $dir/run-$i.rc ]] || { echo "FAIL: run $i did not happen"; exit 1; }
done
exit 0

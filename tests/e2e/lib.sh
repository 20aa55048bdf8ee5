#!/usr/bin/env bash
# Shared by the end-to-end scenario scripts (sourced, not a test by itself): a private temp
# root, one refresher profile per mode, a rotating command backend that records every run,
# a refresher daemon, and the mock's request log as a table. Every scenario uses these
# instead of writing its own config, backend or log reader.
#
#   e2e_begin NAME          temp root $E2E_ROOT (0700), cleanup on exit (kept when
#                           CKH_KEEP_TMP=1), the caller's credentials and helper settings
#                           unset so that only what the scenario sets applies
#   e2e_profile DIR         exports the refresher/helper environment for a profile living
#                           in DIR (state dir, config path, refresher binary)
#   e2e_backend DIR PREFIX [--lifetime S] [--fail-after N] [--hold S] [--mock-config F]
#                           writes DIR/fetch.sh and DIR/config.toml (profile "default",
#                           command backend). Run n prints the fake key PREFIX-n. Every run
#                           appends "start <ms> <n>" and "end <ms> <n> ok|fail" to
#                           DIR/backend-calls. --hold S: each run takes S seconds more
#                           (a slow backend, so that overlapping runs would be seen). --lifetime: the profile's ttl, and the key's
#                           expiry (mint time + S) is added to the mock's config
#                           (key_expiry) so that the mock refuses it once expired.
#                           --fail-after N: runs after the Nth fail (exit 3) with a stderr
#                           line that quotes the last good key, as a careless tool might;
#                           it must never reach anyone.
#   e2e_start_daemon DIR / e2e_stop_daemon
#   e2e_claude DIR ARGS...  run_claude.sh --dir DIR --mock-config DIR/mock-config.json ARGS;
#                           a skip (77) or failure of the runner ends the scenario with it
#   e2e_collect DIR         stops the daemon and builds DIR/requests.tsv (e2e_requests)
#   e2e_requests DIR        DIR/mock.log -> DIR/requests.tsv, sorted by arrival, columns:
#                           1 ts_ms 2 method 3 path 4 status 5 x-api-key 6 authorization
#                           7 answer 8 tool_result 9 session 10 expired_key_used
#                           11 host (mock_org.js; "-" for mock_api.js)
#   e2e_api_requests DIR    how many /v1/ requests the mock saw
#   e2e_span_s DIR          seconds from the first /v1/ request to the last
#   e2e_backend_runs DIR    how many times the backend ran
#   e2e_backend_overlap DIR the largest number of backend runs that were running at once
#   e2e_claude_output DIR I stdout and stderr of run I
# Requires CKH_HELPER and CKH_REFRESHER (set by ctest).
: "${CKH_HELPER:?CKH_HELPER must name claude-key-helper (set by ctest)}"
: "${CKH_REFRESHER:?CKH_REFRESHER must name claude-key-refresher (set by ctest)}"
E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_SRC=${CKH_SOURCE_DIR:-$(cd "$E2E_HERE/../.." && pwd)}
E2E_DAEMON_PID=

e2e_cleanup() {
  e2e_stop_daemon
  if [[ ${CKH_KEEP_TMP:-} == 1 ]]; then echo "kept $E2E_ROOT"; else rm -rf "$E2E_ROOT"; fi
}

e2e_begin() {
  # The backends and the registration below run python3 before the runner's own checks.
  command -v python3 >/dev/null || { echo "skipped: python3 is not installed"; exit 77; }
  E2E_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/ckh-e2e-$1-XXXXXX")
  chmod 700 "$E2E_ROOT"
  trap e2e_cleanup EXIT
  unset ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN CLAUDE_CODE_API_KEY_HELPER_TTL_MS \
    CLAUDE_KEY_HELPER_PROFILE CLAUDE_KEY_HELPER_WAIT_MS CLAUDE_KEY_HELPER_MARGIN_MS \
    CLAUDE_CODE_ENTRYPOINT ANTHROPIC_BASE_URL || true
}

e2e_profile() {
  local dir=$1
  mkdir -p -m 700 "$dir"
  export XDG_CONFIG_HOME="$dir/xdg-config" XDG_STATE_HOME="$dir/xdg-state"
  export CLAUDE_KEY_HELPER_STATE_DIR="$dir/state" CLAUDE_KEY_HELPER_CONFIG="$dir/config.toml"
  export CLAUDE_KEY_REFRESHER="$CKH_REFRESHER"
}

e2e_backend() {
  local dir=$1 prefix=$2 lifetime='' fail_after=0 hold=0 mock_config=''
  shift 2
  while (($#)); do
    case $1 in
      --lifetime) lifetime=$2; shift 2 ;;
      --fail-after) fail_after=$2; shift 2 ;;
      --hold) hold=$2; shift 2 ;;
      --mock-config) mock_config=$2; shift 2 ;;
      *) echo "e2e_backend: unknown option $1" >&2; return 64 ;;
    esac
  done
  echo 0 >"$dir/counter"
  : >"$dir/backend-calls"
  cat >"$dir/fetch.sh" <<EOF
#!/bin/bash
d='$dir'
n=\$(( \$(cat "\$d/counter") + 1 ))
echo "\$n" >"\$d/counter"
echo "start \$(date +%s%3N) \$n" >>"\$d/backend-calls"
[[ $hold == 0 ]] || sleep $hold
if (( $fail_after > 0 && n > $fail_after )); then
  echo "end \$(date +%s%3N) \$n fail" >>"\$d/backend-calls"
  echo "upstream unavailable (HTTP 503) while renewing $prefix-$fail_after" >&2
  exit 3
fi
key="$prefix-\$n"
if [[ -n '$lifetime' ]]; then
  python3 - "$mock_config" "\$key" '$lifetime' <<'PY'
import json, os, sys, time
path, key, lifetime = sys.argv[1], sys.argv[2], float(sys.argv[3])
try:
    with open(path) as f:
        cfg = json.load(f)
except (OSError, ValueError):
    cfg = {}
cfg.setdefault("key_expiry", {})[key] = time.time() + lifetime
with open(path + ".tmp", "w") as f:
    json.dump(cfg, f)
os.rename(path + ".tmp", path)
PY
fi
echo "end \$(date +%s%3N) \$n ok" >>"\$d/backend-calls"
echo "\$key"
EOF
  chmod 700 "$dir/fetch.sh"
  {
    echo '[profile.default]'
    echo 'backend = "command"'
    echo '[profile.default.command]'
    echo "argv = [\"$dir/fetch.sh\"]"
    echo 'timeout = "5s"'
    [[ -n $lifetime ]] && echo "ttl = \"${lifetime}s\""
  } >"$dir/config.toml"
  [[ -z $lifetime || -n $mock_config ]] || { echo "e2e_backend: --lifetime needs --mock-config" >&2; return 64; }
}

e2e_start_daemon() {
  local dir=$1
  "$CKH_REFRESHER" run --profile default --pid-file "$dir/daemon.pid" 2>"$dir/daemon.log" &
  E2E_DAEMON_PID=$!
  for _ in $(seq 100); do [[ -S $dir/state/default.sock ]] && return 0; sleep 0.05; done
  echo "FAIL: the refresher daemon did not start: $(head -c 400 "$dir/daemon.log")"
  exit 1
}

e2e_stop_daemon() {
  if [[ -n $E2E_DAEMON_PID ]]; then
    kill "$E2E_DAEMON_PID" 2>/dev/null || true
    wait "$E2E_DAEMON_PID" 2>/dev/null || true
    E2E_DAEMON_PID=
  fi
}

e2e_claude() {
  local dir=$1 rc=0
  shift
  "$E2E_HERE/run_claude.sh" --dir "$dir" --mock-config "$dir/mock-config.json" "$@" || rc=$?
  (( rc == 0 )) || exit "$rc"
}

e2e_collect() {
  e2e_stop_daemon
  e2e_requests "$1"
}

e2e_requests() {
  node -e '
    const fs = require("fs");
    const rows = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)
      .map((l) => JSON.parse(l)).sort((a, b) => a.ts_ms - b.ts_ms);
    for (const e of rows)
      console.log([e.ts_ms.toFixed(1), e.method, e.path, e.status, e.x_api_key || "-",
                   e.authorization || "-", e.answer || "-", e.tool_result || "-",
                   e.session || "-", e.expired_key_used ? "expired" : "-", e.host || "-"].join("\t"));
  ' "$1/mock.log" >"$1/requests.tsv"
}

e2e_api_requests() { awk -F'\t' '$3 ~ /^\/v1\//' "$1/requests.tsv" | wc -l; }

e2e_span_s() {
  awk -F'\t' '$3 ~ /^\/v1\// {if (first == "") first = $1; last = $1}
               END {printf "%.1f", (last - first) / 1000}' "$1/requests.tsv"
}

e2e_backend_runs() { grep -c '^start ' "$1/backend-calls" || true; }

e2e_backend_overlap() {
  awk '$1 == "start" {print $2, 1} $1 == "end" {print $2, -1}' "$1/backend-calls" \
    | sort -n -k1,1 -k2,2n | awk '{c += $2; if (c > m) m = c} END {print m + 0}'
}

e2e_claude_output() { cat "$1/run-$2.out" "$1/run-$2.err"; }

#!/usr/bin/env bash
# Scenario b, 401 recovery, with the REAL Claude Code client: the command backend rotates
# keys (each call prints a new fake key); `claude-key-refresher once` publishes the first;
# the mock API rejects that first key with 401 (the real API's error body). Proves that
# claude-key-helper notices Claude Code's early rerun after the 401 by itself (same Claude
# Code process, same generation → forced refresh, README "401 detection") and that
#   - `claude -p` succeeds and prints the mock's reply;
#   - the request after the 401 carries the NEXT key (the first retry succeeds);
#   - no request after the 401 carries the rejected key;
#   - the helper ran at most twice, the backend exactly twice (once + one forced refresh).
# Prints the time from the 401 to the successful retry (mock log timestamps) and how much
# of it Claude Code's own wait before rerunning the helper accounts for.
# Modes (CKH_E2E_401_MODES, default "oneshot daemon"): "oneshot" = no refresher daemon (the
# helper runs `claude-key-refresher once` itself), "daemon" = `claude-key-refresher run` in
# the background (the helper asks it over the socket).
# Exit 77 ("skipped: …") without npm registry / network namespace / node.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
MODES=${CKH_E2E_401_MODES:-oneshot daemon}

e2e_begin 401
fail() { echo "FAIL[$mode]: $*"; exit 1; }

for mode in $MODES; do
  tmp="$E2E_ROOT/$mode"
  e2e_profile "$tmp"
  # Rotating fake keys: <prefix>-1, <prefix>-2, ...
  prefix="sk-ant-e2e-rot-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  e2e_backend "$tmp" "$prefix"
  "$CKH_REFRESHER" once --profile default --quiet || fail "claude-key-refresher once exited $?"
  rejected="$prefix-1" next="$prefix-2"
  [[ $mode == daemon ]] && e2e_start_daemon "$tmp"

  printf '{"reject_keys": ["%s"], "tool_turns": 1, "reply_text": "401 recovery reply from the mock"}\n' \
    "$rejected" >"$tmp/mock-config.json"
  e2e_claude "$tmp" --runs 1 --prompt "say hi"
  e2e_collect "$tmp"

  run_rc=$(cat "$tmp/run-1.rc")
  out=$(cat "$tmp/run-1.out")
  helper_runs=$(wc -l <"$tmp/helper-runs.log")
  backend_calls=$(e2e_backend_runs "$tmp")
  requests=$(wc -l <"$tmp/requests.tsv")
  echo "[$mode] claude -p exit $run_rc; helper runs: $helper_runs; backend calls: $backend_calls; requests: $requests; wall time $(cat "$tmp/run-1.ms") ms"

  [[ $run_rc == 0 ]] || fail "claude -p exited $run_rc: $(head -c 500 "$tmp/run-1.err") $(head -c 300 "$tmp/run-1.out")"
  [[ $out == *"401 recovery reply from the mock"* ]] || fail "claude -p printed [$out], not the mock's reply"
  echo "ok[$mode]: claude -p succeeded and printed the mock's reply"

  first=$(awk -F'\t' '$3 ~ /^\/v1\// {print; exit}' "$tmp/requests.tsv")
  [[ $(cut -f5 <<<"$first") == "$rejected" && $(cut -f4 <<<"$first") == 401 ]] \
    || fail "the first request should carry the first key and get 401; got status $(cut -f4 <<<"$first")"
  t401=$(cut -f1 <<<"$first")
  after=$(awk -F'\t' -v t="$t401" '$3 ~ /^\/v1\// && $1 > t' "$tmp/requests.tsv")
  [[ -n $after ]] || fail "no request after the 401"
  retry=$(head -n1 <<<"$after")
  [[ $(cut -f5 <<<"$retry") == "$next" ]] || fail "the first retry did not carry the next key (status $(cut -f4 <<<"$retry"))"
  [[ $(cut -f6 <<<"$retry") == "Bearer $next" ]] || fail "the first retry's Authorization is not 'Bearer <next key>'"
  [[ $(cut -f4 <<<"$retry") == 200 ]] || fail "the first retry was answered $(cut -f4 <<<"$retry")"
  echo "ok[$mode]: the first retry carried the next key and succeeded"
  stale=$(awk -F'\t' -v k="$rejected" '$5 == k || $6 == "Bearer " k' <<<"$after" | wc -l)
  (( stale == 0 )) || fail "$stale request(s) after the 401 still carried the rejected key"
  (( $(awk -F'\t' '$4 == 401' <<<"$after" | wc -l) == 0 )) || fail "a request after the first 401 was answered 401"
  echo "ok[$mode]: no request after the 401 carried the rejected key"
  (( helper_runs <= 2 )) || fail "the helper ran $helper_runs times (at most 2 allowed)"
  (( backend_calls == 2 )) || fail "the backend ran $backend_calls times (expected 2: once + one forced refresh)"
  echo "ok[$mode]: $helper_runs helper runs, $backend_calls backend calls"

  t_retry=$(cut -f1 <<<"$retry")
  rerun_ms=$(awk -v t="$t401" '$1 > t {print $1; exit}' "$tmp/helper-runs.log")
  gap=$(awk -v a="$t401" -v b="$t_retry" 'BEGIN {printf "%d", b - a}')
  if [[ -n $rerun_ms ]]; then
    wait_cc=$(awk -v a="$t401" -v b="$rerun_ms" 'BEGIN {printf "%d", b - a}')
    in_helper=$(awk -v a="$rerun_ms" -v b="$t_retry" 'BEGIN {printf "%d", b - a}')
    echo "[$mode] 401 -> successful retry: $gap ms (Claude Code waited $wait_cc ms before rerunning the helper; helper rerun start -> retry: $in_helper ms)"
  else
    echo "[$mode] 401 -> successful retry: $gap ms"
  fi
  if [[ $mode == daemon ]]; then
    grep -q "suspected-401" "$tmp/daemon.log" || fail "the daemon did not log a suspected-401 refresh: $(head -c 600 "$tmp/daemon.log")"
    echo "ok[$mode]: the daemon did the forced refresh (suspected-401)"
  fi
done
echo "PASS: 401 recovery ($MODES)"

#!/usr/bin/env bash
# Scenario e, everything expired and the backend down, with the REAL Claude Code client: the
# command backend minted one key that lived 2 s and has expired; every later run of the
# backend fails (exit 3, with a stderr line that quotes that key, as a careless tool might).
# Proves:
#   - `claude -p` fails, and does so promptly (no hang: the helper answers within its bounds);
#   - what Claude Code shows carries our reason: "apiKeyHelper failed: exited N:
#     claude-key-helper: ..." — one line, under 500 characters (Claude Code shows the first
#     500 characters of stderr), naming the command to run (claude-key-refresher ...) and
#     why (the backend's failure);
#   - no secret appears in Claude Code's output (neither the expired key nor any key of the
#     backend), and no request to the API carries the expired key.
# Prints per mode: helper runs, requests, time until claude -p gave up, the message length.
# Modes (CKH_E2E_EXPIRED_MODES, default "daemon oneshot").
# Exit 77 ("skipped: …") without npm registry / network namespace / node.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
MODES=${CKH_E2E_EXPIRED_MODES:-daemon oneshot}

e2e_begin expired
fail() { echo "FAIL[$mode]: $*"; exit 1; }

for mode in $MODES; do
  tmp="$E2E_ROOT/$mode"
  e2e_profile "$tmp"
  prefix="sk-ant-x$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  key="$prefix-1"
  echo '{"tool_turns": 0, "reply_text": "must not be reached"}' >"$tmp/mock-config.json"
  e2e_backend "$tmp" "$prefix" --lifetime 2 --fail-after 1 --mock-config "$tmp/mock-config.json"
  "$CKH_REFRESHER" once --profile default --quiet || fail "claude-key-refresher once exited $?"
  sleep 3  # the key is now expired, for the refresher and for the mock
  [[ $mode == daemon ]] && e2e_start_daemon "$tmp"

  e2e_claude "$tmp" --runs 1 --prompt "say hi"
  e2e_collect "$tmp"

  run_rc=$(cat "$tmp/run-1.rc")
  shown=$(e2e_claude_output "$tmp" 1)
  helper_runs=$(wc -l <"$tmp/helper-runs.log")
  requests=$(e2e_api_requests "$tmp")
  ours=$(grep -m1 -o 'claude-key-helper: .*' <<<"$shown" || true)
  echo "[$mode] claude -p exit $run_rc after $(cat "$tmp/run-1.ms") ms; helper runs: $helper_runs; requests: $requests;" \
    "backend runs: $(e2e_backend_runs "$tmp"); our message: ${#ours} characters"
  echo "[$mode] Claude Code showed:"
  sed 's/^/    | /' <<<"$shown" | head -n 6

  [[ $run_rc != 0 ]] || fail "claude -p exited 0 with an expired key and a dead backend"
  [[ $run_rc != 124 ]] || fail "claude -p hung until the timeout"
  grep -q 'apiKeyHelper failed: exited [0-9]*: claude-key-helper: ' <<<"$shown" \
    || fail "Claude Code did not show our reason as its apiKeyHelper failure"
  (( ${#ours} > 0 && ${#ours} < 500 )) || fail "our message is ${#ours} characters (must be 1-499)"
  [[ $ours =~ (run|see):\ claude-key-refresher\ (status|once|check-config|login) ]] \
    || fail "our message names no command to run: $ours"
  [[ $ours == *"expired"* && $ours == *"exited with status 3"* ]] \
    || fail "our message does not say that the key expired and why no fresh one came: $ours"
  echo "ok[$mode]: Claude Code showed our one-line reason (${#ours} characters), naming the command to run"

  [[ $shown != *"$prefix"* ]] || fail "Claude Code's output contains a key"
  with_key=$(awk -F'\t' -v p="$prefix" 'index($5, p) || index($6, p)' "$tmp/requests.tsv" | wc -l)
  (( with_key == 0 )) || fail "$with_key request(s) carried the expired key"
  echo "ok[$mode]: no key in Claude Code's output; no request carried the expired key"
done
echo "PASS: everything expired, backend down ($MODES)"

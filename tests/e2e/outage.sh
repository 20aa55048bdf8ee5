#!/usr/bin/env bash
# Scenario d, backend outage, with the REAL Claude Code client: the command backend mints
# one key that lives 60 s (the mock refuses it after that), then fails on every later run
# (exit 3, with a stderr line that even quotes the key it holds). The TTL comes from the
# registration code (ttl-for 60 s). One `claude -p` holds a conversation of several tool
# turns, long enough that Claude Code reruns the helper after the key has passed its
# half-life — so the helper (and the daemon) try to refresh it, and fail — but shorter than
# the key's life. Proves, while the published key is valid:
#   - every request carries it (x-api-key and Bearer): no blank key, no other key, no 401;
#   - `claude -p` exits 0, prints the mock's reply, and shows no error (stdout has nothing
#     but the reply; stderr is empty);
#   - the refresh really was attempted and failed during the conversation, and the key
#     that the backend's stderr quoted appears nowhere in the refresher's status output.
# Modes (CKH_E2E_OUTAGE_MODES, default "daemon oneshot").
# Exit 77 ("skipped: …") without npm registry / network namespace / node.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
MODES=${CKH_E2E_OUTAGE_MODES:-daemon oneshot}
LIFETIME=60
TOOL_TURNS=${CKH_E2E_OUTAGE_TURNS:-4}
TURN_DELAY_MS=${CKH_E2E_OUTAGE_DELAY_MS:-8000}
REPLY="outage reply from the mock"

e2e_begin outage
fail() { echo "FAIL[$mode]: $*"; exit 1; }
ttl_ms=$(python3 "$E2E_SRC/install/claude-code-settings.py" ttl-for --lifetime-seconds "$LIFETIME")

for mode in $MODES; do
  tmp="$E2E_ROOT/$mode"
  e2e_profile "$tmp"
  prefix="sk-ant-e2e-outage-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  key="$prefix-1"
  printf '{"tool_turns": %d, "turn_delay_ms": %d, "reply_text": "%s"}\n' \
    "$TOOL_TURNS" "$TURN_DELAY_MS" "$REPLY" >"$tmp/mock-config.json"
  e2e_backend "$tmp" "$prefix" --lifetime "$LIFETIME" --fail-after 1 --mock-config "$tmp/mock-config.json"
  "$CKH_REFRESHER" once --profile default --quiet || fail "claude-key-refresher once exited $?"
  [[ $mode == daemon ]] && e2e_start_daemon "$tmp"

  e2e_claude "$tmp" --runs 1 --ttl-ms "$ttl_ms" --prompt "read the readme"
  status_out=$("$CKH_REFRESHER" status --profile default 2>&1 || true)
  e2e_collect "$tmp"

  run_rc=$(cat "$tmp/run-1.rc")
  helper_runs=$(wc -l <"$tmp/helper-runs.log")
  requests=$(e2e_api_requests "$tmp")
  failed_runs=$(grep -c ' fail$' "$tmp/backend-calls" || true)
  span_s=$(e2e_span_s "$tmp")
  echo "[$mode] claude -p exit $run_rc; helper runs: $helper_runs; requests: $requests over $span_s s;" \
    "backend runs: $(e2e_backend_runs "$tmp") ($failed_runs failed); wall time $(cat "$tmp/run-1.ms") ms"

  [[ $run_rc == 0 ]] || fail "claude -p exited $run_rc: $(head -c 500 "$tmp/run-1.err") $(head -c 300 "$tmp/run-1.out")"
  out=$(cat "$tmp/run-1.out")
  [[ $out == "$REPLY" ]] || fail "claude -p printed more than the reply: [$(head -c 600 <<<"$out")]"
  [[ ! -s $tmp/run-1.err ]] || fail "claude -p wrote to stderr: $(head -c 600 "$tmp/run-1.err")"
  echo "ok[$mode]: claude -p exited 0, printed only the mock's reply, showed no error"

  (( requests >= TOOL_TURNS + 1 )) || fail "expected at least $((TOOL_TURNS + 1)) requests, got $requests"
  bad=$(awk -F'\t' -v k="$key" '$3 ~ /^\/v1\// && ($5 != k || $6 != "Bearer " k || $4 != 200)' "$tmp/requests.tsv" | wc -l)
  (( bad == 0 )) || fail "$bad request(s) did not carry the published key or were not answered 200"
  echo "ok[$mode]: all $requests requests carried the published key and were answered 200"

  (( failed_runs >= 1 )) || fail "the backend was never asked again: the outage was not exercised"
  (( helper_runs >= 2 )) || fail "Claude Code ran the helper only $helper_runs time(s)"
  (( $(e2e_backend_overlap "$tmp") <= 1 )) || fail "backend runs overlapped"
  [[ $status_out == *"exited with status 3"* ]] || fail "status does not report the failing backend: $(head -c 600 <<<"$status_out")"
  [[ $status_out != *"$key"* ]] || fail "status output quotes the key"
  [[ $(cat "$tmp/daemon.log" 2>/dev/null) != *"$key"* ]] || fail "the daemon log quotes the key"
  echo "ok[$mode]: $failed_runs failed refresh(es) during the conversation; status reports it without the key"
done
echo "PASS: backend outage ($MODES)"

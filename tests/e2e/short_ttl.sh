#!/usr/bin/env bash
# Scenario c, short-lived credentials, with the REAL Claude Code client: the command backend
# mints keys that live 60 s (the profile's ttl, and the mock refuses each key once its own
# 60 s are up: key_expiry, set by the backend when it mints the key). The registration code
# computes CLAUDE_CODE_API_KEY_HELPER_TTL_MS for that lifetime (claude-code-settings.py
# ttl-for) and writes it to settings.json (register --ttl-ms). One `claude -p` holds a
# conversation of several tool turns that lasts longer than one lifetime (the mock answers
# each turn after turn_delay_ms). Proves:
#   - the conversation outlives the first key, and the keys rotate during it;
#   - no request ever carries an expired key (the mock would log expired_key_used and 401),
#     no request is answered 401, no request goes out without a key;
#   - `claude -p` exits 0 and prints the mock's reply.
# Prints per mode: helper runs, requests, backend runs, keys used, the conversation's length.
# Modes (CKH_E2E_SHORT_MODES, default "daemon oneshot"): "daemon" = the refresher daemon
# refreshes at half-life; "oneshot" = no daemon: the helper refreshes when what it has would
# not outlive Claude Code's TTL plus its margin.
# Exit 77 ("skipped: …") without npm registry / network namespace / node.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
MODES=${CKH_E2E_SHORT_MODES:-daemon oneshot}
LIFETIME=60
TOOL_TURNS=${CKH_E2E_SHORT_TURNS:-7}
TURN_DELAY_MS=${CKH_E2E_SHORT_DELAY_MS:-9000}

e2e_begin short
fail() { echo "FAIL[$mode]: $*"; exit 1; }

ttl_ms=$(python3 "$E2E_SRC/install/claude-code-settings.py" ttl-for --lifetime-seconds "$LIFETIME")
[[ $ttl_ms =~ ^[0-9]+$ ]] || { echo "FAIL: ttl-for printed [$ttl_ms] for a ${LIFETIME} s lifetime"; exit 1; }
echo "registration TTL for ${LIFETIME} s credentials: $ttl_ms ms"

for mode in $MODES; do
  tmp="$E2E_ROOT/$mode"
  e2e_profile "$tmp"
  prefix="sk-ant-e2e-short-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  printf '{"tool_turns": %d, "turn_delay_ms": %d, "reply_text": "short ttl reply from the mock"}\n' \
    "$TOOL_TURNS" "$TURN_DELAY_MS" >"$tmp/mock-config.json"
  e2e_backend "$tmp" "$prefix" --lifetime "$LIFETIME" --mock-config "$tmp/mock-config.json"
  "$CKH_REFRESHER" once --profile default --quiet || fail "claude-key-refresher once exited $?"
  [[ $mode == daemon ]] && e2e_start_daemon "$tmp"

  e2e_claude "$tmp" --runs 1 --ttl-ms "$ttl_ms" --prompt "read the readme"
  e2e_collect "$tmp"

  python3 - "$tmp/home/.claude/settings.json" "$ttl_ms" <<'PY' || fail "settings.json does not carry the TTL"
import json, sys
env = json.load(open(sys.argv[1])).get("env", {})
sys.exit(0 if env.get("CLAUDE_CODE_API_KEY_HELPER_TTL_MS") == sys.argv[2] else 1)
PY

  run_rc=$(cat "$tmp/run-1.rc")
  helper_runs=$(wc -l <"$tmp/helper-runs.log")
  requests=$(e2e_api_requests "$tmp")
  keys_used=$(awk -F'\t' '$3 ~ /^\/v1\// {print $5}' "$tmp/requests.tsv" | sort -u | wc -l)
  span_s=$(e2e_span_s "$tmp")
  echo "[$mode] claude -p exit $run_rc; helper runs: $helper_runs; requests: $requests over $span_s s;" \
    "backend runs: $(e2e_backend_runs "$tmp"); distinct keys used: $keys_used; wall time $(cat "$tmp/run-1.ms") ms"

  [[ $run_rc == 0 ]] || fail "claude -p exited $run_rc: $(head -c 500 "$tmp/run-1.err") $(head -c 300 "$tmp/run-1.out")"
  [[ $(cat "$tmp/run-1.out") == *"short ttl reply from the mock"* ]] || fail "claude -p did not print the mock's reply"
  echo "ok[$mode]: claude -p succeeded and printed the mock's reply"

  (( requests >= TOOL_TURNS + 1 )) || fail "expected at least $((TOOL_TURNS + 1)) requests, got $requests"
  awk -v s="$span_s" -v l="$LIFETIME" 'BEGIN {exit !(s > l)}' \
    || fail "the conversation lasted $span_s s, not longer than one ${LIFETIME} s lifetime"
  (( keys_used >= 2 )) || fail "one key served the whole ${span_s} s conversation: no rotation happened"
  echo "ok[$mode]: the conversation ($span_s s) outlived a ${LIFETIME} s key; $keys_used keys were used"

  expired=$(awk -F'\t' '$10 == "expired"' "$tmp/requests.tsv" | wc -l)
  (( expired == 0 )) || fail "$expired request(s) carried an expired key"
  (( $(awk -F'\t' '$4 == 401' "$tmp/requests.tsv" | wc -l) == 0 )) || fail "a request was answered 401"
  blank=$(awk -F'\t' -v p="$prefix-" '$3 ~ /^\/v1\// && (index($5, p) != 1 || $6 != "Bearer " $5)' "$tmp/requests.tsv" | wc -l)
  (( blank == 0 )) || fail "$blank request(s) carried no key, a foreign key, or mismatched headers"
  echo "ok[$mode]: no request carried an expired key; none was answered 401"
  (( $(e2e_backend_overlap "$tmp") <= 1 )) || fail "backend runs overlapped"
done
echo "PASS: short-lived credentials ($MODES)"

#!/usr/bin/env bash
# Organization helper, scenario 2, a 401 from the gateway, with the REAL Claude Code client
# (/work/shared/CLAUDE_CODE.md, "The organization credential helper": on a 401 the client
# re-runs the helper once with CLAUDE_HELPER_CONTEXT=mid-session-refresh and retries).
# The document names our installed helper itself (no wrapper); the refresher daemon runs
# as the user; the gateway refuses the first published token. Proves:
#   - the first gateway request carries the first token and is answered 401;
#   - exactly one mid-session-refresh run reached the daemon (one "rejected refresh:" line)
#     and the backend ran exactly once more (once + that one refresh);
#   - the retry carries the NEW token and succeeds; the refused token is never sent again;
#   - `claude -p` exits 0 and prints the gateway's reply; no token leaks into its output,
#     the daemon log or the client's own files.
# Prints the time from the 401 to the successful retry.
#   org_retry_401.sh [PIN]   PIN: '' = the client pinned in tests/e2e, `newest` = tests/e2e/newest
# Exit 77 ("skipped: …") only without root / namespaces (or node, npm registry).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib_org.sh
source "$here/lib_org.sh"
org_enter 401 "${1:-}"

prefix="gw-e2e-401-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
refused="$prefix-1" next="$prefix-2"
org_mock_set reject_keys "[\"$refused\"]"
org_mock_set tool_turns 1
org_mock_set reply_text '"401 recovery reply from the organization gateway"'
org_backend "$prefix" --lifetime 900
org_sign_in_and_start --ttl 300

org_claude 1 "say hi"
org_collect
org_run_summary 1

rows=$(org_gateway_rows)
[[ -n $rows ]] || org_fail "the gateway saw no /v1/messages request: $(head -c 300 "$ORG_RUNS/run-1.out")"
echo "[${CKH_ORG_CLIENT}] gateway requests (status, credential): $(awk -F'\t' -v p="$prefix-" '{sub("Bearer " p, "Bearer #", $6); printf "%s %s; ", $4, $6}' <<<"$rows")"
first=$(head -n1 <<<"$rows")
[[ $(cut -f6 <<<"$first") == "Bearer $refused" && $(cut -f4 <<<"$first") == 401 ]] \
  || org_fail "the first gateway request should carry the first token and get 401 (got status $(cut -f4 <<<"$first"))"
t401=$(cut -f1 <<<"$first")
after=$(tail -n +2 <<<"$rows")
[[ -n $after ]] || org_fail "no gateway request after the 401: $(head -c 300 "$ORG_RUNS/run-1.out")"
retry=$(head -n1 <<<"$after")
[[ $(cut -f6 <<<"$retry") == "Bearer $next" ]] || org_fail "the retry did not carry the new token"
[[ $(cut -f4 <<<"$retry") == 200 ]] || org_fail "the retry was answered $(cut -f4 <<<"$retry")"
echo "[${CKH_ORG_CLIENT}] 401 -> successful retry: $(awk -v a="$t401" -v b="$(cut -f1 <<<"$retry")" 'BEGIN {printf "%d", b - a}') ms"
org_ok "the retry carried the new token and succeeded"
stale=$(awk -F'\t' -v k="Bearer $refused" '$6 == k' <<<"$after" | wc -l)
(( stale == 0 )) || org_fail "$stale request(s) after the 401 still carried the refused token"
(( $(awk -F'\t' '$4 != 200 || $5 != "-"' <<<"$after" | wc -l) == 0 )) \
  || org_fail "a request after the retry was refused or carried an x-api-key"
org_ok "the refused token was never sent again"

[[ $(cat "$ORG_RUNS/run-1.rc") == 0 ]] \
  || org_fail "claude -p exited $(cat "$ORG_RUNS/run-1.rc"): $(head -c 500 "$ORG_RUNS/run-1.err") $(head -c 300 "$ORG_RUNS/run-1.out")"
grep -qF "401 recovery reply from the organization gateway" "$ORG_RUNS/run-1.out" \
  || org_fail "claude -p did not print the gateway's reply"
org_ok "claude -p succeeded and printed the gateway's reply"

echo "[${CKH_ORG_CLIENT}] daemon log: $(grep -F 'refresh:' "$ORG_RUNS/daemon.log" | sed 's/^[^ ]* //' | tr '\n' ';')"
rejected=$(org_daemon_count "rejected refresh:")
backend=$(e2e_backend_runs "$ORG_E2E")
(( rejected == 1 )) || org_fail "the daemon logged $rejected 'rejected refresh:' lines (expected exactly one mid-session-refresh run)"
(( backend == 2 )) || org_fail "the backend ran $backend times (expected 2: once + one refresh for the rejected token)"
org_ok "exactly one mid-session-refresh (daemon: rejected refresh) and one backend refresh"

org_assert_no_leak "claude -p output" "$ORG_RUNS/run-1.out" "$ORG_RUNS/run-1.err"
org_assert_no_leak "refresher daemon log" "$ORG_RUNS/daemon.log"
org_assert_no_leak_dir "the client's own files" "$ORG_HOME/.claude"
org_ok "no token in the client's output, its files or the daemon log"
echo "PASS[${CKH_ORG_CLIENT}]: organization helper 401 recovery"

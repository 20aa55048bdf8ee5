#!/usr/bin/env bash
# Organization helper, scenario 3, the refused token is refused again, with the REAL Claude
# Code client (/work/shared/CLAUDE_CODE.md, "The organization credential helper": one
# mid-session-refresh re-run after a 401; a second refusal is final, "Your organization's
# gateway refused the request"; a helper that gives nothing: "Your organization's credential
# helper didn't give a credential"). The gateway refuses the published token; the backend is
# down after its first run (it fails, quoting the last token on stderr as a careless tool
# might), so no new token can be had. Proves:
#   - `claude -p` ends (bounded: well inside its limit, no hang) with a non-zero exit and the
#     client's message about the organization's gateway/credential helper reaches the user;
#   - no gateway request carried anything but the refused token, and at most two did
#     (the first request and the one retry);
#   - the refresher tried (the backend ran again and failed) and
#     `claude-key-refresher status` afterwards says the refresh failed;
#   - no token leaks into the client's output, the daemon log, the status output or the
#     client's own files.
#   org_refused_again.sh [PIN]   PIN: '' = the client pinned in tests/e2e, `newest` = tests/e2e/newest
# Exit 77 ("skipped: …") only without root / namespaces (or node, npm registry).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib_org.sh
source "$here/lib_org.sh"
org_enter refused "${1:-}"
BOUND_S=90   # the client's one re-run is bounded by 20 s; anything near this is a hang

prefix="gw-e2e-refused-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
refused="$prefix-1"
org_mock_set reject_keys "[\"$refused\"]"
org_backend "$prefix" --lifetime 900 --fail-after 1
org_sign_in_and_start --ttl 300

org_claude 1 "say hi"
rc=0
org_refresher status --profile default >"$ORG_RUNS/status.out" 2>&1 || rc=$?
org_collect
org_run_summary 1

run_rc=$(cat "$ORG_RUNS/run-1.rc") run_ms=$(cat "$ORG_RUNS/run-1.ms")
(( run_rc != 124 && run_rc != 137 )) || org_fail "claude -p hung: killed by its time limit after $run_ms ms"
(( run_ms < BOUND_S * 1000 )) || org_fail "claude -p took $run_ms ms (bound ${BOUND_S} s)"
(( run_rc != 0 )) || org_fail "claude -p exited 0 although no accepted token existed: $(head -c 300 "$ORG_RUNS/run-1.out")"
msg=$(cat "$ORG_RUNS/run-1.out" "$ORG_RUNS/run-1.err")
if [[ $msg == *"gateway refused the request"* ]]; then
  echo "[${CKH_ORG_CLIENT}] the user saw: the organization's gateway refused the request"
elif [[ $msg == *"credential helper didn't give a credential"* ]]; then
  echo "[${CKH_ORG_CLIENT}] the user saw: the organization's credential helper didn't give a credential"
else
  org_fail "the client's message did not reach the user: $(head -c 400 <<<"$msg")"
fi
org_ok "claude -p ended in $run_ms ms with exit $run_rc and the client's message"

rows=$(org_gateway_rows)
n=$(grep -c . <<<"$rows" || true)
echo "[${CKH_ORG_CLIENT}] gateway requests (status, credential): $(awk -F'\t' -v p="$prefix-" '{sub("Bearer " p, "Bearer #", $6); printf "%s %s; ", $4, $6}' <<<"$rows")"
(( n >= 1 && n <= 2 )) || org_fail "the gateway saw $n requests (expected the first and at most one retry)"
(( $(awk -F'\t' -v k="Bearer $refused" '$6 != k || $4 != 401' <<<"$rows" | wc -l) == 0 )) \
  || org_fail "a gateway request carried another credential or was not refused"
org_ok "$n gateway request(s), each with the refused token, each refused"

backend_fail=$(grep -c ' fail$' "$ORG_E2E/backend-calls" || true)
echo "[${CKH_ORG_CLIENT}] backend runs: $(e2e_backend_runs "$ORG_E2E") ($backend_fail failed); daemon log: $(grep -F 'refresh:' "$ORG_RUNS/daemon.log" | sed 's/^[^ ]* //' | tr '\n' ';')"
(( backend_fail >= 1 )) || org_fail "the refresher never tried to replace the refused token (no failed backend run)"
echo "[${CKH_ORG_CLIENT}] status (exit $rc): $(tr '\n' ' ' <"$ORG_RUNS/status.out" | head -c 600)"
grep -qiE 'refresh failed|last error' "$ORG_RUNS/status.out" || org_fail "claude-key-refresher status does not say that the refresh failed"
(( rc != 0 )) || org_fail "claude-key-refresher status exited 0 after a failed refresh"
org_ok "the refresh failed, and claude-key-refresher status says so (exit $rc)"

org_assert_no_leak "claude -p output" "$ORG_RUNS/run-1.out" "$ORG_RUNS/run-1.err"
org_assert_no_leak "refresher daemon log" "$ORG_RUNS/daemon.log"
org_assert_no_leak "claude-key-refresher status" "$ORG_RUNS/status.out"
org_assert_no_leak_dir "the client's own files" "$ORG_HOME/.claude"
org_ok "no token in the client's output, its files, the daemon log or the status output"
echo "PASS[${CKH_ORG_CLIENT}]: organization helper, refused again"
